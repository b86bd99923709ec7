"""Shared setup for the pull tests: a connected company in the sandbox, a running run, and
records "synced" to QuickBooks as the push would leave them (object created there, link stored
with the SyncToken QuickBooks answered).

The fixtures live here rather than in conftest.py so the pull tests stay self-contained; the
test modules import them by name. This module holds no tests itself.
"""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from django.utils import timezone

from companies.models import Invoice
from quickbooks_link import client
from quickbooks_link.models import ExternalLink, QboEntity, QuickBooksConnection
from sync_engine.engine.context import RunContext
from sync_engine.models import Direction, SyncItemResult, SyncRun


@pytest.fixture
def connection(qbo, acme_north) -> QuickBooksConnection:
    realm = qbo.control("POST", "realms", {"name": "Acme North Books", "custom_txn_numbers": True})
    tokens = qbo.control("POST", f"realms/{realm['realm_id']}/tokens")
    now = timezone.now()
    return QuickBooksConnection.objects.create(
        company=acme_north,
        realm_id=realm["realm_id"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        access_token_expires_at=now + datetime.timedelta(hours=1),
        connected_at=now - datetime.timedelta(days=2),
        onboarded_at=now - datetime.timedelta(days=2),
        sync_from_date=datetime.date(2026, 1, 1),
        qbo_country="US",
        last_pulled_at=now - datetime.timedelta(minutes=10),
    )


@pytest.fixture
def api(connection) -> client.QboApi:
    """Someone else working in QuickBooks (not through the run, so not in the message log)."""
    return client.api_client(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        realm_id=connection.realm_id,
    )


def new_run(connection: QuickBooksConnection) -> RunContext:
    """A running run of the company (the one before it, if any, has finished)."""
    SyncRun.objects.filter(company=connection.company, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now()
    )
    run = SyncRun.objects.create(
        company=connection.company,
        trigger=SyncRun.Trigger.MANUAL,
        status=SyncRun.Status.RUNNING,
        started_at=timezone.now(),
    )
    return RunContext(run=run, connection=QuickBooksConnection.objects.get(pk=connection.pk))


def write(api, entity: str, payload: dict) -> dict:
    return client.create(api, entity, payload, request_id=uuid.uuid4().hex)


def edit(api, entity: str, qbo_id: str, **fields) -> dict:
    """A sparse update made in QuickBooks on the object's current SyncToken."""
    current = client.read(api, entity, qbo_id)
    body = {"Id": qbo_id, "SyncToken": current["SyncToken"], "sparse": True, **fields}
    return client.update(api, entity, body, request_id=uuid.uuid4().hex)


def delete(api, entity: str, qbo_id: str) -> None:
    current = client.read(api, entity, qbo_id)
    body = json.dumps({"Id": qbo_id, "SyncToken": current["SyncToken"]})
    client.call(api, lambda qb: qb.delete_object(entity, body))


def void_payment(api, qbo_id: str) -> None:
    current = client.read(api, "Payment", qbo_id)
    body = json.dumps({"Id": qbo_id, "SyncToken": current["SyncToken"], "sparse": True})
    params = {"operation": "update", "include": "void"}
    client.call(api, lambda qb: qb.update_object("Payment", body, params=params))


def link(company, entity: str, record, data: dict) -> ExternalLink:
    field = {"Customer": "tenant", "Invoice": "invoice", "CreditMemo": "credit_note"}[entity]
    return ExternalLink.objects.create(
        company=company,
        qbo_entity=entity,
        qbo_id=str(data["Id"]),
        sync_token=str(data["SyncToken"]),
        last_synced_at=timezone.now(),
        **{field: record},
    )


@pytest.fixture
def customer(api, tenant) -> dict:
    """The tenant, synced: a QuickBooks customer and the link to it."""
    data = write(
        api,
        "Customer",
        {"DisplayName": tenant.name, "PrimaryEmailAddr": {"Address": tenant.email}},
    )
    link(tenant.company, QboEntity.CUSTOMER, tenant, data)
    return data


@pytest.fixture
def rent_item(api) -> str:
    return client.query(api, "SELECT * FROM Item WHERE Name = 'Rent'")[0]["Id"]


@pytest.fixture
def synced_invoice(api, customer, rent_item, make_invoice) -> tuple[Invoice, dict]:
    """INV-1 for 1,200.00, approved and sent to QuickBooks."""
    invoice = make_invoice(number="INV-1", status=Invoice.Status.APPROVED)
    line = {"ItemRef": {"value": rent_item}, "Qty": 1, "UnitPrice": 1200.0}
    data = write(
        api,
        "Invoice",
        {
            "DocNumber": invoice.number,
            "TxnDate": invoice.issue_date.isoformat(),
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {"Amount": 1200.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": line}
            ],
        },
    )
    link(invoice.company, QboEntity.INVOICE, invoice, data)
    return invoice, data


def incoming(**filters):
    return SyncItemResult.objects.filter(direction=Direction.INCOMING, **filters)


def rewind(connection: QuickBooksConnection, minutes: int = 10) -> None:
    """Read the same window again, as a run after a crash would."""
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        last_pulled_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )
