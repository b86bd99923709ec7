"""Edits, voids and deletes made in QuickBooks to our invoices are raised as issues, once,
and the app's document is never changed."""

# ruff: noqa: F811  (pytest fixtures imported from test_pull_setup are then requested by name)
from __future__ import annotations

from decimal import Decimal

import pytest

from companies.models import Invoice
from quickbooks_link import client
from quickbooks_link.models import ExternalLink
from sync_engine.engine.pull import pull_changes
from sync_engine.models import SyncItemResult
from tests.sync_engine.test_pull_setup import (  # noqa: F401  (fixtures)
    api,
    connection,
    customer,
    delete,
    edit,
    incoming,
    new_run,
    rent_item,
    rewind,
    synced_invoice,
    write,
)

pytestmark = pytest.mark.sandbox


def _issues(invoice: Invoice):
    return incoming(entity="invoice", record_id=invoice.pk, outcome=SyncItemResult.Outcome.FAILED)


def _unchanged(invoice: Invoice) -> bool:
    fresh = Invoice.objects.get(pk=invoice.pk)
    return (fresh.status, fresh.total, fresh.updated_at) == (
        Invoice.Status.APPROVED,
        Decimal("1200.00"),
        invoice.updated_at,
    )


def test_it_raises_an_issue_for_an_invoice_edited_in_quickbooks(
    connection, api, synced_invoice, rent_item
):
    invoice, data = synced_invoice
    detail = {"ItemRef": {"value": rent_item}}
    line = {"Amount": 1100.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    edited = edit(api, "Invoice", data["Id"], Line=[line])
    pull_changes(new_run(connection))
    issue = _issues(invoice).get()
    assert issue.error_code == "qbo_edited"
    assert issue.explanation.startswith("INV-1 was changed in QuickBooks on ")
    assert "total 1200.00 → 1100.00" in issue.explanation
    assert "approved" in issue.explanation and issue.suggested_fix
    assert _unchanged(invoice)
    assert ExternalLink.objects.get(invoice=invoice).sync_token == edited["SyncToken"]


def test_it_raises_an_issue_for_an_invoice_voided_in_quickbooks(connection, api, synced_invoice):
    invoice, data = synced_invoice
    current = client.read(api, "Invoice", data["Id"])
    client.void_invoice(api, data["Id"], current["SyncToken"], request_id="void-1")
    pull_changes(new_run(connection))
    issue = _issues(invoice).get()
    assert issue.error_code == "qbo_voided"
    assert "INV-1 was voided in QuickBooks on " in issue.explanation
    assert "the app still has it as approved" in issue.explanation
    assert "Void it here too" in issue.suggested_fix
    assert _unchanged(invoice)


def test_it_raises_an_issue_for_an_invoice_deleted_in_quickbooks(connection, api, synced_invoice):
    invoice, data = synced_invoice
    delete(api, "Invoice", data["Id"])
    pull_changes(new_run(connection))
    assert _issues(invoice).get().error_code == "qbo_deleted"
    assert _unchanged(invoice)


@pytest.mark.parametrize("change", ["edit", "void", "delete"])
def test_it_raises_each_issue_only_once(connection, api, synced_invoice, rent_item, change):
    invoice, data = synced_invoice
    if change == "edit":
        edit(api, "Invoice", data["Id"], TxnDate="2026-01-02")
    elif change == "void":
        current = client.read(api, "Invoice", data["Id"])
        client.void_invoice(api, data["Id"], current["SyncToken"], request_id="void-2")
    else:
        delete(api, "Invoice", data["Id"])
    pull_changes(new_run(connection))
    rewind(connection)
    pull_changes(new_run(connection))
    assert _issues(invoice).count() == 1


def test_it_raises_no_issue_when_only_a_payment_moved_the_balance(
    connection, api, customer, synced_invoice
):
    invoice, data = synced_invoice
    line = {"Amount": 200.0, "LinkedTxn": [{"TxnId": data["Id"], "TxnType": "Invoice"}]}
    body = {"TotalAmt": 200.0, "CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    write(api, "Payment", body)
    pull_changes(new_run(connection))
    assert not _issues(invoice).exists()
    current = client.read(api, "Invoice", data["Id"])
    assert current["SyncToken"] != data["SyncToken"]
    assert ExternalLink.objects.get(invoice=invoice).sync_token == current["SyncToken"]


def test_it_raises_an_issue_for_a_credit_memo_edited_in_quickbooks(
    connection, api, customer, rent, rent_item, tenant
):
    from companies.models import CreditNote, CreditNoteLine
    from companies.services import document_totals_refresh
    from tests.sync_engine.test_pull_setup import link

    note = CreditNote.objects.create(
        company=tenant.company,
        number="CN-1",
        tenant=tenant,
        issue_date=invoice_date(),
        currency="USD",
        status=CreditNote.Status.APPROVED,
    )
    CreditNoteLine.objects.create(credit_note=note, charge_code=rent, unit_amount=Decimal(100))
    document_totals_refresh(document=note)
    detail = {"ItemRef": {"value": rent_item}}
    line = {"Amount": 100.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    body = {"DocNumber": "CN-1", "TxnDate": "2026-01-01", "CustomerRef": {"value": customer["Id"]}}
    sent = write(api, "CreditMemo", {**body, "Line": [line]})
    link(tenant.company, "CreditMemo", note, sent)
    edit(api, "CreditMemo", sent["Id"], Line=[{**line, "Amount": 90.0}])
    pull_changes(new_run(connection))
    issue = incoming(entity="credit_note", record_id=note.pk).get()
    assert issue.error_code == "qbo_edited"
    assert issue.explanation.startswith("CN-1 was changed in QuickBooks")
    assert CreditNote.objects.get(pk=note.pk).total == Decimal("100.00")


def invoice_date():
    import datetime

    return datetime.date(2026, 1, 1)
