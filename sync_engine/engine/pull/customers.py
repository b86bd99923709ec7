"""Customers edited in QuickBooks: their tenants follow, unless the app changed them too."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from companies.models import Tenant
from quickbooks_link.models import (
    ExternalLink,
    QboEntity,
)
from sync_engine.engine.context import RunContext, Subject
from sync_engine.engine.pull.common import (
    ISSUE_DELETED,
    deleted,
    guarded,
    links_by_qbo_id,
    ours,
    set_tokens,
    when,
)
from sync_engine.models import Direction, Entity, SyncItemResult

# --- Customers → tenants -------------------------------------------------------------------------


def pull_customers(ctx: RunContext, rows: list[dict]) -> None:
    links = links_by_qbo_id(ctx, QboEntity.CUSTOMER, (str(r["Id"]) for r in rows))
    pairs = [(row, links.get(str(row["Id"]))) for row in rows]
    pairs = [(row, link) for row, link in pairs if link and not ours(row, link)]
    # A change to what the app does not keep (balance, terms, notes) needs no result.
    benign = [(link, row) for row, link in pairs if _unimportant(row, link.tenant)]
    if benign:
        set_tokens(benign)
    todo = [(row, link) for row, link in pairs if not _unimportant(row, link.tenant)]
    if not todo:
        return
    ctx.begin(Entity.TENANT, len(todo))
    for row, link in todo:
        guarded(
            ctx, QboEntity.CUSTOMER, row, lambda row=row, link=link: _pull_customer(ctx, row, link)
        )


def _unimportant(row: dict, tenant: Tenant) -> bool:
    return not deleted(row) and not _tenant_changes(tenant, row)


def _tenant_subject(tenant: Tenant, link: ExternalLink) -> Subject:
    return Subject(
        entity=Entity.TENANT,
        record_id=tenant.pk,
        label=tenant.name,
        qbo_id=link.qbo_id,
        direction=Direction.INCOMING,
    )


def _pull_customer(ctx: RunContext, row: dict, link: ExternalLink) -> None:
    tenant, subject = link.tenant, _tenant_subject(link.tenant, link)
    if deleted(row):
        _raise_customer_gone(ctx, subject, row)
        return
    if _changed_in_app(tenant, link, ctx):
        set_tokens([(link, row)])  # so the outgoing push can overwrite QuickBooks' version
        ctx.record(
            subject,
            SyncItemResult.Outcome.SKIPPED,
            message="Changed here and in QuickBooks; the app's version is kept and sent.",
        )
        return
    fields = _tenant_changes(tenant, row)
    with transaction.atomic():
        # A queryset update on purpose: it sends no post_save (which would queue an outgoing
        # sync of what we just read) and leaves updated_at alone, so this is not an app edit.
        Tenant.objects.filter(pk=tenant.pk).update(**fields)
        set_tokens([(link, row)])
    outcome = SyncItemResult.Outcome.UPDATED if fields else SyncItemResult.Outcome.SKIPPED
    message = "Updated from QuickBooks: " + ", ".join(sorted(fields)) if fields else ""
    ctx.record(subject, outcome, message=message or "Nothing the app keeps changed.")


def _changed_in_app(tenant: Tenant, link: ExternalLink, ctx: RunContext) -> bool:
    # On a clash within one cycle the app wins (product.md §3): an edit made here since the
    # tenant was last sent, or during this run, is about to overwrite QuickBooks anyway.
    baseline = link.last_synced_at or link.created_at
    started = ctx.run.started_at or timezone.now()
    return tenant.updated_at > baseline or tenant.updated_at >= started


def _tenant_changes(tenant: Tenant, row: dict) -> dict:
    active = row.get("Active", True) is not False
    wanted = {
        "name": _customer_name(row) or tenant.name,
        "email": ((row.get("PrimaryEmailAddr") or {}).get("Address") or "")[:254],
        "phone": ((row.get("PrimaryPhone") or {}).get("FreeFormNumber") or "")[:30],
        "billing_address": _address(row.get("BillAddr") or {})[:300],
    }
    if not active and tenant.archived_at is None:
        wanted["archived_at"] = timezone.now()
    elif active and tenant.archived_at is not None:
        wanted["archived_at"] = None
    return {key: value for key, value in wanted.items() if getattr(tenant, key) != value}


def _customer_name(row: dict) -> str:
    # QuickBooks renames an inactive customer "<name> (deleted)"; that suffix is not the name.
    name = (row.get("DisplayName") or "").removesuffix(" (deleted)").strip()
    return name[:200]


def _address(bill_addr: dict) -> str:
    # The push writes one address line per line of billing_address (payloads._address), so
    # lines come back joined by newlines; city/region/postcode typed in QuickBooks follow.
    region = " ".join(
        str(bill_addr[key])
        for key in ("CountrySubDivisionCode", "PostalCode")
        if bill_addr.get(key)
    )
    town = ", ".join(part for part in (bill_addr.get("City"), region) if part)
    parts = [bill_addr.get(f"Line{n}") for n in range(1, 6)] + [town, bill_addr.get("Country")]
    return "\n".join(str(part).strip() for part in parts if part and str(part).strip())


def _raise_customer_gone(ctx: RunContext, subject: Subject, row: dict) -> None:
    ctx.record(
        subject,
        SyncItemResult.Outcome.FAILED,
        code=ISSUE_DELETED,
        message="Customer deleted or merged in QuickBooks",
        explanation=f"{subject.label}'s customer was deleted or merged in QuickBooks {when(row)}.",
        fix="Link the tenant to the customer it was merged into, or unlink it so the next sync "
        "creates a new customer.",
    )
