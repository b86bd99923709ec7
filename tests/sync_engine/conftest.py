"""A company connected to a running sandbox, onboarded and mapped, for engine tests."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from quickbooks_link import client as qbo_client
from quickbooks_link.models import ExternalLink, QboEntity, QuickBooksConnection
from quickbooks_link.onboarding import reference_refresh, references
from sync_engine.models import SyncRun
from sync_engine.services import sync_run_claim, sync_run_request


@pytest.fixture
def realm_settings() -> dict:
    return {"name": "Acme North Books", "custom_txn_numbers": True}


@pytest.fixture
def connected(acme_north, qbo, realm_settings, sales_tax, rent, alice) -> QuickBooksConnection:
    """Acme North connected to a fresh realm, tax and charge codes mapped, Sync From 2025-01-01."""
    realm = qbo.control("POST", "realms", realm_settings)["realm_id"]
    tokens = qbo.control("POST", f"realms/{realm}/tokens")
    now = timezone.now()
    connection = QuickBooksConnection.objects.create(
        company=acme_north,
        realm_id=realm,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        access_token_expires_at=now + datetime.timedelta(seconds=tokens["expires_in"]),
        connected_at=now,
        connected_by=alice,
        onboarded_at=now,
        sync_from_date=datetime.date(2025, 1, 1),
        qbo_country="US",
        qbo_currency="USD",
        qbo_preferences={"custom_txn_numbers": True, "class_tracking": False},
    )
    reference_refresh(connection=connection)
    for rate, code in ((sales_tax, "TAX"),):
        ExternalLink.objects.create(
            company=acme_north, qbo_entity=QboEntity.TAX_CODE, qbo_id=code, tax_rate=rate
        )
    item = references(acme_north, "Item").get(name="Rent").qbo_id
    ExternalLink.objects.create(
        company=acme_north, qbo_entity=QboEntity.ITEM, qbo_id=item, charge_code=rent
    )
    return connection


def drain(company) -> None:
    """Do what a worker would: claim and execute every queued run of the company, oldest first."""
    from sync_engine.engine.runner import sync_run_execute

    for queued in SyncRun.objects.filter(company=company, status="queued").order_by("pk"):
        if sync_run_claim(queued):
            sync_run_execute(queued)


@pytest.fixture
def run_sync(django_capture_on_commit_callbacks):
    """Request a full run as the pages do, then run everything queued (no worker needed)."""

    def run(company, trigger=SyncRun.Trigger.MANUAL) -> SyncRun:
        with django_capture_on_commit_callbacks(execute=False):
            queued = sync_run_request(company=company, trigger=trigger)
        drain(company)
        return SyncRun.objects.get(pk=queued.pk)

    return run


@pytest.fixture
def qbo_api(connected):
    """A python-quickbooks client on the same realm, to look at what QuickBooks holds."""
    fresh = QuickBooksConnection.objects.get(pk=connected.pk)
    return qbo_client.api_client(
        access_token=fresh.access_token, refresh_token=fresh.refresh_token, realm_id=fresh.realm_id
    )


def qbo_rows(api, sql: str) -> list[dict]:
    return qbo_client.query(api, sql)
