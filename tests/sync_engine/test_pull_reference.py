"""Reference data is refreshed every full sync, and a mapping to something QuickBooks no longer
offers is flagged on the mapped record."""

# ruff: noqa: F811  (pytest fixtures imported from test_pull_setup are then requested by name)
from __future__ import annotations

import pytest
from django.utils import timezone

from quickbooks_link.models import ExternalLink, QboEntity, QboReferenceRecord
from sync_engine.engine.pull import pull_reference_data
from sync_engine.models import SyncItemResult
from tests.sync_engine.test_pull_setup import (  # noqa: F401  (fixtures)
    api,
    connection,
    edit,
    incoming,
    new_run,
    rent_item,
)

pytestmark = pytest.mark.sandbox


def _map(company, charge_code, qbo_id: str) -> ExternalLink:
    return ExternalLink.objects.create(
        company=company, qbo_entity=QboEntity.ITEM, qbo_id=qbo_id, charge_code=charge_code
    )


def _item_flags(charge_code):
    return incoming(entity="item", record_id=charge_code.pk, outcome=SyncItemResult.Outcome.FAILED)


def test_it_refreshes_reference_data_and_keeps_customers(connection, acme_north):
    QboReferenceRecord.objects.create(
        company=acme_north,
        qbo_entity="Customer",
        qbo_id="77",
        name="Kept",
        refreshed_at=timezone.now(),
    )
    QboReferenceRecord.objects.create(
        company=acme_north,
        qbo_entity="Item",
        qbo_id="999",
        name="Gone",
        refreshed_at=timezone.now(),
    )
    pull_reference_data(new_run(connection))
    stored = QboReferenceRecord.objects.filter(company=acme_north)
    assert stored.filter(qbo_entity="Item", name="Rent").exists()
    assert stored.filter(qbo_entity="Account").count() >= 5
    assert stored.filter(qbo_entity="TaxCode").exists()
    assert stored.filter(qbo_entity="Customer", qbo_id="77").exists()
    assert not stored.filter(qbo_entity="Item", qbo_id="999").exists()


def test_it_flags_a_charge_code_mapped_to_an_inactive_item(connection, api, rent, rent_item):
    _map(connection.company, rent, rent_item)
    edit(api, "Item", rent_item, Active=False)
    pull_reference_data(new_run(connection))
    flag = _item_flags(rent).get()
    assert flag.error_code == "qbo_inactive"
    assert "RENT Rent" in flag.explanation and "inactive" in flag.explanation
    assert flag.suggested_fix


def test_it_flags_an_inactive_item_only_once(connection, api, rent, rent_item):
    _map(connection.company, rent, rent_item)
    edit(api, "Item", rent_item, Active=False)
    pull_reference_data(new_run(connection))
    pull_reference_data(new_run(connection))
    assert _item_flags(rent).count() == 1


def test_it_closes_the_flag_when_the_item_is_active_again(connection, api, rent, rent_item):
    _map(connection.company, rent, rent_item)
    edit(api, "Item", rent_item, Active=False)
    pull_reference_data(new_run(connection))
    edit(api, "Item", rent_item, Active=True, Name="Rent")
    pull_reference_data(new_run(connection))
    assert _item_flags(rent).get().resolved_at is not None


def test_it_flags_a_mapping_to_a_deleted_item(connection, rent):
    _map(connection.company, rent, "999")
    pull_reference_data(new_run(connection))
    assert _item_flags(rent).get().error_code == "qbo_missing"


def test_it_does_not_flag_live_mappings(connection, rent, rent_item):
    _map(connection.company, rent, rent_item)
    pull_reference_data(new_run(connection))
    assert not incoming().exists()
