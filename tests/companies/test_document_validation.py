"""Bad input on invoices and credit notes gets a clear message naming the field."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from companies.models import CreditNote, Invoice, InvoiceLine, Tenant


def _errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_it_requires_a_tenant_on_an_approved_invoice(make_invoice):
    invoice = make_invoice()
    invoice.tenant = None
    invoice.status = Invoice.Status.APPROVED
    assert "tenant" in _errors(invoice)


def test_it_refuses_a_due_date_before_the_issue_date(make_invoice):
    invoice = make_invoice()
    invoice.due_date = invoice.issue_date - datetime.timedelta(days=1)
    assert _errors(invoice)["due_date"] == ["The due date cannot be before the issue date."]


def test_it_refuses_a_tenant_of_another_company(make_invoice, acme_south):
    stranger = Tenant.objects.create(company=acme_south, name="Someone Else")
    invoice = make_invoice()
    invoice.tenant = stranger
    assert _errors(invoice)["tenant"] == ["This tenant belongs to another company."]


def test_it_refuses_a_number_longer_than_quickbooks_allows(make_invoice):
    invoice = make_invoice()
    invoice.number = "X" * 22
    assert "number" in _errors(invoice)


def test_it_refuses_a_lowercase_currency(make_invoice):
    invoice = make_invoice()
    invoice.currency = "usd"
    assert "currency" in _errors(invoice)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", Decimal("0"), "Quantity must be more than zero."),
        ("quantity", Decimal("-2"), "Quantity must be more than zero."),
        ("unit_amount", Decimal("-1.00"), "Unit amount cannot be negative."),
    ],
)
def test_it_refuses_line_amounts_that_make_no_sense(make_invoice, field, value, message):
    line = make_invoice().lines.get()
    setattr(line, field, value)
    assert message in _errors(line)[field]


def test_it_requires_a_charge_code_on_a_line(make_invoice):
    line = make_invoice().lines.get()
    line.charge_code = None
    assert "charge_code" in _errors(line)


def test_it_refuses_a_charge_code_of_another_company(make_invoice, acme_south):
    from companies.models import ChargeCode

    line = make_invoice().lines.get()
    line.charge_code = ChargeCode.objects.create(company=acme_south, code="RENT", name="Rent")
    assert _errors(line)["charge_code"] == ["This charge code belongs to another company."]


def test_it_only_allocates_a_credit_to_the_same_tenants_invoice(make_invoice, acme_north):
    other = Tenant.objects.create(company=acme_north, name="Other Tenant")
    credit = CreditNote(
        company=acme_north,
        number="CN-1",
        tenant=other,
        issue_date=datetime.date(2026, 1, 2),
        currency="USD",
        allocated_invoice=make_invoice(),
    )
    assert "allocated_invoice" in _errors(credit)


class TestDatabaseConstraints:
    """The same rules hold for writes that bypass validation (bulk imports, raw updates)."""

    def test_it_rejects_a_negative_quantity_in_the_database(self, make_invoice):
        line = make_invoice().lines.get()
        with pytest.raises(IntegrityError):
            InvoiceLine.objects.filter(pk=line.pk).update(quantity=Decimal("-1"))

    def test_it_rejects_a_total_that_is_not_the_sum(self, make_invoice):
        invoice = make_invoice()
        with pytest.raises(IntegrityError):
            Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00"))

    def test_it_rejects_an_approved_invoice_without_a_tenant(self, make_invoice):
        invoice = make_invoice()
        with pytest.raises(IntegrityError):
            Invoice.objects.filter(pk=invoice.pk).update(status="approved", tenant=None)

    def test_it_rejects_a_duplicate_number_in_one_company(self, make_invoice):
        make_invoice(number="INV-7")
        with pytest.raises(IntegrityError):
            make_invoice(number="INV-7")

    def test_it_allows_the_same_number_in_another_company(self, make_invoice, acme_south):
        make_invoice(number="INV-7")
        make_invoice(number="INV-7", company=acme_south, tenant=None)
        assert Invoice.objects.filter(number="INV-7").count() == 2
