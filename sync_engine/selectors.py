"""Reads the sync pages need. Every query here is scoped by the caller to companies the user may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from types import SimpleNamespace

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from companies.models import Company
from sync_engine.models import SyncItemResult, SyncMessage, SyncRun
from sync_engine.statuses import STATUS_HELP, CompanyStatus, StatusFacts, status_from_facts


def open_errors_of(company_ref) -> QuerySet[SyncItemResult]:
    return SyncItemResult.objects.filter(
        company=company_ref, outcome=SyncItemResult.Outcome.FAILED, resolved_at__isnull=True
    )


def companies_with_status_facts(companies: QuerySet[Company]) -> QuerySet[Company]:
    """Annotate each company with the facts its status is derived from, in one query.

    The annotations are correlated subqueries on indexed columns, so the number of queries does
    not grow with the number of companies.
    """
    runs = SyncRun.objects.filter(company=OuterRef("pk"))
    last_full = (
        runs.filter(record_entity="", status__in=SyncRun.FINISHED)
        .order_by("-finished_at", "-pk")
        .values("status")[:1]
    )
    last_full_time = (
        runs.filter(record_entity="", status__in=SyncRun.FINISHED)
        .order_by("-finished_at", "-pk")
        .values("finished_at")[:1]
    )
    open_error_count = (
        open_errors_of(OuterRef("pk"))
        .order_by()
        .values("company")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return companies.annotate(
        fact_connected_at=F("qbo_connection__connected_at"),
        fact_reconnect_required_at=F("qbo_connection__reconnect_required_at"),
        fact_onboarded_at=F("qbo_connection__onboarded_at"),
        fact_active_run=Exists(runs.filter(status__in=SyncRun.ACTIVE)),
        fact_last_full_run_status=Subquery(last_full),
        fact_open_errors=Coalesce(
            Subquery(open_error_count, output_field=IntegerField()), Value(0)
        ),
        last_sync_at=Subquery(last_full_time),
    )


def status_facts_of(company: Company) -> StatusFacts:
    """The facts of a company annotated by `companies_with_status_facts`."""
    return StatusFacts(
        connected=company.fact_connected_at is not None,
        reconnect_required=company.fact_reconnect_required_at is not None,
        onboarded=company.fact_onboarded_at is not None,
        active_run=company.fact_active_run,
        last_full_run_status=company.fact_last_full_run_status,
        open_errors=company.fact_open_errors,
    )


def company_sync_status(*, company: Company) -> CompanyStatus:
    annotated = companies_with_status_facts(Company.objects.filter(pk=company.pk)).get()
    return status_from_facts(status_facts_of(annotated))


@dataclass
class CompanyRow:
    """One company on the Sync Overview: plain values, cheap to build by the thousand."""

    pk: int
    name: str
    group_name: str
    sync_status: CompanyStatus
    open_errors: int
    last_sync_at: datetime.datetime | None

    @property
    def status_help(self) -> str:
        return STATUS_HELP[self.sync_status]


FACT_FIELDS = (
    "fact_connected_at",
    "fact_reconnect_required_at",
    "fact_onboarded_at",
    "fact_active_run",
    "fact_last_full_run_status",
    "fact_open_errors",
)


def companies_with_sync_status(companies: QuerySet[Company]) -> list[CompanyRow]:
    """Every company with its derived status, in one query (values, not model instances)."""
    rows = companies_with_status_facts(companies).values(
        "pk", "name", "group__name", "last_sync_at", *FACT_FIELDS
    )
    return [
        CompanyRow(
            pk=row["pk"],
            name=row["name"],
            group_name=row["group__name"],
            sync_status=status_from_facts(status_facts_of(SimpleNamespace(**row))),
            open_errors=row["fact_open_errors"],
            last_sync_at=row["last_sync_at"],
        )
        for row in rows
    ]


def status_tiles(companies: list[Company]) -> list[dict]:
    """One tile per status, in precedence order, counting the companies in it."""
    counts = {status: 0 for status in CompanyStatus}
    for company in companies:
        counts[company.sync_status] += 1
    return [
        {"status": status.value, "label": status.label, "count": counts[status], "only": [status]}
        for status in CompanyStatus
    ]


@dataclass(frozen=True)
class BellState:
    """What the sync bell in the quick-links bar shows for one company."""

    flag: str  # "blue", "orange", "red", or "none" before any sync or when not connected
    text: str
    active: SyncRun | None
    progress: list
    last_finished: SyncRun | None
    latest_errors: list
    can_sync: bool = True

    @property
    def spinning(self) -> bool:
        return self.active is not None


def companies_ready_to_sync() -> QuerySet[Company]:
    """Connected, onboarded companies whose access has not lapsed."""
    return Company.objects.filter(
        qbo_connection__connected_at__isnull=False,
        qbo_connection__onboarded_at__isnull=False,
        qbo_connection__reconnect_required_at__isnull=True,
    ).exclude(qbo_connection__realm_id="")


def _flag(active: SyncRun | None, errors, last_finished: SyncRun | None) -> tuple[str, str]:
    if active is not None and errors.filter(run__status=SyncRun.Status.RUNNING).exists():
        return "orange", "Errors found while syncing"
    if errors.exists():
        return "red", "Last sync finished with errors"
    if last_finished is not None and last_finished.status == SyncRun.Status.FAILED:
        return "red", "Last sync did not complete"
    if last_finished is not None:
        return "blue", "Synced"
    return "none", "Not synced yet"


def bell_state(*, company: Company) -> BellState:
    """The bell's flag and menu (product.md §5): derived from runs and open errors, never stored."""
    runs = SyncRun.objects.filter(company=company)
    # A running run (a full one first) says more than a queued one.
    active = (
        runs.filter(status__in=SyncRun.ACTIVE).order_by("-status", "record_entity", "pk").first()
    )
    last_finished = runs.filter(status__in=SyncRun.FINISHED).order_by("-finished_at").first()
    errors = open_errors_of(company).order_by("-attempted_at")
    flag, text = _flag(active, errors, last_finished)
    can_sync = companies_ready_to_sync().filter(pk=company.pk).exists()
    if not can_sync and active is None:
        flag, text = "none", "Not syncing: connect and onboard QuickBooks first"
    progress = list(active.progress.all()) if active else []
    return BellState(flag, text, active, progress, last_finished, list(errors[:5]), can_sync)


def next_automatic_sync() -> datetime.datetime | None:
    """When beat will next request automatic syncs, from the editable periodic task."""
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(task="sync_engine.tasks.sync_all_companies", enabled=True)
        .select_related("interval")
        .first()
    )
    if task is None or task.interval is None:
        return None
    every = datetime.timedelta(**{task.interval.period: task.interval.every})
    now = timezone.now()
    last = task.last_run_at or task.date_changed or now
    upcoming = last + every
    while upcoming < now:  # beat was down for a while: the next tick is the next interval
        upcoming += every
    return upcoming


def last_successful_sync(company: Company) -> SyncRun | None:
    return (
        SyncRun.objects.filter(company=company, record_entity="", status=SyncRun.Status.SUCCEEDED)
        .order_by("-finished_at")
        .first()
    )


def run_history(company: Company):
    """Every run of the company, newest first, with its per-entity counts."""
    return (
        SyncRun.objects.filter(company=company)
        .select_related("requested_by")
        .prefetch_related("progress")
        .order_by("-queued_at", "-pk")
    )


def message_log(company: Company, *, entity: str = "", record: str = "", outcome: str = ""):
    messages = SyncMessage.objects.filter(company=company)
    if entity:
        messages = messages.filter(entity=entity)
    if record:
        messages = messages.filter(record_label__icontains=record)
    if outcome:
        messages = messages.filter(outcome=outcome)
    return messages.order_by("-created_at", "-pk")


def runs_chart(company: Company, *, days: int = 30, most: int = 60) -> list[dict]:
    """Items synced and errors per finished run over the last 30 days (latest runs, oldest first)."""
    since = timezone.now() - datetime.timedelta(days=days)
    runs = (
        SyncRun.objects.filter(company=company, finished_at__gte=since)
        .annotate(items=Sum("progress__done"), errors=Sum("progress__failed"))
        .order_by("-finished_at")
        .values("pk", "finished_at", "items", "errors")[:most]
    )
    return [
        {
            "pk": r["pk"],
            "finished_at": r["finished_at"],
            "items": r["items"] or 0,
            "errors": r["errors"] or 0,
        }
        for r in reversed(list(runs))
    ]
