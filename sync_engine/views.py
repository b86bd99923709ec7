from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from companies.selectors import companies_for_user
from sync_engine.selectors import companies_with_sync_status, status_tiles


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    companies = companies_with_sync_status(companies_for_user(request.user).order_by("name"))
    context = {"companies": companies, "tiles": status_tiles(companies)}
    return render(request, "sync_engine/overview.html", context)
