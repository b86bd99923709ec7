from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from companies.models import CreditNote, Payment, PaymentAllocation
from companies.selectors import invoice_balance


def _pay(invoice, amount: str, **fields) -> Payment:
    payment = Payment.objects.create(
        company=invoice.company,
        tenant=invoice.tenant,
        received_on=datetime.date(2026, 1, 10),
        amount=Decimal(amount),
        currency="USD",
        **fields,
    )
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=Decimal(amount))
    return payment


def test_it_is_the_total_when_nothing_was_paid(make_invoice):
    assert invoice_balance(invoice=make_invoice()) == Decimal("1200.00")


def test_it_subtracts_payments_and_approved_credits(make_invoice):
    invoice = make_invoice(status="approved")
    _pay(invoice, "500.00")
    CreditNote.objects.create(
        company=invoice.company,
        number="CN-1",
        tenant=invoice.tenant,
        issue_date=invoice.issue_date,
        currency="USD",
        status="approved",
        allocated_invoice=invoice,
        subtotal=Decimal("100.00"),
        total=Decimal("100.00"),
    )
    assert invoice_balance(invoice=invoice) == Decimal("600.00")


def test_it_ignores_voided_payments(make_invoice):
    invoice = make_invoice(status="approved")
    _pay(invoice, "500.00", voided_at=timezone.now())
    assert invoice_balance(invoice=invoice) == Decimal("1200.00")
