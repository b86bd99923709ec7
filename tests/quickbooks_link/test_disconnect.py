from __future__ import annotations

import pytest
from django.urls import reverse

from quickbooks_link import client as qbo_client
from quickbooks_link.errors import QboReconnectRequired
from quickbooks_link.models import ExternalLink, QboEntity, QuickBooksConnection
from sync_engine.selectors import company_sync_status
from sync_engine.statuses import CompanyStatus
from tests.quickbooks_link.oauth_dance import connect

pytestmark = pytest.mark.sandbox


def _disconnect(client, company):
    return client.post(reverse("quickbooks_link:disconnect", args=[company.pk]))


def test_it_revokes_the_tokens_at_intuit(client, connected):
    _disconnect(client, connected.company)
    with pytest.raises(QboReconnectRequired):
        qbo_client.refresh_tokens(refresh_token=connected.refresh_token)


def test_it_forgets_the_tokens_but_keeps_realm_links_and_history(client, connected, tenant):
    ExternalLink.objects.create(
        company=connected.company, qbo_entity=QboEntity.CUSTOMER, qbo_id="1", tenant=tenant
    )
    _disconnect(client, connected.company)
    stored = QuickBooksConnection.objects.get(pk=connected.pk)
    assert (stored.access_token, stored.refresh_token) == ("", "")
    assert stored.realm_id == connected.realm_id
    assert ExternalLink.objects.filter(tenant=tenant).exists()
    assert company_sync_status(company=connected.company) == CompanyStatus.NOT_CONNECTED


def test_it_connects_again_only_to_the_same_realm(client, connected, qbo):
    _disconnect(client, connected.company)
    other = qbo.control("POST", "realms", {"name": "Other Books"})["realm_id"]
    connect(client, connected.company, realm_id=other)
    assert not QuickBooksConnection.objects.get(pk=connected.pk).is_connected
    connect(client, connected.company, realm_id=connected.realm_id)
    assert QuickBooksConnection.objects.get(pk=connected.pk).is_connected


def test_it_lets_only_finance_admins_disconnect(client, connected, bob):
    client.force_login(bob)
    assert _disconnect(client, connected.company).status_code == 403
    assert QuickBooksConnection.objects.get(pk=connected.pk).is_connected
