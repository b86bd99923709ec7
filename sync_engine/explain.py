"""What a failed sync means and what to do about it, in words a finance admin uses (Sync Results).

One entry per QuickBooks fault code the engine meets (qbo-api.md §2 table; Intuit "Handling common
errors"), plus `MissingMapping` from payloads.py. Each names the record and, where QuickBooks says
it, the detail that matters (who edited it, the closing date, the length limit). product.md §3 asks
that the things users must avoid in QuickBooks explain themselves when they cause a failure:
duplicate account names (6240), edits in a locked period (6210), deleting paid transactions (610,
6000 "linked"), changing amounts of paid invoices (6000 "payments already applied").

Message texts matched here are the recorded/emulated ones: qbo_sandbox/errors.py, cassettes
error/validation.yml and batch/basic.yml, quickbooks-ruby fixtures.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from quickbooks_link.errors import QboError
from sync_engine.payloads import SETTINGS_PATH, MissingMapping

RECONNECT_FIX = f"A QuickBooks admin should reconnect: {SETTINGS_PATH} › Advanced › Reconnect."
ONBOARDING = f"{SETTINGS_PATH} › Complete Onboarding"
DETAIL_MAX = 300
NOUNS = {
    "account": "account",
    "item": "item",
    "tax_code": "tax code",
    "class": "class",
    "tenant": "tenant",
    "invoice": "invoice",
    "credit_note": "credit note",
    "payment": "payment",
}
# Where each QuickBooks reference is mapped (onboarding steps, quickbooks_link/onboarding.py).
MAPPING_STEPS = {
    "Customer": "Tenants and customers",
    "Item": "Charge codes and items",
    "TaxCode": "Tax rates",
    "Class": "Properties and classes",
    "Account": "Charge codes and items",
}
DETAIL_PREFIXES = re.compile(
    r"^(Business Validation Error|Object Not Found|Invalid Reference Id|Stale Object Error)\s*:\s*"
)


@dataclass(frozen=True)
class Explanation:
    explanation: str
    fix: str


@dataclass(frozen=True)
class _Case:
    error: QboError
    entity: str
    label: str
    closing_date: datetime.date | None

    @property
    def record(self) -> str:
        return f"{NOUNS.get(self.entity, self.entity.replace('_', ' '))} {self.label}"

    @property
    def record_first(self) -> str:
        """The record at the start of a sentence ("Invoice INV-1"; str.capitalize would
        lower-case the label)."""
        return self.record[:1].upper() + self.record[1:]

    @property
    def detail(self) -> str:
        """QuickBooks' own words, without its "Business Validation Error :" style prefixes."""
        text = (self.error.detail or self.error.message or "").strip()
        return DETAIL_PREFIXES.sub("", text)[:DETAIL_MAX].strip()

    def contains(self, *phrases: str) -> bool:
        text = f"{self.error.message} {self.error.detail}".lower()
        return any(phrase in text for phrase in phrases)


def _day(value: datetime.date) -> str:
    return f"{value.day} {value:%b %Y}"  # "31 Mar 2025": no ambiguity between US and UK readers


def _as_date(value: datetime.date | str | None) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _date_in(text: str) -> datetime.date | None:
    match = re.search(r"\d{4}-\d{2}-\d{2}", text)
    return _as_date(match.group()) if match else None


# ---- references: 610, 2500 ------------------------------------------------------------------------


def _object_not_found(case: _Case) -> Explanation:
    if case.contains("deleted this transaction"):
        return Explanation(
            f"The QuickBooks transaction for {case.record} (or one it is linked to) has been "
            "deleted in QuickBooks.",
            "Deleting transactions this app sent (paid ones above all) breaks the link. If it was "
            f"deleted by mistake, unlink {case.record} in Sync Results and relink it, which sends it "
            "again as a new transaction; otherwise void or delete it here too.",
        )
    return Explanation(
        f"{case.record_first} uses a customer, item or account that has been made "
        "inactive in QuickBooks.",
        "In QuickBooks, make it active again (the lists have an 'Include inactive' filter), "
        f"or map the tenant or charge code to an active one in {ONBOARDING}; then retry.",
    )


def _invalid_reference(case: _Case) -> Explanation:
    match = re.search(r"(\w+) assigned to this transaction.*?\(Id=(\w+)\)", case.detail)
    kind, qbo_id = (match.group(1), match.group(2)) if match else ("", "")
    what = f"a QuickBooks {kind.lower()} (Id {qbo_id})" if kind else "a QuickBooks record"
    step = MAPPING_STEPS.get(kind, "the step for that record")
    return Explanation(
        f"{case.record_first} refers to {what} that was deleted or does not exist.",
        f"Map it to an existing one in {ONBOARDING} › {step}, then retry.",
    )


# ---- faults in what released-sync sent: 2010, 2020, 2030, 2170 ------------------------------------


def _our_fault(case: _Case) -> Explanation:
    return Explanation(
        f"QuickBooks could not read what released-sync sent for {case.record} "
        f"({case.detail or case.error.message}). This is a fault in released-sync, not in your data.",
        f"Retrying will not help. Contact support with error code {case.error.code} and "
        f"{case.record}.",
    )


def _required_missing(case: _Case) -> Explanation:
    match = re.search(r"Required parameter (\S+) is missing", case.detail)
    field = match.group(1) if match else "a required field"
    return Explanation(
        f"QuickBooks needs {field} on {case.record} and none was sent.",
        f"Check that {case.record} is complete (a tenant, at least one line); if it is, contact "
        f"support with error code {case.error.code}.",
    )


LENGTH_HINTS = {
    21: "the document number or the payment reference (21 characters at most)",
    100: "a name (100 characters at most)",
    1000: "the memo (1000 characters at most)",
    4000: "a line description or the private note (4000 characters at most)",
}


def _too_long(case: _Case) -> Explanation:
    match = re.search(r"exceeds (\d+)", case.detail)
    limit = int(match.group(1)) if match else None
    what = LENGTH_HINTS.get(limit, f"a field ({limit} characters at most)" if limit else "a field")
    return Explanation(
        f"Some text on {case.record} is longer than QuickBooks allows: check {what}.",
        f"Shorten it on {case.record} and save; it is sent again on the next sync.",
    )


# ---- conflicts and business rules: 5010, 6000, 6140 ----------------------------------------------


def _stale(case: _Case) -> Explanation:
    match = re.search(r"You and (.+?) were working on this at the same time", case.detail)
    who = match.group(1) if match else "someone"
    return Explanation(
        f"{who} changed {case.record} in QuickBooks while released-sync was sending its version, "
        "so QuickBooks kept their change and refused ours.",
        f"Open it in QuickBooks to see what changed. If the app's version is right, retry and it "
        f"is sent again over the QuickBooks edit; if not, make the same change to {case.record} "
        "here first.",
    )


def _business_rule(case: _Case) -> Explanation:
    if case.contains("payments already applied", "credit used"):
        return Explanation(
            f"{case.record_first} has payments or credits applied in QuickBooks, and the "
            "new total is less than what has already been applied.",
            "Changing the amount of a paid invoice is not allowed. Unapply or reduce the payment "
            "in QuickBooks first, or issue a credit note here instead of lowering the invoice.",
        )
    if case.contains("linked to other transactions"):
        return Explanation(
            f"{case.record_first} has a payment or credit applied to it in QuickBooks, so "
            "it cannot be deleted.",
            "Deleting paid transactions is not allowed: remove or void the payment or credit "
            "first (in the app if it came from here, in QuickBooks otherwise), then retry.",
        )
    if case.contains("more than its open balance"):
        return Explanation(
            f"{case.record_first} applies more to an invoice than the invoice still owes "
            "in QuickBooks (it may have been paid or credited there).",
            "Compare the invoice's payments here and in QuickBooks, correct the allocation, "
            "then retry.",
        )
    return Explanation(
        f"QuickBooks refused {case.record}: {case.detail or case.error.message}",
        f"Correct what QuickBooks describes on {case.record} (or in QuickBooks, if the problem "
        "is there), then retry.",
    )


def _duplicate_number(case: _Case) -> Explanation:
    return Explanation(
        f"Another transaction in QuickBooks already uses the number of {case.record}, and "
        "QuickBooks is set to warn about duplicate numbers.",
        "If that transaction is this same one sent before, link it from Sync Results instead. "
        "Otherwise renumber the other one in QuickBooks, or turn off 'Warn if duplicate number "
        "is used' (Account and settings › Advanced); then retry.",
    )


# ---- company-wide: 6190, 6210, 6240, 6540, 120, 3100 ---------------------------------------------


def _subscription(case: _Case) -> Explanation:
    return Explanation(
        "The QuickBooks company's subscription has ended or has a billing problem, so QuickBooks "
        f"accepts no changes, including {case.record}.",
        "Ask the QuickBooks account owner to settle billing (Settings › Billing & subscription). "
        "Nothing is lost: pending records go out on the next sync.",
    )


def _period_closed(case: _Case) -> Explanation:
    closing = case.closing_date or _date_in(f"{case.error.message} {case.error.detail}")
    if closing is None:
        return Explanation(
            f"The books in QuickBooks are closed for the period that includes {case.record}.",
            "Reopen the period in QuickBooks (Account and settings › Advanced › Close the books) "
            f"or change the date of {case.record} to after the closing date; then retry.",
        )
    return Explanation(
        f"The books are closed up to {_day(closing)}; {case.record} is dated on or before "
        "that, so QuickBooks will not change it.",
        f"Reopen the period in QuickBooks or change the date of {case.record} to after "
        f"{_day(closing)}; then retry.",
    )


def _duplicate_name(case: _Case) -> Explanation:
    if case.entity in ("account", "item", "class"):
        return Explanation(
            f"QuickBooks already has another {NOUNS[case.entity]} named {case.label}.",
            f"Give each {NOUNS[case.entity]} a unique name in QuickBooks (duplicate names cause "
            "this), then retry.",
        )
    return Explanation(
        f'The name "{case.label}" is already used by another customer, vendor or employee in '
        "QuickBooks; names must be unique across all three.",
        f"If it is the same person, link the tenant to that customer in {ONBOARDING} › Tenants "
        "and customers. Otherwise rename the tenant here (for example add the unit) or the "
        "other record in QuickBooks; then retry.",
    )


def _deposited(case: _Case) -> Explanation:
    return Explanation(
        f"{case.record_first} is part of a bank deposit in QuickBooks, so it can no "
        "longer be changed.",
        "In QuickBooks, open the deposit and take this payment out, retry the sync, then add it "
        "back to the deposit.",
    )


def _lost_authorization(case: _Case) -> Explanation:
    return Explanation(
        "The person who connected QuickBooks is no longer an admin of the QuickBooks company, or "
        f"the app's access was withdrawn, so nothing can be sent (including {case.record}).",
        RECONNECT_FIX,
    )


# ---- fallbacks by kind ----------------------------------------------------------------------------


def _default(case: _Case) -> Explanation:
    if case.error.kind == "transient":
        return Explanation(
            f"QuickBooks was busy or unreachable while sending {case.record}.",
            "Nothing to do: it is retried automatically. If it persists for hours, check "
            "status.developer.intuit.com.",
        )
    if case.error.kind in ("auth", "reconnect"):
        return _lost_authorization(case)
    code = f" (error code {case.error.code})" if case.error.code else ""
    return Explanation(
        f"QuickBooks refused {case.record}{code}: {case.detail or case.error.message}",
        f"Correct {case.record} as the message says, here or in QuickBooks, then retry. If it "
        f"keeps failing, contact support with the error code and {case.record}.",
    )


HANDLERS: dict[str, Callable[[_Case], Explanation]] = {
    "120": _lost_authorization,
    "3100": _lost_authorization,
    "610": _object_not_found,
    "2010": _our_fault,
    "2020": _required_missing,
    "2030": _our_fault,
    "2050": _too_long,
    "2170": _our_fault,
    "2500": _invalid_reference,
    "5010": _stale,
    "6000": _business_rule,
    "6140": _duplicate_number,
    "6190": _subscription,
    "6210": _period_closed,
    "6240": _duplicate_name,
    "6540": _deposited,
}


def explain(
    error: QboError | MissingMapping,
    *,
    entity: str,
    label: str,
    closing_date: datetime.date | str | None = None,
) -> Explanation:
    """The plain explanation and fix for one failed record.

    `entity` is a sync_engine.models.Entity value, `label` the record as people know it (invoice
    number, tenant name). `closing_date` is the connection's book-close date
    (qbo_preferences["closing_date"]), used for 6210 since QuickBooks' message omits it.
    """
    if isinstance(error, MissingMapping):
        return Explanation(error.explanation, error.fix)
    case = _Case(error=error, entity=entity, label=label, closing_date=_as_date(closing_date))
    return HANDLERS.get(str(error.code), _default)(case)
