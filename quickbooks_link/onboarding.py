"""Onboarding a connected company: map its reference data to QuickBooks, choose a Sync From date,
preview, confirm. Each step is saved as the admin goes, so onboarding can be resumed.

Order (product.md §7): tax rates → charge codes/items → properties/classes → tenants/customers →
Sync From date → preview → confirm, which starts the first sync.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from companies.models import ChargeCode, CreditNote, Invoice, Payment, Property, TaxRate, Tenant
from quickbooks_link import client
from quickbooks_link.errors import QboPermanentError
from quickbooks_link.models import (
    LINK_RECORD_FIELDS,
    ExternalLink,
    QboEntity,
    QboReferenceRecord,
    QuickBooksConnection,
)
from quickbooks_link.tokens import connection_call

STEPS = ["tax", "items", "classes", "tenants", "sync_from"]
STEP_TITLES = {
    "tax": "Tax rates",
    "items": "Charge codes and items",
    "classes": "Properties and classes",
    "tenants": "Tenants and customers",
    "sync_from": "Sync From date",
}
NEW = "__new__"  # the choice "create it in QuickBooks"

# Sent when a company's onboarding is confirmed; the sync engine starts the first sync.
onboarding_completed = Signal()


def _name(entity: str, data: dict) -> str:
    return data.get("DisplayName") or data.get("FullyQualifiedName") or data.get("Name") or ""


def _active(data: dict) -> bool:
    return data.get("Active", True) is not False


@transaction.atomic
def _store_reference(company, data: dict[str, list[dict]]) -> None:
    now = timezone.now()
    QboReferenceRecord.objects.filter(company=company).delete()
    QboReferenceRecord.objects.bulk_create(
        QboReferenceRecord(
            company=company,
            qbo_entity=entity,
            qbo_id=str(row["Id"]),
            name=_name(entity, row)[:500],
            active=_active(row),
            data=row,
            refreshed_at=now,
        )
        for entity, rows in data.items()
        for row in rows
    )


def reference_refresh(*, connection: QuickBooksConnection) -> None:
    """Re-read accounts, items, tax codes, classes and customers from QuickBooks."""
    with_classes = bool(connection.qbo_preferences.get("class_tracking"))
    data = connection_call(
        connection=connection,
        operation=lambda api: client.read_reference_data(api, with_classes=with_classes),
    )
    _store_reference(connection.company, data)


def references(company, entity: str, *, active_only: bool = True):
    rows = QboReferenceRecord.objects.filter(company=company, qbo_entity=entity)
    return rows.filter(active=True) if active_only else rows


def step_done(connection: QuickBooksConnection, step: str) -> bool:
    return step in connection.onboarding_progress


def next_step(connection: QuickBooksConnection) -> str:
    """The first step not saved yet, or "preview" when all are."""
    return next((step for step in STEPS if not step_done(connection, step)), "preview")


def _mark_done(connection: QuickBooksConnection, step: str) -> None:
    connection.onboarding_progress = {
        **connection.onboarding_progress,
        step: timezone.now().isoformat(),
    }
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        onboarding_progress=connection.onboarding_progress
    )


def _link(company, entity: QboEntity, record, qbo_id: str) -> None:
    field = LINK_RECORD_FIELDS[entity]
    if not qbo_id:
        ExternalLink.objects.filter(**{field: record}).delete()
        return
    ExternalLink.objects.update_or_create(
        **{field: record}, defaults={"company": company, "qbo_entity": entity, "qbo_id": qbo_id}
    )


def current_mapping(company, field: str) -> dict[int, str]:
    links = ExternalLink.objects.filter(company=company, **{f"{field}__isnull": False})
    return {getattr(link, f"{field}_id"): link.qbo_id for link in links}


def tax_rates_to_map(company):
    return TaxRate.objects.filter(company=company, is_active=True)


def charge_codes_to_map(company):
    return ChargeCode.objects.filter(company=company, is_active=True)


def properties_to_map(company):
    return Property.objects.filter(company=company)


def tenants_to_map(company):
    return Tenant.objects.filter(company=company, archived_at__isnull=True)


def onboarding_save_tax(*, connection: QuickBooksConnection, choices: dict[int, str]) -> None:
    for rate in tax_rates_to_map(connection.company):
        _link(connection.company, QboEntity.TAX_CODE, rate, choices[rate.pk])
    _mark_done(connection, "tax")


def onboarding_save_items(
    *, connection: QuickBooksConnection, choices: dict[int, str], income_account_id: str
) -> None:
    """Map each charge code to an item; NEW creates a Service item in QuickBooks first."""
    for code in charge_codes_to_map(connection.company):
        qbo_id = choices[code.pk]
        if qbo_id == NEW:
            qbo_id = _create_item(connection, code.name, income_account_id)
        _link(connection.company, QboEntity.ITEM, code, qbo_id)
    _mark_done(connection, "items")


def _create_item(connection: QuickBooksConnection, name: str, income_account_id: str) -> str:
    try:
        created = connection_call(
            connection=connection,
            operation=lambda api: client.create_service_item(
                api, name=name, income_account_id=income_account_id
            ),
        )
    except QboPermanentError as exc:
        if exc.code == "6240":  # Duplicate Name Exists
            exc.message = (
                f"QuickBooks already has a product or service named “{name}”. Choose it from "
                "the list instead of creating a new one."
            )
        raise
    _remember_reference(connection.company, "Item", created)
    return str(created["Id"])


def _remember_reference(company, entity: str, data: dict) -> None:
    """Add an object we just created to the reference data, without re-reading everything."""
    QboReferenceRecord.objects.update_or_create(
        company=company,
        qbo_entity=entity,
        qbo_id=str(data["Id"]),
        defaults={
            "name": _name(entity, data)[:500],
            "active": _active(data),
            "data": data,
            "refreshed_at": timezone.now(),
        },
    )


def onboarding_save_classes(*, connection: QuickBooksConnection, choices: dict[int, str]) -> None:
    """Map properties to classes (optional: a blank choice leaves a property unclassed)."""
    for prop in properties_to_map(connection.company):
        qbo_id = choices.get(prop.pk, "")
        if qbo_id == NEW:
            created = connection_call(
                connection=connection,
                operation=lambda api, prop=prop: client.create_class(api, name=prop.name),
            )
            _remember_reference(connection.company, "Class", created)
            qbo_id = str(created["Id"])
        _link(connection.company, QboEntity.CLASS, prop, qbo_id)
    _mark_done(connection, "classes")


def suggest_customers(company) -> dict[int, str]:
    """For each tenant, a matching QuickBooks customer: by email first, then by name."""
    customers = list(references(company, "Customer"))
    by_email = {}
    by_name = {}
    for customer in customers:
        email = (customer.data.get("PrimaryEmailAddr") or {}).get("Address", "").lower()
        if email:
            by_email.setdefault(email, customer.qbo_id)
        by_name.setdefault(customer.name.strip().lower(), customer.qbo_id)
    suggestions = {}
    for tenant in tenants_to_map(company):
        match = by_email.get(tenant.email.lower()) if tenant.email else None
        suggestions[tenant.pk] = match or by_name.get(tenant.name.strip().lower(), NEW)
    return suggestions


def onboarding_save_tenants(*, connection: QuickBooksConnection, choices: dict[int, str]) -> None:
    """Link tenants to the customers the admin confirmed; NEW ones are created by the first sync."""
    for tenant in tenants_to_map(connection.company):
        choice = choices.get(tenant.pk, NEW)
        _link(connection.company, QboEntity.CUSTOMER, tenant, "" if choice == NEW else choice)
    _mark_done(connection, "tenants")


def onboarding_save_sync_from(
    *, connection: QuickBooksConnection, sync_from: datetime.date
) -> None:
    connection.sync_from_date = sync_from
    connection.full_clean(exclude=["company"])
    QuickBooksConnection.objects.filter(pk=connection.pk).update(sync_from_date=sync_from)
    _mark_done(connection, "sync_from")


@dataclass(frozen=True)
class Preview:
    tenants: int
    invoices: int
    credit_notes: int
    payments: int
    warnings: list[str]


def onboarding_preview(*, connection: QuickBooksConnection) -> Preview:
    """What the first sync will send, and what in QuickBooks' settings may make it fail."""
    company, since = connection.company, connection.sync_from_date
    return Preview(
        tenants=tenants_to_map(company).count(),
        invoices=Invoice.objects.filter(
            company=company, status=Invoice.Status.APPROVED, issue_date__gte=since
        ).count(),
        credit_notes=CreditNote.objects.filter(
            company=company, status=CreditNote.Status.APPROVED, issue_date__gte=since
        ).count(),
        payments=Payment.objects.filter(
            company=company, received_on__gte=since, voided_at__isnull=True
        ).count(),
        warnings=preflight_warnings(connection),
    )


def preflight_warnings(connection: QuickBooksConnection) -> list[str]:
    company, prefs = connection.company, connection.qbo_preferences
    warnings = []
    closing = prefs.get("closing_date")
    if closing and connection.sync_from_date and str(connection.sync_from_date) <= closing:
        warnings.append(
            f"QuickBooks' books are closed up to {closing}: documents dated on or before then will "
            "fail (error 6210). Reopen the period in QuickBooks or choose a later Sync From date."
        )
    if not prefs.get("custom_txn_numbers"):
        warnings.append(
            "Custom transaction numbers are off in QuickBooks. Turn them on (Account and Settings › "
            "Sales › Custom transaction numbers) so invoices keep this app's numbers in QuickBooks "
            "and QuickBooks can warn about duplicates."
        )
    if connection.qbo_currency and connection.qbo_currency != company.base_currency:
        warnings.append(
            f"QuickBooks' home currency is {connection.qbo_currency} but this company uses "
            f"{company.base_currency}. Amounts would be booked in the wrong currency."
        )
    warnings.extend(_inactive_mapping_warnings(company))
    warnings.extend(_duplicate_account_warnings(company))
    return warnings


def _inactive_mapping_warnings(company) -> list[str]:
    inactive = {
        (ref.qbo_entity, ref.qbo_id): ref.name
        for ref in QboReferenceRecord.objects.filter(company=company, active=False)
    }
    links = ExternalLink.objects.filter(company=company, qbo_entity=QboEntity.ITEM)
    return [
        f"The item {inactive[('Item', link.qbo_id)]} mapped to a charge code is inactive in "
        "QuickBooks; invoices using it will fail (error 610). Make it active or map another item."
        for link in links
        if ("Item", link.qbo_id) in inactive
    ]


def _duplicate_account_warnings(company) -> list[str]:
    names = Counter(
        ref.name.strip().lower() for ref in references(company, "Account", active_only=True)
    )
    return [
        f"Several QuickBooks accounts are named “{name}”. Rename them so the right one is chosen."
        for name, count in names.items()
        if count > 1
    ]


def onboarding_confirm(*, connection: QuickBooksConnection, user) -> bool:
    """Mark onboarding complete (once) and start the first sync."""
    won = QuickBooksConnection.objects.filter(pk=connection.pk, onboarded_at__isnull=True).update(
        onboarded_at=timezone.now()
    )
    if won:
        onboarding_completed.send(sender=QuickBooksConnection, connection=connection, user=user)
    return bool(won)


@dataclass(frozen=True)
class SyncFromImpact:
    """What changing the Sync From date would do (product.md §4), shown before it is saved."""

    new_date: datetime.date
    entering: dict[str, int]  # documents that would start syncing (moving the date earlier)
    leaving: dict[str, int]  # documents that would stop syncing; their links are kept
    orphaned_payments: int  # payments after the date for invoices before it


def _documents_between(company, start: datetime.date, end: datetime.date) -> dict[str, int]:
    """Approved documents and live payments dated on or after start and before end."""
    return {
        "invoices": Invoice.objects.filter(
            company=company,
            status=Invoice.Status.APPROVED,
            issue_date__gte=start,
            issue_date__lt=end,
        ).count(),
        "credit notes": CreditNote.objects.filter(
            company=company,
            status=CreditNote.Status.APPROVED,
            issue_date__gte=start,
            issue_date__lt=end,
        ).count(),
        "payments": Payment.objects.filter(
            company=company, voided_at__isnull=True, received_on__gte=start, received_on__lt=end
        ).count(),
    }


def sync_from_impact(
    *, connection: QuickBooksConnection, new_date: datetime.date
) -> SyncFromImpact:
    company, old = connection.company, connection.sync_from_date or new_date
    earlier, later = min(old, new_date), max(old, new_date)
    moved = _documents_between(company, earlier, later)
    none = dict.fromkeys(moved, 0)
    orphaned = (
        Payment.objects.filter(company=company, received_on__gte=new_date, voided_at__isnull=True)
        .filter(allocations__invoice__issue_date__lt=new_date)
        .distinct()
        .count()
    )
    return SyncFromImpact(
        new_date=new_date,
        entering=moved if new_date < old else none,
        leaving=moved if new_date > old else none,
        orphaned_payments=orphaned,
    )


def sync_from_change(*, connection: QuickBooksConnection, new_date: datetime.date) -> None:
    """Change the Sync From date (product.md §4).

    Moving it earlier backfills: the next sync looks at every document again. Moving it later
    stops older documents from syncing but keeps their links.
    """
    old = connection.sync_from_date
    connection.sync_from_date = new_date
    connection.full_clean(exclude=["company"])
    fields = {"sync_from_date": new_date}
    if old is None or new_date < old:
        fields["pushed_through"] = None
    QuickBooksConnection.objects.filter(pk=connection.pk).update(**fields)


def mapping_summary(company) -> list[dict]:
    """How much of each mapping is done, for the integration page (each links to its step)."""
    rows = [
        ("tax", tax_rates_to_map(company), "tax_rate"),
        ("items", charge_codes_to_map(company), "charge_code"),
        ("classes", properties_to_map(company), "property"),
        ("tenants", tenants_to_map(company), "tenant"),
    ]
    return [
        {
            "step": step,
            "title": STEP_TITLES[step],
            "total": records.count(),
            "mapped": ExternalLink.objects.filter(
                company=company, **{f"{field}__in": records}, qbo_id__gt=""
            ).count(),
        }
        for step, records, field in rows
    ]
