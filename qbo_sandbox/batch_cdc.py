"""Batch and Change Data Capture (qbo-api.md §1, §7; cassettes batch/basic.yml, cdc/basic.yml)."""

from __future__ import annotations

import datetime as dt

from qbo_sandbox import clock, errors, query
from qbo_sandbox.entities.base import Change, Writer
from qbo_sandbox.entities.registry import RULES
from qbo_sandbox.limits import BATCH_ITEMS
from qbo_sandbox.store import Realm

CDC_MAX_OBJECTS = 1000
CDC_LOOKBACK = dt.timedelta(days=30)
CDC_UNSUPPORTED = {"TaxCode"}  # not offered by CDC (qbo-api.md §1)


def run_batch(realm: Realm, body: dict) -> tuple[dict, list[Change]]:
    items = body.get("BatchItemRequest")
    if not isinstance(items, list) or not items:
        raise errors.required_missing("BatchItemRequest")
    if len(items) > BATCH_ITEMS:
        raise errors.QboFault(
            "2010",
            "Request has invalid or unsupported property",
            f"The batch request has {len(items)} items; a batch takes at most {BATCH_ITEMS}.",
            element="BatchItemRequest",
        )
    changes: list[Change] = []
    answers = [_batch_item(realm, item, changes) for item in items]
    return {"BatchItemResponse": answers}, changes


def _batch_item(realm: Realm, item: dict, changes: list[Change]) -> dict:
    """One item; its fault stays inside its own answer (HTTP 200 overall)."""
    bid = item.get("bId")
    try:
        if "Query" in item:
            _, result = query.run(realm, str(item["Query"]))
            return {"QueryResponse": result, "bId": bid}
        entity = next((name for name in item if name in RULES), None)
        if entity is None:
            raise errors.QboFault(
                "2010",
                "Request has invalid or unsupported property",
                "The batch item names no supported entity",
            )
        writer = Writer(realm)
        record = _batch_write(
            writer,
            entity,
            (item.get("operation") or "create").lower(),
            item[entity] or {},
            item.get("optionsData") or "",
        )
        changes.extend(writer.changes)
        return {entity: record, "bId": bid}
    except errors.QboFault as fault:
        return {"Fault": fault.fault(), "bId": bid}


def _batch_write(writer: Writer, entity: str, operation: str, body: dict, options: str) -> dict:
    rules = RULES[entity]
    if operation == "create":
        return writer.create(rules, body)
    if operation == "update":
        if "void" in options.lower():
            return writer.void(rules, body)
        return writer.update(rules, body)
    if operation == "delete":
        return writer.delete(rules, body)
    if operation == "void":
        return writer.void(rules, body)
    raise errors.QboFault(
        "2010",
        "Request has invalid or unsupported property",
        f"Unsupported batch operation: {operation}",
    )


def run_cdc(realm: Realm, params) -> dict:
    entities = [name.strip() for name in (params.get("entities") or "").split(",") if name.strip()]
    if not entities:
        raise errors.required_missing("entities")
    since = _since(realm, params.get("changedSince"))
    by_lower = {name.lower(): name for name in RULES}
    responses, budget = [], CDC_MAX_OBJECTS
    for requested in entities:
        entity = by_lower.get(requested.lower())
        if entity is None:
            raise errors.invalid_query(f"invalid context declaration: {requested}")
        if entity in CDC_UNSUPPORTED or budget <= 0:
            continue
        rows = _changed_rows(realm, entity, since)[:budget]
        budget -= len(rows)
        if rows:
            responses.append({entity: rows, "startPosition": 1, "maxResults": len(rows)})
    return {"CDCResponse": [{"QueryResponse": responses or [{}]}]}


def _since(realm: Realm, text: str | None) -> dt.datetime:
    if not text:
        raise errors.required_missing("changedSince")
    moment = clock.parse_moment(text, realm.settings.country)
    if moment is None:
        raise errors.QboFault(
            "2090", "Invalid Date", f"Invalid Date : {text}", element="changedSince"
        )
    # CDC looks back at most 30 days. The sandbox accepted a far older changedSince (cassette
    # cdc/basic.yml, qbo-api.md §7), so an older value is clamped rather than refused.
    return max(moment, realm.now() - CDC_LOOKBACK)


def _changed_rows(realm: Realm, entity: str, since: dt.datetime) -> list[dict]:
    """Changed records by LastUpdatedTime, then deleted ones (listed after active, cassette order)."""

    def updated(record: dict) -> dt.datetime:
        return dt.datetime.fromisoformat(record["MetaData"]["LastUpdatedTime"])

    active = [r for r in realm.table(entity).values() if updated(r) >= since]
    deleted = [r for r in realm.tombstones.get(entity, {}).values() if updated(r) >= since]
    return sorted(active, key=updated) + sorted(deleted, key=updated)
