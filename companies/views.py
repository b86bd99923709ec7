from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from companies.access import company_for_user
from companies.context_processors import SESSION_KEY


def safe_next(request: HttpRequest, fallback: str = "/") -> str:
    """Where to go back to after a form in the quick-links bar: this site only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else fallback


@login_required
@require_POST
def switch_company(request: HttpRequest) -> HttpResponse:
    company = company_for_user(request, int(request.POST.get("company") or 0))
    request.session[SESSION_KEY] = company.pk
    return redirect(safe_next(request))
