"""What a fresh QBO company holds (the brief's "seeded like a fresh QBO company")."""

from __future__ import annotations

from qbo_sandbox.clock import meta_time
from qbo_sandbox.entities.common import home_currency
from qbo_sandbox.entities.company import COUNTRY_NAMES, preferences_body
from qbo_sandbox.entities.tax import tax_code_records
from qbo_sandbox.store import Realm

ACCOUNTS = [
    # (Name, AccountType, AccountSubType, Classification)
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Rental Income", "Income", "OtherPrimaryIncome", "Revenue"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Checking", "Bank", "Checking", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity", "Equity"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
]
TERMS = [("Due on receipt", 0), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60)]


def seed_realm(realm: Realm) -> None:
    now = meta_time(realm.now())
    currency = home_currency(realm)
    for name, account_type, subtype, classification in ACCOUNTS:
        _put(
            realm,
            "Account",
            now,
            {
                "Name": name,
                "SubAccount": False,
                "FullyQualifiedName": name,
                "Active": True,
                "Classification": classification,
                "AccountType": account_type,
                "AccountSubType": subtype,
                "CurrentBalance": 0,
                "CurrentBalanceWithSubAccounts": 0,
                "CurrencyRef": dict(currency),
            },
        )
    income = {"value": _id_of(realm, "Account", "Services"), "name": "Services"}
    rent_income = {"value": _id_of(realm, "Account", "Rental Income"), "name": "Rental Income"}
    for name, account in (("Services", income), ("Rent", rent_income), ("Deposit", income)):
        _put(
            realm,
            "Item",
            now,
            {
                "Name": name,
                "Active": True,
                "FullyQualifiedName": name,
                "Taxable": False,
                "UnitPrice": 0,
                "Type": "Service",
                "IncomeAccountRef": dict(account),
                "PurchaseCost": 0,
                "TrackQtyOnHand": False,
                "SalesTaxIncluded": False,
                "PurchaseTaxIncluded": False,
            },
        )
    for name, days in TERMS:
        _put(
            realm,
            "Term",
            now,
            {
                "Name": name,
                "Active": True,
                "Type": "STANDARD",
                "DueDays": days,
                "DiscountPercent": 0,
                "DiscountDays": 0,
            },
        )
    for record in tax_code_records(realm.settings.country):
        _put(realm, "TaxCode", now, record, record_id=record.pop("Id"))
    _put(realm, "CompanyInfo", now, company_info_body(realm), record_id="1")
    _put(realm, "Preferences", now, preferences_body(realm), record_id="1")


def company_info_body(realm: Realm) -> dict:
    settings = realm.settings
    address = {
        "Id": "1",
        "Line1": "123 Sandbox Way",
        "City": "Mountain View",
        "Country": COUNTRY_NAMES[settings.country],
    }
    return {
        "CompanyName": settings.name,
        "LegalName": settings.name,
        "CompanyAddr": address,
        "CustomerCommunicationAddr": dict(address),
        "LegalAddr": dict(address),
        "PrimaryPhone": {"FreeFormNumber": "(650) 555-0100"},
        "CompanyStartDate": realm.now().date().isoformat(),
        "FiscalYearStartMonth": "January",
        "Country": COUNTRY_NAMES[settings.country],
        "Email": {"Address": "sandbox@example.invalid"},
        "WebAddr": {"URI": "https://sandbox.example.invalid"},
        "SupportedLanguages": "en",
        # A few of the NameValue pairs of quickbooks-ruby fixture company_info.xml.
        "NameValue": [
            {"Name": "SubscriptionStatus", "Value": "SUBSCRIBED"},
            {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
            {"Name": "PayrollFeature", "Value": "false"},
        ],
    }


def _put(realm: Realm, entity: str, now: str, body: dict, record_id: str | None = None) -> None:
    record_id = record_id or realm.allocate_id(entity)
    record = {
        "domain": "QBO",
        "sparse": False,
        "Id": record_id,
        "SyncToken": "0",
        "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        **body,
    }
    realm.table(entity)[record_id] = record


def _id_of(realm: Realm, entity: str, name: str) -> str:
    return next(r["Id"] for r in realm.table(entity).values() if r.get("Name") == name)
