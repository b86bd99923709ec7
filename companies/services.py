"""State changes for the property-management side."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from companies.models import Document, DocumentStatus, Payment


def _lines_of(document: Document):
    return document.lines.select_related("tax_rate")


def document_totals_refresh(*, document: Document) -> Document:
    """Recompute a document's stored totals from its lines and save them.

    Tax is rounded per line (half up), as QuickBooks does for line-level tax.
    """
    subtotal = Decimal("0.00")
    tax_total = Decimal("0.00")
    for line in _lines_of(document):
        subtotal += line.amount
        tax_total += line.tax_amount
    document.subtotal, document.tax_total = subtotal, tax_total
    document.total = subtotal + tax_total
    document.save(update_fields=["subtotal", "tax_total", "total", "updated_at"])
    return document


@transaction.atomic
def document_approve(*, document: Document) -> Document:
    """Approve a draft: it then goes to QuickBooks. It needs a tenant and at least one line."""
    errors = {}
    if document.status != DocumentStatus.DRAFT:
        errors["status"] = (
            f"Only a draft can be approved; this one is {document.get_status_display()}."
        )
    if document.tenant_id is None:
        errors["tenant"] = "An approved document needs a tenant."
    if not document.lines.exists():
        errors["lines"] = "An approved document needs at least one line."
    if errors:
        raise ValidationError(errors)
    document.status = DocumentStatus.APPROVED
    document.full_clean()
    document.save(update_fields=["status", "updated_at"])
    return document_totals_refresh(document=document)


def payment_validate_allocations(*, payment: Payment) -> None:
    """A payment cannot allocate more than it is worth."""
    allocated = payment.allocations.aggregate(s=Sum("amount"))["s"] or 0
    if allocated > payment.amount:
        raise ValidationError(
            {"amount": f"Allocations ({allocated}) exceed the payment ({payment.amount})."}
        )
