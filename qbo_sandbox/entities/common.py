"""Rules shared by every entity: lenient input, references, money, Ids.

Lenient input (qbo-api.md §7): python-quickbooks sends every unset attribute with a library default
("" for strings, 0 for numbers, refs as {"value","name":"","type":""}), and the real service treats
blanks as unset and ignores read-only fields. So blanks are dropped recursively before any rule runs.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from qbo_sandbox import errors
from qbo_sandbox.store import Realm

# Fields every entity accepts and the server owns (sent back by clients on full updates).
COMMON_FIELDS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})
SERVER_OWNED = frozenset({"SyncToken", "MetaData", "domain", "sparse", "status", "Id"})

HOME_CURRENCY = {
    "US": {"value": "USD", "name": "United States Dollar"},
    "UK": {"value": "GBP", "name": "British Pound Sterling"},
    "AU": {"value": "AUD", "name": "Australian Dollar"},
}


def clean(value: object) -> object:
    """Drop blank strings, None, empty lists/objects and value-less refs, recursively."""
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            item = clean(item)
            if item is None or item == "" or item == {} or item == []:
                continue
            cleaned[key] = item
        if set(cleaned) == {"name"} or set(cleaned) == {"type"}:
            return None  # a ref with only a name/type and no value is an unset ref
        return cleaned
    if isinstance(value, list):
        return [item for item in (clean(v) for v in value) if item not in (None, "", {})]
    if isinstance(value, str):
        return value if value.strip() != "" else None
    return value


def check_known(entity: str, body: dict, known: frozenset[str]) -> None:
    for key in body:
        if key not in known and key not in COMMON_FIELDS:
            raise errors.unknown_property(entity, key, known | COMMON_FIELDS)


def money(value: object) -> float:
    """Round like QBO (2 decimals, half up) and hand back a float for JSON."""
    try:
        amount = Decimal(str(value))
    except Exception:
        raise errors.QboFault(
            "2090", "Invalid Number", f"Invalid Number : {value}", element="Amount"
        ) from None
    return float(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def add(*amounts: float) -> float:
    return money(sum(Decimal(str(a)) for a in amounts))


def check_numeric_id(value: object) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise errors.invalid_id(value)
    return str(int(text))


def resolve_ref(
    realm: Realm, entity: str, ref: object, *, allow_inactive: bool = False
) -> dict | None:
    """Validate a reference (610 inactive, 2500 unknown) and fill its `name` as QBO does."""
    if not isinstance(ref, dict) or "value" not in ref:
        return None
    value = str(ref["value"])
    target = realm.get(entity, value)
    if target is None:
        if realm.is_deleted(entity, value):
            raise errors.inactive_reference()
        raise errors.invalid_reference(entity, value)
    if target.get("Active") is False and not allow_inactive:
        raise errors.inactive_reference()
    resolved = {"value": value}
    name = display_name(entity, target)
    if name:
        resolved["name"] = name
    return resolved


def display_name(entity: str, record: dict) -> str:
    if entity == "Customer":
        return record.get("DisplayName", "")
    if entity == "TaxCode":
        return (
            ""  # QBO sends TaxCodeRef as {"value": "NON"} without a name (cassette create/invoice)
        )
    return record.get("FullyQualifiedName") or record.get("Name", "")


def check_length(record: dict, field_name: str, limit: int) -> None:
    value = record.get(field_name)
    if isinstance(value, str) and len(value) > limit:
        raise errors.too_long(field_name, limit)


def home_currency(realm: Realm) -> dict:
    return dict(HOME_CURRENCY.get(realm.settings.country, HOME_CURRENCY["US"]))


def with_address_ids(realm: Realm, record: dict, fields: tuple[str, ...], old: dict | None) -> None:
    """QBO gives every stored address an Id; keep it across updates."""
    for name in fields:
        address = record.get(name)
        if not isinstance(address, dict):
            continue
        previous = (old or {}).get(name) or {}
        if "Id" not in address:
            address["Id"] = previous.get("Id") or realm.allocate_address_id()
