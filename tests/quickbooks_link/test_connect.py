"""Connecting a company through the real OAuth dance against a running qbo_sandbox."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from quickbooks_link.models import QuickBooksConnection
from tests.quickbooks_link.oauth_dance import connect, consent, query_of

pytestmark = pytest.mark.sandbox


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def realm(qbo) -> str:
    created = qbo.control(
        "POST",
        "realms",
        {"name": "Acme North Books", "custom_txn_numbers": True, "closing_date": "2025-12-31"},
    )
    return created["realm_id"]


def test_it_sends_the_admin_to_intuit_with_a_state(client, alice, acme_north, qbo):
    client.force_login(alice)
    response = client.post(reverse("quickbooks_link:connect", args=[acme_north.pk]))
    params = query_of(response["Location"])
    assert response["Location"].startswith(f"{qbo.url}/connect/oauth2?")
    assert params["client_id"] == "sandbox-client-id"
    assert params["scope"] == "com.intuit.quickbooks.accounting"
    assert len(params["state"]) >= 32
    assert params["state"] == client.session["qbo_oauth"]["state"]


def test_it_connects_and_leads_into_onboarding(client, alice, acme_north, realm):
    client.force_login(alice)
    response = connect(client, acme_north, realm_id=realm)
    assert response["Location"] == reverse("quickbooks_link:onboarding", args=[acme_north.pk])
    connection = QuickBooksConnection.objects.get(company=acme_north)
    assert connection.realm_id == realm
    assert connection.is_connected and connection.connected_by == alice
    assert connection.access_token and connection.refresh_token
    assert connection.refresh_token_hard_expires_at is not None
    assert connection.qbo_company_name == "Acme North Books"
    assert connection.qbo_preferences["custom_txn_numbers"] is True
    assert connection.qbo_preferences["closing_date"] == "2025-12-31"
    assert connection.qbo_currency == "USD"


def test_it_changes_nothing_when_the_state_does_not_match(client, alice, acme_north, realm):
    client.force_login(alice)
    started = client.post(reverse("quickbooks_link:connect", args=[acme_north.pk]))
    callback = consent(started["Location"], realm_id=realm).replace("state=", "state=forged")
    response = client.get(callback)
    assert "did not come from this browser session" in _messages(response)[0]
    assert not QuickBooksConnection.objects.filter(company=acme_north, realm_id=realm).exists()


def test_it_changes_nothing_when_the_admin_cancels(client, alice, acme_north, realm):
    client.force_login(alice)
    response = connect(client, acme_north, realm_id=realm, action="cancel")
    assert _messages(response) == ["You cancelled the QuickBooks sign-in, so nothing was changed."]
    assert not QuickBooksConnection.objects.filter(company=acme_north).exclude(realm_id="").exists()


def test_it_changes_nothing_when_the_code_exchange_fails(client, alice, acme_north, realm):
    client.force_login(alice)
    started = client.post(reverse("quickbooks_link:connect", args=[acme_north.pk]))
    callback = consent(started["Location"], realm_id=realm)
    client.get(callback)  # the code is used once here …
    QuickBooksConnection.objects.filter(company=acme_north).update(realm_id="", connected_at=None)
    session = client.session
    session["qbo_oauth"] = {"state": query_of(callback)["state"], "company_id": acme_north.pk}
    session.save()
    response = client.get(callback)  # … and refused when reused (invalid_grant)
    assert "QuickBooks was not connected" in _messages(response)[-1]
    assert QuickBooksConnection.objects.get(company=acme_north).realm_id == ""


def test_it_refuses_to_link_another_quickbooks_company(client, alice, acme_north, realm, qbo):
    client.force_login(alice)
    connect(client, acme_north, realm_id=realm)
    other = qbo.control("POST", "realms", {"name": "Someone Else's Books"})["realm_id"]
    response = connect(client, acme_north, realm_id=other)
    assert "can never be linked to another one" in _messages(response)[-1]
    assert QuickBooksConnection.objects.get(company=acme_north).realm_id == realm


def test_it_refuses_a_realm_already_linked_to_another_company(
    client, alice, acme_north, acme_south, realm
):
    client.force_login(alice)
    connect(client, acme_north, realm_id=realm)
    response = connect(client, acme_south, realm_id=realm)
    assert "already linked to another company" in _messages(response)[-1]


def test_it_lets_only_finance_admins_connect(client, bob, olivia, acme_north, qbo):
    for user in (bob, olivia):
        client.force_login(user)
        response = client.post(reverse("quickbooks_link:connect", args=[acme_north.pk]))
        assert response.status_code == 403


def test_it_hides_another_groups_company(client, charlie, acme_north, qbo):
    client.force_login(charlie)
    for name in ("integration", "connect", "disconnect", "onboarding"):
        method = client.get if name in ("integration", "onboarding") else client.post
        assert method(reverse(f"quickbooks_link:{name}", args=[acme_north.pk])).status_code == 404


def test_it_refuses_connect_by_get(client, alice, acme_north):
    client.force_login(alice)
    assert client.get(reverse("quickbooks_link:connect", args=[acme_north.pk])).status_code == 405
