"""Reads for the Sync Results page: filtered, paginated results and the link state of each row."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from companies.models import Company
from quickbooks_link.models import ExternalLink
from sync_engine.models import RECORD_LINKS, Direction, Entity, SyncItemResult, SyncRun

PAGE_SIZES = (25, 50, 100)


@dataclass(frozen=True)
class ResultFilters:
    since: datetime.date | None = None
    link: str = "all"  # "linked", "unlinked" or "all"
    entity: str = ""
    direction: str = ""
    outcome: str = ""
    q: str = ""
    per_page: int = 25
    run: int | None = None

    @classmethod
    def from_query(cls, params, *, default_since: datetime.date | None) -> ResultFilters:
        """Read filters from the URL, ignoring values that are not offered (never an error)."""
        since = _date(params.get("since")) or default_since
        per_page = (
            int(params.get("per_page")) if params.get("per_page") in ("25", "50", "100") else 25
        )
        return cls(
            since=since,
            link=params.get("link") if params.get("link") in ("linked", "unlinked") else "all",
            entity=params.get("entity") if params.get("entity") in Entity.values else "",
            direction=params.get("direction")
            if params.get("direction") in Direction.values
            else "",
            outcome=params.get("outcome")
            if params.get("outcome") in SyncItemResult.Outcome.values
            else "",
            q=(params.get("q") or "").strip()[:100],
            per_page=per_page,
            run=int(params["run"]) if (params.get("run") or "").isdigit() else None,
        )


def _date(value) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def default_since(company: Company) -> datetime.date | None:
    """The last fully successful sync, else the onboarding date (product.md §6)."""
    clean = (
        SyncRun.objects.filter(company=company, record_entity="", status=SyncRun.Status.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if clean:
        return clean.date()
    onboarded = getattr(getattr(company, "qbo_connection", None), "onboarded_at", None)
    return onboarded.date() if onboarded else None


def _unlinked_condition(company: Company) -> Q:
    condition = Q(pk__in=[])
    for entity, (field, _qbo_entity) in RECORD_LINKS.items():
        ids = ExternalLink.objects.filter(
            company=company, unlinked_at__isnull=False, **{f"{field}__isnull": False}
        ).values(f"{field}_id")
        condition |= Q(entity=entity, record_id__in=ids)
    return condition


def results_for(*, company: Company, filters: ResultFilters) -> QuerySet[SyncItemResult]:
    results = SyncItemResult.objects.filter(company=company).select_related("resolved_by")
    if filters.run:
        results = results.filter(run_id=filters.run)
    elif filters.since:
        results = results.filter(attempted_at__date__gte=filters.since)
    for name in ("entity", "direction", "outcome"):
        if getattr(filters, name):
            results = results.filter(**{name: getattr(filters, name)})
    if filters.q:
        results = results.filter(
            Q(record_label__icontains=filters.q)
            | Q(qbo_id__icontains=filters.q)
            | Q(message__icontains=filters.q)
            | Q(detail__icontains=filters.q)
        )
    if filters.link == "unlinked":
        results = results.filter(_unlinked_condition(company))
    elif filters.link == "linked":
        results = results.exclude(_unlinked_condition(company))
    return results.order_by("-attempted_at", "-pk")


def unlinked_records(company: Company, rows: list[SyncItemResult]) -> set[tuple[str, int]]:
    """Which of the rows' records are unlinked: at most one query per kind of record."""
    found: set[tuple[str, int]] = set()
    for entity, (field, _qbo_entity) in RECORD_LINKS.items():
        ids = {row.record_id for row in rows if row.entity == entity and row.record_id}
        if ids:
            unlinked = ExternalLink.objects.filter(
                **{f"{field}_id__in": ids}, unlinked_at__isnull=False
            ).values_list(f"{field}_id", flat=True)
            found |= {(entity, pk) for pk in unlinked}
    return found
