"""State changes of sync runs. Every status change is one compare-and-set along SyncRun.ALLOWED.

Lifecycle (house-style §6.5 to §6.7): request (queued; bursts merge into the waiting run) → claim
(queued → running, refused while another full run of the company runs) → execute (no transaction
held; heart-beats) → finish (running → succeeded / succeeded_with_errors / failed). A reaper fails
runs that stopped heart-beating and re-sends queued runs whose task was lost.
"""

from __future__ import annotations

import datetime
import os
import socket

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from companies.models import Company, DocumentStatus
from quickbooks_link.models import ExternalLink
from sync_engine.models import RECORD_LINKS, SyncItemResult, SyncMessage, SyncRun
from sync_engine.selectors import companies_ready_to_sync


class CompanyBusy(Exception):
    """Another full run of this company is running; the claim must wait."""


def _move(run: SyncRun, *, to: str, **fields) -> bool:
    """Compare-and-set the run's status; returns whether this caller won the move."""
    assert to in SyncRun.ALLOWED[run.status], (run.status, to)
    won = SyncRun.objects.filter(pk=run.pk, status=run.status).update(status=to, **fields) == 1
    if won:
        run.status = to
        for name, value in fields.items():
            setattr(run, name, value)
    return won


def _enqueue(run: SyncRun, *, countdown: float = 0) -> None:
    from sync_engine import tasks  # the tasks module imports services: import it late

    task = tasks.sync_company if run.is_full else tasks.sync_record
    task.apply_async_on_commit((run.pk,), countdown=countdown)


def _create_or_merge(lookup: dict, create: dict) -> tuple[SyncRun, bool]:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return SyncRun.objects.create(**lookup, **create), True
        except IntegrityError:
            # The partial unique constraints say one is already waiting: the request merges
            # into it, unless it started in the meantime, in which case queue a new one.
            waiting = SyncRun.objects.filter(**lookup, status=SyncRun.Status.QUEUED).first()
            if waiting is not None:
                return waiting, False
    raise RuntimeError("a sync run could be neither created nor found; try again")


def sync_run_request(
    *, company: Company, trigger: str, requested_by=None, countdown: float = 0
) -> SyncRun:
    """Queue a full sync of the company, or return the one already waiting (bursts merge).

    The task is enqueued when the surrounding transaction commits, never before.
    """
    run, created = _create_or_merge(
        {"company": company, "record_entity": ""},
        {"trigger": trigger, "requested_by": requested_by},
    )
    if created:
        _enqueue(run, countdown=countdown)
    return run


def sync_record_request(
    *,
    company: Company,
    entity: str,
    record_id: int,
    trigger: str = SyncRun.Trigger.ON_DEMAND,
    requested_by=None,
) -> SyncRun:
    """Queue a sync of one record (a saved invoice or credit note); repeated saves coalesce."""
    run, created = _create_or_merge(
        {"company": company, "record_entity": entity, "record_id": record_id},
        {"trigger": trigger, "requested_by": requested_by},
    )
    if created:
        _enqueue(run)
    return run


def document_saved(*, document, entity: str) -> SyncRun | None:
    """A person saved an invoice or credit note: send it now, if it can go to QuickBooks.

    Drafts never go; a company that is not connected, not onboarded or needs reconnecting gets no
    run (its changes stay pending and go out with the next sync once it can sync again).
    """
    if document.status == DocumentStatus.DRAFT:
        return None
    if not companies_due_for_sync().filter(pk=document.company_id).exists():
        return None
    return sync_record_request(company=document.company, entity=entity, record_id=document.pk)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_run_claim(run: SyncRun) -> bool:
    """Move a queued run to running. False: a duplicate delivery took it already.

    Raises CompanyBusy while another full run of the company runs (the unique constraint
    "one running full run per company" refuses the move).
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return _move(
                run,
                to=SyncRun.Status.RUNNING,
                started_at=now,
                heartbeat_at=now,
                worker=_worker_name(),
            )
    except IntegrityError:
        raise CompanyBusy(run.company_id) from None


def sync_run_heartbeat(run: SyncRun) -> None:
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def sync_run_finish(
    run: SyncRun, *, failed_items: int = 0, error_kind: str = "", error_message: str = ""
) -> bool:
    """Finish a running run: failed when it could not complete, else (with errors) succeeded."""
    if error_kind:
        status = SyncRun.Status.FAILED
    elif failed_items:
        status = SyncRun.Status.SUCCEEDED_WITH_ERRORS
    else:
        status = SyncRun.Status.SUCCEEDED
    return _move(
        run,
        to=status,
        finished_at=timezone.now(),
        error_kind=error_kind,
        error_message=error_message[:1000],
    )


def sync_run_abandon(run: SyncRun, *, error_kind: str, error_message: str) -> bool:
    """Fail a run that is queued or running, whichever it is now (used by the reaper)."""
    return _move(
        run,
        to=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_kind=error_kind,
        error_message=error_message[:1000],
    )


def sync_runs_reap_stale(*, now: datetime.datetime | None = None) -> tuple[int, int]:
    """Fail running runs that stopped heart-beating; re-send queued runs whose task was lost.

    Returns (failed, resent). Re-sending is safe: the task ignores a run that is no longer queued.
    """
    now = now or timezone.now()
    stale = datetime.timedelta(seconds=settings.SYNC_RUN_STALE_AFTER)
    failed = 0
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - stale):
        failed += sync_run_abandon(
            run,
            error_kind=SyncRun.ErrorKind.TIMEOUT,
            error_message=f"No heartbeat from {run.worker or 'its worker'} since {run.heartbeat_at:%H:%M:%S} UTC; the next sync picks up its work.",
        )
    resent = 0
    for run in SyncRun.objects.filter(status=SyncRun.Status.QUEUED, queued_at__lt=now - stale):
        _enqueue(run)
        resent += 1
    return failed, resent


def companies_due_for_sync():
    """Connected, onboarded companies whose access has not lapsed, in a stable order."""
    return companies_ready_to_sync().order_by("pk")


def sync_all_request(*, spread_seconds: float | None = None) -> int:
    """Request an automatic run for every company due, spread over a window.

    Spreading (a countdown proportional to the position in the list) keeps a thousand companies
    from hitting the broker, the database and QuickBooks at the same instant.
    """
    spread = settings.SYNC_SPREAD_SECONDS if spread_seconds is None else spread_seconds
    companies = list(companies_due_for_sync())
    for index, company in enumerate(companies):
        countdown = spread * index / max(len(companies), 1)
        sync_run_request(company=company, trigger=SyncRun.Trigger.AUTOMATIC, countdown=countdown)
    return len(companies)


MESSAGE_LOG_DAYS = 90  # product.md §8
PRUNE_BATCH = 10_000


def sync_messages_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete message-log rows older than 90 days, a bounded batch at a time."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=MESSAGE_LOG_DAYS)
    old = SyncMessage.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)
    return SyncMessage.objects.filter(pk__in=list(old[:PRUNE_BATCH])).delete()[0]


# ---- acting on results (Sync Results page) ------------------------------------------------------


class NotActionable(Exception):
    """The action does not apply to this result; the message says why, for the person."""


def _record_of(result: SyncItemResult):
    if result.entity not in RECORD_LINKS or result.record_id is None:
        raise NotActionable("Only tenants, invoices, credit notes and payments can be acted on.")
    return RECORD_LINKS[result.entity]


def result_resolve(*, result: SyncItemResult, user) -> bool:
    """Mark an error handled by a person. Returns False if it was no longer open."""
    return bool(
        SyncItemResult.objects.filter(pk=result.pk, resolved_at__isnull=True).update(
            resolved_at=timezone.now(),
            resolved_by=user,
            resolution=SyncItemResult.Resolution.MANUAL,
        )
    )


def result_retry(*, result: SyncItemResult, user) -> SyncRun:
    """Send the record again now (an on-demand run, on the fast queue)."""
    _record_of(result)
    return sync_record_request(
        company=result.company, entity=result.entity, record_id=result.record_id,
        trigger=SyncRun.Trigger.MANUAL, requested_by=user,
    )  # fmt: skip


def record_unlink(*, result: SyncItemResult, user, reason: str) -> ExternalLink:
    """Stop a record being synced or retried. Deletes nothing; records who, when and why."""
    field, qbo_entity = _record_of(result)
    if not reason.strip():
        raise NotActionable("Say why the record is unlinked: it leaves the accounting reports.")
    with transaction.atomic():
        link, _ = ExternalLink.objects.get_or_create(
            **{f"{field}_id": result.record_id},
            defaults={"company_id": result.company_id, "qbo_entity": qbo_entity},
        )
        ExternalLink.objects.filter(pk=link.pk).update(
            unlinked_at=timezone.now(), unlinked_by=user, unlinked_reason=reason.strip()[:500]
        )
        SyncItemResult.objects.filter(
            company_id=result.company_id, entity=result.entity, record_id=result.record_id,
            resolved_at__isnull=True,
        ).update(resolved_at=timezone.now(), resolved_by=user,
                 resolution=SyncItemResult.Resolution.UNLINKED)  # fmt: skip
    return link


def record_relink(*, result: SyncItemResult, user) -> SyncRun:
    """Sync the record again; if its cause was not fixed it fails again and says so."""
    field, _ = _record_of(result)
    ExternalLink.objects.filter(**{f"{field}_id": result.record_id}).update(
        unlinked_at=None, unlinked_by=None, unlinked_reason=""
    )
    return result_retry(result=result, user=user)
