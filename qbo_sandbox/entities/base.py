"""The contract every entity's rules implement, and the shared write paths that call them."""

from __future__ import annotations

from dataclasses import dataclass

from qbo_sandbox import errors
from qbo_sandbox.clock import meta_time
from qbo_sandbox.entities.common import SERVER_OWNED, check_known, check_numeric_id, clean
from qbo_sandbox.store import Realm


@dataclass
class Change:
    """One data change, for webhooks and for the caller's bookkeeping."""

    realm_id: str
    entity: str
    record_id: str
    operation: str  # Create / Update / Delete / Void (qbo-api.md §6)
    last_updated: str


class EntityRules:
    name: str = ""
    kind: str = "txn"  # "name" (soft delete), "txn", "readonly", "singleton"
    known: frozenset[str] = frozenset()
    can_delete: bool = False
    can_void: bool = False

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        raise NotImplementedError

    def after_write(
        self, realm: Realm, old: dict | None, new: dict | None, changes: list[Change]
    ) -> None:
        """Side effects on other records (payments reduce invoice balances, ...)."""

    def before_delete(self, realm: Realm, record: dict) -> None:
        """Refuse a delete QBO would refuse."""

    def voided(self, realm: Realm, record: dict) -> dict:
        raise errors.unsupported_operation(f"/v3/company/{realm.realm_id}/{self.name.lower()}")

    def sort_key(self, record: dict) -> object:
        return int(record["Id"]) if record["Id"].isdigit() else record["Id"]

    def balance_effect(self, record: dict) -> tuple[str, float] | None:
        """(customer id, amount) this record adds to the customer's open balance."""
        return None


class Writer:
    """Performs create/update/delete/void on one realm and collects the resulting changes."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.changes: list[Change] = []

    # ---- entry points -----------------------------------------------------------------
    def create(self, rules: EntityRules, body: dict) -> dict:
        self._check_writable(rules)
        check_known(rules.name, body, rules.known)
        data = _writable(clean(body) or {})
        record = rules.build(self.realm, data, None)
        now = meta_time(self.realm.now())
        record_id = self.realm.allocate_id(rules.name)
        stamped = {"domain": "QBO", "sparse": False, "Id": record_id, "SyncToken": "0"}
        stamped["MetaData"] = {"CreateTime": now, "LastUpdatedTime": now}
        stamped.update(record)
        self.store(rules, None, stamped)
        self.changes.append(Change(self.realm.realm_id, rules.name, record_id, "Create", now))
        rules.after_write(self.realm, None, stamped, self.changes)
        return stamped

    def update(self, rules: EntityRules, body: dict) -> dict:
        self._check_writable(rules, allow_singleton=True)
        check_known(rules.name, body, rules.known)
        current = self.current(rules, body)
        sparse = body.get("sparse") is True or str(body.get("sparse")).lower() == "true"
        data = _writable(clean(body) or {})
        if sparse:
            data = {**_writable(current), **data}
        record = rules.build(self.realm, data, current)
        if rules.kind == "name":
            _rename_when_deactivated(rules, current, record)
        return self.commit_update(rules, current, record, "Update")

    def delete(self, rules: EntityRules, body: dict) -> dict:
        if not rules.can_delete:
            raise errors.QboFault(
                "500",
                "Unsupported Operation",
                f"Operation Delete is not supported for {rules.name}",
            )
        current = self.current(rules, body)
        rules.before_delete(self.realm, current)
        now = meta_time(self.realm.now())
        self.store(rules, current, None)
        self.realm.tombstones.setdefault(rules.name, {})[current["Id"]] = {
            "domain": "QBO",
            "status": "Deleted",
            "Id": current["Id"],
            "MetaData": {"LastUpdatedTime": now},
        }
        self.changes.append(Change(self.realm.realm_id, rules.name, current["Id"], "Delete", now))
        rules.after_write(self.realm, current, None, self.changes)
        # Cassette delete/invoice.yml: the answer is only domain/status/Id.
        return {"domain": "QBO", "status": "Deleted", "Id": current["Id"]}

    def void(self, rules: EntityRules, body: dict) -> dict:
        if not rules.can_void:
            raise errors.unsupported_operation(
                f"/v3/company/{self.realm.realm_id}/{rules.name.lower()}"
            )
        current = self.current(rules, body)
        record = rules.voided(self.realm, current)
        return self.commit_update(rules, current, record, "Void")

    # ---- helpers ------------------------------------------------------------------------
    def current(self, rules: EntityRules, body: dict) -> dict:
        if "Id" not in body or body["Id"] in ("", None):
            raise errors.required_missing("Id")
        record_id = check_numeric_id(body["Id"]) if rules.kind != "singleton" else str(body["Id"])
        current = self.realm.get(rules.name, record_id)
        if current is None:
            if self.realm.is_deleted(rules.name, record_id):
                raise errors.deleted_object()
            raise errors.QboFault("610", "Object Not Found", errors.INACTIVE_DETAIL)
        token = body.get("SyncToken")
        if token in (None, ""):
            raise errors.required_missing("SyncToken")
        if str(token) != current["SyncToken"]:
            raise errors.stale_object(rules.name)
        return current

    def commit_update(
        self, rules: EntityRules, current: dict, record: dict, op: str, side_effects: bool = True
    ) -> dict:
        if _same_content(current, record):
            return current  # a no-op update keeps SyncToken and time (cassette deactivate/account)
        now = meta_time(self.realm.now())
        stamped = {
            "domain": "QBO",
            "sparse": False,
            "Id": current["Id"],
            "SyncToken": str(int(current["SyncToken"]) + 1),
            "MetaData": {"CreateTime": current["MetaData"]["CreateTime"], "LastUpdatedTime": now},
        }
        stamped.update(record)
        self.store(rules, current, stamped)
        self.changes.append(Change(self.realm.realm_id, rules.name, current["Id"], op, now))
        if side_effects:
            rules.after_write(self.realm, current, stamped, self.changes)
        return stamped

    def store(self, rules: EntityRules, old: dict | None, new: dict | None) -> None:
        table = self.realm.table(rules.name)
        if new is None:
            table.pop(old["Id"], None)
        else:
            table[new["Id"]] = new
        _adjust_customer_balance(self.realm, rules, old, new)

    def _check_writable(self, rules: EntityRules, allow_singleton: bool = False) -> None:
        if rules.kind == "readonly" or (rules.kind == "singleton" and not allow_singleton):
            raise errors.QboFault(
                "500",
                "Unsupported Operation",
                f"Operation Create/Update is not supported for {rules.name}",
            )


def _writable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in SERVER_OWNED}


def _same_content(current: dict, record: dict) -> bool:
    return _writable(current) == _writable(record)


def _rename_when_deactivated(rules: EntityRules, current: dict, record: dict) -> None:
    """Name-list soft delete: QBO appends " (deleted)" (cassette deactivate/account.yml)."""
    if current.get("Active") is False or record.get("Active") is not False:
        return
    field = "DisplayName" if rules.name == "Customer" else "Name"
    name = record.get(field, "")
    if not name.endswith(" (deleted)"):
        record[field] = f"{name} (deleted)"
    parent_path, _, _ = record.get("FullyQualifiedName", "").rpartition(":")
    record["FullyQualifiedName"] = (
        f"{parent_path}:{record[field]}" if parent_path else record[field]
    )


def _adjust_customer_balance(
    realm: Realm, rules: EntityRules, old: dict | None, new: dict | None
) -> None:
    # Customer.Balance moves without a SyncToken change: it is derived, not edited.
    for record, sign in ((old, -1), (new, 1)):
        effect = rules.balance_effect(record) if record else None
        if effect is None:
            continue
        customer = realm.get("Customer", effect[0])
        if customer is not None:
            balance = round(float(customer.get("Balance", 0)) + sign * effect[1], 2)
            customer["Balance"] = balance
            customer["BalanceWithJobs"] = balance


def touch(realm: Realm, rules: EntityRules, current: dict, record: dict, changes: list) -> dict:
    """Rewrite a record changed as a side effect of another write.

    Its SyncToken moves, as QBO's does when a payment is applied to an invoice, so a client holding
    the old token gets 5010 (qbo-api.md §4 "Stale SyncToken").
    """
    writer = Writer(realm)
    writer.changes = changes
    return writer.commit_update(rules, current, record, "Update", side_effects=False)
