"""The python-quickbooks object API (create, read, update, delete, void, requestid, linked
transactions, company settings) against a running sandbox, with the library unmodified.

Expected values come from the recorded QBO traffic (../shared/qbo-recordings, cited by cassette) and
../shared/docs/qbo-api.md (cited by section).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import requests
from quickbooks import QuickBooks
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.base import Address, PhoneNumber
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment
from quickbooks.objects.preferences import Preferences
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.term import Term
from quickbooks.objects.trackingclass import Class

from .helpers import (  # noqa: F401 (fixtures)
    api_fixture,
    build_invoice,
    deadline_fixture,
    linked_line,
    make_qb,
    new_realm,
    qb_fixture,
    realm_id_fixture,
    sales_line,
    sandbox_process_fixture,
    save_customer,
    save_invoice,
    save_payment,
    services_item,
)

# --- customers ---------------------------------------------------------------------------------


def test_it_creates_a_customer_with_the_server_filled_fields(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Doe5, Jane")
    # create/customer.yml: what QBO fills on a bare {"DisplayName"} create.
    assert re.fullmatch(r"\d+", customer.Id)
    assert customer.SyncToken == "0"
    assert customer.FullyQualifiedName == customer.PrintOnCheckName == "Doe5, Jane"
    assert customer.Active is True
    assert customer.Job is False and customer.BillWithParent is False
    assert customer.Balance == 0 and customer.BalanceWithJobs == 0
    assert customer.PreferredDeliveryMethod == "Print"
    assert customer.CurrencyRef.value == "USD"
    assert customer.CurrencyRef.name == "United States Dollar"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", customer.MetaData["CreateTime"]
    )


def test_it_reads_a_customer_back_by_id(qb: QuickBooks) -> None:
    created = save_customer(qb, "Dukes Basketball Camp", CompanyName="Dukes Basketball Camp")
    fetched = Customer.get(created.Id, qb=qb)
    assert fetched.Id == created.Id
    assert fetched.DisplayName == fetched.CompanyName == "Dukes Basketball Camp"
    assert fetched.SyncToken == "0"


def test_it_bumps_the_sync_token_on_a_full_update(qb: QuickBooks) -> None:
    customer = Customer.get(save_customer(qb, "Doe2, Jane").Id, qb=qb)
    customer.DisplayName = "Jack Moe"
    customer.PrimaryPhone = PhoneNumber()
    customer.PrimaryPhone.FreeFormNumber = "(415) 444-1234"
    updated = customer.save(qb=qb)
    # update/customer.yml: SyncToken 0 -> 1 and the qualified name follows the display name.
    assert updated.SyncToken == "1"
    assert updated.FullyQualifiedName == "Jack Moe"
    assert updated.PrimaryPhone.FreeFormNumber == "(415) 444-1234"
    assert updated.MetaData["LastUpdatedTime"] >= updated.MetaData["CreateTime"]


def test_it_clears_omitted_fields_on_a_full_update(qb: QuickBooks) -> None:
    customer = Customer.get(
        save_customer(qb, "Freeman Sporting Goods", CompanyName="Freeman", Notes="keep?").Id,
        qb=qb,
    )
    customer.CompanyName = None  # None attributes are left out of the JSON by the library
    customer.Notes = None
    updated = customer.save(qb=qb)
    # qbo-api.md §4: a full update replaces all writable fields; omitted ones become empty.
    assert getattr(updated, "CompanyName", None) in (None, "")
    assert getattr(updated, "Notes", None) in (None, "")
    assert updated.DisplayName == "Freeman Sporting Goods"


def test_it_changes_only_the_supplied_fields_on_a_sparse_update(qb: QuickBooks) -> None:
    created = save_customer(qb, "Sparse Tenant", CompanyName="Sparse Ltd")
    body = json.dumps(
        {"Id": created.Id, "SyncToken": created.SyncToken, "sparse": True, "Notes": "late payer"}
    )
    updated = qb.update_object("Customer", body)["Customer"]
    # deactivate/account.yml sends this shape; untouched fields survive a sparse update.
    assert updated["SyncToken"] == "1"
    assert updated["Notes"] == "late payer"
    assert updated["CompanyName"] == "Sparse Ltd"
    assert updated["DisplayName"] == "Sparse Tenant"


def test_it_renames_a_deactivated_customer_and_keeps_the_sync_token_on_a_no_op(
    qb: QuickBooks,
) -> None:
    created = save_customer(qb, "Emily Platt")
    body = {"Id": created.Id, "SyncToken": "0", "sparse": True, "Active": False}
    deactivated = qb.update_object("Customer", json.dumps(body))["Customer"]
    # deactivate/employee.yml, deactivate/account.yml: " (deleted)" suffix, SyncToken +1.
    assert deactivated["DisplayName"] == "Emily Platt (deleted)"
    assert deactivated["Active"] is False and deactivated["SyncToken"] == "1"
    again = qb.update_object("Customer", json.dumps({**body, "SyncToken": "1"}))["Customer"]
    # The recorded no-op update kept SyncToken and LastUpdatedTime unchanged.
    assert again["SyncToken"] == "1"
    assert again["MetaData"]["LastUpdatedTime"] == deactivated["MetaData"]["LastUpdatedTime"]


def test_it_lets_a_sub_customer_share_a_top_level_display_name(qb: QuickBooks) -> None:
    save_customer(qb, "Jack Doe")
    parent = save_customer(qb, "Doe, Jack")
    child = save_customer(qb, "Jack Doe", ParentRef=parent.to_ref(), Job=True)
    # all/customers.yml holds "Jack Doe" (Id 60) and "Jack Doe" under "Doe, Jack" (Id 64,
    # FullyQualifiedName "Doe, Jack:Jack Doe", Level 1) side by side: QBO accepted one of the
    # two writes, so uniqueness (6240) is on the qualified name, not the bare DisplayName.
    assert child.FullyQualifiedName == "Doe, Jack:Jack Doe"
    assert child.Level == 1 and child.Job is True
    assert child.ParentRef.value == parent.Id


# --- invoices ----------------------------------------------------------------------------------


def _amy(qb: QuickBooks) -> Customer:
    address = Address()
    address.Line1, address.City = "4581 Finch St.", "Bayshore"
    address.CountrySubDivisionCode, address.PostalCode = "CA", "94326"
    return save_customer(qb, "Amy's Bird Sanctuary", BillAddr=address, ShipAddr=address)


def test_it_fills_an_invoice_like_qbo(qb: QuickBooks) -> None:
    invoice = save_invoice(qb, _amy(qb), 100.0)
    # create/invoice.yml: DocNumber, dates, totals, the appended subtotal line, copied address.
    assert re.fullmatch(r"\d+", invoice.DocNumber)
    assert invoice.SyncToken == "0"
    assert invoice.TotalAmt == invoice.Balance == 100
    assert [line.DetailType for line in invoice.Line] == [
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]
    assert invoice.Line[1].Amount == 100
    assert invoice.BillAddr.Line1 == "4581 Finch St." and invoice.ShipAddr.City == "Bayshore"
    assert invoice.CustomerRef.name == "Amy's Bird Sanctuary"
    assert invoice.PrintStatus == "NeedToPrint" and invoice.EmailStatus == "NotSet"
    assert invoice.LinkedTxn == []


def test_it_numbers_invoices_in_sequence(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Numbered")
    first, second = save_invoice(qb, customer), save_invoice(qb, customer)
    # Auto-assigned DocNumbers are numeric and increase (create/invoice.yml "1043" after "1041").
    assert int(second.DocNumber) > int(first.DocNumber)


def test_it_leaves_doc_number_to_the_caller_with_custom_txn_numbers(sandbox) -> None:
    qb = make_qb(sandbox, new_realm(sandbox, custom_txn_numbers=True))
    invoice = save_invoice(qb, save_customer(qb, "Own Numbers"))
    # qbo-api.md §4 Invoice: DocNumber is auto-assigned when omitted *unless* custom transaction
    # numbers are on.
    assert getattr(invoice, "DocNumber", None) in (None, "")
    numbered = save_invoice(qb, save_customer(qb, "Numbered Own"), DocNumber="LEASE-7")
    assert numbered.DocNumber == "LEASE-7"


def test_it_uses_the_home_currency_of_a_uk_realm(sandbox) -> None:
    qb = make_qb(sandbox, new_realm(sandbox, country="UK"))
    customer = save_customer(qb, "London Tenant")
    # A UK company wants a VAT code on every line ("Make sure all your transactions have a VAT
    # rate before you save"); take one from the company's own list.
    vat = TaxCode.all(qb=qb)[0]
    invoice = build_invoice(qb, customer, 950.0)
    invoice.Line[0].SalesItemLineDetail.TaxCodeRef = vat.to_ref()
    invoice = invoice.save(qb=qb)
    # Objects default to the company's home currency (create/customer.yml shows USD for a US one).
    assert customer.CurrencyRef.value == invoice.CurrencyRef.value == "GBP"


def test_it_derives_the_due_date_from_terms(qb: QuickBooks) -> None:
    default = save_invoice(qb, save_customer(qb, "Default Terms"))
    # create/invoice.yml: TxnDate 2020-09-29, DueDate 2020-10-29 (a fresh company's Net 30).
    txn_date = date.fromisoformat(default.TxnDate)
    assert default.DueDate == (txn_date + timedelta(days=30)).isoformat()

    term = Term()
    term.Name, term.DueDays = "Net 10", 10
    term = term.save(qb=qb)
    assert term.Type == "STANDARD"
    customer = save_customer(qb, "Ten Day Tenant", SalesTermRef=term.to_ref())
    invoice = save_invoice(qb, customer)
    assert invoice.SalesTermRef.value == term.Id
    assert invoice.DueDate == (date.fromisoformat(invoice.TxnDate) + timedelta(days=10)).isoformat()


def test_it_keeps_an_explicit_due_date(qb: QuickBooks) -> None:
    invoice = save_invoice(
        qb, save_customer(qb, "Explicit"), TxnDate="2026-01-01", DueDate="2026-01-20"
    )
    assert (invoice.TxnDate, invoice.DueDate) == ("2026-01-01", "2026-01-20")


def test_it_deletes_an_invoice(qb: QuickBooks) -> None:
    invoice = save_invoice(qb, save_customer(qb, "Deleted Txn"))
    answer = invoice.delete(qb=qb)
    # delete/invoice.yml: exactly {"domain","status","Id"} under the entity key.
    assert answer["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": invoice.Id}
    # qbo-api.md §2: 610 "Object Not Found" for a deleted transaction.
    with pytest.raises(ObjectNotFoundException) as raised:
        Invoice.get(invoice.Id, qb=qb)
    assert raised.value.error_code == 610


def test_it_voids_an_invoice(qb: QuickBooks) -> None:
    invoice = save_invoice(qb, save_customer(qb, "Voided Txn"), 60.0, 40.0)
    invoice.void(qb=qb)
    voided = Invoice.get(invoice.Id, qb=qb)
    # void/invoice.yml: still there, SyncToken +1, every amount 0, PrivateNote "Voided".
    assert voided.SyncToken == "1"
    assert voided.TotalAmt == voided.Balance == 0
    assert [line.Amount for line in voided.Line] == [0, 0, 0]
    assert voided.PrivateNote == "Voided"
    assert voided.DocNumber == invoice.DocNumber


def test_it_prefixes_an_existing_private_note_when_voiding(qb: QuickBooks) -> None:
    invoice = save_invoice(qb, save_customer(qb, "Noted"), PrivateNote="Rent May")
    invoice.void(qb=qb)
    note = Invoice.get(invoice.Id, qb=qb).PrivateNote
    assert note.startswith("Voided") and "Rent May" in note


def test_it_recreates_lines_sent_without_an_id_on_a_full_update(qb: QuickBooks) -> None:
    created = save_invoice(qb, save_customer(qb, "Relined"), 100.0)
    body = qb.get_single_object("Invoice", created.Id)["Invoice"]
    kept = {k: v for k, v in body.items() if k not in {"Line", "TotalAmt", "Balance"}}
    line = {
        "Amount": 150.0,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": body["Line"][0]["SalesItemLineDetail"]["ItemRef"]},
    }
    updated = qb.update_object("Invoice", json.dumps({**kept, "Line": [line]}))["Invoice"]
    # update/sales_receipt.yml: a line sent without Id replaces the old one under a new Id
    # ("5" -> "6"); totals follow the new lines and the DocNumber stays.
    sales = [x for x in updated["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert len(sales) == 1 and sales[0]["Id"] != body["Line"][0]["Id"]
    assert updated["TotalAmt"] == updated["Balance"] == 150
    assert updated["SyncToken"] == "1" and updated["DocNumber"] == created.DocNumber


def test_it_rejects_an_invoice_with_an_inactive_item_with_610(qb: QuickBooks) -> None:
    item = services_item(qb)
    body = {"Id": item.Id, "SyncToken": item.SyncToken, "sparse": True, "Active": False}
    qb.update_object("Item", json.dumps(body))
    invoice = Invoice()
    invoice.CustomerRef = save_customer(qb, "Uses Old Item").to_ref()
    invoice.Line = [sales_line(item, 10.0)]
    # qbo-api.md §2 610: "...made inactive. Check the fields with accounts, customers, items..."
    with pytest.raises(ObjectNotFoundException) as raised:
        invoice.save(qb=qb)
    assert raised.value.error_code == 610


# --- payments and credits ----------------------------------------------------------------------


def test_it_reduces_the_invoice_balance_with_linked_payments(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Paying Tenant")
    invoice = save_invoice(qb, customer, 100.0)
    payment = save_payment(qb, customer, 40.0, linked_line(40.0, invoice))
    assert payment.TotalAmt == 40 and payment.UnappliedAmt == 0
    after_first = Invoice.get(invoice.Id, qb=qb)
    assert after_first.Balance == 60 and after_first.TotalAmt == 100
    # The invoice links back to the payment that paid it.
    assert [(t.TxnId, t.TxnType) for t in after_first.LinkedTxn] == [(payment.Id, "Payment")]
    save_payment(qb, customer, 60.0, linked_line(60.0, invoice))
    assert Invoice.get(invoice.Id, qb=qb).Balance == 0
    assert Customer.get(customer.Id, qb=qb).Balance == 0


def test_it_keeps_an_unapplied_payment_amount(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Overpaying Tenant")
    invoice = save_invoice(qb, customer, 100.0)
    payment = save_payment(qb, customer, 150.0, linked_line(100.0, invoice))
    assert payment.UnappliedAmt == 50
    assert Invoice.get(invoice.Id, qb=qb).Balance == 0


def test_it_tracks_the_customer_open_balance(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Running Balance")
    first = save_invoice(qb, customer, 100.0)
    save_invoice(qb, customer, 50.0)
    save_payment(qb, customer, 30.0, linked_line(30.0, first))
    # Customer.Balance is the open balance over its invoices (all/customers.yml: 639.00 for a
    # customer with open invoices, 0 for one without).
    fetched = Customer.get(customer.Id, qb=qb)
    assert fetched.Balance == fetched.BalanceWithJobs == 120


def test_it_deletes_a_payment_and_reopens_the_invoice(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Refunded")
    invoice = save_invoice(qb, customer, 100.0)
    payment = save_payment(qb, customer, 100.0, linked_line(100.0, invoice))
    answer = payment.delete(qb=qb)
    # quickbooks-ruby payment_delete_success_response.xml: domain, status="Deleted", Id.
    assert answer["Payment"] == {"domain": "QBO", "status": "Deleted", "Id": payment.Id}
    assert Invoice.get(invoice.Id, qb=qb).Balance == 100


def test_it_refuses_to_delete_an_invoice_with_a_linked_payment(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Paid Up")
    invoice = save_invoice(qb, customer, 100.0)
    save_payment(qb, customer, 100.0, linked_line(100.0, invoice))
    # qbo-api.md §4 Invoice: linked transactions must be unlinked before a delete.
    with pytest.raises(QuickbooksException):
        invoice.delete(qb=qb)
    assert Invoice.get(invoice.Id, qb=qb).Id == invoice.Id


def test_it_voids_a_payment_and_reopens_the_invoice(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Bounced Cheque")
    invoice = save_invoice(qb, customer, 100.0)
    payment = save_payment(qb, customer, 100.0, linked_line(100.0, invoice))
    assert Invoice.get(invoice.Id, qb=qb).Balance == 0
    # qbo-api.md §4 Payment: void is a sparse update with ?operation=update&include=void.
    payment.void(qb=qb)
    voided = Payment.get(payment.Id, qb=qb)
    # quickbooks-ruby payment_void_response_success.xml: TotalAmt 0, PrivateNote "Voided".
    assert voided.TotalAmt == 0 and voided.PrivateNote == "Voided"
    assert int(voided.SyncToken) == int(payment.SyncToken) + 1
    assert Invoice.get(invoice.Id, qb=qb).Balance == 100


def test_it_applies_a_credit_memo_to_an_invoice(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Credited Tenant")
    invoice = save_invoice(qb, customer, 100.0)
    memo = CreditMemo()
    memo.CustomerRef = customer.to_ref()
    memo.Line = [sales_line(services_item(qb), 30.0)]
    memo = memo.save(qb=qb)
    # qbo-api.md §4 CreditMemo: RemainingCredit and Balance start at the total.
    assert memo.TotalAmt == memo.RemainingCredit == memo.Balance == 30
    # A zero-amount payment linking both applies the credit to the invoice (Intuit's way).
    save_payment(qb, customer, 0.0, linked_line(30.0, invoice), linked_line(30.0, memo))
    assert Invoice.get(invoice.Id, qb=qb).Balance == 70
    assert CreditMemo.get(memo.Id, qb=qb).RemainingCredit == 0


# --- requestid ---------------------------------------------------------------------------------


def test_it_replays_a_request_id_instead_of_creating_twice(qb: QuickBooks) -> None:
    first = Customer()
    first.DisplayName = "Idempotent Tenant"
    first = first.save(qb=qb, request_id="3c1a0f51-retry")
    retry = Customer()
    retry.DisplayName = "Idempotent Tenant"
    replayed = retry.save(qb=qb, request_id="3c1a0f51-retry")
    # qbo-api.md §3: the same requestid returns the original response, no second object
    # (without the replay this create would fail with 6240 Duplicate Name).
    assert replayed.Id == first.Id and replayed.SyncToken == first.SyncToken
    assert Customer.count("DisplayName = 'Idempotent Tenant'", qb=qb) == 1


def test_it_replays_a_request_id_after_a_lost_response(
    sandbox, qb: QuickBooks, realm_id: str
) -> None:
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"lost_response_rate": 1})
    lost = Customer()
    lost.DisplayName = "Committed Then Dropped"
    # CONTRACT.md faults: the write is committed, then the connection drops without an answer.
    with pytest.raises(requests.ConnectionError):
        lost.save(qb=qb, request_id="lost-1")
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"lost_response_rate": 0})
    retry = Customer()
    retry.DisplayName = "Committed Then Dropped"
    # qbo-api.md §3: the retry with the same requestid gets the original answer, one object.
    replayed = retry.save(qb=qb, request_id="lost-1")
    assert replayed.SyncToken == "0"
    assert Customer.count("DisplayName = 'Committed Then Dropped'", qb=qb) == 1


def test_it_replays_a_request_id_per_realm(sandbox, qb: QuickBooks) -> None:
    save_customer(qb, "Somebody")
    other = make_qb(sandbox, new_realm(sandbox))
    mine = Customer()
    mine.DisplayName = "Realm Scoped"
    theirs = Customer()
    theirs.DisplayName = "Realm Scoped Too"
    a = mine.save(qb=qb, request_id="shared-id")
    b = theirs.save(qb=other, request_id="shared-id")
    # Ids are unique per realm (qbo-api.md §3): another company's request is not a replay.
    assert b.DisplayName == "Realm Scoped Too"
    assert a.DisplayName == "Realm Scoped"


def test_it_replays_a_delete_with_the_same_request_id(qb: QuickBooks) -> None:
    invoice = save_invoice(qb, save_customer(qb, "Deleted Once"))
    first = invoice.delete(qb=qb, request_id="del-7f3a")
    # qbo-api.md §3: the retry gets the original answer, not 610 for a deleted transaction.
    again = invoice.delete(qb=qb, request_id="del-7f3a")
    assert (
        again["Invoice"]
        == first["Invoice"]
        == {
            "domain": "QBO",
            "status": "Deleted",
            "Id": invoice.Id,
        }
    )


def test_it_creates_normally_with_a_fresh_request_id(qb: QuickBooks) -> None:
    first, second = Customer(), Customer()
    first.DisplayName, second.DisplayName = "Fresh One", "Fresh Two"
    a, b = first.save(qb=qb, request_id="r-1"), second.save(qb=qb, request_id="r-2")
    assert a.Id != b.Id


# --- other name lists --------------------------------------------------------------------------


def test_it_creates_and_reads_a_class(sandbox, realm_id: str) -> None:
    sandbox.control("PATCH", f"realms/{realm_id}", {"class_tracking": True})
    qb = make_qb(sandbox, realm_id)
    tracking = Class()
    tracking.Name = "Harbour View"
    created = tracking.save(qb=qb)
    fetched = Class.get(created.Id, qb=qb)
    assert fetched.Name == fetched.FullyQualifiedName == "Harbour View"
    assert fetched.SyncToken == "0" and fetched.Active is True


def test_it_serves_tax_codes_read_only(qb: QuickBooks) -> None:
    codes = TaxCode.all(qb=qb)
    # qbo-api.md §4 TaxCode: readable through the accounting API; creation is elsewhere.
    assert codes
    assert all(code.Name for code in codes)


# --- company settings --------------------------------------------------------------------------


def test_it_reflects_a_us_realm_in_company_info_and_preferences(
    sandbox, qb: QuickBooks, realm_id: str
) -> None:
    info = CompanyInfo.get(realm_id, qb=qb)
    assert re.fullmatch(r"\d+", info.Id)
    assert info.CompanyName == "Conformance Co"
    assert info.Country == "US"
    prefs = Preferences.get(qb=qb)
    assert prefs.CurrencyPrefs.HomeCurrency.value == "USD"
    assert prefs.CurrencyPrefs.MultiCurrencyEnabled is False
    assert prefs.SalesFormsPrefs.CustomTxnNumbers is False
    assert prefs.AccountingInfoPrefs.ClassTrackingPerTxn is False


def test_it_reflects_realm_settings_in_preferences(sandbox) -> None:
    realm = new_realm(
        sandbox,
        name="Acme Lettings Ltd",
        country="UK",
        custom_txn_numbers=True,
        class_tracking=True,
        multicurrency=True,
        closing_date="2025-12-31",
    )
    qb = make_qb(sandbox, realm)
    assert CompanyInfo.get(realm, qb=qb).CompanyName == "Acme Lettings Ltd"
    prefs = Preferences.get(qb=qb)
    # Preference names as in quickbooks-ruby fixtures/preferences.xml and the library model.
    assert prefs.CurrencyPrefs.HomeCurrency.value == "GBP"
    assert prefs.CurrencyPrefs.MultiCurrencyEnabled is True
    assert prefs.SalesFormsPrefs.CustomTxnNumbers is True
    tracking = prefs.AccountingInfoPrefs
    assert tracking.ClassTrackingPerTxn is True or tracking.ClassTrackingPerTxnLine is True
    assert tracking.BookCloseDate == "2025-12-31"


def test_it_reflects_a_patched_realm_setting(sandbox, realm_id: str) -> None:
    qb = make_qb(sandbox, realm_id)
    assert Preferences.get(qb=qb).SalesFormsPrefs.CustomTxnNumbers is False
    sandbox.control("PATCH", f"realms/{realm_id}", {"custom_txn_numbers": True})
    assert Preferences.get(qb=qb).SalesFormsPrefs.CustomTxnNumbers is True


def test_it_rejects_a_stale_save_after_a_concurrent_edit(qb: QuickBooks) -> None:
    created = save_customer(qb, "Raced Tenant")
    mine, theirs = Customer.get(created.Id, qb=qb), Customer.get(created.Id, qb=qb)
    theirs.Notes = "theirs"
    theirs.save(qb=qb)
    mine.Notes = "mine"
    # qbo-api.md §2: 5010 falls in the 5000-9999 band -> plain QuickbooksException.
    with pytest.raises(QuickbooksException) as raised:
        mine.save(qb=qb)
    assert raised.value.error_code == 5010
    assert type(raised.value) is QuickbooksException
    assert Customer.get(created.Id, qb=qb).Notes == "theirs"
