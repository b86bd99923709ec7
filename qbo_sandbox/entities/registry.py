"""Entity name <-> URL path <-> rules."""

from __future__ import annotations

from qbo_sandbox.entities.base import EntityRules
from qbo_sandbox.entities.company import CompanyInfoRules, PreferencesRules, TaxCodeRules
from qbo_sandbox.entities.names import (
    AccountRules,
    ClassRules,
    CustomerRules,
    ItemRules,
    TermRules,
)
from qbo_sandbox.entities.payments import PaymentRules
from qbo_sandbox.entities.sales import CreditMemoRules, InvoiceRules

RULES: dict[str, EntityRules] = {
    rules.name: rules
    for rules in (
        CustomerRules(),
        InvoiceRules(),
        CreditMemoRules(),
        PaymentRules(),
        ItemRules(),
        AccountRules(),
        TaxCodeRules(),
        ClassRules(),
        TermRules(),
        CompanyInfoRules(),
        PreferencesRules(),
    )
}
# URL paths and query entity names are case-insensitive (qbo-api.md §4).
BY_LOWER_NAME: dict[str, EntityRules] = {name.lower(): rules for name, rules in RULES.items()}
