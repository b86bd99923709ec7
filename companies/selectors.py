"""Reads for the property-management side."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet, Sum

from companies.models import Company, CreditNote, DocumentStatus, Invoice, round_money


def invoice_balance(*, invoice: Invoice) -> Decimal:
    """What the tenant still owes: the total less payments and credits allocated to it."""
    paid = invoice.allocations.filter(payment__voided_at__isnull=True).aggregate(s=Sum("amount"))
    credited = CreditNote.objects.filter(
        allocated_invoice=invoice, status=DocumentStatus.APPROVED
    ).aggregate(s=Sum("total"))
    return round_money(invoice.total - (paid["s"] or 0) - (credited["s"] or 0))


def companies_for_user(user) -> QuerySet[Company]:
    """The companies of the groups the user belongs to: every multi-company read starts here."""
    if not user.is_authenticated:
        return Company.objects.none()
    return Company.objects.filter(group__memberships__user=user).select_related("group")
