"""Payment: lines link to invoices and credit memos and move their balances (qbo-api.md §4).

A payment line `{"Amount": 40, "LinkedTxn": [{"TxnId": "12", "TxnType": "Invoice"}]}` reduces that
invoice's Balance by 40 and lists the payment in the invoice's LinkedTxn; a line linking a CreditMemo
uses that much of its RemainingCredit. Void is a sparse update with `include=void` (qbo-api.md §4).
"""

from __future__ import annotations

from qbo_sandbox import errors
from qbo_sandbox.entities.base import Change, EntityRules, touch
from qbo_sandbox.entities.common import add, home_currency, money, resolve_ref
from qbo_sandbox.entities.sales import check_closing_date, txn_date
from qbo_sandbox.store import Realm

LINKABLE = ("Invoice", "CreditMemo")


class PaymentRules(EntityRules):
    name = "Payment"
    kind = "txn"
    can_delete = True
    can_void = True
    known = frozenset(
        {
            "ARAccountRef",
            "CreditCardPayment",
            "CurrencyRef",
            "CustomerRef",
            "DepositToAccountRef",
            "ExchangeRate",
            "Line",
            "PaymentMethodRef",
            "PaymentRefNum",
            "PrivateNote",
            "TaxExemptionRef",
            "TotalAmt",
            "TransactionLocationType",
            "TxnDate",
            "TxnSource",
            "TxnStatus",
            "UnappliedAmt",
            "ProcessPayment",
            "ProjectRef",
            "LinkedTxn",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = dict(data)
        if not isinstance(record.get("CustomerRef"), dict):
            raise errors.required_missing("CustomerRef")
        record["CustomerRef"] = resolve_ref(realm, "Customer", record["CustomerRef"])
        if "TotalAmt" not in record:
            raise errors.business_rule("Required parameter TotalAmt is missing in the request.")
        record["TotalAmt"] = money(record["TotalAmt"])
        record["TxnDate"] = txn_date(realm, data, existing)
        check_closing_date(realm, record["TxnDate"], (existing or {}).get("TxnDate"))
        previous = applied_amounts(existing)
        record["Line"], invoices, credits = self.build_lines(realm, record, previous)
        unapplied = add(record["TotalAmt"], credits, -invoices)
        if unapplied < 0:
            raise errors.business_rule(
                "The payment amount must be at least the total applied to invoices."
            )
        record["UnappliedAmt"] = unapplied
        for key in ("DepositToAccountRef", "ARAccountRef"):
            if key in record:
                record[key] = resolve_ref(realm, "Account", record[key])
        record.setdefault("DepositToAccountRef", _undeposited_funds(realm))
        record["CurrencyRef"] = home_currency(realm)
        record.setdefault("ProcessPayment", False)
        record.pop("LinkedTxn", None)
        record.pop("TxnStatus", None) if existing is None else None
        return record

    def build_lines(
        self, realm: Realm, record: dict, previous: dict[tuple[str, str], float]
    ) -> tuple[list[dict], float, float]:
        lines, invoices, credits = [], 0.0, 0.0
        customer_id = record["CustomerRef"]["value"]
        for raw in record.get("Line") or []:
            line = {"Amount": money(raw.get("Amount", 0))}
            links = [link for link in raw.get("LinkedTxn") or [] if isinstance(link, dict)]
            line["LinkedTxn"] = [
                self.check_link(realm, link, line["Amount"], customer_id, previous)
                for link in links[:1]
            ]
            if line["LinkedTxn"] and line["LinkedTxn"][0]["TxnType"] == "Invoice":
                invoices = add(invoices, line["Amount"])
            elif line["LinkedTxn"]:
                credits = add(credits, line["Amount"])
            lines.append(line)
        return lines, invoices, credits

    def check_link(
        self,
        realm: Realm,
        link: dict,
        amount: float,
        customer_id: str,
        previous: dict[tuple[str, str], float],
    ) -> dict:
        txn_type, txn_id = link.get("TxnType"), str(link.get("TxnId", ""))
        target = realm.get(txn_type, txn_id) if txn_type in LINKABLE else None
        if target is None:
            raise errors.business_rule(f"The {txn_type} with Id {txn_id} you linked doesn't exist.")
        if target["CustomerRef"]["value"] != customer_id:
            raise errors.business_rule(
                f"The {txn_type} {txn_id} belongs to another customer than this payment."
            )
        open_amount = target["Balance"] if txn_type == "Invoice" else target["RemainingCredit"]
        if amount > add(open_amount, previous.get((txn_type, txn_id), 0)):
            raise errors.business_rule(
                f"The amount applied to {txn_type} {txn_id} is more than its open balance."
            )
        return {"TxnId": txn_id, "TxnType": txn_type}

    def voided(self, realm: Realm, record: dict) -> dict:
        check_closing_date(realm, record.get("TxnDate"))
        voided = {k: v for k, v in record.items() if k not in ("SyncToken", "MetaData")}
        voided["TotalAmt"] = 0
        voided["UnappliedAmt"] = 0
        voided["Line"] = [{**line, "Amount": 0} for line in record.get("Line", [])]
        note = record.get("PrivateNote")
        voided["PrivateNote"] = f"Voided - {note}" if note else "Voided"
        voided["TxnStatus"] = "Voided"
        return voided

    def before_delete(self, realm: Realm, record: dict) -> None:
        check_closing_date(realm, record.get("TxnDate"))

    def after_write(
        self, realm: Realm, old: dict | None, new: dict | None, changes: list[Change]
    ) -> None:
        before, after = applied_amounts(old), applied_amounts(new)
        payment_id = (new or old)["Id"]
        for key in sorted(set(before) | set(after)):
            if before.get(key, 0) != after.get(key, 0) or (key in before) != (key in after):
                _move_target(realm, key, before.get(key, 0), after.get(key, 0), payment_id, changes)

    def balance_effect(self, record: dict) -> tuple[str, float] | None:
        return record["CustomerRef"]["value"], -float(record.get("UnappliedAmt", 0))


def applied_amounts(payment: dict | None) -> dict[tuple[str, str], float]:
    amounts: dict[tuple[str, str], float] = {}
    for line in (payment or {}).get("Line", []):
        for link in line.get("LinkedTxn", []):
            if line.get("Amount", 0):
                key = (link["TxnType"], link["TxnId"])
                amounts[key] = add(amounts.get(key, 0), line["Amount"])
    return amounts


def _move_target(
    realm: Realm,
    key: tuple[str, str],
    before: float,
    after: float,
    payment_id: str,
    changes: list[Change],
) -> None:
    from qbo_sandbox.entities.registry import RULES

    txn_type, txn_id = key
    current = realm.get(txn_type, txn_id)
    if current is None:
        return
    record = {k: v for k, v in current.items() if k not in ("SyncToken", "MetaData")}
    balance_field = "Balance" if txn_type == "Invoice" else "RemainingCredit"
    record[balance_field] = add(current[balance_field], before, -after)
    record["Balance"] = record[balance_field]
    links = [link for link in current.get("LinkedTxn", []) if link.get("TxnId") != payment_id]
    if after:
        links.append({"TxnId": payment_id, "TxnType": "Payment"})
    record["LinkedTxn"] = links
    touch(realm, RULES[txn_type], current, record, changes)


def unlink_payments_from(realm: Realm, txn_type: str, txn: dict, changes: list[Change]) -> None:
    """Voiding an invoice detaches the payments applied to it; they become unapplied credit."""
    from qbo_sandbox.entities.registry import RULES

    for link in txn.get("LinkedTxn", []):
        payment = (
            realm.get("Payment", link.get("TxnId", ""))
            if link.get("TxnType") == "Payment"
            else None
        )
        if payment is None:
            continue
        record = {k: v for k, v in payment.items() if k not in ("SyncToken", "MetaData")}
        record["Line"] = [
            line
            for line in payment["Line"]
            if not any(
                link.get("TxnId") == txn["Id"] and link.get("TxnType") == txn_type
                for link in line.get("LinkedTxn", [])
            )
        ]
        record["UnappliedAmt"] = add(
            payment["TotalAmt"],
            *(-a if k[0] == "Invoice" else a for k, a in applied_amounts(record).items()),
        )
        touch(realm, RULES["Payment"], payment, record, changes)


def _undeposited_funds(realm: Realm) -> dict | None:
    for account in realm.table("Account").values():
        if account.get("AccountSubType") == "UndepositedFunds":
            return {"value": account["Id"], "name": account["Name"]}
    return None
