"""The JSON bodies QuickBooks Online accepts for our records, and a fingerprint of each.

Pure: no database writes, no HTTP. Everything the payloads reference in QuickBooks comes from one
`Mappings`, built once per run by the engine, so building a payload makes no queries as long as the
engine prefetches what is read here: `lines` (with `charge_code` and `tax_rate` for error messages)
for invoices and credit notes, `allocations` for payments. A missing mapping is a permanent,
explainable problem (`MissingMapping`); it only touches related rows to name them in the message.

Bodies are for create and full update (qbo-api.md §4: a full update replaces every writable field).
They never hold `Id`/`SyncToken`: the engine adds those for updates. They hold only the app's lines;
QuickBooks appends the SubTotalLineDetail line itself (cassette create/invoice.yml). Money goes out
as JSON numbers made from Decimals quantized to cents, as the recorded requests send them
(`"Amount":100.0`, cassette create/invoice.yml).

Tax (qbo-api.md §4 TaxCode; Intuit "Manage sales tax for US locales" and "…non-US locales"):
- US realms mark each line taxable or not with the pseudo codes "TAX"/"NON"; the rate is chosen once
  per transaction by `TxnTaxDetail.TxnTaxCodeRef` (a tax group). A tax rate mapped to "TAX"/"NON"
  puts that code on the line; one mapped to a tax group id puts "TAX" on the line and the group in
  `TxnTaxCodeRef`. We always send `TxnTaxDetail.TotalTax` = the app's `tax_total`, because the app's
  tax (rounded per line, `companies.services.document_totals_refresh`) is the amount the tenant was
  billed and QuickBooks must agree with it. Intuit documents that an explicit tax amount is honoured
  and prorated across the rates of the tax code (blog "Using QuickBooks Online API for automated
  sales tax", 2017-12-11); for companies on manual (non-automated) sales tax the same override with
  a `TxnTaxCodeRef` is what the Intuit sample invoice shows (TotalTax 26.82, TxnTaxCodeRef "2").
  Limits: (1) a US transaction has one tax group, so an invoice whose lines carry different non-zero
  rates reports all its tax under the first line's group (amounts stay right, the tax-agency split
  does not); (2) a realm with sales tax switched off ignores TxnTaxDetail, so TotalAmt there is the
  subtotal; (3) the local qbo_sandbox does not emulate US sales tax at all (qbo_sandbox/entities/
  tax.py answers TotalTax 0 for every US form), so against it a taxed US invoice's TotalAmt is its
  subtotal. The engine should compare the TotalAmt QuickBooks answers with `document.total` and
  report a mismatch rather than trust either side blindly.
- UK/AU realms need a tax code on every line (the sandbox refuses a line without one, as QBO does:
  "Make sure all your transactions have a VAT rate") and `GlobalTaxCalculation`; we send
  "TaxExcluded" since app amounts exclude tax, and let QuickBooks compute the tax from the codes.
  Limit: QuickBooks rounds tax per code, the app per line, so an invoice with several lines under
  one code can differ by a cent (product.md §9 "tax rounding"); overriding would need TaxRate ids
  per TaxLine, which `Mappings` does not hold.

Quantities and unit prices go as given; `Amount` is the app's line amount, Qty * UnitPrice rounded
half up to cents. QuickBooks validates Amount against Qty * UnitPrice; that it rounds the same way
for three-decimal quantities is assumed, not verified against real QBO (the sandbox takes Amount).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from companies.models import CreditNote, Document, DocumentLine, Invoice, Payment, Tenant
from quickbooks_link.onboarding import STEP_TITLES
from sync_engine.models import Entity

CENT = Decimal("0.01")
US_PSEUDO_TAX_CODES = frozenset({"TAX", "NON"})
# Intuit's entity reference pages give PaymentRefNum max 21 chars and Customer Notes max 2000
# (from memory of the official pages; the scraped copies cited in qbo-api.md omit the limits).
PAYMENT_REF_MAX = 21
CUSTOMER_NOTES_MAX = 2000
ADDRESS_LINES_MAX = 5  # PhysicalAddress has Line1..Line5
MARKER_PREFIX = "released-sync"
SETTINGS_PATH = "Settings › Manage Integrations & Add-ons › QuickBooks Online › View details"


@dataclass(frozen=True)
class Mappings:
    """What each app record is in QuickBooks, read once per run (so payloads make no queries)."""

    customers: Mapping[int, str]  # tenant id -> QBO Customer Id
    items: Mapping[int, str]  # charge code id -> QBO Item Id
    tax_codes: Mapping[int, str]  # tax rate id -> QBO TaxCode Id ("TAX"/"NON" or a group, US)
    classes: Mapping[int, str]  # property id -> QBO Class Id (absent: no class)
    invoices: Mapping[int, str]  # invoice id -> QBO Invoice Id
    country: str  # realm country "US"/"UK"/"AU"
    class_tracking: bool
    keep_active: frozenset[int] = frozenset()  # archived tenants with documents still to send


class MissingMapping(Exception):
    """A record refers to something with no QuickBooks counterpart; retrying cannot help."""

    def __init__(self, explanation: str, fix: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.fix = fix


def _onboarding_fix(step: str) -> str:
    return f"Map it in {SETTINGS_PATH} › Complete Onboarding › {STEP_TITLES[step]}, then retry."


# ---- small converters ---------------------------------------------------------------------------


def money(value: Decimal) -> float:
    """A JSON number exact to the cent (float of a quantized Decimal round-trips exactly)."""
    return float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def _quantity(value: Decimal) -> float:
    return float(Decimal(value).normalize())


def _ref(value: str) -> dict:
    return {"value": str(value)}


def record_marker(entity: str, record_id: int) -> str:
    """The tag that finds a record again in QuickBooks after a crash, e.g. "released-sync invoice 7".

    It goes in PrivateNote (Notes for customers). Neither field is filterable in QBO queries
    (Intuit entity reference), so reconciliation queries by a filterable field (DocNumber,
    CustomerRef, TxnDate, DisplayName) and compares the marker client-side, as a whole line.
    """
    if entity not in Entity.values:
        raise ValueError(f"Unknown entity {entity!r}; expected one of {Entity.values}")
    return f"{MARKER_PREFIX} {entity} {record_id}"


# ---- customers ----------------------------------------------------------------------------------


def _address(text: str) -> dict:
    lines = [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]
    head, tail = lines[: ADDRESS_LINES_MAX - 1], lines[ADDRESS_LINES_MAX - 1 :]
    if tail:
        head.append(", ".join(tail))  # keep every word rather than drop what has no line left
    return {f"Line{number}": line for number, line in enumerate(head, start=1)}


def customer_payload(tenant: Tenant) -> dict:
    """A QBO Customer for a tenant. DisplayName must be unique across customers, vendors and
    employees (qbo-api.md §4 Customer; 6240 otherwise); archiving deactivates (Active false)."""
    payload: dict[str, Any] = {
        "DisplayName": tenant.name,
        "Active": tenant.archived_at is None,
        "Notes": record_marker(Entity.TENANT, tenant.pk)[:CUSTOMER_NOTES_MAX],
    }
    if tenant.email:
        payload["PrimaryEmailAddr"] = {"Address": tenant.email}
    if tenant.phone:
        payload["PrimaryPhone"] = {"FreeFormNumber": tenant.phone}
    if tenant.billing_address.strip():
        payload["BillAddr"] = _address(tenant.billing_address)
    return payload


# ---- lookups that explain themselves ------------------------------------------------------------


def _customer_id(tenant_id: int | None, document_label: str, mappings: Mappings) -> str:
    if tenant_id in mappings.customers:
        return mappings.customers[tenant_id]
    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None
    who = f"Tenant {tenant.name}" if tenant else "The tenant"
    raise MissingMapping(
        f"{who} on {document_label} is not linked to a QuickBooks customer.",
        f"Link the tenant in {SETTINGS_PATH} › Complete Onboarding › {STEP_TITLES['tenants']}, "
        "or sync the tenant first, then retry.",
    )


def _item_id(line: DocumentLine, mappings: Mappings) -> str:
    if line.charge_code_id in mappings.items:
        return mappings.items[line.charge_code_id]
    raise MissingMapping(
        f"Charge code {line.charge_code} is not mapped to a QuickBooks item.",
        _onboarding_fix("items"),
    )


def _tax_code_id(line: DocumentLine, mappings: Mappings) -> str:
    if line.tax_rate_id in mappings.tax_codes:
        return mappings.tax_codes[line.tax_rate_id]
    raise MissingMapping(
        f"Tax rate {line.tax_rate} is not mapped to a QuickBooks tax code.",
        _onboarding_fix("tax"),
    )


def _untaxed_line_code(line: DocumentLine, document_label: str, mappings: Mappings) -> str:
    if mappings.country == "US":
        return "NON"
    raise MissingMapping(
        f"A {line.charge_code} line on {document_label} has no tax rate, and QuickBooks "
        f"({mappings.country}) needs a tax code on every line.",
        "Give the line a tax rate (a zero-rated or exempt one if no tax is due), then retry.",
    )


def _line_tax_code(line: DocumentLine, document_label: str, mappings: Mappings) -> str:
    if line.tax_rate_id is None:
        return _untaxed_line_code(line, document_label, mappings)
    code = _tax_code_id(line, mappings)
    if mappings.country == "US" and code not in US_PSEUDO_TAX_CODES:
        return "TAX"  # the mapped tax group goes in TxnTaxCodeRef (see _us_tax_detail)
    return code


# ---- sales forms (Invoice, CreditMemo) ----------------------------------------------------------


def _class_ref(document: Document, mappings: Mappings) -> dict | None:
    if not mappings.class_tracking or document.property_id not in mappings.classes:
        return None
    return _ref(mappings.classes[document.property_id])


def _sales_line(line: DocumentLine, document: Document, label: str, mappings: Mappings) -> dict:
    detail: dict[str, Any] = {
        "ItemRef": _ref(_item_id(line, mappings)),
        "Qty": _quantity(line.quantity),
        "UnitPrice": money(line.unit_amount),
        "TaxCodeRef": _ref(_line_tax_code(line, label, mappings)),
    }
    class_ref = _class_ref(document, mappings)
    if class_ref:
        detail["ClassRef"] = class_ref
    payload = {
        "DetailType": "SalesItemLineDetail",
        "Amount": money(line.amount),
        "SalesItemLineDetail": detail,
    }
    if line.description:
        payload["Description"] = line.description
    return payload


def _us_tax_group(lines: Iterable[DocumentLine], mappings: Mappings) -> str | None:
    for line in lines:
        code = mappings.tax_codes.get(line.tax_rate_id) if line.tax_rate_id else None
        if code and code not in US_PSEUDO_TAX_CODES:
            return code  # one group per US transaction: the first one wins (module docstring)
    return None


def _tax_fields(document: Document, lines: list[DocumentLine], mappings: Mappings) -> dict:
    if mappings.country != "US":
        # Required outside the US (Intuit Invoice reference); app amounts exclude tax.
        return {"GlobalTaxCalculation": "TaxExcluded"}
    detail: dict[str, Any] = {"TotalTax": money(document.tax_total)}
    group = _us_tax_group(lines, mappings)
    if group:
        detail["TxnTaxCodeRef"] = _ref(group)
    return {"TxnTaxDetail": detail}


def _sales_form(document: Document, entity: str, label: str, mappings: Mappings) -> dict:
    lines = list(document.lines.all())
    payload: dict[str, Any] = {
        "DocNumber": document.number,
        "TxnDate": document.issue_date.isoformat(),
        "CustomerRef": _ref(_customer_id(document.tenant_id, label, mappings)),
        "CurrencyRef": _ref(document.currency),
        "PrivateNote": record_marker(entity, document.pk),
        "Line": [_sales_line(line, document, label, mappings) for line in lines],
        **_tax_fields(document, lines, mappings),
    }
    if document.memo:
        payload["CustomerMemo"] = {"value": document.memo}
    class_ref = _class_ref(document, mappings)
    if class_ref:
        payload["ClassRef"] = class_ref
    return payload


def invoice_payload(invoice: Invoice, mappings: Mappings) -> dict:
    """A QBO Invoice whose TotalAmt is `invoice.total` (see the module docstring for tax)."""
    payload = _sales_form(invoice, Entity.INVOICE, f"invoice {invoice.number}", mappings)
    payload["DueDate"] = invoice.due_date.isoformat()
    return payload


def credit_memo_payload(credit_note: CreditNote, mappings: Mappings) -> dict:
    """A QBO CreditMemo for a credit note. It carries no allocation: QuickBooks has no field on a
    CreditMemo that applies it to an invoice. See `credit_allocation_payload` for that."""
    label = f"credit note {credit_note.number}"
    return _sales_form(credit_note, Entity.CREDIT_NOTE, label, mappings)


def _invoice_id(invoice_id: int, mappings: Mappings, what: str) -> str:
    if invoice_id in mappings.invoices:
        return mappings.invoices[invoice_id]
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    number = invoice.number if invoice else f"#{invoice_id}"
    raise MissingMapping(
        f"{what} is allocated to invoice {number}, which is not in QuickBooks yet.",
        f"Fix and sync invoice {number} first (see its own sync result), then retry.",
    )


def credit_allocation_payload(
    credit_note: CreditNote, mappings: Mappings, *, credit_memo_id: str
) -> dict | None:
    """The Payment that applies a synced credit memo to its allocated invoice, or None.

    A CreditMemo has no field that applies it; a Payment "can be linked to multiple Invoices or
    Credit Memos" (Intuit Payment reference). With TotalAmt 0 and one line per side, each for the
    credited amount, no cash moves: the invoice is paid by the credit (the sandbox models this,
    qbo_sandbox/entities/payments.py; test_it_applies_a_credit_memo_to_an_invoice). The engine:
    1. creates this Payment after the CreditMemo (it needs its Id), with its own requestid;
    2. updates or deletes this Payment, not the CreditMemo, when the allocation changes;
    3. deletes it before deleting or voiding the CreditMemo or the invoice (qbo-api.md §4 Invoice:
       linked transactions must be unlinked first).
    The app allocates a credit note in full (companies.models.CreditNote): the amount is its total.
    """
    if credit_note.allocated_invoice_id is None:
        return None
    label = f"credit note {credit_note.number}"
    what = f"Credit note {credit_note.number}"
    invoice_id = _invoice_id(credit_note.allocated_invoice_id, mappings, what)
    amount = money(credit_note.total)
    return {
        "TotalAmt": 0.0,
        "CustomerRef": _ref(_customer_id(credit_note.tenant_id, label, mappings)),
        "TxnDate": credit_note.issue_date.isoformat(),
        "PrivateNote": f"{record_marker(Entity.CREDIT_NOTE, credit_note.pk)} allocation",
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]},
            {"Amount": amount, "LinkedTxn": [{"TxnId": credit_memo_id, "TxnType": "CreditMemo"}]},
        ],
    }


# ---- payments -----------------------------------------------------------------------------------


def _payment_note(payment: Payment) -> str:
    marker = record_marker(Entity.PAYMENT, payment.pk)
    if len(payment.reference) > PAYMENT_REF_MAX:
        return f"{marker}\nReference: {payment.reference}"  # PaymentRefNum keeps only 21 chars
    return marker


def payment_payload(payment: Payment, mappings: Mappings) -> dict:
    """A QBO Payment with one line per allocation, each linked to its invoice (qbo-api.md §4
    Payment). What is not allocated stays unapplied credit in QuickBooks (UnappliedAmt)."""
    label = f"payment of {payment.amount} on {payment.received_on.isoformat()}"
    what = f"The {label}"
    payload: dict[str, Any] = {
        "TotalAmt": money(payment.amount),
        "CustomerRef": _ref(_customer_id(payment.tenant_id, label, mappings)),
        "TxnDate": payment.received_on.isoformat(),
        "CurrencyRef": _ref(payment.currency),
        "PrivateNote": _payment_note(payment),
        "Line": [
            {
                "Amount": money(allocation.amount),
                "LinkedTxn": [
                    {
                        "TxnId": _invoice_id(allocation.invoice_id, mappings, what),
                        "TxnType": "Invoice",
                    }
                ],
            }
            for allocation in payment.allocations.all()
        ],
    }
    if payment.reference:
        payload["PaymentRefNum"] = payment.reference[:PAYMENT_REF_MAX]
    return payload


# ---- fingerprint --------------------------------------------------------------------------------


def _canonical(value: object) -> object:
    """Numbers as text so 1200, 1200.0 and Decimal("1200.00") hash alike; cents kept as 2 places."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if number == number.quantize(CENT):
            return f"{number.quantize(CENT):f}"
        return f"{number.normalize():f}"  # e.g. a 3-decimal quantity keeps its precision
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    raise TypeError(f"Cannot fingerprint {type(value).__name__}")


def fingerprint(payload: dict) -> str:
    """sha256 of the canonical JSON (sorted keys): equal payloads, equal fingerprints."""
    text = json.dumps(
        _canonical(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
