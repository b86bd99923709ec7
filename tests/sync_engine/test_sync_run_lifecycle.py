"""Requesting, claiming, finishing and reaping runs: every move a compare-and-set."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from companies.models import Invoice
from quickbooks_link.models import QuickBooksConnection
from sync_engine import services, tasks
from sync_engine.models import Entity, SyncRun


@pytest.fixture
def ready(acme_north) -> QuickBooksConnection:
    now = timezone.now()
    return QuickBooksConnection.objects.create(
        company=acme_north, realm_id="123", connected_at=now, onboarded_at=now,
        sync_from_date=datetime.date(2025, 1, 1),
    )  # fmt: skip


@pytest.fixture
def enqueued():
    with (
        mock.patch.object(tasks.sync_company, "apply_async") as full,
        mock.patch.object(tasks.sync_record, "apply_async") as record,
    ):
        yield {"full": full, "record": record}


def test_it_enqueues_a_requested_run_only_after_commit(
    acme_north, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.sync_run_request(company=acme_north, trigger=SyncRun.Trigger.MANUAL)
        assert not enqueued["full"].called
    for callback in callbacks:
        callback()
    enqueued["full"].assert_called_once_with((run.pk,), countdown=0)


def test_it_merges_a_burst_of_requests_into_the_waiting_run(
    acme_north, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        runs = {services.sync_run_request(company=acme_north, trigger="manual") for _ in range(3)}
    assert len(runs) == 1
    assert enqueued["full"].call_count == 1


def test_it_claims_a_queued_run_once(acme_north):
    run = services.sync_run_request(company=acme_north, trigger="manual")
    duplicate = SyncRun.objects.get(pk=run.pk)
    assert services.sync_run_claim(run) is True
    assert services.sync_run_claim(duplicate) is False  # a second delivery loses the CAS


def test_it_refuses_to_run_two_full_runs_of_a_company_at_once(acme_north):
    first = services.sync_run_request(company=acme_north, trigger="manual")
    services.sync_run_claim(first)
    second = services.sync_run_request(company=acme_north, trigger="manual")
    with pytest.raises(services.CompanyBusy):
        services.sync_run_claim(second)
    assert SyncRun.objects.get(pk=second.pk).status == SyncRun.Status.QUEUED


def test_it_retries_a_busy_company_later(acme_north):
    first = services.sync_run_request(company=acme_north, trigger="manual")
    services.sync_run_claim(first)
    second = services.sync_run_request(company=acme_north, trigger="manual")
    retrying = mock.patch.object(tasks.sync_company, "retry", side_effect=RuntimeError("retry"))
    with retrying as retry, pytest.raises(RuntimeError):
        tasks.sync_company(second.pk)
    retry.assert_called_once_with(countdown=tasks.COMPANY_BUSY_RETRY_SECONDS)


def test_it_ignores_a_delivery_of_a_run_no_longer_queued(acme_north):
    run = services.sync_run_request(company=acme_north, trigger="manual")
    services.sync_run_claim(run)
    with mock.patch("sync_engine.tasks.sync_run_execute") as execute:
        tasks.sync_company(run.pk)
    execute.assert_not_called()


@pytest.mark.parametrize(
    ("failed_items", "error_kind", "status"),
    [
        (0, "", SyncRun.Status.SUCCEEDED),
        (2, "", SyncRun.Status.SUCCEEDED_WITH_ERRORS),
        (0, "transient", SyncRun.Status.FAILED),
    ],
)
def test_it_finishes_by_what_happened(acme_north, failed_items, error_kind, status):
    run = services.sync_run_request(company=acme_north, trigger="manual")
    services.sync_run_claim(run)
    services.sync_run_finish(run, failed_items=failed_items, error_kind=error_kind)
    assert SyncRun.objects.get(pk=run.pk).status == status


def test_it_reaps_a_run_that_stopped_heart_beating(acme_north, enqueued, settings):
    settings.SYNC_RUN_STALE_AFTER = 600
    run = services.sync_run_request(company=acme_north, trigger="manual")
    services.sync_run_claim(run)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=11)):
        failed, _ = services.sync_runs_reap_stale()
    reaped = SyncRun.objects.get(pk=run.pk)
    assert failed == 1
    assert (reaped.status, reaped.error_kind) == (SyncRun.Status.FAILED, SyncRun.ErrorKind.TIMEOUT)


def test_it_leaves_a_heart_beating_run_alone(acme_north, settings):
    settings.SYNC_RUN_STALE_AFTER = 600
    run = services.sync_run_request(company=acme_north, trigger="manual")
    services.sync_run_claim(run)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=9)):
        assert services.sync_runs_reap_stale() == (0, 0)


def test_it_sends_again_a_queued_run_whose_task_was_lost(
    acme_north, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_RUN_STALE_AFTER = 600
    with django_capture_on_commit_callbacks(execute=True):
        run = services.sync_run_request(company=acme_north, trigger="manual")
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=11)):
            assert services.sync_runs_reap_stale() == (0, 1)
    assert enqueued["full"].call_count == 2
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.QUEUED


class TestSavedDocuments:
    def test_it_syncs_an_approved_invoice_when_saved(self, ready, make_invoice, enqueued,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            invoice = make_invoice(status=Invoice.Status.APPROVED)
        run = SyncRun.objects.get(record_entity=Entity.INVOICE, record_id=invoice.pk)
        assert run.trigger == SyncRun.Trigger.ON_DEMAND
        enqueued["record"].assert_called_once_with((run.pk,), countdown=0)

    def test_it_coalesces_repeated_saves_of_one_invoice(self, ready, make_invoice, enqueued,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            invoice = make_invoice(status=Invoice.Status.APPROVED)
            for _ in range(3):
                invoice.save()
        assert SyncRun.objects.filter(record_id=invoice.pk).count() == 1
        assert enqueued["record"].call_count == 1

    def test_it_never_syncs_a_draft(self, ready, make_invoice, enqueued):
        make_invoice(status=Invoice.Status.DRAFT)
        assert not SyncRun.objects.exists()

    def test_it_does_not_sync_for_a_company_that_needs_reconnecting(self, ready, make_invoice):
        QuickBooksConnection.objects.filter(pk=ready.pk).update(
            reconnect_required_at=timezone.now()
        )
        make_invoice(status=Invoice.Status.APPROVED)
        assert not SyncRun.objects.exists()

    def test_it_does_not_loop_on_the_engines_own_writes(self, ready, make_invoice):
        invoice = make_invoice(status=Invoice.Status.APPROVED)
        SyncRun.objects.all().delete()
        from quickbooks_link.models import ExternalLink

        ExternalLink.objects.create(company=ready.company, qbo_entity="Invoice", invoice=invoice,
                                    qbo_id="7", sync_token="1")  # fmt: skip
        ExternalLink.objects.filter(invoice=invoice).update(sync_token="2")
        assert not SyncRun.objects.exists()


class TestAutomaticCycle:
    def test_it_requests_a_run_for_every_company_due_spread_out(
        self, ready, acme_south, beta_one, enqueued, django_capture_on_commit_callbacks
    ):
        now = timezone.now()
        QuickBooksConnection.objects.create(company=acme_south, realm_id="456", connected_at=now,
                                            onboarded_at=now)  # fmt: skip
        QuickBooksConnection.objects.create(company=beta_one, realm_id="789", connected_at=now)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.sync_all_request(spread_seconds=300) == 2
        countdowns = sorted(call.kwargs["countdown"] for call in enqueued["full"].call_args_list)
        assert countdowns == [0, 150]
        assert set(SyncRun.objects.values_list("trigger", flat=True)) == {"automatic"}

    def test_it_is_scheduled_every_20_minutes_and_editable(self, db):
        task = PeriodicTask.objects.get(task="sync_engine.tasks.sync_all_companies")
        assert (task.interval.every, task.interval.period) == (20, "minutes")
        assert task.enabled


def test_it_keeps_the_message_log_for_90_days(acme_north):
    from sync_engine.models import SyncMessage

    def message(days_ago: int) -> None:
        row = SyncMessage.objects.create(
            company=acme_north, direction="outgoing", operation="create", outcome="ok"
        )
        SyncMessage.objects.filter(pk=row.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=days_ago)
        )

    message(91)
    message(89)
    assert services.sync_messages_prune() == 1
    assert SyncMessage.objects.count() == 1
