"""Our invoices and credit memos edited, voided or deleted in QuickBooks: raised as issues."""

from __future__ import annotations

from dataclasses import dataclass

from companies.models import CreditNote, Invoice
from quickbooks_link.models import (
    ExternalLink,
    QboEntity,
)
from sync_engine.engine.context import RunContext, Subject
from sync_engine.engine.pull.common import (
    APP_ENTITY,
    ISSUE_DELETED,
    ISSUE_EDITED,
    ISSUE_VOIDED,
    deleted,
    links_by_qbo_id,
    money,
    ours,
    raise_issue,
    set_tokens,
    voided,
    when,
)
from sync_engine.models import Direction, Entity

# --- Invoices and credit memos -------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str
    what: str
    detail: str = ""


def pull_documents(ctx: RunContext, entity: str, rows: list[dict]) -> None:
    links = links_by_qbo_id(ctx, entity, (str(r["Id"]) for r in rows))
    pairs = [(r, links[str(r["Id"])]) for r in rows if str(r["Id"]) in links]
    pairs = [(row, link) for row, link in pairs if not ours(row, link)]
    if not pairs:
        return
    documents = _documents_with_lines(entity, [link.record.pk for _, link in pairs])
    customers = _customer_ids(ctx.company, [doc.tenant_id for doc in documents.values()])
    findings = [(row, link, _finding(row, link, documents, customers)) for row, link in pairs]
    benign = [(link, row) for row, link, finding in findings if finding is None]
    if benign:
        set_tokens(benign)  # a payment applied in QuickBooks moves Balance and the SyncToken
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
    if deleted(row):
        return Finding(ISSUE_DELETED, "deleted")
    if voided(row):
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
    total = money(row.get("TotalAmt"))
    if total != document.total:
        found.append(f"total {document.total} → {total}")
    if str(row.get("TxnDate", ""))[:10] != document.issue_date.isoformat():
        found.append(f"date {document.issue_date} → {row.get('TxnDate')}")
    theirs = sorted(
        money(line.get("Amount"))
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
        f"{document.number} was {finding.what} in QuickBooks {when(row)}{finding.detail}; the "
        f"app still has it as {document.get_status_display().lower()}."
    )
    raise_issue(ctx, subject, link, row, finding.kind, explanation, _fix(finding.kind))


def _fix(kind: str) -> str:
    if kind == ISSUE_VOIDED:
        return "Void it here too, or unlink it and recreate it in QuickBooks."
    if kind == ISSUE_DELETED:
        return "Void it here too, or unlink it so the next sync creates it in QuickBooks again."
    return (
        "Make the same change here, or undo it in QuickBooks. The next change saved here is "
        "sent to QuickBooks and replaces what was changed there."
    )
