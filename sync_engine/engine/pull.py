"""The incoming side of a run: reference data for mapping, and what people changed in QuickBooks.

`pull_changes`, step by step:
1. Note when the pull started. Read what changed since `connection.last_pulled_at`: change data
   capture when that is within CDC's 30-day look-back, else paged queries on
   MetaData.LastUpdatedTime (also used when a CDC answer hit its 1000-object cap).
2. Per QuickBooks entity, load the links of every changed id in one query and drop the rows
   whose SyncToken is the link's: those are our own writes coming back.
3. Customers edited in QuickBooks update their tenants (queryset updates: no post_save, so no
   outgoing sync is triggered), payments recorded in QuickBooks against our invoices become app
   payments, and edits, voids and deletes of our invoices and credit memos become issues on the
   record. Every database change is a short transaction of its own; QuickBooks is never called
   inside one.
4. Move `last_pulled_at` to the start time less a safety margin, by compare-and-set, so two
   runs can never move it backwards.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from companies.models import CreditNote, Invoice, Payment, PaymentAllocation, Tenant, round_money
from quickbooks_link import client
from quickbooks_link.models import (
    LINK_RECORD_FIELDS,
    ExternalLink,
    QboEntity,
    QboReferenceRecord,
    QuickBooksConnection,
)
from sync_engine.engine.context import RunContext, Subject
from sync_engine.models import Direction, Entity, SyncItemResult
from sync_engine.payloads import MARKER_PREFIX

PULLED = [QboEntity.CUSTOMER, QboEntity.INVOICE, QboEntity.CREDIT_MEMO, QboEntity.PAYMENT]
APP_ENTITY = {
    QboEntity.CUSTOMER: Entity.TENANT,
    QboEntity.INVOICE: Entity.INVOICE,
    QboEntity.CREDIT_MEMO: Entity.CREDIT_NOTE,
    QboEntity.PAYMENT: Entity.PAYMENT,
    QboEntity.ACCOUNT: Entity.ACCOUNT,
    QboEntity.ITEM: Entity.ITEM,
    QboEntity.TAX_CODE: Entity.TAX_CODE,
    QboEntity.CLASS: Entity.CLASS,
}
# CDC looks back at most 30 days (qbo-api.md §1); an hour's slack keeps us clear of the edge.
CDC_WINDOW = datetime.timedelta(days=30) - datetime.timedelta(hours=1)
CDC_CAP = 1000  # objects per CDC answer, shared by all entities asked for; the rest is dropped
# Our clock and QuickBooks' differ a little, and an object written while we read may carry a
# time just before our start: re-reading a few minutes is harmless (own writes are ignored).
SAFETY_MARGIN = datetime.timedelta(minutes=5)
PAGE_SIZE = 1000  # QBO's MAXRESULTS ceiling
ID_CHUNK = 500  # ids per IN (...) lookup, well under SQLite's variable limit

ISSUE_EDITED, ISSUE_VOIDED, ISSUE_DELETED = "qbo_edited", "qbo_voided", "qbo_deleted"
MAPPING_INACTIVE, MAPPING_MISSING = "qbo_inactive", "qbo_missing"


# --- Reading from QuickBooks ---------------------------------------------------------------------


def _subject(qbo_entity: str, label: str) -> Subject:
    return Subject(entity=APP_ENTITY.get(qbo_entity, ""), label=label, direction=Direction.INCOMING)


def _qbo_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _query_all(ctx: RunContext, entity: str, conditions: Iterable[str] = ()) -> list[dict]:
    """Every row of a query, page by page (QuickBooks answers at most 1000 rows a query)."""
    where = " AND ".join(conditions)
    # Entity names and conditions are built here from constants and our own timestamps.
    base = f"SELECT * FROM {entity}" + (f" WHERE {where}" if where else "")  # noqa: S608
    rows: list[dict] = []
    while True:
        sql = f"{base} STARTPOSITION {len(rows) + 1} MAXRESULTS {PAGE_SIZE}"
        page = ctx.qbo(
            lambda api, sql=sql: client.query(api, sql),
            subject=_subject(entity, f"{entity} list"),
            name="query",
        )
        rows.extend(page)
        if len(page) < PAGE_SIZE:
            return rows


def _read_by_query(ctx: RunContext, since: datetime.datetime | None) -> dict[str, list[dict]]:
    # Queries see only live objects, and inactive customers only when asked for explicitly.
    changed = [f"MetaData.LastUpdatedTime >= '{_qbo_time(since)}'"] if since else []
    return {
        entity: _query_all(
            ctx,
            entity,
            (["Active IN (true, false)"] if entity == QboEntity.CUSTOMER else []) + changed,
        )
        for entity in PULLED
    }


def _read_changes(ctx: RunContext, since: datetime.datetime | None, started) -> dict:
    if since is None or started - since > CDC_WINDOW:
        return _read_by_query(ctx, since or ctx.connection.connected_at)
    changes = ctx.qbo(
        lambda api: client.changes_since(api, [str(e) for e in PULLED], _qbo_time(since)),
        subject=_subject("", "Changes since the last pull"),
        name="cdc",
    )
    if sum(len(rows) for rows in changes.values()) < CDC_CAP:
        return changes
    # A capped answer silently leaves out the rest. Queries page through everything live; only
    # CDC reports deletes, so its delete rows are kept.
    queried = _read_by_query(ctx, since)
    for entity, rows in changes.items():
        queried.setdefault(entity, []).extend(row for row in rows if _deleted(row))
    return queried


# --- Helpers on QuickBooks rows ------------------------------------------------------------------


def _deleted(row: dict) -> bool:
    return row.get("status") == "Deleted"


def _voided(row: dict) -> bool:
    # A voided transaction stays, with zero amounts and "Voided" before its private note.
    note = row.get("PrivateNote") or ""
    return _money(row.get("TotalAmt")) == 0 and (
        note.startswith("Voided") or row.get("TxnStatus") == "Voided"
    )


def _money(value) -> Decimal:
    return round_money(Decimal(str(value or 0)))


def _token(row: dict) -> str:
    return str(row.get("SyncToken", ""))


def _when(row: dict) -> str:
    """The day QuickBooks last changed a row, as people write it ("3 Mar")."""
    text = (row.get("MetaData") or {}).get("LastUpdatedTime", "")
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return "recently"
    return f"on {moment.day} {moment:%b}"


def _unique_by_id(rows: list[dict]) -> list[dict]:
    """One row per Id; a delete row wins (it comes after the object's last live version)."""
    by_id: dict[str, dict] = {}
    for row in rows:
        key = str(row.get("Id", ""))
        if key and not (_deleted(by_id.get(key, {})) and not _deleted(row)):
            by_id[key] = row
    return list(by_id.values())


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


def _links_by_qbo_id(ctx: RunContext, entity: str, qbo_ids: Iterable[str]) -> dict:
    """The live links of these QuickBooks ids, with their app records, in one query per chunk."""
    field = LINK_RECORD_FIELDS[QboEntity(entity)]
    links: dict[str, ExternalLink] = {}
    for chunk in _chunks(sorted(set(qbo_ids))):
        for link in ExternalLink.objects.filter(
            company=ctx.company, qbo_entity=entity, qbo_id__in=chunk, unlinked_at__isnull=True
        ).select_related(field):
            links[link.qbo_id] = link
    return links


def _guarded(ctx: RunContext, entity: str, row: dict, apply) -> None:
    """Apply one change; a row we cannot take in becomes a failed result, not a stuck pull.

    Without this, one malformed object would fail every pull and hold last_pulled_at back.
    """
    try:
        apply()
    except (ValueError, KeyError, TypeError, DatabaseError) as exc:
        ctx.record(
            Subject(
                entity=APP_ENTITY[entity],
                label=f"QuickBooks {entity} {row.get('Id')}",
                qbo_id=str(row.get("Id", "")),
                direction=Direction.INCOMING,
            ),
            SyncItemResult.Outcome.FAILED,
            code="pull_failed",
            message=f"{type(exc).__name__}: {exc}",
            explanation=f"The app could not take in a change made in QuickBooks to {entity} "
            f"{row.get('Id')}.",
            fix="Retry the sync; if it fails again, contact support with this message.",
        )


def _ours(row: dict, link: ExternalLink | None) -> bool:
    # The SyncToken QuickBooks gave our last write: nobody else has touched the object since.
    return link is not None and not _deleted(row) and _token(row) == link.sync_token


def _set_tokens(pairs: list[tuple[ExternalLink, dict]]) -> None:
    """Remember QuickBooks' SyncToken so our next update of the object is not stale (5010)."""
    for link, row in pairs:
        link.sync_token = _token(row)
    ExternalLink.objects.bulk_update([link for link, _ in pairs], ["sync_token"])


# --- Public entry points -------------------------------------------------------------------------


def pull_changes(ctx: RunContext) -> None:
    """Bring in what people changed in QuickBooks since the last pull (see the module docstring)."""
    started = timezone.now()
    since = (
        QuickBooksConnection.objects.filter(pk=ctx.connection.pk)
        .values_list("last_pulled_at", flat=True)
        .get()
    )
    changes = _read_changes(ctx, since, started)
    rows = {entity: _unique_by_id(changes.get(entity, [])) for entity in PULLED}
    _pull_customers(ctx, rows[QboEntity.CUSTOMER])
    _pull_payments(ctx, rows[QboEntity.PAYMENT])
    _pull_documents(ctx, QboEntity.INVOICE, rows[QboEntity.INVOICE])
    _pull_documents(ctx, QboEntity.CREDIT_MEMO, rows[QboEntity.CREDIT_MEMO])
    _advance_last_pulled(ctx.connection, started - SAFETY_MARGIN)


def _advance_last_pulled(connection: QuickBooksConnection, moment: datetime.datetime) -> bool:
    """Compare-and-set: only ever forwards, so a slow run can't undo a faster one's progress."""
    moved = QuickBooksConnection.objects.filter(
        Q(last_pulled_at__isnull=True) | Q(last_pulled_at__lt=moment), pk=connection.pk
    ).update(last_pulled_at=moment)
    if moved:
        connection.last_pulled_at = moment
    return bool(moved)


# --- Customers → tenants -------------------------------------------------------------------------


def _pull_customers(ctx: RunContext, rows: list[dict]) -> None:
    links = _links_by_qbo_id(ctx, QboEntity.CUSTOMER, (str(r["Id"]) for r in rows))
    pairs = [(row, links.get(str(row["Id"]))) for row in rows]
    pairs = [(row, link) for row, link in pairs if link and not _ours(row, link)]
    # A change to what the app does not keep (balance, terms, notes) needs no result.
    benign = [(link, row) for row, link in pairs if _unimportant(row, link.tenant)]
    if benign:
        _set_tokens(benign)
    todo = [(row, link) for row, link in pairs if not _unimportant(row, link.tenant)]
    if not todo:
        return
    ctx.begin(Entity.TENANT, len(todo))
    for row, link in todo:
        _guarded(
            ctx, QboEntity.CUSTOMER, row, lambda row=row, link=link: _pull_customer(ctx, row, link)
        )


def _unimportant(row: dict, tenant: Tenant) -> bool:
    return not _deleted(row) and not _tenant_changes(tenant, row)


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
    if _deleted(row):
        _raise_customer_gone(ctx, subject, row)
        return
    if _changed_in_app(tenant, link, ctx):
        _set_tokens([(link, row)])  # so the outgoing push can overwrite QuickBooks' version
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
        _set_tokens([(link, row)])
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
        explanation=f"{subject.label}'s customer was deleted or merged in QuickBooks {_when(row)}.",
        fix="Link the tenant to the customer it was merged into, or unlink it so the next sync "
        "creates a new customer.",
    )


# --- Payments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentContext:
    links: dict[str, ExternalLink]
    invoices: dict[str, Invoice]  # QuickBooks invoice id → our synced invoice
    tenants: dict[str, Tenant]  # QuickBooks customer id → linked tenant


def _pull_payments(ctx: RunContext, rows: list[dict]) -> None:
    links = _links_by_qbo_id(ctx, QboEntity.PAYMENT, (str(r["Id"]) for r in rows))
    rows = [row for row in rows if not _ours(row, links.get(str(row["Id"])))]
    known = PaymentContext(links, _invoices_of(ctx, rows), _tenants_of(ctx, rows))
    actions = [(row, _payment_action(row, known)) for row in rows]
    benign = [
        (known.links[str(row["Id"])], row)
        for row, action in actions
        if action == "token" and not _deleted(row)  # a delete row carries no SyncToken
    ]
    if benign:
        _set_tokens(benign)
    todo = [(row, action) for row, action in actions if action not in (None, "token")]
    if not todo:
        return
    ctx.begin(Entity.PAYMENT, len(todo))
    for row, action in todo:
        _guarded(
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
    links = _links_by_qbo_id(ctx, QboEntity.INVOICE, ids)
    return {qbo_id: link.invoice for qbo_id, link in links.items()}


def _tenants_of(ctx: RunContext, rows: list[dict]) -> dict[str, Tenant]:
    ids = [str((row.get("CustomerRef") or {}).get("value", "")) for row in rows]
    links = _links_by_qbo_id(ctx, QboEntity.CUSTOMER, [i for i in ids if i])
    return {qbo_id: link.tenant for qbo_id, link in links.items()}


def _payment_action(row: dict, known: PaymentContext) -> str | None:
    link = known.links.get(str(row["Id"]))
    gone = _deleted(row) or _voided(row)
    if link is None:
        # Only payments against invoices we sent concern us, and not the ones we wrote without
        # a payment link (a credit note's allocation carries our marker and moves no money).
        ours = MARKER_PREFIX in (row.get("PrivateNote") or "")
        if gone or ours or _money(row.get("TotalAmt")) <= 0:
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
            amounts[invoice] = amounts.get(invoice, Decimal(0)) + _money(line.get("Amount"))
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
    return _money(row.get("TotalAmt")) != payment.amount or incoming != allocations


def _payment_subject(row: dict, payment: Payment | None, tenant: Tenant | None) -> Subject:
    who = f" from {tenant.name}" if tenant else ""
    return Subject(
        entity=Entity.PAYMENT,
        record_id=payment.pk if payment else None,
        label=f"Payment{who} ({_money(row.get('TotalAmt'))})",
        qbo_id=str(row["Id"]),
        direction=Direction.INCOMING,
    )


def _payment_fields(row: dict) -> dict:
    method = ((row.get("PaymentMethodRef") or {}).get("name") or "").lower()
    return {
        "received_on": datetime.date.fromisoformat(str(row.get("TxnDate"))[:10]),
        "amount": _money(row.get("TotalAmt")),
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
        sync_token=_token(row),
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
        _set_tokens([(link, row)])
    subject = _payment_subject(row, payment, payment.tenant)
    ctx.record(subject, SyncItemResult.Outcome.UPDATED, message=_allocation_text(allocations))


def _void_payment(ctx: RunContext, row: dict, known: PaymentContext) -> None:
    link = known.links[str(row["Id"])]
    payment = link.payment
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(voided_at=timezone.now())
        if not _deleted(row):
            _set_tokens([(link, row)])
    how = "deleted" if _deleted(row) else "voided"
    subject = replace(
        _payment_subject(row, payment, payment.tenant),
        label=f"Payment of {payment.amount} from {payment.tenant.name}",
    )
    ctx.record(
        subject,
        SyncItemResult.Outcome.UPDATED,
        message=f"{how.capitalize()} in QuickBooks {_when(row)}; voided here too.",
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
    if _deleted(row) or _voided(row):
        kind = ISSUE_DELETED if _deleted(row) else ISSUE_VOIDED
        what = "deleted" if _deleted(row) else "voided"
        fix = "Void it here too, or unlink it so the next sync records it in QuickBooks again."
    else:
        kind, what = ISSUE_EDITED, "changed (amount or invoices paid)"
        fix = "Make the same change here, or undo it in QuickBooks."
    explanation = (
        f"{label} was {what} in QuickBooks {_when(row)}; the app still has it as recorded."
    )
    _raise_issue(ctx, subject, link, row, kind, explanation, fix)


PAYMENT_ACTIONS = {
    "create": _create_payment,
    "update": _update_payment,
    "void": _void_payment,
    "issue": _raise_payment_issue,
}


# --- Invoices and credit memos -------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str
    what: str
    detail: str = ""


def _pull_documents(ctx: RunContext, entity: str, rows: list[dict]) -> None:
    links = _links_by_qbo_id(ctx, entity, (str(r["Id"]) for r in rows))
    pairs = [(r, links[str(r["Id"])]) for r in rows if str(r["Id"]) in links]
    pairs = [(row, link) for row, link in pairs if not _ours(row, link)]
    if not pairs:
        return
    documents = _documents_with_lines(entity, [link.record.pk for _, link in pairs])
    customers = _customer_ids(ctx.company, [doc.tenant_id for doc in documents.values()])
    findings = [(row, link, _finding(row, link, documents, customers)) for row, link in pairs]
    benign = [(link, row) for row, link, finding in findings if finding is None]
    if benign:
        _set_tokens(benign)  # a payment applied in QuickBooks moves Balance and the SyncToken
    issues = [(row, link, found) for row, link, found in findings if found and found.kind]
    if issues:
        ctx.begin(APP_ENTITY[entity], len(issues))
    for row, link, finding in issues:
        _raise_document_issue(ctx, documents[link.record.pk], link, row, finding)


def _documents_with_lines(entity: str, pks: list[int]) -> dict:
    model = Invoice if entity == QboEntity.INVOICE else CreditNote
    documents = model.objects.filter(pk__in=pks).prefetch_related("lines")
    return {doc.pk: doc for doc in documents}


def _customer_ids(company, tenant_ids: list[int | None]) -> dict[int, str]:
    links = ExternalLink.objects.filter(
        company=company, qbo_entity=QboEntity.CUSTOMER, tenant_id__in=[t for t in tenant_ids if t]
    ).exclude(qbo_id="")
    return {link.tenant_id: link.qbo_id for link in links}


def _finding(row: dict, link: ExternalLink, documents: dict, customers: dict) -> Finding | None:
    """What a change made in QuickBooks means for our document; None when nothing that matters.

    An empty kind means "leave it alone, touch nothing": the document has unsent changes.
    """
    document = documents[link.record.pk]
    if _deleted(row):
        return Finding(ISSUE_DELETED, "deleted")
    if _voided(row):
        return None if document.status == Invoice.Status.VOID else Finding(ISSUE_VOIDED, "voided")
    differences = _differences(row, document, customers.get(document.tenant_id))
    if not differences:
        return None
    if link.last_synced_at and document.updated_at > link.last_synced_at:
        # Edited here too and not sent yet: QuickBooks' content can't be told apart from ours.
        # The push meets QuickBooks' newer SyncToken and reports the clash itself.
        return Finding("", "")
    return Finding(ISSUE_EDITED, "changed", " (" + "; ".join(differences) + ")")


def _differences(row: dict, document, customer_id: str | None) -> list[str]:
    """What QuickBooks now holds that differs from the document we sent."""
    found = []
    total = _money(row.get("TotalAmt"))
    if total != document.total:
        found.append(f"total {document.total} → {total}")
    if str(row.get("TxnDate", ""))[:10] != document.issue_date.isoformat():
        found.append(f"date {document.issue_date} → {row.get('TxnDate')}")
    theirs = sorted(
        _money(line.get("Amount"))
        for line in row.get("Line") or []
        if line.get("DetailType") == "SalesItemLineDetail"
    )
    if theirs != sorted(line.amount for line in document.lines.all()):
        found.append("line amounts")
    customer = str((row.get("CustomerRef") or {}).get("value", ""))
    if customer_id and customer != customer_id:
        found.append("customer")
    return found


def _raise_document_issue(ctx, document, link: ExternalLink, row: dict, finding: Finding) -> None:
    subject = Subject(
        entity=Entity.INVOICE if isinstance(document, Invoice) else Entity.CREDIT_NOTE,
        record_id=document.pk,
        label=document.number,
        qbo_id=link.qbo_id,
        direction=Direction.INCOMING,
    )
    explanation = (
        f"{document.number} was {finding.what} in QuickBooks {_when(row)}{finding.detail}; the "
        f"app still has it as {document.get_status_display().lower()}."
    )
    _raise_issue(ctx, subject, link, row, finding.kind, explanation, _fix(finding.kind))


def _fix(kind: str) -> str:
    if kind == ISSUE_VOIDED:
        return "Void it here too, or unlink it and recreate it in QuickBooks."
    if kind == ISSUE_DELETED:
        return "Void it here too, or unlink it so the next sync creates it in QuickBooks again."
    return (
        "Make the same change here, or undo it in QuickBooks. The next change saved here is "
        "sent to QuickBooks and replaces what was changed there."
    )


def _raise_issue(ctx, subject: Subject, link, row: dict, kind: str, explanation, fix) -> None:
    """An open failed result on the record, once per QuickBooks version of the object."""
    # The SyncToken names the version; a delete row has none, so the delete is its own version.
    message = f"{kind.removeprefix('qbo_').capitalize()} in QuickBooks"
    message += "" if _deleted(row) else f" (SyncToken {_token(row)})"
    if not _deleted(row):
        _set_tokens([(link, row)])  # we have seen this version; the next pull ignores it
    if _already_raised(ctx, subject, kind, message):
        return
    ctx.record(
        subject,
        SyncItemResult.Outcome.FAILED,
        code=kind,
        message=message,
        explanation=explanation,
        fix=fix,
    )


def _already_raised(ctx: RunContext, subject: Subject, kind: str, message: str) -> bool:
    return SyncItemResult.objects.filter(
        company_id=ctx.company.pk,
        entity=subject.entity,
        record_id=subject.record_id,
        direction=Direction.INCOMING,
        error_code=kind,
        message=message,
    ).exists()


# --- Reference data ------------------------------------------------------------------------------

REFERENCE_ENTITIES = [QboEntity.ACCOUNT, QboEntity.ITEM, QboEntity.TAX_CODE, QboEntity.CLASS]
# Which mappings point at which reference entity: (QuickBooks entity, link field, what it is here).
MAPPINGS = {
    QboEntity.ITEM: ("charge_code", "charge code"),
    QboEntity.TAX_CODE: ("tax_rate", "tax rate"),
    QboEntity.CLASS: ("property", "property"),
}


def pull_reference_data(ctx: RunContext) -> None:
    """Refresh accounts, items, tax codes and classes, and flag mappings that now point at an
    inactive or deleted one (each becomes an open failed result on the mapped record)."""
    entities = list(REFERENCE_ENTITIES)
    if not ctx.connection.qbo_preferences.get("class_tracking"):
        entities.remove(QboEntity.CLASS)
    # Inactive ones are read too: a mapping to one is what gets flagged.
    data = {e: _query_all(ctx, e, ["Active IN (true, false)"]) for e in entities}
    _store_references(ctx.company, data)
    _flag_mappings(ctx, data)


def _reference_name(row: dict) -> str:
    return (row.get("FullyQualifiedName") or row.get("Name") or "")[:500]


@transaction.atomic
def _store_references(company, data: dict[str, list[dict]]) -> None:
    """Upsert what was read; forget what QuickBooks no longer has. Customers are left alone."""
    now = timezone.now()
    for entity, rows in data.items():
        stored = {
            ref.qbo_id: ref
            for ref in QboReferenceRecord.objects.filter(company=company, qbo_entity=entity)
        }
        fresh = {str(row["Id"]): row for row in rows}
        for qbo_id, row in fresh.items():
            ref = stored.get(qbo_id) or QboReferenceRecord(
                company=company, qbo_entity=entity, qbo_id=qbo_id
            )
            ref.name, ref.data, ref.refreshed_at = _reference_name(row), row, now
            ref.active = row.get("Active", True) is not False
            stored[qbo_id] = ref
        QboReferenceRecord.objects.filter(company=company, qbo_entity=entity).exclude(
            qbo_id__in=list(fresh)
        ).delete()
        kept = [stored[qbo_id] for qbo_id in fresh]
        QboReferenceRecord.objects.bulk_create([ref for ref in kept if ref.pk is None])
        QboReferenceRecord.objects.bulk_update(
            [ref for ref in kept if ref.pk is not None], ["name", "active", "data", "refreshed_at"]
        )


def _broken_mappings(ctx: RunContext, data: dict) -> list[tuple[ExternalLink, str, dict | None]]:
    entities = [entity for entity in MAPPINGS if entity in data]
    links = ExternalLink.objects.filter(
        company=ctx.company, qbo_entity__in=entities, unlinked_at__isnull=True
    ).select_related(*(MAPPINGS[e][0] for e in entities))
    rows = {(entity, str(row["Id"])): row for entity in entities for row in data[entity]}
    broken = []
    for link in links:
        row = rows.get((link.qbo_entity, link.qbo_id))
        if row is None:
            broken.append((link, MAPPING_MISSING, None))
        elif row.get("Active", True) is False:
            broken.append((link, MAPPING_INACTIVE, row))
    return broken


def _flag_mappings(ctx: RunContext, data: dict) -> None:
    broken = _broken_mappings(ctx, data)
    open_flags = _open_mapping_flags(ctx)
    _resolve_fixed(
        open_flags, {(APP_ENTITY[link.qbo_entity], link.record.pk) for link, *_ in broken}
    )
    raised = {(flag.entity, flag.record_id, flag.error_code, flag.qbo_id) for flag in open_flags}
    new = [
        (link, code, row)
        for link, code, row in broken
        if (APP_ENTITY[link.qbo_entity], link.record.pk, code, link.qbo_id) not in raised
    ]
    for entity in {APP_ENTITY[link.qbo_entity] for link, *_ in new}:
        ctx.begin(entity, sum(APP_ENTITY[link.qbo_entity] == entity for link, *_ in new))
    for link, code, row in new:
        _flag_mapping(ctx, link, code, row)


def _open_mapping_flags(ctx: RunContext) -> list[SyncItemResult]:
    return list(
        SyncItemResult.objects.filter(
            company_id=ctx.company.pk,
            direction=Direction.INCOMING,
            outcome=SyncItemResult.Outcome.FAILED,
            error_code__in=[MAPPING_INACTIVE, MAPPING_MISSING],
            resolved_at__isnull=True,
        )
    )


def _resolve_fixed(open_flags: list[SyncItemResult], still_broken: set) -> None:
    """A mapping that points at a live object again closes its flag by itself."""
    fixed = [f.pk for f in open_flags if (f.entity, f.record_id) not in still_broken]
    if fixed:
        SyncItemResult.objects.filter(pk__in=fixed).update(
            resolved_at=timezone.now(), resolution=SyncItemResult.Resolution.SUPERSEDED
        )
    open_flags[:] = [f for f in open_flags if f.pk not in fixed]


def _flag_mapping(ctx: RunContext, link: ExternalLink, code: str, row: dict | None) -> None:
    _, noun = MAPPINGS[QboEntity(link.qbo_entity)]
    record = link.record
    target = f"“{_reference_name(row)}”" if row else f"with Id {link.qbo_id}"
    kind = {"Item": "product/service", "TaxCode": "tax code", "Class": "class"}[link.qbo_entity]
    state = "made inactive" if code == MAPPING_INACTIVE else "deleted"
    ctx.record(
        Subject(
            entity=APP_ENTITY[link.qbo_entity],
            record_id=record.pk,
            label=str(record),
            qbo_id=link.qbo_id,
            direction=Direction.INCOMING,
        ),
        SyncItemResult.Outcome.FAILED,
        code=code,
        message=f"Mapped {kind} {state} in QuickBooks",
        explanation=f"The {noun} {record} is mapped to the QuickBooks {kind} {target}, which was "
        f"{state} in QuickBooks. Documents using it will fail (error 610).",
        fix=f"Make the {kind} active again in QuickBooks, or map the {noun} to another one under "
        "Integrations › QuickBooks Online › Onboarding.",
    )
