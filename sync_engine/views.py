from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from companies.access import company_for_user
from companies.selectors import companies_for_user
from companies.views import safe_next
from sync_engine.models import SyncRun
from sync_engine.selectors import bell_state, companies_with_sync_status, status_tiles
from sync_engine.services import companies_due_for_sync, sync_run_request


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    companies = companies_with_sync_status(companies_for_user(request.user).order_by("name"))
    context = {"companies": companies, "tiles": status_tiles(companies)}
    return render(request, "sync_engine/overview.html", context)


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
