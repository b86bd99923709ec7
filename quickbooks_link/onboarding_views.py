"""The onboarding wizard: one page per step, each saved as the admin goes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from companies.access import Role, company_for_user
from quickbooks_link import onboarding as ob
from quickbooks_link.errors import QboError
from quickbooks_link.forms import ItemMappingForm, MappingForm, SyncFromForm
from quickbooks_link.services import connection_for

ADMINS = (Role.FINANCE_ADMIN,)


def _connection_for_onboarding(request: HttpRequest, pk: int):
    company = company_for_user(request, pk, roles=ADMINS)
    connection = connection_for(company)
    if not connection.is_connected:
        raise Http404("Connect the company to QuickBooks first.")
    return connection


def _choices(company, entity: str) -> list[tuple[str, str]]:
    return [(ref.qbo_id, ref.name) for ref in ob.references(company, entity)]


@login_required
def start(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection_for_onboarding(request, pk)
    if connection.onboarded_at:
        return redirect("quickbooks_link:integration", pk=pk)
    step = ob.next_step(connection)
    if step == "preview":
        return redirect("quickbooks_link:onboarding_preview", pk=pk)
    return redirect("quickbooks_link:onboarding_step", pk=pk, step=step)


def _form_for(step: str, connection, data=None):
    company = connection.company
    if step == "tax":
        return MappingForm(
            data,
            records=list(ob.tax_rates_to_map(company)),
            choices=_choices(company, "TaxCode"),
            initial_map=ob.current_mapping(company, "tax_rate"),
        )
    if step == "items":
        accounts = ob.references(company, "Account").filter(data__AccountType="Income")
        return ItemMappingForm(
            data,
            records=list(ob.charge_codes_to_map(company)),
            choices=_choices(company, "Item"),
            initial_map=ob.current_mapping(company, "charge_code"),
            allow_new=True,
            income_accounts=[(ref.qbo_id, ref.name) for ref in accounts],
        )
    if step == "classes":
        return MappingForm(
            data,
            records=list(ob.properties_to_map(company)),
            choices=_choices(company, "Class"),
            initial_map=ob.current_mapping(company, "property"),
            required=False,
            allow_new=True,
        )
    if step == "tenants":
        initial = {**ob.suggest_customers(company), **ob.current_mapping(company, "tenant")}
        return MappingForm(
            data,
            records=list(ob.tenants_to_map(company)),
            choices=_choices(company, "Customer"),
            initial_map=initial,
            allow_new=True,
        )
    initial = {"sync_from": connection.sync_from_date}
    return SyncFromForm(data, initial=initial)


def _save(step: str, connection, form) -> None:
    if step == "tax":
        ob.onboarding_save_tax(connection=connection, choices=form.mapping())
    elif step == "items":
        ob.onboarding_save_items(
            connection=connection,
            choices=form.mapping(),
            income_account_id=form.cleaned_data.get("income_account", ""),
        )
    elif step == "classes":
        ob.onboarding_save_classes(connection=connection, choices=form.mapping())
    elif step == "tenants":
        ob.onboarding_save_tenants(connection=connection, choices=form.mapping())
    else:
        ob.onboarding_save_sync_from(
            connection=connection, sync_from=form.cleaned_data["sync_from"]
        )


@login_required
def step_view(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    if step not in ob.STEPS:
        raise Http404
    connection = _connection_for_onboarding(request, pk)
    if not ob.references(connection.company, "Account", active_only=False).exists():
        ob.reference_refresh(connection=connection)
    form = _form_for(step, connection, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _save(step, connection, form)
        except QboError as exc:
            messages.error(request, f"QuickBooks refused the change: {exc.message}")
        else:
            return redirect("quickbooks_link:onboarding", pk=pk)
    return render(request, "quickbooks_link/onboarding_step.html", _context(connection, step, form))


def _context(connection, step, form) -> dict:
    return {
        "company": connection.company,
        "connection": connection,
        "step": step,
        "steps": [(s, ob.STEP_TITLES[s], ob.step_done(connection, s)) for s in ob.STEPS],
        "title": ob.STEP_TITLES[step],
        "form": form,
        "class_tracking": connection.qbo_preferences.get("class_tracking", False),
    }


@login_required
@require_POST
def refresh_references(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection_for_onboarding(request, pk)
    try:
        ob.reference_refresh(connection=connection)
        messages.success(request, "Read the latest accounts, items, tax codes and customers.")
    except QboError as exc:
        messages.error(request, f"QuickBooks could not be read: {exc.message}")
    return redirect("quickbooks_link:onboarding", pk=pk)


@login_required
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection_for_onboarding(request, pk)
    missing = [ob.STEP_TITLES[s] for s in ob.STEPS if not ob.step_done(connection, s)]
    if request.method == "POST" and not missing:
        ob.onboarding_confirm(connection=connection, user=request.user)
        messages.success(request, "Onboarding is complete. The first sync has started.")
        return redirect("quickbooks_link:integration", pk=pk)
    context = {
        "company": connection.company,
        "connection": connection,
        "preview": ob.onboarding_preview(connection=connection) if not missing else None,
        "missing": missing,
        "steps": [(s, ob.STEP_TITLES[s], ob.step_done(connection, s)) for s in ob.STEPS],
    }
    return render(request, "quickbooks_link/onboarding_preview.html", context)
