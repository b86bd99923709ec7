"""Every model has a working admin list and add page."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from companies.models import Invoice

MODELS = [
    model
    for model in admin.site._registry
    if model._meta.app_label in {"companies", "quickbooks_link", "sync_engine"}
]


def test_it_registers_every_model_of_our_apps():
    from django.apps import apps

    ours = {
        model
        for label in ("companies", "quickbooks_link", "sync_engine")
        for model in apps.get_app_config(label).get_models()
    }
    inlines = {
        inline.model
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }
    assert ours <= set(admin.site._registry) | inlines


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_it_shows_the_list_and_add_pages(admin_client, admin_user, rf, model, make_invoice):
    make_invoice()
    opts = model._meta
    request = rf.get("/")
    request.user = admin_user
    views = ["changelist"]
    if admin.site._registry[model].has_add_permission(request):
        views.append("add")
    for view in views:
        response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}"))
        assert response.status_code == 200, (opts.label, view)


def test_it_recomputes_invoice_totals_after_saving_lines(admin_client, make_invoice, rent):
    invoice = make_invoice()
    line = invoice.lines.get()
    url = reverse("admin:companies_invoice_change", args=[invoice.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(
        {
            "company": invoice.company_id,
            "tenant": invoice.tenant_id,
            "issue_date": "2026-01-01",
            "due_date": "2026-01-15",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": line.pk,
            "lines-0-invoice": invoice.pk,
            "lines-0-position": "0",
            "lines-0-charge_code": rent.pk,
            "lines-0-quantity": "2",
            "lines-0-unit_amount": "1000.00",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert Invoice.objects.get(pk=invoice.pk).total == 2000
