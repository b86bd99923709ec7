"""Every fault the engine meets reads as a plain explanation naming the record, with a fix.

Fault texts are the ones QuickBooks sends (qbo_sandbox/errors.py mirrors the cassettes).
"""

from __future__ import annotations

import datetime

from quickbooks_link.errors import QboError, classify
from sync_engine.explain import Explanation, explain
from sync_engine.payloads import MissingMapping

INACTIVE = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


def _fault(code: str, detail: str = "", message: str = "A fault", status: int = 400) -> QboError:
    return classify(http_status=status, code=code, message=message, detail=detail)


def _invoice(error, **kwargs) -> Explanation:
    return explain(error, entity="invoice", label="INV-1", **kwargs)


def test_it_names_the_inactive_reference_an_invoice_uses():
    result = _invoice(_fault("610", INACTIVE, "Object Not Found"))
    assert result.explanation.startswith("Invoice INV-1 uses a customer, item or account")
    assert "inactive" in result.explanation and "active again" in result.fix


def test_it_explains_a_transaction_deleted_in_quickbooks():
    error = _fault("610", "Object Not Found : Another user has deleted this transaction.")
    result = _invoice(error)
    assert "has been deleted in QuickBooks" in result.explanation
    assert "unlink invoice INV-1" in result.fix


def test_it_points_an_invalid_reference_at_its_onboarding_step():
    detail = (
        "Invalid Reference Id : Item assigned to this transaction has been deleted or does not "
        "exist (Id=7)."
    )
    result = _invoice(_fault("2500", detail))
    assert "a QuickBooks item (Id 7)" in result.explanation
    assert result.fix.endswith("Charge codes and items, then retry.")


def test_it_owns_up_to_payloads_quickbooks_cannot_read():
    for code in ("2010", "2030", "2170"):
        result = _invoice(_fault(code, "Property Name:Unrecognized field"))
        assert "fault in released-sync, not in your data" in result.explanation
        assert f"error code {code}" in result.fix


def test_it_names_the_missing_field():
    result = _invoice(_fault("2020", "Required parameter Line is missing in the request"))
    assert result.explanation == "QuickBooks needs Line on invoice INV-1 and none was sent."


def test_it_says_which_text_is_too_long():
    result = _invoice(_fault("2050", "Length of the field exceeds 21 chars"))
    assert "the document number or the payment reference" in result.explanation
    assert result.fix.startswith("Shorten it on invoice INV-1")


def test_it_names_who_changed_the_record_meanwhile():
    detail = (
        "Stale Object Error : You and Sandbox User were working on this at the same time. "
        "Sandbox User finished before you did, so your work was not saved. Entity=Invoice"
    )
    result = _invoice(_fault("5010", detail))
    assert result.explanation.startswith("Sandbox User changed invoice INV-1 in QuickBooks")


def test_it_explains_lowering_a_paid_invoice():
    detail = (
        "Business Validation Error: The invoice amount can't be less than the payments already "
        "applied to it."
    )
    result = _invoice(_fault("6000", detail))
    assert "payments or credits applied" in result.explanation
    assert "Changing the amount of a paid invoice is not allowed" in result.fix


def test_it_explains_deleting_a_paid_transaction():
    detail = "Business Validation Error: This transaction is linked to other transactions."
    result = _invoice(_fault("6000", detail))
    assert "cannot be deleted" in result.explanation
    assert result.fix.startswith("Deleting paid transactions is not allowed")


def test_it_passes_other_business_rules_on_in_quickbooks_words():
    detail = "Business Validation Error: Make sure all your transactions have a VAT rate."
    result = _invoice(_fault("6000", detail))
    assert result.explanation == (
        "QuickBooks refused invoice INV-1: Make sure all your transactions have a VAT rate."
    )


def test_it_explains_a_duplicate_document_number():
    result = _invoice(_fault("6140", "Duplicate Document Number Error : ..."))
    assert "already uses the number of invoice INV-1" in result.explanation
    assert "Warn if duplicate number" in result.fix


def test_it_explains_an_ended_subscription():
    result = _invoice(_fault("6190", "Invalid Company Status"))
    assert "subscription has ended" in result.explanation and "billing" in result.fix


def test_it_gives_the_closing_date_from_the_connection():
    result = _invoice(_fault("6210", "The account period has closed"), closing_date="2025-03-31")
    assert result.explanation.startswith("The books are closed up to 31 Mar 2025;")
    assert result.fix == (
        "Reopen the period in QuickBooks or change the date of invoice INV-1 to after "
        "31 Mar 2025; then retry."
    )


def test_it_accepts_a_date_object_or_none_for_the_closing_date():
    error = _fault("6210", "The account period has closed")
    with_date = _invoice(error, closing_date=datetime.date(2024, 12, 31))
    assert "31 Dec 2024" in with_date.explanation
    assert "closed for the period that includes invoice INV-1" in _invoice(error).explanation


def test_it_explains_a_duplicate_tenant_name():
    result = explain(
        _fault("6240", "The name supplied already exists. : null"),
        entity="tenant",
        label="Jane Doe",
    )
    assert result.explanation.startswith('The name "Jane Doe" is already used by another customer')
    assert "Tenants and customers" in result.fix


def test_it_explains_a_duplicate_account_name():
    result = explain(_fault("6240"), entity="account", label="Rental Income")
    assert result.explanation == "QuickBooks already has another account named Rental Income."
    assert "unique name" in result.fix


def test_it_explains_a_deposited_payment():
    result = explain(_fault("6540"), entity="payment", label="BACS 0042")
    assert result.explanation.startswith("Payment BACS 0042 is part of a bank deposit")
    assert "take this payment out" in result.fix


def test_it_asks_for_a_reconnect_when_authorisation_is_lost():
    for code in ("120", "3100"):
        result = _invoice(_fault(code, status=403))
        assert "Reconnect" in result.fix


def test_it_passes_a_missing_mapping_through():
    error = MissingMapping("Charge code PARK Parking is not mapped.", "Map it in Settings.")
    assert _invoice(error) == Explanation(
        "Charge code PARK Parking is not mapped.", "Map it in Settings."
    )


def test_it_still_says_what_to_do_for_an_unknown_code():
    result = _invoice(_fault("6999", "Business Validation Error: Something new"))
    assert result.explanation == "QuickBooks refused invoice INV-1 (error code 6999): Something new"
    assert "contact support with the error code" in result.fix


def test_it_reassures_about_transient_failures():
    result = _invoice(_fault("10000", "System Failure Error", status=500))
    assert "retried automatically" in result.fix
