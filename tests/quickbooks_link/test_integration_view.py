from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from quickbooks_link.models import QuickBooksConnection


def _page(client, user, company):
    client.force_login(user)
    return client.get(reverse("quickbooks_link:integration", args=[company.pk]))


def test_it_offers_a_finance_admin_to_connect(client, alice, acme_north):
    content = _page(client, alice, acme_north).content.decode()
    assert "Not connected" in content
    assert "Connect to QuickBooks" in content


def test_it_shows_a_property_manager_the_state_without_actions(client, bob, acme_north):
    content = _page(client, bob, acme_north).content.decode()
    assert "Not connected" in content
    assert "Connect to QuickBooks" not in content
    assert "Only a finance admin can connect" in content


def test_it_shows_the_realm_and_when_access_expires(client, alice, acme_north):
    now = timezone.now()
    QuickBooksConnection.objects.create(
        company=acme_north,
        realm_id="9130350000001",
        qbo_company_name="Acme North Books",
        connected_at=now,
        refresh_token_expires_at=now + datetime.timedelta(days=100),
        refresh_token_hard_expires_at=now + datetime.timedelta(days=5 * 365),
    )
    content = _page(client, alice, acme_north).content.decode()
    assert "Acme North Books" in content and "9130350000001" in content
    assert "Access renews until" in content and "Hard limit" in content
    assert "Complete Onboarding" in content
    assert "Reconnect" in content and "Disconnect" in content


def test_it_explains_a_lapsed_connection(client, alice, acme_north):
    QuickBooksConnection.objects.create(
        company=acme_north,
        realm_id="9130350000001",
        connected_at=timezone.now(),
        reconnect_required_at=timezone.now(),
        reconnect_reason="invalid_grant",
    )
    content = _page(client, alice, acme_north).content.decode()
    assert "Needs reconnecting." in content
    assert "Advanced › Reconnect" in content


def test_it_answers_404_for_another_groups_company(client, charlie, acme_north):
    assert _page(client, charlie, acme_north).status_code == 404
