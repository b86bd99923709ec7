"""Reads the sync pages need. Every query here is scoped by the caller to companies the user may see."""

from __future__ import annotations

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from companies.models import Company
from sync_engine.models import SyncItemResult, SyncRun
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


def companies_with_sync_status(companies: QuerySet[Company]) -> list[Company]:
    """The companies with `.sync_status` and `.open_errors` set, in one query."""
    result = list(companies_with_status_facts(companies))
    for company in result:
        company.sync_status = status_from_facts(status_facts_of(company))
        company.status_help = STATUS_HELP[company.sync_status]
        company.open_errors = company.fact_open_errors
    return result


def status_tiles(companies: list[Company]) -> list[dict]:
    """One tile per status, in precedence order, counting the companies in it."""
    counts = {status: 0 for status in CompanyStatus}
    for company in companies:
        counts[company.sync_status] += 1
    return [
        {"status": status.value, "label": status.label, "count": counts[status]}
        for status in CompanyStatus
    ]
