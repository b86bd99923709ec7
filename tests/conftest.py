"""The small shared world every test builds on, and the rules for tests that need real services.

Acme Property Group has two companies, Acme North and Acme South; Beta Estates has Beta One.
alice is Acme's finance admin, bob an Acme property manager, olivia Acme's ops staff, and charlie
a finance admin of Beta Estates: he must never see anything of Acme's.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from companies.models import (
    ChargeCode,
    Company,
    Group,
    Invoice,
    InvoiceLine,
    Membership,
    Property,
    TaxRate,
    Tenant,
)
from companies.services import document_totals_refresh

IN_CI = os.getenv("CI") == "true"


def pytest_configure(config):
    config.addinivalue_line("markers", "sandbox: needs the qbo_sandbox process")


def require_service(name: str, available: bool, why: str) -> None:
    """Skip a test whose real service is absent, visibly; in CI an absent service is a failure."""
    if available:
        return
    message = f"{name} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _real_service_markers(request):
    if request.node.get_closest_marker("postgres"):
        from django.db import connection

        require_service(
            "PostgreSQL",
            connection.vendor == "postgresql",
            "set DATABASE_URL=postgres://… to run this test",
        )
    if request.node.get_closest_marker("redis"):
        from tests.services import redis_url_or_reason

        url, reason = redis_url_or_reason()
        require_service("Redis", url is not None, reason)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(username: str) -> User:
    return User.objects.create_user(username, f"{username}@example.com", "password")


@pytest.fixture
def acme(db) -> Group:
    return Group.objects.create(name="Acme Property Group")


@pytest.fixture
def beta(db) -> Group:
    return Group.objects.create(name="Beta Estates")


@pytest.fixture
def acme_north(acme) -> Company:
    return Company.objects.create(group=acme, name="Acme North")


@pytest.fixture
def acme_south(acme) -> Company:
    return Company.objects.create(group=acme, name="Acme South")


@pytest.fixture
def beta_one(beta) -> Company:
    return Company.objects.create(group=beta, name="Beta One")


@pytest.fixture
def alice(acme) -> User:
    user = _user("alice")
    Membership.objects.create(user=user, group=acme, role=Membership.Role.FINANCE_ADMIN)
    return user


@pytest.fixture
def bob(acme) -> User:
    user = _user("bob")
    Membership.objects.create(user=user, group=acme, role=Membership.Role.PROPERTY_MANAGER)
    return user


@pytest.fixture
def olivia(acme) -> User:
    user = _user("olivia")
    Membership.objects.create(user=user, group=acme, role=Membership.Role.OPS)
    return user


@pytest.fixture
def charlie(beta) -> User:
    user = _user("charlie")
    Membership.objects.create(user=user, group=beta, role=Membership.Role.FINANCE_ADMIN)
    return user


@pytest.fixture
def harbour_view(acme_north) -> Property:
    return Property.objects.create(company=acme_north, name="Harbour View", city="Boston")


@pytest.fixture
def tenant(acme_north, harbour_view) -> Tenant:
    return Tenant.objects.create(
        company=acme_north, property=harbour_view, name="Jane Doe", email="jane@example.com"
    )


@pytest.fixture
def sales_tax(acme_north) -> TaxRate:
    return TaxRate.objects.create(company=acme_north, name="Sales tax", rate=Decimal("8.875"))


@pytest.fixture
def rent(acme_north) -> ChargeCode:
    return ChargeCode.objects.create(company=acme_north, code="RENT", name="Rent")


@pytest.fixture
def make_invoice(acme_north, tenant, rent):
    """Build an invoice with lines given as (quantity, unit amount[, tax rate]) and real totals."""

    def make(number="INV-1", lines=((1, "1200.00"),), status=Invoice.Status.DRAFT, **fields):
        fields = {
            "company": acme_north,
            "number": number,
            "tenant": tenant,
            "issue_date": datetime.date(2026, 1, 1),
            "due_date": datetime.date(2026, 1, 15),
            "currency": "USD",
            "status": status,
            **fields,
        }
        invoice = Invoice.objects.create(**fields)
        for position, (quantity, unit_amount, *tax) in enumerate(lines):
            InvoiceLine.objects.create(
                invoice=invoice,
                charge_code=rent,
                quantity=Decimal(str(quantity)),
                unit_amount=Decimal(unit_amount),
                tax_rate=tax[0] if tax else None,
                position=position,
            )
        return document_totals_refresh(document=invoice)

    return make


@pytest.fixture(scope="session")
def _app_sandbox_process():
    from tests.qbo_sandbox.conftest import start_sandbox, stop_sandbox

    sandbox = start_sandbox("--minute-seconds", "60")
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def qbo(_app_sandbox_process, settings):
    """A running qbo_sandbox, reset, with the app pointed at it (QBO_ENVIRONMENT=local)."""
    settings.QBO_ENVIRONMENT = "local"
    settings.QBO_SANDBOX_URL = _app_sandbox_process.url
    settings.QBO_CLIENT_ID = "sandbox-client-id"
    settings.QBO_CLIENT_SECRET = "sandbox-client-secret"
    settings.QBO_REDIRECT_URI = "http://testserver/quickbooks/callback/"
    settings.QBO_HTTP_TIMEOUT = 10
    _app_sandbox_process.control("POST", "reset")
    return _app_sandbox_process
