"""Payments recorded in QuickBooks against our invoices: they become app payments."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from companies.models import Invoice, Payment, PaymentAllocation, Tenant
from quickbooks_link.models import (
    ExternalLink,
    QboEntity,
)
from sync_engine.engine.context import RunContext, Subject
from sync_engine.engine.pull.common import (
    ISSUE_DELETED,
    ISSUE_EDITED,
    ISSUE_VOIDED,
    deleted,
    guarded,
    links_by_qbo_id,
    money,
    ours,
    raise_issue,
    set_tokens,
    token,
    voided,
    when,
)
from sync_engine.models import Direction, Entity, SyncItemResult
from sync_engine.payloads import MARKER_PREFIX

# --- Payments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentContext:
    links: dict[str, ExternalLink]
    invoices: dict[str, Invoice]  # QuickBooks invoice id → our synced invoice
    tenants: dict[str, Tenant]  # QuickBooks customer id → linked tenant


def pull_payments(ctx: RunContext, rows: list[dict]) -> None:
    links = links_by_qbo_id(ctx, QboEntity.PAYMENT, (str(r["Id"]) for r in rows))
    rows = [row for row in rows if not ours(row, links.get(str(row["Id"])))]
    known = PaymentContext(links, _invoices_of(ctx, rows), _tenants_of(ctx, rows))
    actions = [(row, _payment_action(row, known)) for row in rows]
    benign = [
        (known.links[str(row["Id"])], row)
        for row, action in actions
        if action == "token" and not deleted(row)  # a delete row carries no SyncToken
    ]
    if benign:
        set_tokens(benign)
    todo = [(row, action) for row, action in actions if action not in (None, "token")]
    if not todo:
        return
    ctx.begin(Entity.PAYMENT, len(todo))
    for row, action in todo:
        guarded(
            ctx,
            QboEntity.PAYMENT,
            row,
            lambda row=row, action=action: PAYMENT_ACTIONS[action](ctx, row, known),
        )


def _invoice_ids(row: dict) -> list[str]:
    return [
        str(linked.get("TxnId"))
        for line in row.get("Line") or []
        for linked in line.get("LinkedTxn") or []
        if linked.get("TxnType") == "Invoice"
    ]


def _invoices_of(ctx: RunContext, rows: list[dict]) -> dict[str, Invoice]:
    ids = [qbo_id for row in rows for qbo_id in _invoice_ids(row)]
    links = links_by_qbo_id(ctx, QboEntity.INVOICE, ids)
    return {qbo_id: link.invoice for qbo_id, link in links.items()}


def _tenants_of(ctx: RunContext, rows: list[dict]) -> dict[str, Tenant]:
    ids = [str((row.get("CustomerRef") or {}).get("value", "")) for row in rows]
    links = links_by_qbo_id(ctx, QboEntity.CUSTOMER, [i for i in ids if i])
    return {qbo_id: link.tenant for qbo_id, link in links.items()}


def _payment_action(row: dict, known: PaymentContext) -> str | None:
    link = known.links.get(str(row["Id"]))
    gone = deleted(row) or voided(row)
    if link is None:
        # Only payments against invoices we sent concern us, and not the ones we wrote without
        # a payment link (a credit note's allocation carries our marker and moves no money).
        ours = MARKER_PREFIX in (row.get("PrivateNote") or "")
        if gone or ours or money(row.get("TotalAmt")) <= 0:
            return None
        return "create" if _allocations(row, known) else None
    origin_here = link.payment.origin == Payment.Origin.APP
    if gone:
        if link.payment.voided_at is not None:
            return "token"
        return "issue" if origin_here else "void"
    if origin_here:
        return "issue" if _payment_differs(row, link.payment, known) else "token"
    return "update"


def _allocations(row: dict, known: PaymentContext, tenant: Tenant | None = None) -> dict:
    """Invoice → amount this payment applies to our synced invoices (of one tenant)."""
    amounts: dict[Invoice, Decimal] = {}
    for line in row.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            invoice = known.invoices.get(str(linked.get("TxnId")))
            if linked.get("TxnType") != "Invoice" or invoice is None:
                continue
            if tenant is not None and invoice.tenant_id != tenant.pk:
                continue  # a payment pays only its own tenant's invoices
            amounts[invoice] = amounts.get(invoice, Decimal(0)) + money(line.get("Amount"))
    return {invoice: amount for invoice, amount in amounts.items() if amount > 0}


def _payer(row: dict, known: PaymentContext) -> Tenant | None:
    customer = str((row.get("CustomerRef") or {}).get("value", ""))
    if customer in known.tenants:
        return known.tenants[customer]
    invoices = list(_allocations(row, known))
    return invoices[0].tenant if invoices else None


def _payment_differs(row: dict, payment: Payment, known: PaymentContext) -> bool:
    allocations = {a.invoice_id: a.amount for a in payment.allocations.all()}
    incoming = {inv.pk: amount for inv, amount in _allocations(row, known).items()}
    return money(row.get("TotalAmt")) != payment.amount or incoming != allocations


def _payment_subject(row: dict, payment: Payment | None, tenant: Tenant | None) -> Subject:
    who = f" from {tenant.name}" if tenant else ""
    return Subject(
        entity=Entity.PAYMENT,
        record_id=payment.pk if payment else None,
        label=f"Payment{who} ({money(row.get('TotalAmt'))})",
        qbo_id=str(row["Id"]),
        direction=Direction.INCOMING,
    )


def _payment_fields(row: dict) -> dict:
    method = ((row.get("PaymentMethodRef") or {}).get("name") or "").lower()
    return {
        "received_on": datetime.date.fromisoformat(str(row.get("TxnDate"))[:10]),
        "amount": money(row.get("TotalAmt")),
        "reference": str(row.get("PaymentRefNum") or "")[:100],
        "method": PAYMENT_METHODS.get(method, Payment.Method.OTHER),
    }


PAYMENT_METHODS = {
    "cash": Payment.Method.CASH,
    "check": Payment.Method.CHECK,
    "cheque": Payment.Method.CHECK,
    "credit card": Payment.Method.CARD,
}


def _create_payment(ctx: RunContext, row: dict, known: PaymentContext) -> None:
    tenant = _payer(row, known)
    allocations = _allocations(row, known, tenant)
    if tenant is None or not allocations:
        subject = _payment_subject(row, None, tenant)
        ctx.record(subject, SyncItemResult.Outcome.SKIPPED, message="Applies nothing we sent.")
        return
    payment = _store_payment(ctx, row, tenant, allocations)
    subject = _payment_subject(row, payment, tenant)
    ctx.record(subject, SyncItemResult.Outcome.CREATED, message=_allocation_text(allocations))


@transaction.atomic
def _store_payment(ctx: RunContext, row: dict, tenant: Tenant, allocations: dict) -> Payment:
    """The payment, its allocations and its link, all or nothing."""
    payment = Payment(
        company=ctx.company,
        tenant=tenant,
        currency=next(iter(allocations)).currency,
        origin=Payment.Origin.QUICKBOOKS,
        **_payment_fields(row),
    )
    # bulk_create sends no post_save: a payment read from QuickBooks must not be pushed back.
    payment = Payment.objects.bulk_create([payment])[0]
    _replace_allocations(payment, allocations)
    ExternalLink.objects.create(
        company=ctx.company,
        qbo_entity=QboEntity.PAYMENT,
        qbo_id=str(row["Id"]),
        sync_token=token(row),
        payment=payment,
        last_synced_at=timezone.now(),
    )
    return payment


def _replace_allocations(payment: Payment, allocations: dict[Invoice, Decimal]) -> None:
    PaymentAllocation.objects.filter(payment=payment).delete()
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(payment=payment, invoice=invoice, amount=amount)
        for invoice, amount in allocations.items()
    )


def _allocation_text(allocations: dict[Invoice, Decimal]) -> str:
    applied = ", ".join(f"{amount} to {invoice.number}" for invoice, amount in allocations.items())
    return f"Recorded in QuickBooks: {applied or 'not applied to our invoices'}"


def _update_payment(ctx: RunContext, row: dict, known: PaymentContext) -> None:
    link = known.links[str(row["Id"])]
    payment = link.payment
    allocations = _allocations(row, known, payment.tenant)
    fields = _payment_fields(row)
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(**fields)  # no post_save: no push back
        _replace_allocations(payment, allocations)
        set_tokens([(link, row)])
    subject = _payment_subject(row, payment, payment.tenant)
    ctx.record(subject, SyncItemResult.Outcome.UPDATED, message=_allocation_text(allocations))


def _void_payment(ctx: RunContext, row: dict, known: PaymentContext) -> None:
    link = known.links[str(row["Id"])]
    payment = link.payment
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(voided_at=timezone.now())
        if not deleted(row):
            set_tokens([(link, row)])
    how = "deleted" if deleted(row) else "voided"
    subject = replace(
        _payment_subject(row, payment, payment.tenant),
        label=f"Payment of {payment.amount} from {payment.tenant.name}",
    )
    ctx.record(
        subject,
        SyncItemResult.Outcome.UPDATED,
        message=f"{how.capitalize()} in QuickBooks {when(row)}; voided here too.",
    )


def _raise_payment_issue(ctx: RunContext, row: dict, known: PaymentContext) -> None:
    link = known.links[str(row["Id"])]
    payment = link.payment
    label = f"Payment of {payment.amount} from {payment.tenant.name} on {payment.received_on}"
    subject = Subject(
        entity=Entity.PAYMENT,
        record_id=payment.pk,
        label=label,
        qbo_id=link.qbo_id,
        direction=Direction.INCOMING,
    )
    if deleted(row) or voided(row):
        kind = ISSUE_DELETED if deleted(row) else ISSUE_VOIDED
        what = "deleted" if deleted(row) else "voided"
        fix = "Void it here too, or unlink it so the next sync records it in QuickBooks again."
    else:
        kind, what = ISSUE_EDITED, "changed (amount or invoices paid)"
        fix = "Make the same change here, or undo it in QuickBooks."
    explanation = f"{label} was {what} in QuickBooks {when(row)}; the app still has it as recorded."
    raise_issue(ctx, subject, link, row, kind, explanation, fix)


PAYMENT_ACTIONS = {
    "create": _create_payment,
    "update": _update_payment,
    "void": _void_payment,
    "issue": _raise_payment_issue,
}
