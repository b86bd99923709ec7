"""Full runs create new records 30 to a batch request, still exactly once."""

from __future__ import annotations

import pytest

from companies.models import Invoice
from quickbooks_link.models import ExternalLink, QuickBooksConnection
from sync_engine.models import SyncItemResult, SyncRun
from tests.sync_engine.conftest import qbo_rows

pytestmark = pytest.mark.sandbox


@pytest.fixture
def invoices(make_invoice, connected):
    made = [make_invoice(number=f"INV-{n:03d}", status=Invoice.Status.APPROVED) for n in range(65)]
    SyncRun.objects.filter(company=connected.company).delete()  # start from the full run alone
    return made


def _stats(qbo, connected) -> dict:
    return qbo.control("GET", f"realms/{connected.realm_id}/stats")["requests"]


def _all_invoices(api) -> list[dict]:
    return qbo_rows(api, "SELECT * FROM Invoice MAXRESULTS 1000")


def test_it_creates_65_invoices_in_three_batch_requests(
    connected, invoices, run_sync, qbo, qbo_api
):
    run = run_sync(connected.company)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert sum(_stats(qbo, connected)["batch"].values()) == 4  # 1 for the customer, 3 for invoices
    assert sorted(row["DocNumber"] for row in _all_invoices(qbo_api)) == [
        f"INV-{n:03d}" for n in range(65)
    ]
    assert run.results.filter(entity="invoice", outcome="created").count() == 65


def test_it_explains_an_item_refused_inside_a_batch_and_creates_the_rest(
    connected, invoices, run_sync, qbo, qbo_api
):
    settings = {"custom_txn_numbers": True, "warn_duplicate_doc_number": True}
    qbo.control("PATCH", f"realms/{connected.realm_id}", settings)
    from quickbooks_link import client as qbo_client
    from sync_engine import payloads
    from sync_engine.engine.scope import mappings_for

    run_sync(connected.company)  # everything goes in once
    duplicate = invoices[0]
    ExternalLink.objects.filter(invoice=duplicate).delete()  # now it looks new: 6140 in QBO
    duplicate.memo = "sent again"
    duplicate.save()
    SyncRun.objects.filter(company=connected.company, status="queued").delete()
    QuickBooksConnection.objects.filter(pk=connected.pk).update(pushed_through=None)
    run = run_sync(connected.company)
    assert run.status == SyncRun.Status.SUCCEEDED_WITH_ERRORS
    failure = run.results.get(outcome=SyncItemResult.Outcome.FAILED)
    assert (failure.record_label, failure.error_code) == ("INV-000", "6140")
    assert len(_all_invoices(qbo_api)) == 65
    assert payloads and qbo_client and mappings_for  # imported for the reader: the same payloads


def test_it_repeats_a_batch_whose_answer_was_lost_without_creating_twice(
    connected, invoices, run_sync, qbo, qbo_api
):
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"lost_response_rate": 1.0})
    run = run_sync(connected.company)
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"lost_response_rate": 0.0})
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert len(_all_invoices(qbo_api)) == 65


def test_it_adopts_a_batch_a_crashed_run_sent_instead_of_sending_it_again(
    connected, invoices, run_sync, qbo, qbo_api, settings
):
    settings.SYNC_TRANSIENT_RETRIES = 0
    Invoice.objects.filter(company=connected.company).update(status=Invoice.Status.DRAFT)
    run_sync(connected.company)  # the customer goes in first
    Invoice.objects.filter(company=connected.company).update(status=Invoice.Status.APPROVED)
    QuickBooksConnection.objects.filter(pk=connected.pk).update(pushed_through=None)
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"lost_response_rate": 1.0})
    first = run_sync(connected.company)  # QuickBooks writes the first batches; we never hear back
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"lost_response_rate": 0.0})
    assert first.status == SyncRun.Status.FAILED
    assert (
        ExternalLink.objects.filter(invoice__isnull=False).exclude(pending_request_id="").exists()
    )
    settings.SYNC_PENDING_LEASE = 0  # the dead run's intents have expired
    second = run_sync(connected.company)
    assert second.status == SyncRun.Status.SUCCEEDED, second.error_message
    numbers = [row["DocNumber"] for row in _all_invoices(qbo_api)]
    assert sorted(numbers) == [f"INV-{n:03d}" for n in range(65)]
    assert len([row for row in qbo_rows(qbo_api, "SELECT * FROM Customer")]) == 1
