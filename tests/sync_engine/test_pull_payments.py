"""Payments recorded in QuickBooks against our invoices come in and move the invoice balance."""

# ruff: noqa: F811  (pytest fixtures imported from test_pull_setup are then requested by name)
from __future__ import annotations

from decimal import Decimal

import pytest

from companies.models import Payment, PaymentAllocation
from companies.selectors import invoice_balance
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
    rewind,
    synced_invoice,
    void_payment,
    write,
)

pytestmark = pytest.mark.sandbox


def _pay(api, customer: dict, invoice_data: dict, amount: float, **fields) -> dict:
    line = {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_data["Id"], "TxnType": "Invoice"}]}
    body = {"TotalAmt": amount, "CustomerRef": {"value": customer["Id"]}, "Line": [line]}
    return write(api, "Payment", {**body, **fields})


def test_it_brings_in_a_payment_recorded_in_quickbooks(connection, api, customer, synced_invoice):
    invoice, data = synced_invoice
    paid = _pay(api, customer, data, 500.0, TxnDate="2026-01-10", PaymentRefNum="CHK 1001")
    pull_changes(new_run(connection))
    payment = Payment.objects.get()
    assert payment.origin == Payment.Origin.QUICKBOOKS
    assert (payment.amount, payment.reference) == (Decimal("500.00"), "CHK 1001")
    assert payment.received_on.isoformat() == "2026-01-10"
    assert payment.tenant_id == invoice.tenant_id
    assert PaymentAllocation.objects.get(payment=payment).invoice == invoice
    assert invoice_balance(invoice=invoice) == Decimal("700.00")
    assert ExternalLink.objects.get(payment=payment).qbo_id == paid["Id"]
    assert incoming(entity="payment").get().outcome == SyncItemResult.Outcome.CREATED


def test_it_brings_in_a_payment_once_when_the_window_is_read_again(
    connection, api, customer, synced_invoice
):
    _pay(api, customer, synced_invoice[1], 500.0)
    pull_changes(new_run(connection))
    rewind(connection)
    pull_changes(new_run(connection))
    assert Payment.objects.count() == 1


def test_it_voids_a_quickbooks_payment_voided_there(connection, api, customer, synced_invoice):
    invoice, data = synced_invoice
    paid = _pay(api, customer, data, 500.0)
    pull_changes(new_run(connection))
    void_payment(api, paid["Id"])
    pull_changes(new_run(connection))
    assert Payment.objects.get().voided_at is not None
    assert invoice_balance(invoice=invoice) == Decimal("1200.00")


def test_it_updates_a_quickbooks_payment_edited_there(connection, api, customer, synced_invoice):
    invoice, data = synced_invoice
    paid = _pay(api, customer, data, 500.0)
    pull_changes(new_run(connection))
    line = {"Amount": 300.0, "LinkedTxn": [{"TxnId": data["Id"], "TxnType": "Invoice"}]}
    edit(api, "Payment", paid["Id"], TotalAmt=300.0, Line=[line])
    pull_changes(new_run(connection))
    assert Payment.objects.get().amount == Decimal("300.00")
    assert invoice_balance(invoice=invoice) == Decimal("900.00")


def test_it_leaves_payments_against_other_invoices_alone(connection, api, customer, rent_item):
    other = write(
        api,
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": 80.0,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": rent_item}},
                }
            ],
        },
    )
    _pay(api, customer, other, 80.0)
    pull_changes(new_run(connection))
    assert not Payment.objects.exists()
    assert not incoming(entity="payment").exists()


def test_it_voids_a_quickbooks_payment_deleted_there(connection, api, customer, synced_invoice):
    from tests.sync_engine.test_pull_setup import delete

    invoice, data = synced_invoice
    paid = _pay(api, customer, data, 500.0)
    pull_changes(new_run(connection))
    delete(api, "Payment", paid["Id"])
    pull_changes(new_run(connection))
    assert Payment.objects.get().voided_at is not None
    assert invoice_balance(invoice=invoice) == Decimal("1200.00")


def test_it_raises_an_issue_when_a_payment_recorded_here_is_voided_there(
    connection, api, customer, synced_invoice
):
    invoice, data = synced_invoice
    payment = Payment.objects.create(
        company=invoice.company,
        tenant=invoice.tenant,
        received_on=invoice.issue_date,
        amount=Decimal("500.00"),
        currency="USD",
    )
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal("500.00"))
    sent = _pay(api, customer, data, 500.0)  # as the push would have sent it
    ExternalLink.objects.create(
        company=invoice.company,
        qbo_entity="Payment",
        qbo_id=sent["Id"],
        sync_token=sent["SyncToken"],
        payment=payment,
    )
    void_payment(api, sent["Id"])
    pull_changes(new_run(connection))
    payment.refresh_from_db()
    assert payment.voided_at is None  # never changed silently
    issue = incoming(entity="payment", record_id=payment.pk).get()
    assert (issue.outcome, issue.error_code) == (SyncItemResult.Outcome.FAILED, "qbo_voided")
    assert "voided in QuickBooks" in issue.explanation


def test_it_ignores_a_credit_allocation_we_wrote(connection, api, customer, synced_invoice):
    _pay(
        api, customer, synced_invoice[1], 0.0, PrivateNote="released-sync credit_note 1 allocation"
    )
    pull_changes(new_run(connection))
    assert not Payment.objects.exists()
    assert not incoming(entity="payment").exists()
