"""TaxCode (read-only), CompanyInfo and Preferences (one record per company).

Preferences mirror the realm settings the control surface sets (SalesFormsPrefs.CustomTxnNumbers,
AccountingInfoPrefs.ClassTrackingPerTxn/BookCloseDate, CurrencyPrefs), so a client that reads them
sees the same company the emulator enforces.
"""

from __future__ import annotations

from qbo_sandbox.entities.base import EntityRules
from qbo_sandbox.entities.common import home_currency
from qbo_sandbox.store import Realm

COUNTRY_NAMES = {"US": "US", "UK": "GB", "AU": "AU"}


class TaxCodeRules(EntityRules):
    name = "TaxCode"
    kind = "readonly"
    known = frozenset(
        {
            "Active",
            "Description",
            "Name",
            "PurchaseTaxRateList",
            "SalesTaxRateList",
            "TaxGroup",
            "Taxable",
            "Hidden",
        }
    )

    def sort_key(self, record: dict) -> object:
        return record.get("Name", "").casefold()


class CompanyInfoRules(EntityRules):
    name = "CompanyInfo"
    kind = "singleton"
    known = frozenset(
        {
            "CompanyAddr",
            "CompanyName",
            "CompanyStartDate",
            "Country",
            "CustomerCommunicationAddr",
            "Email",
            "FiscalYearStartMonth",
            "LegalAddr",
            "LegalName",
            "PrimaryPhone",
            "SupportedLanguages",
            "WebAddr",
            "NameValue",
            "CustomerCommunicationEmailAddr",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = dict(existing or {})
        record.pop("SyncToken", None)
        record.pop("MetaData", None)
        record.update(data)
        record["Country"] = COUNTRY_NAMES[realm.settings.country]
        if "CompanyName" in data:
            realm.settings.name = data["CompanyName"]
        return record


class PreferencesRules(EntityRules):
    name = "Preferences"
    kind = "singleton"
    known = frozenset(
        {
            "AccountingInfoPrefs",
            "CurrencyPrefs",
            "EmailMessagesPrefs",
            "OtherPrefs",
            "ProductAndServicesPrefs",
            "ReportPrefs",
            "SalesFormsPrefs",
            "TaxPrefs",
            "TimeTrackingPrefs",
            "VendorAndPurchasesPrefs",
        }
    )

    def build(self, realm: Realm, data: dict, existing: dict | None) -> dict:
        record = {k: v for k, v in (existing or {}).items() if k not in ("SyncToken", "MetaData")}
        for section, values in data.items():
            if isinstance(values, dict) and isinstance(record.get(section), dict):
                record[section] = {**record[section], **values}
            else:
                record[section] = values
        _settings_from_preferences(realm, record)
        return preferences_body(realm, record)


def _settings_from_preferences(realm: Realm, record: dict) -> None:
    settings = realm.settings
    sales = record.get("SalesFormsPrefs", {})
    accounting = record.get("AccountingInfoPrefs", {})
    currency = record.get("CurrencyPrefs", {})
    settings.custom_txn_numbers = bool(sales.get("CustomTxnNumbers", settings.custom_txn_numbers))
    settings.class_tracking = bool(accounting.get("ClassTrackingPerTxn", settings.class_tracking))
    settings.closing_date = accounting.get("BookCloseDate") or None
    settings.multicurrency = bool(currency.get("MultiCurrencyEnabled", settings.multicurrency))


def preferences_body(realm: Realm, record: dict | None = None) -> dict:
    """Preferences reflecting the realm settings (kept in step after every settings change).

    Groups and defaults follow quickbooks-ruby fixture preferences.xml; the flags this project reads
    come from the realm settings.
    """
    settings = realm.settings
    record = dict(record or {})
    for group, defaults in STATIC_GROUPS.items():
        record[group] = dict(defaults)
    record["SalesFormsPrefs"] = {
        **SALES_FORMS_DEFAULTS,
        **(record.get("SalesFormsPrefs") or {}),
        "CustomTxnNumbers": settings.custom_txn_numbers,
    }
    accounting = {
        **ACCOUNTING_DEFAULTS,
        **(record.get("AccountingInfoPrefs") or {}),
        "ClassTrackingPerTxn": settings.class_tracking,
    }
    accounting.pop("BookCloseDate", None)
    if settings.closing_date:
        accounting["BookCloseDate"] = settings.closing_date
    record["AccountingInfoPrefs"] = accounting
    record["CurrencyPrefs"] = {
        "MultiCurrencyEnabled": settings.multicurrency,
        "HomeCurrency": {"value": home_currency(realm)["value"]},
    }
    record["TaxPrefs"] = {"UsingSalesTax": settings.country != "US", "PartnerTaxEnabled": False}
    record.setdefault(
        "OtherPrefs",
        {
            "NameValue": [
                {"Name": "SalesFormsPrefs.DefaultItem", "Value": "1"},
                {"Name": "DateFormatMnemonic", "Value": "MMDDYYYY_SEP_SLASH"},
            ]
        },
    )
    return record


ACCOUNTING_DEFAULTS = {
    "UseAccountNumbers": False,
    "TrackDepartments": False,
    "ClassTrackingPerTxn": False,
    "ClassTrackingPerTxnLine": False,
    "FirstMonthOfFiscalYear": "January",
    "TaxYearMonth": "January",
    "CustomerTerminology": "Customers",
}
SALES_FORMS_DEFAULTS = {
    "CustomField": [],
    "CustomTxnNumbers": False,
    "EmailCopyToCompany": False,
    "AllowDeposit": False,
    "AllowDiscount": False,
    "AllowEstimates": True,
    "ETransactionEnabledStatus": "NotApplicable",
    "ETransactionAttachPDF": False,
    "ETransactionPaymentEnabled": False,
    "IPNSupportEnabled": False,
    "AllowServiceDate": False,
    "AllowShipping": False,
    "AutoApplyCredit": True,
    "AutoApplyPayments": True,
    "UsingPriceLevels": False,
    "DefaultCustomerMessage": "Thank you for your business.",
}
STATIC_GROUPS = {
    "ProductAndServicesPrefs": {
        "ForSales": True,
        "ForPurchase": False,
        "QuantityWithPriceAndRate": True,
        "QuantityOnHand": False,
    },
    "EmailMessagesPrefs": {
        "InvoiceMessage": {"Subject": "Invoice", "Message": "Here's your invoice!"},
        "EstimateMessage": {"Subject": "Estimate", "Message": "Please review the estimate."},
        "SalesReceiptMessage": {"Subject": "Sales Receipt", "Message": "Your receipt."},
        "StatementMessage": {"Subject": "Statement", "Message": "Your statement."},
    },
    "VendorAndPurchasesPrefs": {
        "TrackingByCustomer": False,
        "BillableExpenseTracking": False,
        "POCustomField": [],
    },
    "TimeTrackingPrefs": {
        "UseServices": False,
        "BillCustomers": True,
        "ShowBillRateToAll": False,
        "WorkWeekStartDate": "Monday",
        "MarkTimeEntriesBillable": True,
    },
    "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
}
