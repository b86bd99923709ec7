"""Customer edits made in QuickBooks flow back into tenants; the app wins a clash."""

# ruff: noqa: F811  (pytest fixtures imported from test_pull_setup are then requested by name)
from __future__ import annotations

import pytest
from django.db.models.signals import post_save

from companies.models import Tenant
from quickbooks_link.models import ExternalLink
from sync_engine.engine.pull import pull_changes
from sync_engine.models import SyncItemResult
from tests.sync_engine.test_pull_setup import (  # noqa: F401  (fixtures)
    api,
    connection,
    customer,
    edit,
    incoming,
    new_run,
    rent_item,
    synced_invoice,
)

pytestmark = pytest.mark.sandbox


def test_it_copies_a_customer_edit_into_the_tenant(connection, api, tenant, customer):
    before = Tenant.objects.get(pk=tenant.pk)
    changed = edit(
        api,
        "Customer",
        customer["Id"],
        DisplayName="Jane Smith",
        PrimaryPhone={"FreeFormNumber": "555-0100"},
        BillAddr={"Line1": "1 Harbour Row", "City": "Boston", "CountrySubDivisionCode": "MA"},
    )
    pull_changes(new_run(connection))
    tenant.refresh_from_db()
    assert (tenant.name, tenant.phone) == ("Jane Smith", "555-0100")
    assert tenant.billing_address == "1 Harbour Row\nBoston, MA"
    assert tenant.updated_at == before.updated_at  # not an app edit: the push won't resend it
    assert ExternalLink.objects.get(tenant=tenant).sync_token == changed["SyncToken"]
    result = incoming(entity="tenant", record_id=tenant.pk).get()
    assert result.outcome == SyncItemResult.Outcome.UPDATED


def test_it_sends_no_post_save_when_it_updates_a_tenant(connection, api, tenant, customer):
    saves = []

    def saved(sender, instance, **kwargs):
        saves.append(instance)

    post_save.connect(saved, sender=Tenant)
    try:
        edit(api, "Customer", customer["Id"], DisplayName="Jane Smith")
        pull_changes(new_run(connection))
    finally:
        post_save.disconnect(saved, sender=Tenant)
    assert Tenant.objects.get(pk=tenant.pk).name == "Jane Smith"
    assert saves == []


def test_it_keeps_the_app_version_when_the_tenant_changed_here_too(
    connection, api, tenant, customer
):
    changed = edit(api, "Customer", customer["Id"], DisplayName="Jane Smith")
    tenant.name = "Jane Doe-Smith"
    tenant.save()
    pull_changes(new_run(connection))
    assert Tenant.objects.get(pk=tenant.pk).name == "Jane Doe-Smith"
    result = incoming(entity="tenant", record_id=tenant.pk).get()
    assert result.outcome == SyncItemResult.Outcome.SKIPPED
    # The push can now overwrite QuickBooks' version without meeting a stale SyncToken.
    assert ExternalLink.objects.get(tenant=tenant).sync_token == changed["SyncToken"]


def test_it_archives_a_tenant_whose_customer_was_made_inactive(connection, api, tenant, customer):
    edit(api, "Customer", customer["Id"], Active=False)
    pull_changes(new_run(connection))
    tenant.refresh_from_db()
    assert tenant.archived_at is not None
    assert tenant.name == "Jane Doe"  # not QuickBooks' "Jane Doe (deleted)"


def test_it_unarchives_a_tenant_whose_customer_was_reactivated(connection, api, tenant, customer):
    edit(api, "Customer", customer["Id"], Active=False)
    pull_changes(new_run(connection))
    edit(api, "Customer", customer["Id"], Active=True, DisplayName="Jane Doe")
    pull_changes(new_run(connection))
    assert Tenant.objects.get(pk=tenant.pk).archived_at is None


def test_it_ignores_our_own_writes(connection, tenant, synced_invoice):
    before = Tenant.objects.get(pk=tenant.pk)
    pull_changes(new_run(connection))
    assert not incoming().exists()
    assert Tenant.objects.get(pk=tenant.pk).name == before.name


def test_it_ignores_customers_that_are_not_linked(connection, api, tenant):
    from tests.sync_engine.test_pull_setup import write

    write(api, "Customer", {"DisplayName": "Someone Else"})
    pull_changes(new_run(connection))
    assert not incoming().exists()
