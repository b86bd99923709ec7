"""Changing the Sync From date after onboarding: impact first, then save."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from companies.models import Invoice, Payment, PaymentAllocation
from quickbooks_link.models import QuickBooksConnection


@pytest.fixture
def connection(acme_north) -> QuickBooksConnection:
    now = timezone.now()
    return QuickBooksConnection.objects.create(
        company=acme_north, realm_id="1", connected_at=now, onboarded_at=now,
        sync_from_date=datetime.date(2025, 6, 1), pushed_through=now,
    )  # fmt: skip


def _invoice(make_invoice, number, day):
    return make_invoice(number=number, status=Invoice.Status.APPROVED, issue_date=day, due_date=day)


def _post(client, company, **data):
    return client.post(reverse("quickbooks_link:sync_from", args=[company.pk]), data)


def test_it_previews_documents_coming_into_scope(client, alice, connection, make_invoice):
    _invoice(make_invoice, "INV-MAY", datetime.date(2025, 5, 10))
    client.force_login(alice)
    response = _post(client, connection.company, sync_from="2025-05-01")
    assert response.context["impact"].entering["invoices"] == 1
    assert "1</strong> invoices start syncing" in response.content.decode()
    assert QuickBooksConnection.objects.get(pk=connection.pk).sync_from_date == datetime.date(
        2025, 6, 1
    )


def test_it_warns_about_payments_left_without_their_invoice(
    client, alice, connection, make_invoice, tenant
):
    invoice = _invoice(make_invoice, "INV-JUN", datetime.date(2025, 6, 10))
    payment = Payment.objects.create(company=connection.company, tenant=tenant, currency="USD",
                                     received_on=datetime.date(2025, 7, 2), amount=100)  # fmt: skip
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=100)
    client.force_login(alice)
    impact = _post(client, connection.company, sync_from="2025-07-01").context["impact"]
    assert (impact.leaving["invoices"], impact.orphaned_payments) == (1, 1)


def test_it_saves_and_backfills_when_moved_earlier(client, alice, connection):
    client.force_login(alice)
    _post(client, connection.company, sync_from="2025-01-01", confirm="yes")
    stored = QuickBooksConnection.objects.get(pk=connection.pk)
    assert (stored.sync_from_date, stored.pushed_through) == (datetime.date(2025, 1, 1), None)


def test_it_keeps_the_watermark_when_moved_later(client, alice, connection):
    client.force_login(alice)
    _post(client, connection.company, sync_from="2025-09-01", confirm="yes")
    assert QuickBooksConnection.objects.get(pk=connection.pk).pushed_through is not None


def test_it_refuses_a_date_before_2018(client, alice, connection):
    client.force_login(alice)
    response = _post(client, connection.company, sync_from="2017-06-01", confirm="yes")
    assert "cannot be before 1 January 2018" in response.content.decode()


def test_it_lets_only_finance_admins_change_it(client, bob, connection):
    client.force_login(bob)
    assert _post(client, connection.company, sync_from="2025-01-01").status_code == 403


def test_it_lists_the_mappings_on_the_integration_page(client, alice, connection, sales_tax, rent):
    client.force_login(alice)
    html = client.get(
        reverse("quickbooks_link:integration", args=[connection.company_id])
    ).content.decode()
    assert "Tax rates" in html and "0 of 1" in html
