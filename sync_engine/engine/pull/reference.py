"""Reference data (accounts, items, tax codes, classes), and mappings that stopped working."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from quickbooks_link.models import (
    ExternalLink,
    QboEntity,
    QboReferenceRecord,
)
from sync_engine.engine.context import RunContext, Subject
from sync_engine.engine.pull.common import (
    APP_ENTITY,
    MAPPING_INACTIVE,
    MAPPING_MISSING,
    query_all,
)
from sync_engine.models import Direction, SyncItemResult

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
    data = {e: query_all(ctx, e, ["Active IN (true, false)"]) for e in entities}
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
