"""Name-list entities: Customer, Item, Account, Class, Term (qbo-api.md §4).

They are never hard-deleted: a (sparse) update with Active=false deactivates and renames them, and
inactive ones vanish from queries unless asked for.
"""

from __future__ import annotations

from qbo_sandbox import errors
from qbo_sandbox.entities.base import EntityRules
from qbo_sandbox.entities.common import (
    check_length,
    home_currency,
    money,
    resolve_ref,
    with_address_ids,
)
from qbo_sandbox.store import Realm

ACCOUNT_CLASSIFICATION = {
    "Bank": ("Asset", "Checking"),
    "Other Current Asset": ("Asset", "UndepositedFunds"),
    "Fixed Asset": ("Asset", "MachineryAndEquipment"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Equity": ("Equity", "OpeningBalanceEquity"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Long Term Liability": ("Liability", "NotesPayable"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Income": ("Revenue", "ServiceFeeIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
}
SUBTYPE_TO_TYPE = {
    "UndepositedFunds": "Other Current Asset",
    "Checking": "Bank",
    "AccountsReceivable": "Accounts Receivable",
    "SalesOfProductIncome": "Income",
    "ServiceFeeIncome": "Income",
}
ITEM_TYPES = {"Service", "NonInventory", "Inventory", "Category", "Group"}


def _require(data: dict, field: str) -> str:
    value = data.get(field)
    if value in (None, ""):
        raise errors.required_missing(field)
    return value


def _check_unique(realm: Realm, entity: str, field: str, name: str, own_id: str | None) -> None:
    wanted = name.casefold()
    for record in realm.table(entity).values():
        if record["Id"] != own_id and record.get(field, "").casefold() == wanted:
            raise errors.duplicate_name()


class NameListRules(EntityRules):
    kind = "name"
    name_field = "Name"

    def sort_key(self, record: dict) -> object:
        # Observed: name lists come back ordered by full name, sub-customers right after their
        # parent (cassette all/customers.yml).
        # Byte-wise, not case-folded: "PG&E" comes before "Pam Seitz" (all/vendors_by_5.yml).
        return record.get("FullyQualifiedName") or record.get(self.name_field, "")

    def base(self, data: dict, existing: dict | None) -> dict:
        record = dict(data)
        if "Active" not in record:
            record["Active"] = True if existing is None else existing.get("Active", True)
        return record


class CustomerRules(NameListRules):
    name = "Customer"
    name_field = "DisplayName"
    known = frozenset(
        {
            "ARAccountRef",
            "Active",
            "AlternatePhone",
            "Balance",
            "BalanceWithJobs",
            "BillAddr",
            "BillWithParent",
            "CompanyName",
            "CurrencyRef",
            "DefaultTaxCodeRef",
            "DisplayName",
            "FamilyName",
            "Fax",
            "FullyQualifiedName",
            "GivenName",
            "IsProject",
            "Job",
            "Level",
            "MiddleName",
            "Mobile",
            "Notes",
            "OpenBalanceDate",
            "ParentRef",
            "PaymentMethodRef",
            "PreferredDeliveryMethod",
            "PrimaryEmailAddr",
            "PrimaryPhone",
            "PrimaryTaxIdentifier",
            "PrintOnCheckName",
            "ResaleNum",
            "SalesTermRef",
            "ShipAddr",
            "Suffix",
            "Taxable",
            "Title",
            "WebAddr",
            "TaxExemptionReasonId",
            "CustomerTypeRef",
            "GSTIN",
            "BusinessNumber",
            "GSTRegistrationType",
            "Source",
            "TaxRegistrationNumber",
            "SecondaryTaxIdentifier",
            "ClientEntityId",
            "V4IDPseudonym",
            "CustomField",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = self.base(data, existing)
        name = data.get("DisplayName") or _composed_name(data)
        if not name:
            raise errors.required_missing("DisplayName")
        record["DisplayName"] = name
        check_length(record, "DisplayName", 500)
        record.setdefault("PrintOnCheckName", data.get("CompanyName") or name)
        record.setdefault("Taxable", realm.settings.country == "US")
        record.pop("Level", None)
        record["FullyQualifiedName"] = name
        record["Job"] = "ParentRef" in record
        if record["Job"]:
            _place_under_parent(realm, record, existing)
        # Unique on the qualified name: all/customers.yml holds "Jack Doe" twice, once under
        # "Doe, Jack" (qbo-api.md §4 says DisplayName; the recording shows the sub-customer case).
        _check_unique(
            realm,
            "Customer",
            "FullyQualifiedName",
            record["FullyQualifiedName"],
            existing and existing["Id"],
        )
        record.setdefault("BillWithParent", False)
        record.setdefault("PreferredDeliveryMethod", "Print")
        record["CurrencyRef"] = home_currency(realm)
        balance = existing.get("Balance", 0) if existing else 0
        record["Balance"] = record["BalanceWithJobs"] = balance
        for key, entity in (("SalesTermRef", "Term"), ("DefaultTaxCodeRef", "TaxCode")):
            if key in record:
                record[key] = resolve_ref(realm, entity, record[key])
        record.pop("OpenBalanceDate", None)
        with_address_ids(realm, record, ("BillAddr", "ShipAddr"), existing)
        return record


def _place_under_parent(realm: Realm, record: dict, existing: dict | None) -> None:
    """Sub-customers: "Parent:Child" names one level down (cassette all/customers.yml)."""
    parent_ref = resolve_ref(realm, "Customer", record["ParentRef"])
    if existing is not None and parent_ref["value"] == existing["Id"]:
        raise errors.business_rule("A customer can't be its own parent.")
    parent = realm.get("Customer", parent_ref["value"])
    record["ParentRef"] = {"value": parent_ref["value"]}  # recorded without a name
    record["Level"] = int(parent.get("Level", 0)) + 1
    record["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{record['DisplayName']}"


def _composed_name(data: dict) -> str:
    parts = [data.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
    return " ".join(p for p in parts if isinstance(p, str) and p)


class ItemRules(NameListRules):
    name = "Item"
    known = frozenset(
        {
            "AbatementRate",
            "Active",
            "AssetAccountRef",
            "Description",
            "ExpenseAccountRef",
            "FullyQualifiedName",
            "IncomeAccountRef",
            "InvStartDate",
            "ItemCategoryType",
            "Level",
            "Name",
            "ParentRef",
            "PurchaseCost",
            "PurchaseDesc",
            "PurchaseTaxCodeRef",
            "PurchaseTaxIncluded",
            "QtyOnHand",
            "ReverseChargeRate",
            "SalesTaxCodeRef",
            "SalesTaxIncluded",
            "ServiceType",
            "Sku",
            "SubItem",
            "Taxable",
            "TrackQtyOnHand",
            "Type",
            "UnitPrice",
            "ClassRef",
            "PrefVendorRef",
            "UQCDisplayText",
            "UQCId",
            "TaxClassificationRef",
            "Source",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = self.base(data, existing)
        name = _require(data, "Name")
        check_length(record, "Name", 100)
        _check_unique(realm, "Item", "Name", name, existing and existing["Id"])
        item_type = _require(data, "Type")
        if item_type not in ITEM_TYPES:
            raise errors.QboFault(
                "2170", "Invalid Enumeration", f"Invalid Enumeration : {item_type}"
            )
        if item_type in ("Service", "NonInventory", "Inventory"):
            _require(data, "IncomeAccountRef")
        for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
            if key in record:
                record[key] = resolve_ref(realm, "Account", record[key])
        for key in ("SalesTaxCodeRef", "PurchaseTaxCodeRef"):
            if key in record:
                record[key] = resolve_ref(realm, "TaxCode", record[key])
        record["FullyQualifiedName"] = name
        record.setdefault("Taxable", False)
        record["UnitPrice"] = money(record.get("UnitPrice", 0))
        record["PurchaseCost"] = money(record.get("PurchaseCost", 0))
        record.setdefault("TrackQtyOnHand", False)
        record.setdefault("SalesTaxIncluded", False)
        record.setdefault("PurchaseTaxIncluded", False)
        record.pop("Level", None)
        if record.get("TrackQtyOnHand") is False:
            record.pop("QtyOnHand", None)
            record.pop("InvStartDate", None)
        return record


class AccountRules(NameListRules):
    name = "Account"
    known = frozenset(
        {
            "AccountSubType",
            "AccountType",
            "AcctNum",
            "Active",
            "Classification",
            "CurrencyRef",
            "CurrentBalance",
            "CurrentBalanceWithSubAccounts",
            "Description",
            "FullyQualifiedName",
            "Name",
            "ParentRef",
            "SubAccount",
            "TaxCodeRef",
            "TxnLocationType",
            "AccountAlias",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = self.base(data, existing)
        name = _require(data, "Name")
        check_length(record, "Name", 100)
        _check_unique(realm, "Account", "Name", name, existing and existing["Id"])
        account_type = data.get("AccountType") or SUBTYPE_TO_TYPE.get(data.get("AccountSubType"))
        if not account_type:
            raise errors.required_missing("AccountType")
        classification, default_subtype = ACCOUNT_CLASSIFICATION.get(
            account_type, ("Asset", account_type.replace(" ", ""))
        )
        record["AccountType"] = account_type
        record.setdefault("AccountSubType", default_subtype)
        record["Classification"] = classification
        record["SubAccount"] = "ParentRef" in record
        if "ParentRef" in record:
            record["ParentRef"] = resolve_ref(realm, "Account", record["ParentRef"])
        record["FullyQualifiedName"] = name
        balance = existing.get("CurrentBalance", 0) if existing else 0
        record["CurrentBalance"] = record["CurrentBalanceWithSubAccounts"] = balance
        record["CurrencyRef"] = home_currency(realm)
        return record


class ClassRules(NameListRules):
    name = "Class"
    known = frozenset({"Active", "FullyQualifiedName", "Name", "ParentRef", "SubClass"})

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = self.base(data, existing)
        name = _require(data, "Name")
        check_length(record, "Name", 100)
        _check_unique(realm, "Class", "Name", name, existing and existing["Id"])
        record["SubClass"] = "ParentRef" in record
        record["FullyQualifiedName"] = name
        return record


class TermRules(NameListRules):
    name = "Term"
    known = frozenset(
        {
            "Active",
            "DayOfMonthDue",
            "DiscountDayOfMonth",
            "DiscountDays",
            "DiscountPercent",
            "DueDays",
            "DueNextMonthDays",
            "Name",
            "Type",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = self.base(data, existing)
        name = _require(data, "Name")
        check_length(record, "Name", 31)
        _check_unique(realm, "Term", "Name", name, existing and existing["Id"])
        record.setdefault("Type", "STANDARD")
        if record["Type"] == "STANDARD":
            record.setdefault("DueDays", 0)
            record.pop("DayOfMonthDue", None)
            record.pop("DueNextMonthDays", None)
            record.pop("DiscountDayOfMonth", None)
        record.setdefault("DiscountPercent", 0)
        record.setdefault("DiscountDays", 0)
        return record
