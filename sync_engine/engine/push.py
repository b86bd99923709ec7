"""Sending app records to QuickBooks exactly once, whatever fails and whenever.

For each record (one protocol for customers, invoices, credit memos and payments):

1. Build the payload and its fingerprint. A linked record whose fingerprint matches what
   QuickBooks last accepted is skipped.
2. Creating: first write the intent (the link's pending_request_id, with a deterministic requestid
   for this version of the record) by compare-and-set, committed before any call. A link already
   pending from an earlier attempt is reconciled before anything is sent: the record is looked up
   in QuickBooks by its number or marker and adopted if it is there. A pending intent younger than
   the lease belongs to a push that may still be in flight elsewhere and is left alone.
3. Call QuickBooks with the requestid. A lost answer is retried with the same requestid, which
   QuickBooks answers from its first attempt. After a timeout nothing is retried at once (the
   first request may still be running); the lease lets the reconciliation of a later attempt
   find it.
4. Store the QuickBooks Id, SyncToken and fingerprint and clear the intent; a refusal clears the
   intent too (nothing was written) and becomes an explained item error.

Updates carry the SyncToken we last got; a 5010 (changed meanwhile) re-reads the object. If it
already holds what we are sending (our own earlier write whose answer was lost), we adopt it.
Otherwise a customer is updated again on the fresh SyncToken (the app wins), and a document is
reported as changed in QuickBooks, never silently overwritten.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from companies.models import CreditNote, Invoice, Payment, Tenant
from quickbooks_link import client
from quickbooks_link.errors import (
    QboAuthError,
    QboNotSentError,
    QboPermanentError,
    QboReconnectRequired,
    QboThrottledError,
)
from quickbooks_link.limits import Throttled
from quickbooks_link.models import ExternalLink, QboEntity
from sync_engine import explain, payloads
from sync_engine.engine.context import RunContext, Subject
from sync_engine.models import RECORD_LINKS, Entity, SyncItemResult

Outcome = SyncItemResult.Outcome


@dataclass(frozen=True)
class Kind:
    entity: str
    qbo_entity: str
    link_field: str
    build: Callable[[Model, payloads.Mappings], dict]
    label: Callable[[Model], str]
    find: Callable[[RunContext, Model, dict], dict | None]


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _find_by(ctx: RunContext, kind: Kind, record: Model, where: str) -> dict | None:
    """Look for a record we may have created already, by a key QuickBooks can query on."""
    sql = f"SELECT * FROM {kind.qbo_entity} WHERE {where}"  # noqa: S608 (values go through _quoted)
    rows = ctx.qbo(
        lambda api: client.query(api, sql),
        subject=_subject(kind, record),
        name="reconcile",
    )
    marker = payloads.record_marker(kind.entity, record.pk)
    marked = [row for row in rows if marker in (row.get("PrivateNote") or row.get("Notes") or "")]
    return (marked or rows or [None])[0] if kind.entity == Entity.TENANT else (marked or [None])[0]


def _find_customer(ctx, record, payload):
    where = f"DisplayName = {_quoted(payload['DisplayName'])} AND Active IN (true, false)"
    return _find_by(ctx, KINDS[Entity.TENANT], record, where)


def _find_document(kind_name: str):
    def find(ctx, record, payload):
        return _find_by(
            ctx, KINDS[kind_name], record, f"DocNumber = {_quoted(payload['DocNumber'])}"
        )

    return find


def _find_payment(ctx, record, payload):
    return _find_by(ctx, KINDS[Entity.PAYMENT], record, f"TxnDate = '{payload['TxnDate']}'")


def _customer(tenant: Tenant, mappings: payloads.Mappings) -> dict:
    payload = payloads.customer_payload(tenant)
    # QuickBooks refuses transactions for an inactive customer (610), so an archived tenant stays
    # active there until the documents billed to it are in; a later push deactivates it.
    if tenant.pk in mappings.keep_active:
        payload["Active"] = True
    return payload


def _kind(entity: str, build, label, find) -> Kind:
    field, qbo_entity = RECORD_LINKS[entity]
    return Kind(entity, qbo_entity, field, build, label, find)


KINDS: dict[str, Kind] = {
    Entity.TENANT: _kind(Entity.TENANT, _customer, lambda r: r.name, _find_customer),
    Entity.INVOICE: _kind(
        Entity.INVOICE, payloads.invoice_payload, lambda r: r.number, _find_document(Entity.INVOICE)
    ),
    Entity.CREDIT_NOTE: _kind(
        Entity.CREDIT_NOTE, payloads.credit_memo_payload, lambda r: r.number,
        _find_document(Entity.CREDIT_NOTE),
    ),
    Entity.PAYMENT: _kind(
        Entity.PAYMENT, payloads.payment_payload,
        lambda r: f"Payment {r.reference or r.pk} ({r.amount})", _find_payment,
    ),
}  # fmt: skip


def _subject(kind: Kind, record: Model, qbo_id: str = "") -> Subject:
    return Subject(entity=kind.entity, record_id=record.pk, label=kind.label(record), qbo_id=qbo_id)


def request_id(kind: Kind, record: Model, fingerprint: str, base: str = "") -> str:
    """Deterministic per record version (and base SyncToken), so a retry repeats the same one."""
    seed = f"{record.company_id}:{kind.entity}:{record.pk}:{fingerprint}:{base}"
    return hashlib.sha256(seed.encode()).hexdigest()[:36]  # batch ids allow 36, singles 50


def _link_for(ctx: RunContext, kind: Kind, record: Model) -> ExternalLink:
    lookup = {kind.link_field: record}
    link = ExternalLink.objects.filter(**lookup).first()
    if link is not None:
        return link
    try:
        with transaction.atomic():
            return ExternalLink.objects.create(
                company_id=record.company_id, qbo_entity=kind.qbo_entity, **lookup
            )
    except IntegrityError:  # another worker created it a moment ago
        return ExternalLink.objects.get(**lookup)


def _lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.SYNC_PENDING_LEASE)


def _claim(link: ExternalLink, rid: str, fingerprint: str) -> bool:
    """Write the intent by compare-and-set on what we saw; committed before any call."""
    won = ExternalLink.objects.filter(
        pk=link.pk, pending_request_id=link.pending_request_id, qbo_id=link.qbo_id
    ).update(pending_request_id=rid, pending_fingerprint=fingerprint, pending_since=timezone.now())
    if won:
        link.pending_request_id, link.pending_fingerprint = rid, fingerprint
    return bool(won)


def _release(link: ExternalLink) -> None:
    ExternalLink.objects.filter(pk=link.pk, pending_request_id=link.pending_request_id).update(
        pending_request_id="", pending_fingerprint="", pending_since=None
    )


def _store(link: ExternalLink, obj: dict, fingerprint: str) -> None:
    fields = {
        "qbo_id": str(obj["Id"]),
        "sync_token": str(obj.get("SyncToken", "")),
        "fingerprint": fingerprint,
        "last_synced_at": timezone.now(),
        "pending_request_id": "",
        "pending_fingerprint": "",
        "pending_since": None,
    }
    ExternalLink.objects.filter(pk=link.pk).update(**fields)
    for name, value in fields.items():
        setattr(link, name, value)


# Failures that prove QuickBooks never executed the write: refused before it was processed (401,
# 429), or never sent (access lapsed at refresh, our limiter full or unreachable). Timeouts,
# dropped connections and 5xx prove nothing, so their intent stays for a later reconciliation.
NOT_WRITTEN = (QboAuthError, QboReconnectRequired, QboThrottledError, QboNotSentError, Throttled)


def _sent(links: list[ExternalLink], operation):
    """Call QuickBooks for these claimed links; if it certainly wrote nothing, free them now."""
    try:
        return operation()
    except NOT_WRITTEN:
        for link in links:
            _release(link)
        raise


def _in_flight_elsewhere(link: ExternalLink, rid: str) -> bool:
    """A pending intent younger than the lease may still be on its way to QuickBooks.

    Whatever its requestid: a batch sent under the batch's own requestid, or a request that
    timed out while QuickBooks was still working on it, can land after we look it up, and a
    second create would then be a duplicate (the fault suite showed exactly that).
    """
    return bool(
        link.pending_request_id
        and link.pending_since
        and timezone.now() - link.pending_since < _lease()
    )


def _fail(ctx: RunContext, subject: Subject, error, *, closing_date=None) -> None:
    text = explain.explain(
        error, entity=subject.entity, label=subject.label, closing_date=closing_date
    )
    ctx.record(subject, Outcome.FAILED, error=error if isinstance(error, QboPermanentError) else None,
               code=getattr(error, "code", "") or "mapping", message=str(error),
               explanation=text.explanation, fix=text.fix)  # fmt: skip


VOIDED = "void"  # the fingerprint of a document voided in QuickBooks


def push_record(ctx: RunContext, kind: Kind, record: Model, mappings: payloads.Mappings) -> str:
    """Send one record if it changed since QuickBooks last accepted it. Returns the outcome."""
    if kind.entity == Entity.INVOICE and record.status == Invoice.Status.VOID:
        return _void(ctx, kind, record)
    if kind.entity == Entity.CREDIT_NOTE and record.status == CreditNote.Status.VOID:
        return _withdraw_credit(ctx, kind, record)
    if kind.entity == Entity.PAYMENT and record.voided_at is not None:
        return _void(ctx, kind, record)
    outcome = _push(ctx, kind, record, mappings)
    if kind.entity == Entity.CREDIT_NOTE and outcome != Outcome.FAILED:
        _allocate(ctx, kind, record, mappings)
    return outcome


def _allocate(ctx: RunContext, kind: Kind, credit: CreditNote, mappings: payloads.Mappings) -> None:
    """Apply the credit memo to its invoice (once), through the Payment QuickBooks uses for it."""
    link = ExternalLink.objects.get(credit_note=credit)
    if not link.qbo_id or link.allocation_qbo_id or credit.allocated_invoice_id is None:
        return
    subject = _subject(kind, credit, link.qbo_id)
    try:
        payload = payloads.credit_allocation_payload(credit, mappings, credit_memo_id=link.qbo_id)
        rid = request_id(kind, credit, payloads.fingerprint(payload), base="allocation")
        found = _find_allocation(ctx, kind, credit, payload)
        applied = found or ctx.qbo(
            lambda api: client.create(api, QboEntity.PAYMENT, payload, request_id=rid),
            subject=subject, name="allocate", write=True,
        )  # fmt: skip
    except (payloads.MissingMapping, QboPermanentError) as exc:
        _fail(ctx, subject, exc)
        return
    ExternalLink.objects.filter(pk=link.pk).update(
        allocation_qbo_id=str(applied["Id"]), allocation_sync_token=str(applied["SyncToken"])
    )


def _find_allocation(ctx, kind: Kind, credit: CreditNote, payload: dict) -> dict | None:
    """An allocation a crashed worker may have created already, found by its marker."""
    marker = payload["PrivateNote"]
    sql = f"SELECT * FROM Payment WHERE TxnDate = '{payload['TxnDate']}'"  # noqa: S608 (a date)
    rows = ctx.qbo(
        lambda api: client.query(api, sql), subject=_subject(kind, credit), name="reconcile"
    )
    return next((row for row in rows if row.get("PrivateNote") == marker), None)


def _push(ctx: RunContext, kind: Kind, record: Model, mappings: payloads.Mappings) -> str:
    subject = _subject(kind, record)
    try:
        payload = kind.build(record, mappings)
    except payloads.MissingMapping as exc:
        _fail(ctx, subject, exc)
        return Outcome.FAILED
    fingerprint = payloads.fingerprint(payload)
    link = _link_for(ctx, kind, record)
    if link.qbo_id and link.fingerprint == fingerprint and not link.pending_request_id:
        ctx.record(
            _subject(kind, record, link.qbo_id),
            Outcome.SKIPPED,
            message="Unchanged since the last sync.",
        )
        return Outcome.SKIPPED
    try:
        if not link.qbo_id:
            return _create(ctx, kind, record, link, payload, fingerprint)
        return _update(ctx, kind, record, link, payload, fingerprint)
    except QboPermanentError as exc:
        _release(link)
        _fail(ctx, _subject(kind, record, link.qbo_id), exc,
              closing_date=ctx.connection.qbo_preferences.get("closing_date"))  # fmt: skip
        return Outcome.FAILED


def _void(ctx: RunContext, kind: Kind, record: Invoice | Payment) -> str:
    """Void an invoice or a payment in QuickBooks too (it stays there, with zero amounts)."""
    voider = client.void_invoice if kind.entity == Entity.INVOICE else client.void_payment

    def void(link, rid, subject):
        return ctx.qbo(
            lambda api: voider(api, link.qbo_id, link.sync_token, request_id=rid),
            subject=subject, name="void", write=True,
        )  # fmt: skip

    return _once_voided(ctx, kind, record, void, message="Voided in QuickBooks.")


def _once_voided(ctx: RunContext, kind: Kind, record, operation, *, message: str) -> str:
    """Run a void-like operation once per record: its fingerprint says it was done."""
    link = _link_for(ctx, kind, record)
    subject = _subject(kind, record, link.qbo_id)
    if link.fingerprint == VOIDED:
        ctx.record(subject, Outcome.SKIPPED, message="Already void in QuickBooks.")
        return Outcome.SKIPPED
    rid = request_id(kind, record, VOIDED, base=link.sync_token)
    try:
        done = operation(link, rid, subject)
    except QboPermanentError as exc:
        _fail(ctx, subject, exc, closing_date=ctx.connection.qbo_preferences.get("closing_date"))
        return Outcome.FAILED
    _store(link, done, VOIDED)
    ctx.record(subject, Outcome.UPDATED, message=message)
    return Outcome.UPDATED


def _withdraw_credit(ctx: RunContext, kind: Kind, credit: CreditNote) -> str:
    """A voided credit note: its allocation comes off the invoice, then the credit memo goes.

    QuickBooks has no void for credit memos through the API, and refuses to delete one that a
    payment still links, so the allocation is deleted first (qbo-api.md §4).
    """

    def withdraw(link, rid, subject):
        if link.allocation_qbo_id:
            ctx.qbo(
                lambda api: client.delete(api, QboEntity.PAYMENT, link.allocation_qbo_id,
                                          link.allocation_sync_token, request_id=f"{rid[:30]}-alloc"),
                subject=subject, name="delete allocation", write=True,
            )  # fmt: skip
            ExternalLink.objects.filter(pk=link.pk).update(
                allocation_qbo_id="", allocation_sync_token=""
            )
        deleted = ctx.qbo(
            lambda api: client.delete(api, kind.qbo_entity, link.qbo_id, link.sync_token, request_id=rid),
            subject=subject, name="delete", write=True,
        )  # fmt: skip
        return {"Id": link.qbo_id, "SyncToken": link.sync_token, **deleted}

    return _once_voided(ctx, kind, credit, withdraw, message="Removed from QuickBooks (void here).")


def _create(ctx, kind: Kind, record, link, payload: dict, fingerprint: str) -> str:
    rid = request_id(kind, record, fingerprint)
    if _in_flight_elsewhere(link, rid):
        ctx.record(_subject(kind, record), Outcome.SKIPPED, message="Being sent by another sync.")
        return Outcome.SKIPPED
    if link.pending_request_id:
        # An earlier attempt may have reached QuickBooks, under this requestid or a batch's.
        # QuickBooks' replay of a requestid is best effort (qbo-api.md §3), so look first.
        found = kind.find(ctx, record, payload)
        if found is not None:  # an earlier attempt did create it: adopt it, never create twice
            _store(link, found, link.pending_fingerprint)
            if link.fingerprint != fingerprint:
                return _update(ctx, kind, record, link, payload, fingerprint)
            ctx.record(_subject(kind, record, link.qbo_id), Outcome.CREATED,
                       message="Found in QuickBooks from an earlier attempt.")  # fmt: skip
            return Outcome.CREATED
    if not _claim(link, rid, fingerprint):
        ctx.record(_subject(kind, record), Outcome.SKIPPED, message="Being sent by another sync.")
        return Outcome.SKIPPED
    created = _sent([link], lambda: ctx.qbo(
        lambda api: client.create(api, kind.qbo_entity, payload, request_id=rid),
        subject=_subject(kind, record), name="create", write=True,
    ))  # fmt: skip
    _store(link, created, fingerprint)
    ctx.record(_subject(kind, record, link.qbo_id), Outcome.CREATED)
    return Outcome.CREATED


def _update(ctx, kind: Kind, record, link, payload: dict, fingerprint: str) -> str:
    if link.fingerprint == fingerprint:
        _release(link)
        ctx.record(
            _subject(kind, record, link.qbo_id),
            Outcome.SKIPPED,
            message="Unchanged since the last sync.",
        )
        return Outcome.SKIPPED
    rid = request_id(kind, record, fingerprint, base=link.sync_token)
    # The same lease as for creates: an on-demand run and a full run never update one record at
    # once (the loser's 5010 would otherwise look like an edit made in QuickBooks).
    if _in_flight_elsewhere(link, rid) or not _claim(link, rid, fingerprint):
        ctx.record(_subject(kind, record, link.qbo_id), Outcome.SKIPPED,
                   message="Being sent by another sync.")  # fmt: skip
        return Outcome.SKIPPED
    body = {**payload, "Id": link.qbo_id, "SyncToken": link.sync_token, "sparse": False}
    try:
        updated = _sent([link], lambda: ctx.qbo(
            lambda api: client.update(api, kind.qbo_entity, body, request_id=rid),
            subject=_subject(kind, record, link.qbo_id), name="update", write=True,
        ))  # fmt: skip
    except QboPermanentError as exc:
        if exc.code != "5010":
            raise
        return _stale(ctx, kind, record, link, payload, fingerprint, exc)
    _store(link, updated, fingerprint)
    ctx.record(_subject(kind, record, link.qbo_id), Outcome.UPDATED)
    return Outcome.UPDATED


def _stale(ctx, kind: Kind, record, link, payload, fingerprint, error) -> str:
    """QuickBooks' copy changed since our last write: ours (answer lost), or someone else's."""
    current = ctx.qbo(
        lambda api: client.read(api, kind.qbo_entity, link.qbo_id),
        subject=_subject(kind, record, link.qbo_id), name="read",
    )  # fmt: skip
    if holds(payload, current):
        _store(link, current, fingerprint)
        ctx.record(_subject(kind, record, link.qbo_id), Outcome.UPDATED)
        return Outcome.UPDATED
    if kind.entity == Entity.TENANT:  # the app wins for customers: once more on the fresh token
        ExternalLink.objects.filter(pk=link.pk).update(sync_token=str(current["SyncToken"]))
        link.sync_token, link.fingerprint = str(current["SyncToken"]), ""
        return _update(ctx, kind, record, link, payload, fingerprint)
    raise error


def _same(sent, held) -> bool:
    if isinstance(sent, dict) and "value" in sent:
        return isinstance(held, dict) and str(held.get("value")) == str(sent["value"])
    if isinstance(sent, int | float) or isinstance(held, int | float):
        try:
            return round(float(sent), 2) == round(float(held), 2)
        except (TypeError, ValueError):
            return False
    return sent == held


def _line_amounts(lines: list[dict]) -> list[float]:
    return [
        round(float(line.get("Amount", 0)), 2)
        for line in lines
        if line.get("DetailType") != "SubTotalLineDetail"
    ]


def holds(payload: dict, current: dict) -> bool:
    """Whether QuickBooks' copy already holds what we are sending (our own earlier write)."""
    for key, sent in payload.items():
        if key == "Line":
            if _line_amounts(sent) != _line_amounts(current.get("Line", [])):
                return False
        elif _comparable(key, sent, current) and not _same(sent, current.get(key)):
            return False
    return True


def _comparable(key: str, sent, current: dict) -> bool:
    # References ({"value": ...}) and scalars QuickBooks echoes back; nested details are skipped.
    if isinstance(sent, dict):
        return "value" in sent
    return key in current and not isinstance(sent, list)


# ---- batches: creating many records in one request (full runs) ---------------------------------

BATCHED = {Entity.TENANT, Entity.INVOICE, Entity.CREDIT_NOTE}


@dataclass
class _Pending:
    record: Model
    link: ExternalLink
    payload: dict
    fingerprint: str
    rid: str


def push_many(ctx: RunContext, kind: Kind, records: list, mappings: payloads.Mappings) -> None:
    """Send records in a full run: new ones 30 to a batch request, the rest one by one.

    Only plain creates are batched: updates, voids, reconciliations and payments keep the
    single-record path, which handles their SyncTokens and lookups. The intents are written
    before the batch is sent, exactly as for a single create.
    """
    if kind.entity not in BATCHED:
        for record in records:
            push_record(ctx, kind, record, mappings)
        return
    waiting: list[_Pending] = []
    for record in records:
        pending = _batchable(ctx, kind, record, mappings)
        if pending is None:
            push_record(ctx, kind, record, mappings)
            continue
        if _claim(pending.link, pending.rid, pending.fingerprint):
            waiting.append(pending)
        if len(waiting) == client.BATCH_LIMIT:
            _send_batch(ctx, kind, waiting, mappings)
            waiting = []
    if waiting:
        _send_batch(ctx, kind, waiting, mappings)


def _batchable(ctx: RunContext, kind: Kind, record, mappings) -> _Pending | None:
    if kind.entity == Entity.INVOICE and record.status == Invoice.Status.VOID:
        return None
    try:
        payload = kind.build(record, mappings)
    except payloads.MissingMapping:
        return None  # the single path explains it
    link = _link_for(ctx, kind, record)
    if link.qbo_id or link.pending_request_id:
        return None
    fingerprint = payloads.fingerprint(payload)
    return _Pending(record, link, payload, fingerprint, request_id(kind, record, fingerprint))


def _send_batch(ctx: RunContext, kind: Kind, items: list[_Pending], mappings) -> None:
    requests = [
        {"bId": str(index), "operation": "create", kind.qbo_entity: item.payload}
        for index, item in enumerate(items)
    ]
    batch_rid = hashlib.sha256("|".join(i.rid for i in items).encode()).hexdigest()[:36]
    subject = Subject(entity=kind.entity, label=f"{len(items)} {kind.entity} records")
    answers = _sent([item.link for item in items], lambda: ctx.qbo(
        lambda api: client.batch(api, requests, request_id=batch_rid),
        subject=subject, name="batch create", write=True,
    ))  # fmt: skip
    by_id = {answer.get("bId"): answer for answer in answers}
    for index, item in enumerate(items):
        _batch_item_done(ctx, kind, item, by_id.get(str(index)), mappings)


def _batch_item_done(ctx: RunContext, kind: Kind, item: _Pending, answer: dict | None, mappings):
    if answer is None or ("Fault" not in answer and kind.qbo_entity not in answer):
        return  # no word on this one: its intent stays pending and a later run reconciles it
    if "Fault" in answer:
        error = client.fault_error(answer["Fault"])
        if isinstance(error, QboPermanentError):
            _release(item.link)
            _fail(ctx, _subject(kind, item.record), error,
                  closing_date=ctx.connection.qbo_preferences.get("closing_date"))  # fmt: skip
        return  # a transient fault: pending, retried (after reconciliation) by a later run
    _store(item.link, answer[kind.qbo_entity], item.fingerprint)
    ctx.record(_subject(kind, item.record, item.link.qbo_id), Outcome.CREATED)
    if kind.entity == Entity.CREDIT_NOTE:
        _allocate(ctx, kind, item.record, mappings)
