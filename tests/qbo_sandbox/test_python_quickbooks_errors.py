"""How QBO faults reach python-quickbooks callers, through the sandbox.

The exception class follows the library's mapping by code (qbo-api.md §2 "How python-quickbooks maps
them"): 1-499 Authorization, 500-599 Unsupported, 610 ObjectNotFound, 2000-4999 Validation, and plain
QuickbooksException for 5000-9999. The codes and messages come from the recordings and Intuit's
error pages cited in qbo-api.md §2.
"""

from __future__ import annotations

import json

import pytest
from quickbooks import QuickBooks
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    UnsupportedException,
    ValidationException,
)
from quickbooks.objects.customer import Customer

from .conftest import Sandbox
from .helpers import (  # noqa: F401 (fixtures)
    bound_session,
    build_invoice,
    deadline_fixture,
    make_qb,
    new_realm,
    qb_fixture,
    realm_id_fixture,
    sandbox_process_fixture,
    save_customer,
    save_invoice,
)


def _deactivate(qb: QuickBooks, customer: Customer) -> None:
    body = {"Id": customer.Id, "SyncToken": customer.SyncToken, "sparse": True, "Active": False}
    qb.update_object("Customer", json.dumps(body))


def test_it_rejects_a_duplicate_display_name_with_6240(qb: QuickBooks) -> None:
    save_customer(qb, "Weiskopf Consulting")
    with pytest.raises(QuickbooksException) as raised:
        save_customer(qb, "Weiskopf Consulting")
    # error/validation.yml.
    assert raised.value.error_code == 6240
    assert raised.value.message == "Duplicate Name Exists Error"
    assert type(raised.value) is QuickbooksException


def test_it_rejects_an_invoice_for_an_inactive_customer_with_610(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Moved Out")
    _deactivate(qb, customer)
    with pytest.raises(ObjectNotFoundException) as raised:
        build_invoice(qb, customer).save(qb=qb)
    # qbo-api.md §2 610 and batch/basic.yml bid2: the "made inactive" wording.
    assert raised.value.error_code == 610
    assert raised.value.message == "Object Not Found"
    assert "made inactive" in raised.value.detail


def test_it_rejects_a_stale_sync_token_with_5010(qb: QuickBooks) -> None:
    created = save_customer(qb, "Stale Tenant")
    body = {"Id": created.Id, "SyncToken": "0", "sparse": True, "Notes": "first"}
    qb.update_object("Customer", json.dumps(body))
    with pytest.raises(QuickbooksException) as raised:
        qb.update_object("Customer", json.dumps({**body, "Notes": "second"}))
    # batch/basic.yml bid3: "Stale Object Error", code 5010.
    assert raised.value.error_code == 5010
    assert raised.value.message == "Stale Object Error"


def test_it_accepts_duplicate_doc_numbers_by_default(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Same Number")
    first = save_invoice(qb, customer, DocNumber="R-1001")
    second = save_invoice(qb, customer, DocNumber="R-1001")
    # qbo-api.md §2 6140: duplicates are accepted unless the company asks to be warned.
    assert first.DocNumber == second.DocNumber == "R-1001" and first.Id != second.Id


def test_it_rejects_a_duplicate_doc_number_with_6140_when_warned(sandbox: Sandbox) -> None:
    realm = new_realm(sandbox, custom_txn_numbers=True, warn_duplicate_doc_number=True)
    qb = make_qb(sandbox, realm)
    customer = save_customer(qb, "Warned Tenant")
    save_invoice(qb, customer, DocNumber="R-1001")
    with pytest.raises(QuickbooksException) as raised:
        save_invoice(qb, customer, DocNumber="R-1001")
    assert raised.value.error_code == 6140
    assert type(raised.value) is QuickbooksException
    save_invoice(qb, customer, DocNumber="R-1002")  # a different number still goes through


def test_it_needs_custom_txn_numbers_for_the_duplicate_warning(sandbox: Sandbox) -> None:
    realm = new_realm(sandbox, custom_txn_numbers=False, warn_duplicate_doc_number=True)
    qb = make_qb(sandbox, realm)
    customer = save_customer(qb, "Half Warned")
    save_invoice(qb, customer, DocNumber="1001")
    # qbo-api.md §2 6140: only custom txn numbers *and* the warning together raise it.
    save_invoice(qb, customer, DocNumber="1001")


def test_it_rejects_a_transaction_in_a_closed_period_with_6210(sandbox: Sandbox) -> None:
    realm = new_realm(sandbox, closing_date="2025-12-31")
    qb = make_qb(sandbox, realm)
    customer = save_customer(qb, "Closed Books")
    for txn_date in ("2025-12-15", "2025-12-31"):  # on or before the closing date
        with pytest.raises(QuickbooksException) as raised:
            save_invoice(qb, customer, TxnDate=txn_date)
        assert raised.value.error_code == 6210, txn_date
        assert raised.value.message == "Account Period Closed"
    assert save_invoice(qb, customer, TxnDate="2026-01-02").TxnDate == "2026-01-02"


def test_it_rejects_an_unknown_property_with_2010(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as raised:
        qb.create_object("Invoice", json.dumps({"BadJson": True}))
    # error/400_json.yml.
    assert raised.value.error_code == 2010
    assert raised.value.message == "Request has invalid or unsupported property"
    assert "BadJson" in raised.value.detail


def test_it_rejects_a_missing_required_property_with_2020(qb: QuickBooks) -> None:
    customer = save_customer(qb, "No Lines")
    body = {"CustomerRef": {"value": customer.Id}}
    with pytest.raises(ValidationException) as raised:
        qb.create_object("Invoice", json.dumps(body))
    # qbo-api.md §2: "Required parameter Line is missing in the request."
    assert raised.value.error_code == 2020
    assert "Line" in raised.value.detail


def test_it_rejects_a_non_numeric_id_with_2030(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as raised:
        Customer.get("1.5", qb=qb)
    # error/500.yml second interaction.
    assert raised.value.error_code == 2030
    assert raised.value.detail == "Id should be a valid number. Supplied value:1.5"


def test_it_rejects_an_unknown_path_with_500(qb: QuickBooks) -> None:
    with pytest.raises(UnsupportedException) as raised:
        qb.get(f"{qb.api_url}/company/{qb.company_id}/customer/1/5")
    # error/500.yml first interaction: code 500 "Unsupported Operation" (HTTP 400).
    assert raised.value.error_code == 500
    assert raised.value.message == "Unsupported Operation"


def test_it_raises_authorization_errors_for_a_revoked_connection(
    sandbox: Sandbox, realm_id: str
) -> None:
    qb = make_qb(sandbox, realm_id)
    save_customer(qb, "Before Disconnect")
    sandbox.control("POST", f"realms/{realm_id}/revoke")
    # qbo-api.md §2: HTTP 401 -> AuthorizationException(401) before the body is parsed.
    with pytest.raises(AuthorizationException) as raised:
        Customer.all(qb=qb)
    assert raised.value.error_code == 401
    assert '"AUTHENTICATION"' in raised.value.detail


def test_it_keeps_realms_apart(sandbox: Sandbox, qb: QuickBooks) -> None:
    save_customer(qb, "Only Here")
    other = make_qb(sandbox, new_realm(sandbox))
    assert Customer.filter(DisplayName="Only Here", qb=other) == []
    # A name used in one company is free in another (6240 is per company).
    save_customer(other, "Only Here")


def _unpatient(sandbox: Sandbox, realm_id: str) -> QuickBooks:
    """A client that does not back off on 429, to see what the library makes of one."""
    qb = make_qb(sandbox, realm_id)
    bound_session(qb.session, retry_throttled=False)
    return qb


def test_it_maps_a_json_throttle_to_a_3001_validation_error(
    sandbox: Sandbox, realm_id: str
) -> None:
    qb = _unpatient(sandbox, realm_id)
    sandbox.control(
        "PUT", f"realms/{realm_id}/faults", {"throttle_burst": 1, "throttle_format": "json"}
    )
    # qbo-api.md §1: a JSON Fault 429 -> ValidationException 3001 (the 2000-4999 band).
    with pytest.raises(ValidationException) as raised:
        Customer.all(qb=qb)
    assert raised.value.error_code == 3001
    assert Customer.all(qb=qb) == []  # the burst is over


def test_it_maps_an_xml_throttle_to_an_unreadable_response(sandbox: Sandbox, realm_id: str) -> None:
    qb = _unpatient(sandbox, realm_id)
    sandbox.control(
        "PUT", f"realms/{realm_id}/faults", {"throttle_burst": 1, "throttle_format": "xml"}
    )
    # qbo-api.md §1: XML bodies (as recorded, even for Accept: application/json) -> error 10000.
    with pytest.raises(QuickbooksException) as raised:
        Customer.all(qb=qb)
    assert raised.value.error_code == 10000
    assert "Error reading json response" in raised.value.message


def test_it_rejects_editing_a_transaction_once_its_period_closes(
    sandbox: Sandbox, realm_id: str
) -> None:
    qb = make_qb(sandbox, realm_id)
    invoice = save_invoice(qb, save_customer(qb, "Closed Later"), TxnDate="2026-01-02")
    sandbox.control("PATCH", f"realms/{realm_id}", {"closing_date": "2026-01-31"})
    invoice.PrivateNote = "too late"
    # qbo-api.md §2 6210: the books cannot be updated for a txn dated on/before the closing date.
    with pytest.raises(QuickbooksException) as raised:
        invoice.save(qb=qb)
    assert raised.value.error_code == 6210
