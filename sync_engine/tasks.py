"""Celery tasks: thin. They take ids, call services, and are safe to deliver twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from sync_engine import services
from sync_engine.engine.runner import sync_run_execute
from sync_engine.models import SyncRun

COMPANY_BUSY_RETRY_SECONDS = 30


def _run_queued(task, run_id: int) -> None:
    run = SyncRun.objects.select_related("company").filter(pk=run_id).first()
    if run is None or run.status != SyncRun.Status.QUEUED:
        return  # already handled: a duplicate delivery, or the reaper re-sent it
    try:
        claimed = services.sync_run_claim(run)
    except services.CompanyBusy:
        raise task.retry(countdown=COMPANY_BUSY_RETRY_SECONDS) from None
    if claimed:  # False: a duplicate delivery won the race
        sync_run_execute(run)


@shared_task(
    bind=True, acks_late=True, max_retries=40, soft_time_limit=settings.SYNC_RUN_SOFT_TIME_LIMIT
)
def sync_company(self, run_id: int) -> None:
    """A full sync of one company (queued run id)."""
    _run_queued(self, run_id)


@shared_task(
    bind=True, acks_late=True, max_retries=40, soft_time_limit=settings.SYNC_RUN_SOFT_TIME_LIMIT
)
def sync_record(self, run_id: int) -> None:
    """An on-demand sync of one record (queued run id), on the on_demand queue."""
    _run_queued(self, run_id)


@shared_task
def sync_all_companies() -> None:
    """The automatic cycle (django-celery-beat): reap stale runs, then request a run per company."""
    services.sync_runs_reap_stale()
    services.sync_all_request()
    services.sync_messages_prune()
