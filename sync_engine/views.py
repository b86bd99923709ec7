from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_POST

from companies.access import Role, company_for_user, has_role
from companies.selectors import companies_for_user
from companies.views import safe_next
from quickbooks_link.deeplinks import qbo_url
from quickbooks_link.models import ExternalLink
from sync_engine import services
from sync_engine.models import (
    RECORD_LINKS,
    Direction,
    Entity,
    SyncItemResult,
    SyncMessage,
    SyncRun,
    record_model,
)
from sync_engine.results import ResultFilters, default_since, results_for, unlinked_records
from sync_engine.selectors import (
    bell_state,
    companies_with_sync_status,
    message_log,
    next_automatic_sync,
    run_history,
    status_tiles,
)
from sync_engine.services import companies_due_for_sync, sync_run_request
from sync_engine.statuses import CompanyStatus

OVERVIEW_PAGE_SIZE = 100


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "j M, H:i") if moment else "—"


def _overview_context(request: HttpRequest) -> dict:
    """Tiles count every company of the user's groups; the list shows the chosen statuses."""
    companies = companies_with_sync_status(companies_for_user(request.user).order_by("name"))
    chosen = [s for s in request.GET.getlist("status") if s in CompanyStatus.values]
    shown = [c for c in companies if not chosen or c.sync_status in chosen]
    page = Paginator(shown, OVERVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "companies": page.object_list,
        "page": page,
        "query_without_page": _query_without(request, "page"),
        "tiles": status_tiles(companies),
        "chosen": chosen,
        "statuses": CompanyStatus.choices,
        "next_sync_text": _when(next_automatic_sync()),
        "has_companies": bool(companies),
        "query": request.GET.urlencode(),
    }


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Sync Overview: companies per status, filtered by tile or by several statuses at once."""
    return render(request, "sync_engine/overview.html", _overview_context(request))


@login_required
def overview_body(request: HttpRequest) -> HttpResponse:
    """The tiles and the list alone, polled by the overview page to stay live."""
    return render(request, "sync_engine/_overview_body.html", _overview_context(request))


@login_required
def bell(request: HttpRequest, pk: int) -> HttpResponse:
    """The sync bell and its menu, re-rendered by htmx while a sync runs."""
    company = company_for_user(request, pk)
    context = {"bell_company": company, "bell": bell_state(company=company)}
    return render(request, "sync_engine/_bell.html", context)


@login_required
@require_POST
def start_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """Start Sync, from the bell, Sync Results or the integration page (every role may)."""
    company = company_for_user(request, pk)
    if not companies_due_for_sync().filter(pk=company.pk).exists():
        messages.error(request, f"{company.name} cannot sync until it is connected and onboarded.")
    else:
        sync_run_request(company=company, trigger=SyncRun.Trigger.MANUAL, requested_by=request.user)
        messages.success(request, f"Sync of {company.name} started.")
    if request.headers.get("HX-Request"):
        return bell(request, pk)
    return redirect(safe_next(request))


ADMINS = (Role.FINANCE_ADMIN,)


@login_required
def results(request: HttpRequest, pk: int) -> HttpResponse:
    """Sync Results: every item synced, its errors explained, and what can be done about them."""
    company = company_for_user(request, pk)
    filters = ResultFilters.from_query(request.GET, default_since=default_since(company))
    page = Paginator(results_for(company=company, filters=filters), filters.per_page).get_page(
        request.GET.get("page")
    )
    realm = getattr(getattr(company, "qbo_connection", None), "realm_id", "")
    unlinked = unlinked_records(company, list(page))
    for row in page:
        row.is_unlinked = (row.entity, row.record_id) in unlinked
        row.qbo_url = qbo_url(row.entity, row.qbo_id, realm)
    context = {
        "company": company,
        "page": page,
        "filters": filters,
        "can_act": has_role(request.user, company, ADMINS),
        "entities": Entity.choices,
        "directions": Direction.choices,
        "outcomes": SyncItemResult.Outcome.choices,
        "query_without_page": _query_without(request, "page"),
        "bell": bell_state(company=company),
        "linkable": list(RECORD_LINKS),
        "shown_at": SyncItemResult.objects.filter(company=company)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
        or 0,
    }
    return render(request, "sync_engine/results.html", context)


def _query_without(request: HttpRequest, name: str) -> str:
    params = request.GET.copy()
    params.pop(name, None)
    return params.urlencode()


RESULT_ACTIONS = {"resolve", "retry", "unlink", "relink"}


@login_required
@require_POST
def result_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve, retry, unlink (with a reason) or relink one or more results (finance admins)."""
    company = company_for_user(request, pk, roles=ADMINS)
    # A row's own button names itself ("retry:42"); the bulk bar applies one action to the ticks.
    one_action, _, one_id = (request.POST.get("one") or "").partition(":")
    action = one_action or request.POST.get("action")
    ids = (
        [int(one_id)]
        if one_id.isdigit()
        else [int(i) for i in request.POST.getlist("result") if i.isdigit()]
    )
    chosen = list(SyncItemResult.objects.filter(company=company, pk__in=ids))
    if action not in RESULT_ACTIONS or not chosen:
        messages.error(request, "Choose at least one row and an action.")
        return redirect(safe_next(request, reverse("sync_engine:results", args=[pk])))
    done, refused = _apply(action, chosen, request)
    if done:
        messages.success(request, f"{action.capitalize()}: {done} item{'s' if done != 1 else ''}.")
    for reason in refused:
        messages.error(request, reason)
    return redirect(safe_next(request, reverse("sync_engine:results", args=[pk])))


def _apply(action: str, chosen: list, request: HttpRequest) -> tuple[int, list[str]]:
    done, refused = 0, set()
    for result in chosen:
        try:
            if action == "resolve":
                services.result_resolve(result=result, user=request.user)
            elif action == "retry":
                services.result_retry(result=result, user=request.user)
            elif action == "unlink":
                reason = request.POST.get(f"reason-{result.pk}") or request.POST.get("reason", "")
                services.record_unlink(result=result, user=request.user, reason=reason)
            else:
                services.record_relink(result=result, user=request.user)
            done += 1
        except services.NotActionable as exc:
            refused.add(str(exc))
    return done, sorted(refused)


LOG_READERS = (Role.FINANCE_ADMIN, Role.OPS)


@login_required
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """Every run of the company: trigger, times, counts per entity, outcome."""
    company = company_for_user(request, pk)
    page = Paginator(run_history(company), 25).get_page(request.GET.get("page"))
    return render(request, "sync_engine/history.html", {"company": company, "page": page})


@login_required
def message_log_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Every exchange with QuickBooks, newest first. Holds no token or secret by construction."""
    company = company_for_user(request, pk, roles=LOG_READERS)
    chosen = {name: request.GET.get(name, "") for name in ("entity", "record", "outcome")}
    rows = message_log(company, **chosen)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {
        "company": company,
        "page": page,
        "chosen": chosen,
        "entities": Entity.choices,
        "outcomes": SyncMessage.Outcome.choices,
        "query_without_page": _query_without(request, "page"),
    }
    return render(request, "sync_engine/message_log.html", context)


@login_required
def results_live(request: HttpRequest, pk: int) -> HttpResponse:
    """While a sync runs: its progress, and how many results arrived since the page was shown.

    The table itself is not swapped under the person (they may be typing an unlink reason);
    new results are announced with a link that shows them.
    """
    company = company_for_user(request, pk)
    shown_at = request.GET.get("shown_at", "")
    newer = SyncItemResult.objects.filter(company=company, pk__gt=int(shown_at or 0))
    context = {
        "company": company,
        "bell": bell_state(company=company),
        "new_results": newer.count() if shown_at.isdigit() else 0,
        "new_errors": newer.filter(outcome=SyncItemResult.Outcome.FAILED).count()
        if shown_at.isdigit()
        else 0,
        "shown_at": shown_at,
    }
    return render(request, "sync_engine/_results_live.html", context)


@login_required
def record(request: HttpRequest, pk: int, entity: str, record_id: int) -> HttpResponse:
    """One app record as QuickBooks knows it: its details, its link and every sync of it."""
    company = company_for_user(request, pk)
    if entity not in RECORD_LINKS:
        raise Http404
    item = get_object_or_404(record_model(entity), pk=record_id, company=company)
    link = ExternalLink.objects.filter(**{RECORD_LINKS[entity][0]: item}).first()
    realm = getattr(getattr(company, "qbo_connection", None), "realm_id", "")
    context = {
        "company": company,
        "entity": Entity(entity),
        "item": item,
        "lines": item.lines.select_related("charge_code", "tax_rate")
        if hasattr(item, "lines")
        else [],
        "link": link,
        "qbo_url": qbo_url(entity, link.qbo_id, realm) if link else "",
        "results": SyncItemResult.objects.filter(
            company=company, entity=entity, record_id=record_id
        )[:50],
    }
    return render(request, "sync_engine/record.html", context)
