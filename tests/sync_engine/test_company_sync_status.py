"""The seven company statuses are derived from facts, first match wins (product.md §5)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companies.models import Company
from quickbooks_link.models import QuickBooksConnection
from sync_engine.models import Direction, Entity, SyncItemResult, SyncRun
from sync_engine.selectors import companies_with_sync_status, company_sync_status
from sync_engine.statuses import CompanyStatus

NOW = timezone.now()


def _connect(company, **fields) -> QuickBooksConnection:
    defaults = {"realm_id": f"realm-{company.pk}", "connected_at": NOW, "onboarded_at": NOW}
    return QuickBooksConnection.objects.create(company=company, **{**defaults, **fields})


def _run(company, status, *, finished_minutes_ago=0, **fields) -> SyncRun:
    finished = status in SyncRun.FINISHED
    fields.setdefault("trigger", SyncRun.Trigger.AUTOMATIC)
    return SyncRun.objects.create(
        company=company,
        status=status,
        finished_at=NOW - datetime.timedelta(minutes=finished_minutes_ago) if finished else None,
        **fields,
    )


def _failure(run, **fields) -> SyncItemResult:
    return SyncItemResult.objects.create(
        run=run,
        company=run.company,
        entity=Entity.INVOICE,
        record_label="INV-1",
        direction=Direction.OUTGOING,
        outcome=SyncItemResult.Outcome.FAILED,
        **fields,
    )


def _status(company) -> CompanyStatus:
    return company_sync_status(company=company)


def test_it_is_not_connected_without_a_connection(acme_north):
    assert _status(acme_north) == CompanyStatus.NOT_CONNECTED


def test_it_is_not_connected_after_a_disconnect(acme_north):
    _connect(acme_north, connected_at=None, disconnected_at=NOW)
    assert _status(acme_north) == CompanyStatus.NOT_CONNECTED


def test_it_needs_reconnecting_when_access_was_refused(acme_north):
    _connect(acme_north, reconnect_required_at=NOW, reconnect_reason="invalid_grant")
    assert _status(acme_north) == CompanyStatus.NEEDS_RECONNECTING


def test_it_has_incomplete_onboarding_until_onboarding_is_confirmed(acme_north):
    _connect(acme_north, onboarded_at=None)
    assert _status(acme_north) == CompanyStatus.INCOMPLETE_ONBOARDING


@pytest.mark.parametrize("status", [SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
def test_it_is_in_progress_while_a_run_is_queued_or_running(acme_north, status):
    _connect(acme_north)
    _run(acme_north, status)
    assert _status(acme_north) == CompanyStatus.IN_PROGRESS


def test_it_is_in_progress_while_an_on_demand_run_is_active(acme_north):
    _connect(acme_north)
    _run(acme_north, SyncRun.Status.SUCCEEDED)
    _run(
        acme_north,
        SyncRun.Status.RUNNING,
        trigger=SyncRun.Trigger.ON_DEMAND,
        record_entity=Entity.INVOICE,
        record_id=1,
    )
    assert _status(acme_north) == CompanyStatus.IN_PROGRESS


def test_it_is_an_incomplete_pipeline_when_the_last_run_failed(acme_north):
    _connect(acme_north)
    _run(acme_north, SyncRun.Status.SUCCEEDED, finished_minutes_ago=40)
    _run(acme_north, SyncRun.Status.FAILED, finished_minutes_ago=20)
    assert _status(acme_north) == CompanyStatus.INCOMPLETE_PIPELINE


def test_it_is_an_incomplete_pipeline_before_any_sync_finished(acme_north):
    _connect(acme_north)
    assert _status(acme_north) == CompanyStatus.INCOMPLETE_PIPELINE


def test_it_has_errors_when_failures_are_unresolved(acme_north):
    _connect(acme_north)
    _failure(_run(acme_north, SyncRun.Status.SUCCEEDED_WITH_ERRORS))
    assert _status(acme_north) == CompanyStatus.SYNC_HAS_ERRORS


def test_it_is_synced_when_every_failure_is_resolved(acme_north, alice):
    _connect(acme_north)
    run = _run(acme_north, SyncRun.Status.SUCCEEDED_WITH_ERRORS)
    _failure(run, resolved_at=NOW, resolved_by=alice, resolution="manual")
    assert _status(acme_north) == CompanyStatus.SUCCESSFULLY_SYNCED


def test_it_is_synced_when_the_last_run_succeeded(acme_north):
    _connect(acme_north)
    _run(acme_north, SyncRun.Status.FAILED, finished_minutes_ago=40)
    _run(acme_north, SyncRun.Status.SUCCEEDED, finished_minutes_ago=20)
    assert _status(acme_north) == CompanyStatus.SUCCESSFULLY_SYNCED


def test_it_judges_the_pipeline_by_full_runs_not_single_record_runs(acme_north):
    _connect(acme_north)
    _run(acme_north, SyncRun.Status.FAILED, finished_minutes_ago=40)
    _run(
        acme_north,
        SyncRun.Status.SUCCEEDED,
        finished_minutes_ago=5,
        trigger=SyncRun.Trigger.ON_DEMAND,
        record_entity=Entity.INVOICE,
        record_id=1,
    )
    assert _status(acme_north) == CompanyStatus.INCOMPLETE_PIPELINE


class TestPrecedence:
    def test_it_says_not_connected_before_anything_else(self, acme_north):
        _connect(acme_north, connected_at=None, reconnect_required_at=NOW, onboarded_at=None)
        _run(acme_north, SyncRun.Status.RUNNING)
        assert _status(acme_north) == CompanyStatus.NOT_CONNECTED

    def test_it_says_needs_reconnecting_before_onboarding_and_runs(self, acme_north):
        _connect(acme_north, reconnect_required_at=NOW, onboarded_at=None)
        _run(acme_north, SyncRun.Status.QUEUED)
        assert _status(acme_north) == CompanyStatus.NEEDS_RECONNECTING

    def test_it_says_incomplete_onboarding_before_a_running_sync(self, acme_north):
        _connect(acme_north, onboarded_at=None)
        _run(acme_north, SyncRun.Status.RUNNING)
        assert _status(acme_north) == CompanyStatus.INCOMPLETE_ONBOARDING

    def test_it_says_in_progress_before_a_failed_pipeline_or_errors(self, acme_north):
        _connect(acme_north)
        _failure(_run(acme_north, SyncRun.Status.FAILED, finished_minutes_ago=20))
        _run(acme_north, SyncRun.Status.QUEUED)
        assert _status(acme_north) == CompanyStatus.IN_PROGRESS

    def test_it_says_incomplete_pipeline_before_errors(self, acme_north):
        _connect(acme_north)
        _failure(_run(acme_north, SyncRun.Status.FAILED))
        assert _status(acme_north) == CompanyStatus.INCOMPLETE_PIPELINE


def test_it_derives_every_status_for_many_companies_in_one_query(acme):
    companies = [Company.objects.create(group=acme, name=f"Company {n}") for n in range(30)]
    for company in companies[10:]:
        _connect(company)
    for company in companies[20:]:
        _failure(_run(company, SyncRun.Status.SUCCEEDED_WITH_ERRORS))
    with CaptureQueriesContext(connection) as queries:
        annotated = companies_with_sync_status(Company.objects.filter(group=acme))
    assert len(queries) == 1
    counts = {status: 0 for status in CompanyStatus}
    for company in annotated:
        counts[company.sync_status] += 1
    assert counts[CompanyStatus.NOT_CONNECTED] == 10
    assert counts[CompanyStatus.INCOMPLETE_PIPELINE] == 10
    assert counts[CompanyStatus.SYNC_HAS_ERRORS] == 10
    assert {c.open_errors for c in annotated if c.sync_status == "sync_has_errors"} == {1}
