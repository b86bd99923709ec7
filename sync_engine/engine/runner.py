"""Running one claimed sync run from start to finish."""

from __future__ import annotations

import logging
from dataclasses import replace

from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import Q
from django.utils import timezone

from quickbooks_link.errors import QboError, QboReconnectRequired, QboTransientError
from quickbooks_link.limits import Throttled
from quickbooks_link.models import ExternalLink, QuickBooksConnection
from sync_engine.engine import pull
from sync_engine.engine.context import RunContext
from sync_engine.engine.push import KINDS, push_many, push_record
from sync_engine.engine.scope import (
    billed_tenants,
    mappings_for,
    record_in_scope,
    records_to_push,
)
from sync_engine.models import Entity, SyncRun
from sync_engine.payloads import fingerprint
from sync_engine.services import sync_run_finish

logger = logging.getLogger(__name__)
PUSH_ORDER = [Entity.TENANT, Entity.INVOICE, Entity.CREDIT_NOTE, Entity.PAYMENT]
ErrorKind = SyncRun.ErrorKind


def _not_ready(connection: QuickBooksConnection | None) -> str:
    if connection is None or not connection.is_connected:
        return "The company is not connected to QuickBooks."
    if connection.reconnect_required_at:
        return f"QuickBooks access lapsed ({connection.reconnect_reason}); reconnect to resume."
    if not connection.onboarded_at or not connection.sync_from_date:
        return "Onboarding is not complete."
    return ""


def sync_run_execute(run: SyncRun) -> None:
    """Execute a running run and finish it. Errors are classified here, once:

    - QuickBooks refused our access: failed (auth); the company shows Needs reconnecting and
      nothing is lost, because unsent records stay changed since the last completed push;
    - QuickBooks unavailable or throttled past our patience: failed (transient); the next run
      carries on where this one stopped;
    - anything else unexpected: failed, and logged with its traceback.
    Item-level refusals never fail a run: they become explained results and the run goes on.
    """
    connection = QuickBooksConnection.objects.filter(company_id=run.company_id).first()
    problem = _not_ready(connection)
    if problem:
        sync_run_finish(run, error_kind=ErrorKind.AUTH, error_message=problem)
        return
    ctx = RunContext(run=run, connection=connection)
    try:
        _full(ctx) if run.is_full else _single(ctx)
    except QboReconnectRequired as exc:
        sync_run_finish(
            run, failed_items=ctx.failed, error_kind=ErrorKind.AUTH, error_message=exc.message
        )
    except (QboTransientError, Throttled) as exc:
        sync_run_finish(
            run, failed_items=ctx.failed, error_kind=ErrorKind.TRANSIENT, error_message=str(exc)
        )
    except SoftTimeLimitExceeded:
        sync_run_finish(
            run,
            failed_items=ctx.failed,
            error_kind=ErrorKind.TIMEOUT,
            error_message="The run took longer than its time limit.",
        )
    except Exception as exc:
        logger.exception("sync run %s failed", run.pk)
        message = exc.message if isinstance(exc, QboError) else f"{type(exc).__name__}: {exc}"
        sync_run_finish(
            run, failed_items=ctx.failed, error_kind=ErrorKind.PERMANENT, error_message=message
        )
    else:
        sync_run_finish(run, failed_items=ctx.failed)  # fmt: skip


def _full(ctx: RunContext) -> None:
    started = timezone.now()
    pull.pull_reference_data(ctx)
    pull.pull_changes(ctx)
    for entity in PUSH_ORDER:
        _push_all(ctx, entity)
    _deactivate_archived(ctx)
    _advance_watermark(ctx.connection, started)


def _push_all(ctx: RunContext, entity: str) -> None:
    records = records_to_push(entity, ctx.connection)
    ctx.begin(entity, len(records))
    if not records:
        return
    mappings = mappings_for(ctx.connection, records)
    if entity == Entity.TENANT:
        keep = billed_tenants(ctx.connection, unsent_only=True)
        mappings = replace(mappings, keep_active=frozenset(keep))
    push_many(ctx, KINDS[entity], records, mappings)


def _deactivate_archived(ctx: RunContext) -> None:
    """Archived tenants kept active for their documents are made inactive once those are in."""
    kept = ExternalLink.objects.filter(
        company_id=ctx.connection.company_id, tenant__archived_at__isnull=False, qbo_id__gt=""
    ).exclude(tenant_id__in=billed_tenants(ctx.connection, unsent_only=True))
    links = list(kept.select_related("tenant"))
    if not links:
        return
    kind, mappings = KINDS[Entity.TENANT], mappings_for(ctx.connection, [])
    changed = [
        link.tenant
        for link in links
        if fingerprint(kind.build(link.tenant, mappings)) != link.fingerprint
    ]
    ctx.begin(Entity.TENANT, len(changed))
    for tenant in changed:
        push_record(ctx, kind, tenant, mappings)


def _advance_watermark(connection: QuickBooksConnection, started) -> None:
    """Everything changed before this run started has now been sent (or explained)."""
    QuickBooksConnection.objects.filter(pk=connection.pk).filter(
        Q(pushed_through__isnull=True) | Q(pushed_through__lt=started)
    ).update(pushed_through=started)


def _single(ctx: RunContext) -> None:
    """An on-demand run: one record, and its tenant first when QuickBooks has not got it yet."""
    run = ctx.run
    record = record_in_scope(run.record_entity, ctx.connection, run.record_id)
    if record is None:  # a draft, before the Sync From date, unlinked or deleted: nothing to send
        return
    tenant = getattr(record, "tenant", None)
    if (
        tenant is not None
        and not ExternalLink.objects.filter(tenant=tenant, qbo_id__gt="").exists()
    ):
        # Its document needs it, so it goes in active even if the tenant has moved out.
        _push_one(ctx, Entity.TENANT, tenant, keep_active={tenant.pk})
    _push_one(ctx, run.record_entity, record)


def _push_one(ctx: RunContext, entity: str, record, keep_active=frozenset()) -> None:
    ctx.begin(entity, 1)
    mappings = replace(mappings_for(ctx.connection, [record]), keep_active=frozenset(keep_active))
    push_record(ctx, KINDS[entity], record, mappings)
