"""Where a pull reads from, and how far it moves last_pulled_at."""

# ruff: noqa: F811  (pytest fixtures imported from test_pull_setup are then requested by name)
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from companies.models import Tenant
from quickbooks_link.models import QuickBooksConnection
from sync_engine.engine import pull
from sync_engine.engine.pull import common as pull_common
from sync_engine.models import SyncMessage
from tests.sync_engine.test_pull_setup import (  # noqa: F401  (fixtures)
    api,
    connection,
    customer,
    edit,
    new_run,
)

pytestmark = pytest.mark.sandbox


def _operations(connection) -> list[str]:
    return list(
        SyncMessage.objects.filter(company=connection.company)
        .order_by("pk")
        .values_list("operation", flat=True)
    )


def _pulled_at(connection) -> datetime.datetime | None:
    return QuickBooksConnection.objects.get(pk=connection.pk).last_pulled_at


def test_it_advances_last_pulled_at_to_its_start_less_a_margin(connection):
    before = timezone.now()
    pull.pull_changes(new_run(connection))
    after = timezone.now()
    pulled_at = _pulled_at(connection)
    assert before - pull.SAFETY_MARGIN <= pulled_at <= after - pull.SAFETY_MARGIN
    assert _operations(connection) == ["cdc"]  # through the run: in the message log


def test_it_never_moves_last_pulled_at_backwards(connection):
    later = timezone.now() + datetime.timedelta(hours=1)
    ctx = new_run(connection)
    # Another run finished a later pull while this one was reading.
    QuickBooksConnection.objects.filter(pk=connection.pk).update(last_pulled_at=later)
    assert not pull._advance_last_pulled(ctx.connection, timezone.now())
    assert _pulled_at(connection) == later


def test_it_reads_by_query_when_the_last_pull_is_older_than_30_days(
    connection, api, tenant, customer
):
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        last_pulled_at=timezone.now() - datetime.timedelta(days=40)
    )
    edit(api, "Customer", customer["Id"], DisplayName="Jane Smith")
    pull.pull_changes(new_run(connection))
    assert Tenant.objects.get(pk=tenant.pk).name == "Jane Smith"
    operations = _operations(connection)
    assert "cdc" not in operations and operations.count("query") == len(pull.PULLED)
    assert _pulled_at(connection) > timezone.now() - datetime.timedelta(minutes=10)


def test_it_reads_by_query_when_it_never_pulled(connection, api, tenant, customer):
    QuickBooksConnection.objects.filter(pk=connection.pk).update(last_pulled_at=None)
    edit(api, "Customer", customer["Id"], DisplayName="Jane Smith")
    pull.pull_changes(new_run(connection))
    assert Tenant.objects.get(pk=tenant.pk).name == "Jane Smith"
    assert "cdc" not in _operations(connection)
    assert _pulled_at(connection) is not None


def test_it_reads_by_query_when_change_data_capture_is_capped(
    connection, api, tenant, customer, monkeypatch
):
    monkeypatch.setattr(pull_common, "CDC_CAP", 1)  # any answer with an object counts as capped
    edit(api, "Customer", customer["Id"], DisplayName="Jane Smith")
    pull.pull_changes(new_run(connection))
    assert Tenant.objects.get(pk=tenant.pk).name == "Jane Smith"
    assert _operations(connection)[:1] == ["cdc"] and "query" in _operations(connection)
