"""Which records a run sends, and the QuickBooks ids they refer to.

Work is proportional to what changed: a full run reads the records changed since the last
completed push (an indexed range on (company, updated_at)), plus those with open errors or a
pending push, never the whole history. Mappings are loaded for the records in play only.
"""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet

from companies.models import CreditNote, DocumentStatus, Invoice, Payment, Tenant
from quickbooks_link.models import ExternalLink, QuickBooksConnection
from sync_engine.models import RECORD_LINKS, Entity, SyncItemResult
from sync_engine.payloads import Mappings


def _open_error_ids(company_id: int, entity: str) -> QuerySet:
    return SyncItemResult.objects.filter(
        company_id=company_id,
        entity=entity,
        outcome=SyncItemResult.Outcome.FAILED,
        resolved_at__isnull=True,
        record_id__isnull=False,
    ).values("record_id")


def _pending_ids(company_id: int, entity: str) -> QuerySet:
    field, _qbo_entity = RECORD_LINKS[entity]
    return ExternalLink.objects.filter(
        company_id=company_id, pending_since__isnull=False, **{f"{field}__isnull": False}
    ).values_list(f"{field}_id", flat=True)


def _dirty(queryset: QuerySet, entity: str, company_id: int, since: datetime.datetime | None):
    """Changed since the last completed push, or with an open error, or with a pending intent.

    Three small indexed lookups, united in Python: one OR across a join would make the database
    read every record of the company, and this must cost the same for 1,000 or 100,000 of them.
    """
    queryset = queryset.exclude(qbo_link__unlinked_at__isnull=False)
    if since is None:
        return queryset
    ids = set(queryset.filter(updated_at__gte=since).values_list("pk", flat=True))
    ids |= set(_open_error_ids(company_id, entity).values_list("record_id", flat=True))
    ids |= set(_pending_ids(company_id, entity))
    return queryset.filter(pk__in=ids)


def in_scope(entity: str, connection: QuickBooksConnection) -> QuerySet:
    """Every record of an entity that belongs in QuickBooks (before the 'changed' filter)."""
    company, since = connection.company_id, connection.sync_from_date
    if entity == Entity.TENANT:
        # An archived tenant matters once in QuickBooks (to deactivate it), or while documents
        # billed to it still have to go there (they need their customer).
        return Tenant.objects.filter(company_id=company).filter(
            Q(archived_at__isnull=True)
            | Q(qbo_link__qbo_id__gt="")
            | Q(pk__in=billed_tenants(connection))
        )
    if entity in (Entity.INVOICE, Entity.CREDIT_NOTE):
        model = Invoice if entity == Entity.INVOICE else CreditNote
        documents = model.objects.filter(company_id=company, issue_date__gte=since)
        # Drafts never go; a void one only matters once it is in QuickBooks (to void it there).
        return documents.filter(
            Q(status=DocumentStatus.APPROVED)
            | Q(status=DocumentStatus.VOID, qbo_link__qbo_id__gt="")
        )
    return (
        Payment.objects.filter(company_id=company, received_on__gte=since)
        .filter(Q(voided_at__isnull=True) | Q(qbo_link__qbo_id__gt=""))
        .exclude(origin=Payment.Origin.QUICKBOOKS)
    )


def _with_related(records: QuerySet, entity: str) -> QuerySet:
    if entity in (Entity.INVOICE, Entity.CREDIT_NOTE):
        return records.select_related("tenant").prefetch_related(
            "lines__charge_code", "lines__tax_rate"
        )
    if entity == Entity.PAYMENT:
        return records.select_related("tenant").prefetch_related("allocations")
    return records


def billed_tenants(connection: QuickBooksConnection, *, unsent_only: bool = False) -> set[int]:
    """Archived tenants billed by documents in scope (only by those not sent yet, if asked).

    Only archived tenants are asked about (the others are in scope anyway), which keeps this to
    the few documents of tenants who moved out instead of every document of the company.
    """
    tenants: set[int] = set()
    for entity in (Entity.INVOICE, Entity.CREDIT_NOTE, Entity.PAYMENT):
        documents = in_scope(entity, connection).filter(tenant__archived_at__isnull=False)
        documents = documents.exclude(qbo_link__unlinked_at__isnull=False)
        if unsent_only:
            documents = documents.exclude(qbo_link__qbo_id__gt="")
        tenants |= set(documents.values_list("tenant_id", flat=True).distinct())
    return tenants


def records_to_push(entity: str, connection: QuickBooksConnection) -> list:
    records = _dirty(
        in_scope(entity, connection), entity, connection.company_id, connection.pushed_through
    )
    return list(_with_related(records, entity).order_by("pk"))


def record_in_scope(entity: str, connection: QuickBooksConnection, pk: int):
    """One record if it belongs in QuickBooks and is not unlinked, else None."""
    records = (
        in_scope(entity, connection).filter(pk=pk).exclude(qbo_link__unlinked_at__isnull=False)
    )
    return _with_related(records, entity).first()


def _links(company_id: int, field: str, ids=None) -> dict[int, str]:
    links = ExternalLink.objects.filter(
        company_id=company_id, **{f"{field}__isnull": False}, qbo_id__gt=""
    )
    if ids is not None:
        links = links.filter(**{f"{field}_id__in": ids})
    return dict(links.values_list(f"{field}_id", "qbo_id"))


def mappings_for(connection: QuickBooksConnection, records: list) -> Mappings:
    """The QuickBooks ids the given records refer to, in a handful of queries."""
    company = connection.company_id
    tenant_ids = {r.tenant_id for r in records if getattr(r, "tenant_id", None)}
    invoice_ids = {
        r.allocated_invoice_id for r in records if getattr(r, "allocated_invoice_id", None)
    }
    for record in records:
        if isinstance(record, Payment):
            invoice_ids |= {a.invoice_id for a in record.allocations.all()}
    return Mappings(
        customers=_links(company, "tenant", tenant_ids),
        items=_links(company, "charge_code"),
        tax_codes=_links(company, "tax_rate"),
        classes=_links(company, "property"),
        invoices=_links(company, "invoice", invoice_ids),
        country=connection.qbo_country or "US",
        class_tracking=bool(connection.qbo_preferences.get("class_tracking")),
    )
