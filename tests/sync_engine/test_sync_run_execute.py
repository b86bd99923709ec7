"""A full run against a running sandbox: what reaches QuickBooks, once, and what is reported."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from companies.models import Invoice
from quickbooks_link.models import ExternalLink, QuickBooksConnection
from sync_engine.models import SyncItemResult, SyncMessage, SyncRun
from sync_engine.selectors import company_sync_status
from sync_engine.statuses import CompanyStatus
from tests.sync_engine.conftest import qbo_rows

pytestmark = pytest.mark.sandbox


def _approved(make_invoice, number, **fields):
    return make_invoice(number=number, status=Invoice.Status.APPROVED, **fields)


def test_it_sends_tenants_and_approved_invoices_once(connected, make_invoice, run_sync, qbo_api):
    _approved(make_invoice, "INV-1")
    _approved(make_invoice, "INV-2", lines=((2, "150.00"),))
    run = run_sync(connected.company)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    invoices = qbo_rows(qbo_api, "SELECT * FROM Invoice")
    assert sorted((row["DocNumber"], row["TotalAmt"]) for row in invoices) == [
        ("INV-1", 1200.0),
        ("INV-2", 300.0),
    ]
    assert [row["DisplayName"] for row in qbo_rows(qbo_api, "SELECT * FROM Customer")] == [
        "Jane Doe"
    ]
    assert company_sync_status(company=connected.company) == CompanyStatus.SUCCESSFULLY_SYNCED


def test_it_never_sends_drafts_or_documents_before_the_sync_from_date(
    connected, make_invoice, run_sync, qbo_api
):
    make_invoice(number="INV-DRAFT")
    _approved(make_invoice, "INV-OLD", issue_date=datetime.date(2024, 12, 1),
              due_date=datetime.date(2024, 12, 15))  # fmt: skip
    run_sync(connected.company)
    assert qbo_rows(qbo_api, "SELECT * FROM Invoice") == []


def test_it_sends_nothing_again_when_nothing_changed(connected, make_invoice, run_sync, qbo):
    _approved(make_invoice, "INV-1")
    run_sync(connected.company)
    before = qbo.control("GET", f"realms/{connected.realm_id}/stats")["requests"]
    second = run_sync(connected.company)
    after = qbo.control("GET", f"realms/{connected.realm_id}/stats")["requests"]
    writes = [endpoint for endpoint in after if endpoint in ("invoice", "customer")]
    assert all(after[e] == before.get(e) for e in writes)
    assert second.status == SyncRun.Status.SUCCEEDED


def test_it_updates_an_edited_invoice_in_place(connected, make_invoice, run_sync, qbo_api):
    invoice = _approved(make_invoice, "INV-1")
    run_sync(connected.company)
    line = invoice.lines.get()
    line.unit_amount = Decimal("1300.00")
    line.save()
    from companies.services import document_totals_refresh

    document_totals_refresh(document=invoice)
    run_sync(connected.company)
    rows = qbo_rows(qbo_api, "SELECT * FROM Invoice")
    assert [(row["DocNumber"], row["TotalAmt"]) for row in rows] == [("INV-1", 1300.0)]
    updated = SyncItemResult.objects.filter(
        entity="invoice", outcome="updated", record_id=invoice.pk
    )
    assert updated.count() == 1


def test_it_voids_an_invoice_voided_here(connected, make_invoice, run_sync, qbo_api):
    invoice = _approved(make_invoice, "INV-1")
    run_sync(connected.company)
    invoice.status = Invoice.Status.VOID
    invoice.save()
    run_sync(connected.company)
    (row,) = qbo_rows(qbo_api, "SELECT * FROM Invoice")
    assert row["TotalAmt"] == 0 and row["PrivateNote"].startswith("Voided")


def test_it_repeats_a_write_whose_answer_was_lost_without_writing_twice(
    connected, make_invoice, run_sync, qbo, qbo_api
):
    _approved(make_invoice, "INV-1")
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"lost_response_rate": 1.0})
    run = run_sync(connected.company)
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"lost_response_rate": 0.0})
    # The retry carries the same requestid, so QuickBooks answers it from the first attempt.
    assert run.status == SyncRun.Status.SUCCEEDED
    assert len(qbo_rows(qbo_api, "SELECT * FROM Invoice")) == 1
    assert len(qbo_rows(qbo_api, "SELECT * FROM Customer")) == 1


def test_it_adopts_what_a_crashed_worker_created_instead_of_creating_it_again(
    connected, make_invoice, run_sync, qbo_api, settings
):
    """A worker wrote its intent, QuickBooks created the invoice, and the worker died."""
    from quickbooks_link import client as qbo_client
    from sync_engine import payloads
    from sync_engine.engine.scope import mappings_for

    settings.SYNC_PENDING_LEASE = 0  # the dead worker's lease has run out
    invoice = _approved(make_invoice, "INV-1")
    run_sync(connected.company)  # customer and invoice exist; now replay the crash on a new one
    crashed = _approved(make_invoice, "INV-2")
    payload = payloads.invoice_payload(crashed, mappings_for(connected, [crashed]))
    qbo_client.create(qbo_api, "Invoice", payload, request_id="dead-worker-request")
    ExternalLink.objects.filter(invoice=crashed).delete()
    ExternalLink.objects.create(
        company=connected.company, qbo_entity="Invoice", invoice=crashed,
        pending_request_id="dead-worker-request", pending_fingerprint=payloads.fingerprint(payload),
        pending_since=invoice.created_at,
    )  # fmt: skip
    from sync_engine.models import SyncRun as Run

    Run.objects.filter(company=connected.company, status="queued").delete()
    run_sync(connected.company)
    numbers = [row["DocNumber"] for row in qbo_rows(qbo_api, "SELECT * FROM Invoice")]
    assert sorted(numbers) == ["INV-1", "INV-2"]
    assert ExternalLink.objects.get(invoice=crashed).qbo_id


def test_it_explains_a_closed_period_and_carries_on(
    connected, make_invoice, run_sync, qbo, qbo_api
):
    qbo.control("PATCH", f"realms/{connected.realm_id}", {"closing_date": "2025-12-31"})
    QuickBooksConnection.objects.filter(pk=connected.pk).update(
        qbo_preferences={"custom_txn_numbers": True, "closing_date": "2025-12-31"}
    )
    _approved(make_invoice, "INV-CLOSED", issue_date=datetime.date(2025, 6, 1),
              due_date=datetime.date(2025, 6, 15))  # fmt: skip
    _approved(make_invoice, "INV-OPEN")
    run = run_sync(connected.company)
    assert run.status == SyncRun.Status.SUCCEEDED_WITH_ERRORS
    failure = run.results.get(outcome="failed")
    assert (failure.record_label, failure.error_code) == ("INV-CLOSED", "6210")
    assert failure.explanation and failure.suggested_fix
    assert [row["DocNumber"] for row in qbo_rows(qbo_api, "SELECT * FROM Invoice")] == ["INV-OPEN"]
    assert company_sync_status(company=connected.company) == CompanyStatus.SYNC_HAS_ERRORS


def test_it_stops_cleanly_and_needs_reconnecting_when_access_is_revoked(
    connected, make_invoice, run_sync, qbo
):
    _approved(make_invoice, "INV-1")
    qbo.control("POST", f"realms/{connected.realm_id}/revoke")
    run = run_sync(connected.company)
    assert (run.status, run.error_kind) == (SyncRun.Status.FAILED, SyncRun.ErrorKind.AUTH)
    assert company_sync_status(company=connected.company) == CompanyStatus.NEEDS_RECONNECTING


def test_it_skips_unlinked_records(connected, make_invoice, run_sync, qbo_api, tenant):
    invoice = _approved(make_invoice, "INV-1")
    from django.utils import timezone

    from quickbooks_link.models import QboEntity

    ExternalLink.objects.create(
        company=connected.company, qbo_entity=QboEntity.INVOICE, invoice=invoice,
        unlinked_at=timezone.now(), unlinked_reason="Entered by hand in QuickBooks",
    )  # fmt: skip
    run_sync(connected.company)
    assert qbo_rows(qbo_api, "SELECT * FROM Invoice") == []


def test_it_writes_every_exchange_to_the_message_log_without_tokens(
    connected, make_invoice, run_sync
):
    _approved(make_invoice, "INV-1")
    run = run_sync(connected.company)
    messages = SyncMessage.objects.filter(company=run.company)
    assert messages.filter(operation="create", http_status=200).count() == 2
    assert all(m.request_id for m in messages if m.http_status)
    stored = QuickBooksConnection.objects.get(pk=connected.pk)
    for message in messages:
        assert stored.access_token not in message.text


def _credit(invoice, amount: str, number="CN-1"):
    from companies.models import CreditNote, CreditNoteLine
    from companies.services import document_totals_refresh

    credit = CreditNote.objects.create(
        company=invoice.company, number=number, tenant=invoice.tenant,
        issue_date=invoice.issue_date, currency="USD", status="approved",
        allocated_invoice=invoice,
    )  # fmt: skip
    CreditNoteLine.objects.create(
        credit_note=credit,
        charge_code=invoice.lines.first().charge_code,
        unit_amount=Decimal(amount),
    )
    return document_totals_refresh(document=credit)


def test_it_sends_a_credit_note_applied_to_its_invoice(connected, make_invoice, run_sync, qbo_api):
    invoice = _approved(make_invoice, "INV-1")
    _credit(invoice, "200.00")
    run = run_sync(connected.company)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    (memo,) = qbo_rows(qbo_api, "SELECT * FROM CreditMemo")
    assert (memo["DocNumber"], memo["TotalAmt"]) == ("CN-1", 200.0)
    (qbo_invoice,) = qbo_rows(qbo_api, "SELECT * FROM Invoice")
    assert qbo_invoice["Balance"] == 1000.0
    run_sync(connected.company)  # applying it again would drop the balance to 800
    assert qbo_rows(qbo_api, "SELECT * FROM Invoice")[0]["Balance"] == 1000.0


def test_it_sends_a_payment_recorded_here(connected, make_invoice, run_sync, qbo_api):
    from companies.models import Payment, PaymentAllocation
    from companies.selectors import invoice_balance

    invoice = _approved(make_invoice, "INV-1")
    payment = Payment.objects.create(
        company=invoice.company, tenant=invoice.tenant, received_on=datetime.date(2026, 1, 10),
        amount=Decimal("700.00"), currency="USD", reference="CHK 1001",
    )  # fmt: skip
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal("700.00"))
    run_sync(connected.company)
    (qbo_payment,) = qbo_rows(qbo_api, "SELECT * FROM Payment")
    assert qbo_payment["TotalAmt"] == 700.0
    (qbo_invoice,) = qbo_rows(qbo_api, "SELECT * FROM Invoice")
    assert qbo_invoice["Balance"] == float(invoice_balance(invoice=invoice)) == 500.0


def test_it_sends_an_archived_tenants_invoices_then_deactivates_the_customer(
    connected, make_invoice, run_sync, qbo_api, tenant
):
    from django.utils import timezone

    _approved(make_invoice, "INV-1")
    tenant.archived_at = timezone.now()
    tenant.save()
    run = run_sync(connected.company)
    assert run.status == SyncRun.Status.SUCCEEDED, list(
        run.results.values_list("message", flat=True)
    )
    assert [row["DocNumber"] for row in qbo_rows(qbo_api, "SELECT * FROM Invoice")] == ["INV-1"]
    (customer,) = qbo_rows(qbo_api, "SELECT * FROM Customer WHERE Active = false")
    assert customer["DisplayName"].startswith("Jane Doe")


def test_it_leaves_a_record_another_sync_is_sending_alone(connected, make_invoice, run_sync):
    from django.utils import timezone

    invoice = _approved(make_invoice, "INV-1")
    run_sync(connected.company)
    invoice.memo = "Changed"
    invoice.save()
    SyncRun.objects.filter(company=connected.company, status="queued").delete()
    ExternalLink.objects.filter(invoice=invoice).update(
        pending_request_id="someone-else", pending_since=timezone.now()
    )
    run = run_sync(connected.company)
    result = run.results.get(entity="invoice")
    assert (result.outcome, result.message) == ("skipped", "Being sent by another sync.")


def test_it_takes_a_voided_credit_note_and_its_allocation_out_of_quickbooks(
    connected, make_invoice, run_sync, qbo_api
):
    invoice = _approved(make_invoice, "INV-1")
    credit = _credit(invoice, "200.00")
    run_sync(connected.company)
    credit.status = "void"
    credit.save()
    run_sync(connected.company)
    assert qbo_rows(qbo_api, "SELECT * FROM CreditMemo") == []
    assert qbo_rows(qbo_api, "SELECT * FROM Invoice")[0]["Balance"] == 1200.0


def test_it_voids_a_payment_voided_here(connected, make_invoice, run_sync, qbo_api):
    from django.utils import timezone

    from companies.models import Payment, PaymentAllocation

    invoice = _approved(make_invoice, "INV-1")
    payment = Payment.objects.create(
        company=invoice.company, tenant=invoice.tenant, received_on=datetime.date(2026, 1, 10),
        amount=Decimal("700.00"), currency="USD",
    )  # fmt: skip
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal("700.00"))
    run_sync(connected.company)
    payment.voided_at = timezone.now()
    payment.save()
    run_sync(connected.company)
    assert qbo_rows(qbo_api, "SELECT * FROM Invoice")[0]["Balance"] == 1200.0
    assert qbo_rows(qbo_api, "SELECT * FROM Payment")[0]["TotalAmt"] == 0
