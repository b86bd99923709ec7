"""The database itself keeps runs exclusive, whatever the workers do."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from sync_engine.models import Entity, SyncRun


def _run(company, status=SyncRun.Status.QUEUED, **fields) -> SyncRun:
    fields.setdefault("trigger", SyncRun.Trigger.MANUAL)
    return SyncRun.objects.create(company=company, status=status, **fields)


def _record_run(company, record_id=1, **fields) -> SyncRun:
    return _run(
        company,
        trigger=SyncRun.Trigger.ON_DEMAND,
        record_entity=Entity.INVOICE,
        record_id=record_id,
        **fields,
    )


def test_it_refuses_a_second_queued_full_run_for_a_company(acme_north):
    _run(acme_north)
    with pytest.raises(IntegrityError):
        _run(acme_north)


def test_it_refuses_a_second_running_full_run_for_a_company(acme_north):
    _run(acme_north, SyncRun.Status.RUNNING)
    with pytest.raises(IntegrityError):
        _run(acme_north, SyncRun.Status.RUNNING)


def test_it_allows_one_queued_and_one_running_full_run(acme_north):
    _run(acme_north, SyncRun.Status.RUNNING)
    _run(acme_north, SyncRun.Status.QUEUED)
    assert SyncRun.objects.filter(company=acme_north).count() == 2


def test_it_allows_full_runs_of_different_companies_at_once(acme_north, acme_south):
    _run(acme_north, SyncRun.Status.RUNNING)
    _run(acme_south, SyncRun.Status.RUNNING)
    assert SyncRun.objects.filter(status="running").count() == 2


def test_it_keeps_any_number_of_finished_runs(acme_north):
    for _ in range(3):
        _run(acme_north, SyncRun.Status.SUCCEEDED)
    assert SyncRun.objects.filter(company=acme_north).count() == 3


def test_it_coalesces_queued_runs_of_one_record(acme_north):
    _record_run(acme_north)
    with pytest.raises(IntegrityError):
        _record_run(acme_north)


def test_it_queues_single_record_runs_beside_a_full_run(acme_north):
    _run(acme_north)
    _record_run(acme_north, record_id=1)
    _record_run(acme_north, record_id=2)
    assert SyncRun.objects.filter(company=acme_north, status="queued").count() == 3


def test_it_refuses_a_record_run_that_names_no_record(acme_north):
    with pytest.raises(IntegrityError):
        _run(acme_north, record_entity=Entity.INVOICE)
