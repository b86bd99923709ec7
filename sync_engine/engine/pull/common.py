"""Reading changes from QuickBooks, and small helpers on what comes back."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.db import DatabaseError

from companies.models import round_money
from quickbooks_link import client
from quickbooks_link.models import (
    LINK_RECORD_FIELDS,
    ExternalLink,
    QboEntity,
)
from sync_engine.engine.context import RunContext, Subject
from sync_engine.models import Direction, Entity, SyncItemResult

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


def subject(qbo_entity: str, label: str) -> Subject:
    return Subject(entity=APP_ENTITY.get(qbo_entity, ""), label=label, direction=Direction.INCOMING)


def qbo_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def query_all(ctx: RunContext, entity: str, conditions: Iterable[str] = ()) -> list[dict]:
    """Every row of a query, page by page (QuickBooks answers at most 1000 rows a query)."""
    where = " AND ".join(conditions)
    # Entity names and conditions are built here from constants and our own timestamps.
    base = f"SELECT * FROM {entity}" + (f" WHERE {where}" if where else "")  # noqa: S608
    rows: list[dict] = []
    while True:
        sql = f"{base} STARTPOSITION {len(rows) + 1} MAXRESULTS {PAGE_SIZE}"
        page = ctx.qbo(
            lambda api, sql=sql: client.query(api, sql),
            subject=subject(entity, f"{entity} list"),
            name="query",
        )
        rows.extend(page)
        if len(page) < PAGE_SIZE:
            return rows


def read_by_query(ctx: RunContext, since: datetime.datetime | None) -> dict[str, list[dict]]:
    # Queries see only live objects, and inactive customers only when asked for explicitly.
    changed = [f"MetaData.LastUpdatedTime >= '{qbo_time(since)}'"] if since else []
    return {
        entity: query_all(
            ctx,
            entity,
            (["Active IN (true, false)"] if entity == QboEntity.CUSTOMER else []) + changed,
        )
        for entity in PULLED
    }


def read_changes(ctx: RunContext, since: datetime.datetime | None, started) -> dict:
    if since is None or started - since > CDC_WINDOW:
        return read_by_query(ctx, since or ctx.connection.connected_at)
    changes = ctx.qbo(
        lambda api: client.changes_since(api, [str(e) for e in PULLED], qbo_time(since)),
        subject=subject("", "Changes since the last pull"),
        name="cdc",
    )
    if sum(len(rows) for rows in changes.values()) < CDC_CAP:
        return changes
    # A capped answer silently leaves out the rest. Queries page through everything live; only
    # CDC reports deletes, so its delete rows are kept.
    queried = read_by_query(ctx, since)
    for entity, rows in changes.items():
        queried.setdefault(entity, []).extend(row for row in rows if deleted(row))
    return queried


# --- Helpers on QuickBooks rows ------------------------------------------------------------------


def deleted(row: dict) -> bool:
    return row.get("status") == "Deleted"


def voided(row: dict) -> bool:
    # A voided transaction stays, with zero amounts and "Voided" before its private note.
    note = row.get("PrivateNote") or ""
    return money(row.get("TotalAmt")) == 0 and (
        note.startswith("Voided") or row.get("TxnStatus") == "Voided"
    )


def money(value) -> Decimal:
    return round_money(Decimal(str(value or 0)))


def token(row: dict) -> str:
    return str(row.get("SyncToken", ""))


def when(row: dict) -> str:
    """The day QuickBooks last changed a row, as people write it ("3 Mar")."""
    text = (row.get("MetaData") or {}).get("LastUpdatedTime", "")
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return "recently"
    return f"on {moment.day} {moment:%b}"


def unique_by_id(rows: list[dict]) -> list[dict]:
    """One row per Id; a delete row wins (it comes after the object's last live version)."""
    by_id: dict[str, dict] = {}
    for row in rows:
        key = str(row.get("Id", ""))
        if key and not (deleted(by_id.get(key, {})) and not deleted(row)):
            by_id[key] = row
    return list(by_id.values())


def chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


def links_by_qbo_id(ctx: RunContext, entity: str, qbo_ids: Iterable[str]) -> dict:
    """The live links of these QuickBooks ids, with their app records, in one query per chunk."""
    field = LINK_RECORD_FIELDS[QboEntity(entity)]
    links: dict[str, ExternalLink] = {}
    for chunk in chunks(sorted(set(qbo_ids))):
        for link in ExternalLink.objects.filter(
            company=ctx.company, qbo_entity=entity, qbo_id__in=chunk, unlinked_at__isnull=True
        ).select_related(field):
            links[link.qbo_id] = link
    return links


def guarded(ctx: RunContext, entity: str, row: dict, apply) -> None:
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


def ours(row: dict, link: ExternalLink | None) -> bool:
    # The SyncToken QuickBooks gave our last write: nobody else has touched the object since.
    return link is not None and not deleted(row) and token(row) == link.sync_token


def set_tokens(pairs: list[tuple[ExternalLink, dict]]) -> None:
    """Remember QuickBooks' SyncToken so our next update of the object is not stale (5010)."""
    for link, row in pairs:
        link.sync_token = token(row)
    ExternalLink.objects.bulk_update([link for link, _ in pairs], ["sync_token"])


def raise_issue(ctx, subject: Subject, link, row: dict, kind: str, explanation, fix) -> None:
    """An open failed result on the record, once per QuickBooks version of the object."""
    # The SyncToken names the version; a delete row has none, so the delete is its own version.
    message = f"{kind.removeprefix('qbo_').capitalize()} in QuickBooks"
    message += "" if deleted(row) else f" (SyncToken {token(row)})"
    if not deleted(row):
        set_tokens([(link, row)])  # we have seen this version; the next pull ignores it
    if already_raised(ctx, subject, kind, message):
        return
    ctx.record(
        subject,
        SyncItemResult.Outcome.FAILED,
        code=kind,
        message=message,
        explanation=explanation,
        fix=fix,
    )


def already_raised(ctx: RunContext, subject: Subject, kind: str, message: str) -> bool:
    return SyncItemResult.objects.filter(
        company_id=ctx.company.pk,
        entity=subject.entity,
        record_id=subject.record_id,
        direction=Direction.INCOMING,
        error_code=kind,
        message=message,
    ).exists()
