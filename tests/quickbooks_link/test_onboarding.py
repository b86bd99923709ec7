"""The onboarding wizard, step by step, against a running qbo_sandbox."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item

from companies.models import ChargeCode, Tenant
from quickbooks_link import client as qbo_client
from quickbooks_link.models import ExternalLink, QuickBooksConnection
from quickbooks_link.onboarding import NEW, references
from quickbooks_link.tokens import connection_call
from sync_engine.models import SyncRun
from sync_engine.selectors import company_sync_status
from sync_engine.statuses import CompanyStatus
from tests.quickbooks_link.oauth_dance import connect

pytestmark = pytest.mark.sandbox


def _realm(qbo, **settings) -> str:
    return qbo.control("POST", "realms", {"name": "Acme North Books", **settings})["realm_id"]


def _connected(client, alice, company, realm) -> QuickBooksConnection:
    client.force_login(alice)
    connect(client, company, realm_id=realm)
    return QuickBooksConnection.objects.get(company=company)


@pytest.fixture
def connection(client, alice, acme_north, qbo, tenant, sales_tax, rent, harbour_view):
    realm = _realm(qbo, custom_txn_numbers=True)
    return _connected(client, alice, acme_north, realm)


def _step_url(company, step: str) -> str:
    return reverse("quickbooks_link:onboarding_step", args=[company.pk, step])


def _ref_id(company, entity: str, name: str) -> str:
    return references(company, entity).get(name=name).qbo_id


def _save_step(client, company, step: str, data: dict):
    return client.post(_step_url(company, step), data)


def _walk_all_steps(client, connection, tenant, sales_tax, rent, harbour_view):
    company = connection.company
    client.get(_step_url(company, "tax"))  # reads QuickBooks' reference data
    _save_step(client, company, "tax", {f"r{sales_tax.pk}": _ref_id(company, "TaxCode", "TAX")})
    _save_step(client, company, "items", {f"r{rent.pk}": _ref_id(company, "Item", "Rent")})
    _save_step(client, company, "classes", {f"r{harbour_view.pk}": ""})
    _save_step(client, company, "tenants", {f"r{tenant.pk}": NEW})
    _save_step(client, company, "sync_from", {"sync_from": "2025-01-01"})


def test_it_starts_at_the_first_step(client, connection):
    response = client.get(reverse("quickbooks_link:onboarding", args=[connection.company_id]))
    assert response["Location"] == _step_url(connection.company, "tax")


def test_it_maps_tax_rates_to_tax_codes(client, connection, sales_tax):
    company = connection.company
    client.get(_step_url(company, "tax"))
    code = _ref_id(company, "TaxCode", "TAX")
    response = _save_step(client, company, "tax", {f"r{sales_tax.pk}": code})
    assert response.status_code == 302
    assert ExternalLink.objects.get(tax_rate=sales_tax).qbo_id == code


def test_it_requires_every_tax_rate_to_be_mapped(client, connection, sales_tax):
    client.get(_step_url(connection.company, "tax"))
    response = _save_step(client, connection.company, "tax", {f"r{sales_tax.pk}": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_it_creates_a_missing_item_in_quickbooks(client, connection, rent):
    company = connection.company
    parking = ChargeCode.objects.create(company=company, code="PARK", name="Parking")
    client.get(_step_url(company, "tax"))
    income = references(company, "Account").get(name="Rental Income").qbo_id
    rent_item = _ref_id(company, "Item", "Rent")
    data = {f"r{rent.pk}": rent_item, f"r{parking.pk}": NEW, "income_account": income}
    _save_step(client, company, "items", data)
    link = ExternalLink.objects.get(charge_code=parking)
    item = connection_call(
        connection=connection,
        operation=lambda api: qbo_client.call(api, lambda qb: Item.get(link.qbo_id, qb=qb)),
    )
    assert item.Name == "Parking" and item.Type == "Service"
    assert item.IncomeAccountRef.value == income


def test_it_explains_an_item_name_quickbooks_already_has(client, connection, rent):
    client.get(_step_url(connection.company, "tax"))
    income = references(connection.company, "Account").get(name="Rental Income").qbo_id
    response = _save_step(
        client, connection.company, "items", {f"r{rent.pk}": NEW, "income_account": income}
    )
    assert "already has a product or service named “Rent”" in response.content.decode()


def test_it_asks_which_income_account_new_items_use(client, connection, rent):
    client.get(_step_url(connection.company, "tax"))
    response = _save_step(client, connection.company, "items", {f"r{rent.pk}": NEW})
    assert "Choose the income account new items book sales to." in response.content.decode()
    assert not ExternalLink.objects.filter(charge_code=rent).exists()


def test_it_creates_classes_for_properties_when_the_realm_tracks_classes(
    client, alice, acme_north, qbo, harbour_view
):
    connection = _connected(client, alice, acme_north, _realm(qbo, class_tracking=True))
    client.get(_step_url(acme_north, "classes"))
    _save_step(client, acme_north, "classes", {f"r{harbour_view.pk}": NEW})
    assert ExternalLink.objects.get(property=harbour_view).qbo_id
    assert connection.qbo_preferences["class_tracking"] is True


def test_it_suggests_customers_by_email_then_by_name(client, connection, tenant, acme_north):
    by_name = Tenant.objects.create(company=acme_north, name="Harbour Cafe LLC")
    for display_name, email in (("J. Doe", "jane@example.com"), ("Harbour Cafe LLC", "")):
        customer = Customer()
        customer.DisplayName = display_name
        if email:
            customer.PrimaryEmailAddr = qbo_client.Customer.from_json(
                {"PrimaryEmailAddr": {"Address": email}}
            ).PrimaryEmailAddr
        connection_call(
            connection=connection,
            operation=lambda api, c=customer: qbo_client.call(api, lambda qb: c.save(qb=qb)),
        )
    response = client.get(_step_url(acme_north, "tenants"))
    form = response.context["form"]
    assert form[f"r{tenant.pk}"].initial == _ref_id(acme_north, "Customer", "J. Doe")
    assert form[f"r{by_name.pk}"].initial == _ref_id(acme_north, "Customer", "Harbour Cafe LLC")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2017-12-31", "cannot be before 1 January 2018"),
        (
            (datetime.date.today() + datetime.timedelta(days=2)).isoformat(),
            "cannot be in the future",
        ),
    ],
)
def test_it_refuses_a_sync_from_date_out_of_range(client, connection, value, message):
    response = _save_step(client, connection.company, "sync_from", {"sync_from": value})
    assert message in response.content.decode()
    assert QuickBooksConnection.objects.get(pk=connection.pk).sync_from_date is None


def test_it_resumes_at_the_first_unsaved_step(client, connection, sales_tax):
    company = connection.company
    client.get(_step_url(company, "tax"))
    _save_step(client, company, "tax", {f"r{sales_tax.pk}": _ref_id(company, "TaxCode", "TAX")})
    response = client.get(reverse("quickbooks_link:onboarding", args=[company.pk]))
    assert response["Location"] == _step_url(company, "items")


def test_it_refuses_to_confirm_before_every_step_is_saved(client, connection):
    url = reverse("quickbooks_link:onboarding_preview", args=[connection.company_id])
    response = client.post(url)
    assert "Save these steps first" in response.content.decode()
    assert QuickBooksConnection.objects.get(pk=connection.pk).onboarded_at is None


def test_it_previews_what_the_first_sync_sends(
    client, connection, tenant, sales_tax, rent, harbour_view, make_invoice
):
    make_invoice(
        number="INV-OLD",
        status="approved",
        issue_date=datetime.date(2024, 12, 1),
        due_date=datetime.date(2024, 12, 15),
    )
    make_invoice(number="INV-NEW", status="approved")
    make_invoice(number="INV-DRAFT")
    _walk_all_steps(client, connection, tenant, sales_tax, rent, harbour_view)
    url = reverse("quickbooks_link:onboarding_preview", args=[connection.company_id])
    preview = client.get(url).context["preview"]
    assert (preview.tenants, preview.invoices, preview.credit_notes) == (1, 1, 0)


def test_it_warns_before_confirming_what_would_fail(
    client, alice, acme_north, qbo, tenant, sales_tax, rent, harbour_view
):
    acme_north.base_currency = "GBP"
    acme_north.save()
    realm = _realm(qbo, custom_txn_numbers=False, closing_date="2025-06-30")
    connection = _connected(client, alice, acme_north, realm)
    _walk_all_steps(client, connection, tenant, sales_tax, rent, harbour_view)
    url = reverse("quickbooks_link:onboarding_preview", args=[acme_north.pk])
    warnings = " ".join(client.get(url).context["preview"].warnings)
    assert "closed up to 2025-06-30" in warnings
    assert "Custom transaction numbers are off" in warnings
    assert "home currency is USD but this company uses GBP" in warnings


def test_it_confirms_and_starts_the_first_sync(
    client, connection, tenant, sales_tax, rent, harbour_view
):
    _walk_all_steps(client, connection, tenant, sales_tax, rent, harbour_view)
    url = reverse("quickbooks_link:onboarding_preview", args=[connection.company_id])
    response = client.post(url)
    assert response["Location"] == reverse(
        "quickbooks_link:integration", args=[connection.company_id]
    )
    assert QuickBooksConnection.objects.get(pk=connection.pk).onboarded_at is not None
    run = SyncRun.objects.get(company=connection.company)
    assert (run.status, run.trigger, run.requested_by) == (
        "queued",
        "manual",
        connection.connected_by,
    )
    assert company_sync_status(company=connection.company) == CompanyStatus.IN_PROGRESS


def test_it_lets_only_finance_admins_onboard(client, connection, bob):
    client.force_login(bob)
    assert client.get(_step_url(connection.company, "tax")).status_code == 403
