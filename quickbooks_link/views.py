from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from companies.access import Role, company_for_user, has_role
from quickbooks_link import onboarding, services
from quickbooks_link.errors import QboError, QboTransientError
from quickbooks_link.forms import SyncFromForm
from quickbooks_link.services import ConnectionRefused

ADMINS = (Role.FINANCE_ADMIN,)


@login_required
def integration(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request, pk)
    connection = services.connection_for(company)
    context = {
        "company": company,
        "connection": connection,
        "can_manage": has_role(request.user, company, ADMINS),
        "mappings": onboarding.mapping_summary(company) if connection.is_connected else [],
    }
    return render(request, "quickbooks_link/integration.html", context)


@login_required
@require_POST
def connect(request: HttpRequest, pk: int) -> HttpResponse:
    """Connect or reconnect: send the finance admin to Intuit to grant access."""
    company = company_for_user(request, pk, roles=ADMINS)
    try:
        return redirect(services.connection_begin(company=company, session=request.session))
    except QboTransientError as exc:
        messages.error(request, f"QuickBooks sign-in is unreachable right now ({exc.message}).")
        return redirect("quickbooks_link:integration", pk=company.pk)


@login_required
def callback(request: HttpRequest) -> HttpResponse:
    """Where Intuit sends the person back, with a code (or an error) and our state."""
    try:
        pending = services.connection_pending(
            session=request.session, state=request.GET.get("state", "")
        )
    except ConnectionRefused as exc:
        messages.error(request, str(exc))
        return redirect("sync_engine:overview")
    company = company_for_user(request, pending.company_id, roles=ADMINS)
    error = request.GET.get("error")
    if error:
        messages.error(request, _consent_error_text(error))
        return redirect("quickbooks_link:integration", pk=company.pk)
    return _complete(request, company)


def _complete(request: HttpRequest, company) -> HttpResponse:
    try:
        connection = services.connection_complete(
            company=company,
            user=request.user,
            code=request.GET.get("code", ""),
            realm_id=request.GET.get("realmId", ""),
        )
    except (ConnectionRefused, QboError) as exc:
        messages.error(request, f"QuickBooks was not connected: {exc}")
        return redirect("quickbooks_link:integration", pk=company.pk)
    messages.success(request, f"Connected to QuickBooks company {connection.qbo_company_name}.")
    if connection.onboarded_at is None:
        return redirect("quickbooks_link:onboarding", pk=company.pk)
    return redirect("quickbooks_link:integration", pk=company.pk)


def _consent_error_text(error: str) -> str:
    if error == "access_denied":
        return "You cancelled the QuickBooks sign-in, so nothing was changed."
    return f"QuickBooks did not grant access ({error}), so nothing was changed."


@login_required
@require_POST
def disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request, pk, roles=ADMINS)
    try:
        services.connection_disconnect(connection=services.connection_for(company))
    except QboTransientError as exc:
        messages.error(request, f"QuickBooks could not be reached, so nothing changed ({exc}).")
    else:
        messages.success(
            request,
            "Disconnected from QuickBooks. Links and history are kept; connect again to the same "
            "QuickBooks company to resume.",
        )
    return redirect("quickbooks_link:integration", pk=company.pk)


@login_required
def sync_from(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the Sync From date: preview its impact first, then save (finance admins)."""
    company = company_for_user(request, pk, roles=ADMINS)
    connection = services.connection_for(company)
    form = SyncFromForm(request.POST or None, initial={"sync_from": connection.sync_from_date})
    impact = None
    if request.method == "POST" and form.is_valid():
        new_date = form.cleaned_data["sync_from"]
        if request.POST.get("confirm") == "yes":
            onboarding.sync_from_change(connection=connection, new_date=new_date)
            messages.success(request, f"Sync From date changed to {new_date:%d %b %Y}.")
            return redirect("quickbooks_link:integration", pk=pk)
        impact = onboarding.sync_from_impact(connection=connection, new_date=new_date)
    context = {"company": company, "connection": connection, "form": form, "impact": impact}
    return render(request, "quickbooks_link/sync_from.html", context)
