from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import Count, F
from django.test import Client
from django.utils import timezone

from companies import demo
from companies.models import (
    Company,
    CreditNote,
    DocumentStatus,
    Invoice,
    InvoiceLine,
    Membership,
    Payment,
    PaymentAllocation,
    Tenant,
)
from companies.selectors import invoice_balance
from companies.services import document_totals_refresh

SMALL = ("--companies", "2", "--invoices-per-company", "50")


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _snapshot() -> list[tuple]:
    return list(
        Invoice.objects.order_by("company__name", "number").values_list(
            "company__name", "number", "tenant__name", "status", "issue_date", "total"
        )
    )


def _printed_passwords(output: str) -> dict[str, str]:
    # Table rows read "  <username>  <password>  <role>  <what they can do>".
    words = (line.split() for line in output.splitlines() if line.startswith("  "))
    return {row[0]: row[1] for row in words if len(row) > 1}


@pytest.fixture
def seeded(db) -> str:
    return _seed(*SMALL)


def test_it_gives_the_same_world_for_the_same_seed(db):
    _seed(*SMALL, "--seed", "7")
    first = _snapshot()
    first_tenants = list(Tenant.objects.order_by("company__name", "name").values_list("name"))
    _seed(*SMALL, "--seed", "7", "--reset")
    assert _snapshot() == first
    assert (
        list(Tenant.objects.order_by("company__name", "name").values_list("name")) == first_tenants
    )
    _seed(*SMALL, "--seed", "8", "--reset")
    assert _snapshot() != first


def test_it_stores_the_totals_document_totals_refresh_computes(seeded):
    documents = [*Invoice.objects.all()[::3], *CreditNote.objects.all()]
    stored = [(doc.subtotal, doc.tax_total, doc.total) for doc in documents]
    for document in documents:
        document_totals_refresh(document=document)
    assert [(doc.subtotal, doc.tax_total, doc.total) for doc in documents] == stored
    assert any(doc.tax_total > 0 for doc in documents)  # commercial lines are taxed


def test_it_gives_every_approved_invoice_a_tenant_and_a_line(seeded):
    approved = Invoice.objects.filter(status=DocumentStatus.APPROVED)
    assert approved.count() > 0
    assert not approved.filter(tenant__isnull=True).exists()
    assert not approved.annotate(n=Count("lines")).filter(n=0).exists()


def test_it_creates_exactly_the_invoices_asked_for(db):
    _seed("--companies", "3", "--invoices-per-company", "37")
    harbour = Company.objects.filter(group__name=demo.HARBOUR)
    assert harbour.count() == 3
    for company in harbour:
        assert Invoice.objects.filter(company=company).count() == 37


def test_it_bills_eighteen_months_ending_this_month_by_default(db):
    _seed("--companies", "1")
    invoices = Invoice.objects.filter(company__group__name=demo.HARBOUR)
    assert 300 <= invoices.count() <= 600
    today = timezone.localdate(timezone=demo.TIMEZONE)
    dates = invoices.dates("issue_date", "month")
    assert len(dates) == 18
    assert (dates.last().year, dates.last().month) == (today.year, today.month)
    assert not invoices.filter(due_date__lt=F("issue_date")).exists()


def test_it_numbers_documents_per_company(seeded):
    company = Company.objects.filter(group__name=demo.HARBOUR).first()
    numbers = sorted(Invoice.objects.filter(company=company).values_list("number", flat=True))
    assert numbers[:2] == ["INV-000001", "INV-000002"]
    assert numbers[-1] == "INV-000050"


def test_it_never_pays_or_credits_more_than_an_invoice_is_worth(seeded):
    assert PaymentAllocation.objects.exists()
    for invoice in Invoice.objects.filter(status=DocumentStatus.APPROVED):
        assert invoice_balance(invoice=invoice) >= 0, invoice.number
    assert not PaymentAllocation.objects.exclude(invoice__tenant=F("payment__tenant")).exists()
    assert not Payment.objects.exclude(amount=F("allocations__amount")).exists()


def test_it_does_nothing_the_second_time_with_if_empty(seeded):
    before = (Invoice.objects.count(), User.objects.count())
    output = _seed("--if-empty")
    assert "nothing to do" in output
    assert (Invoice.objects.count(), User.objects.count()) == before


def test_it_refuses_to_seed_over_an_existing_demo(seeded):
    with pytest.raises(CommandError, match="--reset"):
        _seed(*SMALL)


def test_it_replaces_the_demo_with_reset(seeded):
    _seed("--companies", "1", "--invoices-per-company", "10", "--reset")
    assert Invoice.objects.filter(company__group__name=demo.HARBOUR).count() == 10
    assert Membership.objects.filter(user__username="pm@harbour.example").count() == 1


def test_it_prints_logins_that_work(seeded):
    passwords = _printed_passwords(seeded)
    for login in demo.DEMO_LOGINS:
        assert passwords[login.username] == login.password
        assert Client().login(username=login.username, password=login.password), login.username


def test_it_gives_each_login_its_role(seeded):
    roles = set(Membership.objects.values_list("user__username", "group__name", "role"))
    assert roles == {
        ("pm@harbour.example", demo.HARBOUR, Membership.Role.PROPERTY_MANAGER),
        ("finance@harbour.example", demo.HARBOUR, Membership.Role.FINANCE_ADMIN),
        ("ops@harbour.example", demo.HARBOUR, Membership.Role.OPS),
        ("finance@northwind.example", demo.NORTHWIND, Membership.Role.FINANCE_ADMIN),
    }
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert not User.objects.filter(is_staff=True).exclude(username="admin").exists()


def test_it_keeps_northwind_apart_from_harbour(seeded):
    northwind = Company.objects.filter(group__name=demo.NORTHWIND)
    assert 1 <= northwind.count() <= 2
    assert Invoice.objects.filter(company__in=northwind).exists()
    # No record of one company points at another company's tenant, code, rate or invoice.
    assert not Invoice.objects.exclude(tenant__company=F("company")).exists()
    assert not InvoiceLine.objects.exclude(charge_code__company=F("invoice__company")).exists()
    assert not InvoiceLine.objects.exclude(tax_rate__company=F("invoice__company")).exists()
    assert (
        not CreditNote.objects.exclude(allocated_invoice__company=F("company"))
        .filter(allocated_invoice__isnull=False)
        .exists()
    )
    assert not Payment.objects.exclude(tenant__company=F("company")).exists()


def test_it_archives_a_few_tenants_who_moved_out(db):
    _seed("--companies", "1")
    tenants = Tenant.objects.filter(company__group__name=demo.HARBOUR)
    archived = tenants.filter(archived_at__isnull=False).count()
    assert 0 < archived < tenants.count() / 4
