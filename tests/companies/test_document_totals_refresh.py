from __future__ import annotations

from decimal import Decimal

from companies.models import Invoice


def test_it_sums_line_amounts(make_invoice):
    invoice = make_invoice(lines=((1, "1200.00"), (2, "35.50")))
    assert invoice.subtotal == Decimal("1271.00")
    assert invoice.total == Decimal("1271.00")


def test_it_rounds_tax_per_line_half_up(make_invoice, sales_tax):
    # 8.875% of 10.00 is 0.8875 → 0.89; of 0.20 is 0.01775 → 0.02. Per-line rounding gives 0.91.
    invoice = make_invoice(lines=((1, "10.00", sales_tax), (1, "0.20", sales_tax)))
    assert invoice.tax_total == Decimal("0.91")
    assert invoice.total == Decimal("11.11")


def test_it_rounds_fractional_quantities_to_cents(make_invoice):
    invoice = make_invoice(lines=(("1.333", "100.00"),))
    assert invoice.subtotal == Decimal("133.30")


def test_it_stores_totals_so_they_survive_a_reload(make_invoice, sales_tax):
    invoice = make_invoice(lines=((1, "100.00", sales_tax),))
    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.subtotal, stored.tax_total, stored.total) == (
        Decimal("100.00"),
        Decimal("8.88"),
        Decimal("108.88"),
    )


def test_it_stores_sums_that_binary_floats_cannot_represent(make_invoice, sales_tax):
    # 3637.50 + 141.86 is not exactly 3779.36 as binary floats, which is how SQLite stores them.
    invoice = make_invoice(lines=((1, "3637.50"),))
    invoice.tax_total, invoice.total = Decimal("141.86"), Decimal("3779.36")
    invoice.save(update_fields=["tax_total", "total"])
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("3779.36")
