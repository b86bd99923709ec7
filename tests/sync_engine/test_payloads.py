"""Payloads are what QuickBooks accepts, name what is unmapped, and fingerprint stably.

Unit tests build payloads from real rows; the sandbox tests send them through python-quickbooks
to qbo_sandbox and compare QuickBooks' TotalAmt/Balance with the app's totals.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice as QboInvoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment as QboPayment

from companies.models import (
    ChargeCode,
    CreditNote,
    CreditNoteLine,
    Invoice,
    Payment,
    PaymentAllocation,
    TaxRate,
)
from companies.selectors import invoice_balance
from companies.services import document_totals_refresh
from quickbooks_link import client
from sync_engine.payloads import (
    Mappings,
    MissingMapping,
    credit_allocation_payload,
    credit_memo_payload,
    customer_payload,
    fingerprint,
    invoice_payload,
    payment_payload,
    record_marker,
)

APPROVED = Invoice.Status.APPROVED


def _mappings(tenant, rent, sales_tax=None, **overrides) -> Mappings:
    fields = {
        "customers": {tenant.pk: "58"},
        "items": {rent.pk: "7"},
        "tax_codes": {sales_tax.pk: "TAX"} if sales_tax else {},
        "classes": {},
        "invoices": {},
        "country": "US",
        "class_tracking": False,
    }
    return Mappings(**{**fields, **overrides})


def _credit_note(tenant, rent, *, amount="200.00", invoice=None, number="CN-1") -> CreditNote:
    note = CreditNote.objects.create(
        company=tenant.company,
        number=number,
        tenant=tenant,
        issue_date=datetime.date(2026, 1, 10),
        currency="USD",
        status=CreditNote.Status.APPROVED,
        allocated_invoice=invoice,
    )
    CreditNoteLine.objects.create(credit_note=note, charge_code=rent, unit_amount=Decimal(amount))
    return document_totals_refresh(document=note)


def _payment(tenant, amount, *allocations, reference="BACS 0042") -> Payment:
    payment = Payment.objects.create(
        company=tenant.company,
        tenant=tenant,
        received_on=datetime.date(2026, 1, 20),
        amount=Decimal(amount),
        currency="USD",
        reference=reference,
    )
    for invoice, allocated in allocations:
        PaymentAllocation.objects.create(
            payment=payment, invoice=invoice, amount=Decimal(allocated)
        )
    return payment


def _money_values(payload: object) -> list[float]:
    if isinstance(payload, dict):
        return [v for k, item in payload.items() for v in _money_values_of(k, item)]
    if isinstance(payload, list):
        return [v for item in payload for v in _money_values(item)]
    return []


def _money_values_of(key: str, value: object) -> list[float]:
    if key in ("Amount", "UnitPrice", "TotalAmt", "TotalTax"):
        return [value]
    return _money_values(value)


# ---- customers --------------------------------------------------------------------------------


def test_it_builds_a_customer_from_a_tenant(tenant):
    tenant.phone, tenant.billing_address = "617 555 0100", "1 Harbour View\nApt 4\nBoston MA"
    assert customer_payload(tenant) == {
        "DisplayName": "Jane Doe",
        "Active": True,
        "Notes": f"released-sync tenant {tenant.pk}",
        "PrimaryEmailAddr": {"Address": "jane@example.com"},
        "PrimaryPhone": {"FreeFormNumber": "617 555 0100"},
        "BillAddr": {"Line1": "1 Harbour View", "Line2": "Apt 4", "Line3": "Boston MA"},
    }


def test_it_deactivates_an_archived_tenant(tenant):
    tenant.archived_at = timezone.now()
    assert customer_payload(tenant)["Active"] is False


def test_it_leaves_out_blank_contact_details(tenant):
    tenant.email = ""
    payload = customer_payload(tenant)
    assert not {"PrimaryEmailAddr", "PrimaryPhone", "BillAddr"} & set(payload)


def test_it_keeps_every_address_line_within_five(tenant):
    tenant.billing_address = "\n".join(f"line {n}" for n in range(1, 8))
    address = customer_payload(tenant)["BillAddr"]
    assert list(address) == ["Line1", "Line2", "Line3", "Line4", "Line5"]
    assert address["Line5"] == "line 5, line 6, line 7"


# ---- invoices ---------------------------------------------------------------------------------


def test_it_builds_a_us_invoice_with_taxable_and_untaxed_lines(
    make_invoice, tenant, rent, sales_tax
):
    invoice = make_invoice(lines=((1, "1200.00", sales_tax), ("1.5", "33.33")), memo="January")
    payload = invoice_payload(invoice, _mappings(tenant, rent, sales_tax))
    assert (
        payload["DocNumber"] == "INV-1"
        and payload["PrivateNote"] == f"released-sync invoice {invoice.pk}"
    )
    assert (payload["TxnDate"], payload["DueDate"]) == ("2026-01-01", "2026-01-15")
    assert payload["CustomerRef"] == {"value": "58"} and payload["CurrencyRef"] == {"value": "USD"}
    assert payload["CustomerMemo"] == {"value": "January"}
    taxed, untaxed = payload["Line"]
    assert taxed == {
        "DetailType": "SalesItemLineDetail",
        "Amount": 1200.0,
        "SalesItemLineDetail": {
            "ItemRef": {"value": "7"},
            "Qty": 1.0,
            "UnitPrice": 1200.0,
            "TaxCodeRef": {"value": "TAX"},
        },
    }
    assert untaxed["Amount"] == 50.0 and untaxed["SalesItemLineDetail"]["Qty"] == 1.5
    assert untaxed["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}
    # 1200.00 * 8.875% = 106.50: the app's tax goes over as QuickBooks' TotalTax.
    assert payload["TxnTaxDetail"] == {"TotalTax": 106.5}
    assert "GlobalTaxCalculation" not in payload


def test_it_sends_a_mapped_us_tax_group_as_the_transaction_tax_code(
    make_invoice, tenant, rent, sales_tax
):
    invoice = make_invoice(lines=((1, "100.00", sales_tax),))
    mappings = _mappings(tenant, rent, sales_tax, tax_codes={sales_tax.pk: "2"})
    payload = invoice_payload(invoice, mappings)
    assert payload["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    assert payload["TxnTaxDetail"] == {"TotalTax": 8.88, "TxnTaxCodeRef": {"value": "2"}}


def test_it_sends_line_tax_codes_outside_the_us(make_invoice, tenant, rent, sales_tax):
    invoice = make_invoice(lines=((1, "100.00", sales_tax),))
    mappings = _mappings(tenant, rent, sales_tax, tax_codes={sales_tax.pk: "2"}, country="UK")
    payload = invoice_payload(invoice, mappings)
    assert payload["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "2"}
    assert payload["GlobalTaxCalculation"] == "TaxExcluded"
    assert "TxnTaxDetail" not in payload


def test_it_refuses_an_untaxed_line_outside_the_us(make_invoice, tenant, rent):
    invoice = make_invoice()
    with pytest.raises(MissingMapping, match="needs a tax code on every line"):
        invoice_payload(invoice, _mappings(tenant, rent, country="AU"))


def test_it_tracks_the_property_class_when_class_tracking_is_on(
    make_invoice, tenant, rent, harbour_view
):
    invoice = make_invoice(property=harbour_view)
    on = _mappings(tenant, rent, classes={harbour_view.pk: "5"}, class_tracking=True)
    payload = invoice_payload(invoice, on)
    assert payload["ClassRef"] == {"value": "5"}
    assert payload["Line"][0]["SalesItemLineDetail"]["ClassRef"] == {"value": "5"}
    off = invoice_payload(invoice, _mappings(tenant, rent, classes={harbour_view.pk: "5"}))
    assert "ClassRef" not in off and "ClassRef" not in off["Line"][0]["SalesItemLineDetail"]


def test_it_never_sends_id_sync_token_or_a_subtotal_line(make_invoice, tenant, rent):
    payload = invoice_payload(make_invoice(), _mappings(tenant, rent))
    assert not {"Id", "SyncToken", "TotalAmt", "Balance"} & set(payload)
    assert [line["DetailType"] for line in payload["Line"]] == ["SalesItemLineDetail"]


def test_it_sends_money_exact_to_the_cent(make_invoice, tenant, rent, sales_tax):
    invoice = make_invoice(lines=((3, "333.33", sales_tax), ("0.125", "10.00")))
    values = _money_values(invoice_payload(invoice, _mappings(tenant, rent, sales_tax)))
    assert values and all(isinstance(v, float) and round(v, 2) == v for v in values)


def test_it_names_an_unmapped_charge_code(make_invoice, tenant, rent, acme_north):
    parking = ChargeCode.objects.create(company=acme_north, code="PARK", name="Parking")
    invoice = make_invoice()
    invoice.lines.update(charge_code=parking)
    with pytest.raises(MissingMapping) as raised:
        invoice_payload(invoice, _mappings(tenant, rent))
    assert (
        raised.value.explanation == "Charge code PARK Parking is not mapped to a QuickBooks item."
    )
    assert "Onboarding › Charge codes and items" in raised.value.fix


def test_it_names_an_unmapped_tax_rate(make_invoice, tenant, rent, sales_tax):
    invoice = make_invoice(lines=((1, "100.00", sales_tax),))
    with pytest.raises(MissingMapping) as raised:
        invoice_payload(invoice, _mappings(tenant, rent))
    assert "Tax rate Sales tax (8.875%) is not mapped" in raised.value.explanation
    assert raised.value.fix.endswith("Tax rates, then retry.")


def test_it_names_a_tenant_that_is_not_a_customer_yet(make_invoice, tenant, rent):
    with pytest.raises(MissingMapping, match="Tenant Jane Doe on invoice INV-1 is not linked"):
        invoice_payload(make_invoice(), _mappings(tenant, rent, customers={}))


def test_it_builds_payloads_without_queries_once_prefetched(
    make_invoice, tenant, rent, django_assert_num_queries
):
    make_invoice()
    invoice = Invoice.objects.prefetch_related("lines").get()
    with django_assert_num_queries(0):
        invoice_payload(invoice, _mappings(tenant, rent))


# ---- credit notes -----------------------------------------------------------------------------


def test_it_builds_a_credit_memo_like_an_invoice_without_a_due_date(tenant, rent):
    note = _credit_note(tenant, rent)
    payload = credit_memo_payload(note, _mappings(tenant, rent))
    assert payload["DocNumber"] == "CN-1" and "DueDate" not in payload
    assert payload["PrivateNote"] == f"released-sync credit_note {note.pk}"
    assert payload["Line"][0]["Amount"] == 200.0


def test_it_applies_a_credit_with_a_zero_payment_linking_both(make_invoice, tenant, rent):
    invoice = make_invoice()
    note = _credit_note(tenant, rent, invoice=invoice)
    mappings = _mappings(tenant, rent, invoices={invoice.pk: "130"})
    payload = credit_allocation_payload(note, mappings, credit_memo_id="131")
    assert payload["TotalAmt"] == 0.0 and payload["CustomerRef"] == {"value": "58"}
    assert payload["Line"] == [
        {"Amount": 200.0, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
        {"Amount": 200.0, "LinkedTxn": [{"TxnId": "131", "TxnType": "CreditMemo"}]},
    ]
    assert payload["PrivateNote"] == f"released-sync credit_note {note.pk} allocation"


def test_it_has_nothing_to_apply_for_an_unallocated_credit(tenant, rent):
    note = _credit_note(tenant, rent)
    assert credit_allocation_payload(note, _mappings(tenant, rent), credit_memo_id="131") is None


def test_it_waits_for_the_allocated_invoice_to_reach_quickbooks(make_invoice, tenant, rent):
    note = _credit_note(tenant, rent, invoice=make_invoice())
    with pytest.raises(MissingMapping, match="invoice INV-1, which is not in QuickBooks yet"):
        credit_allocation_payload(note, _mappings(tenant, rent), credit_memo_id="131")


# ---- payments ---------------------------------------------------------------------------------


def test_it_builds_a_payment_with_a_line_per_allocation(make_invoice, tenant, rent):
    first, second = make_invoice("INV-1"), make_invoice("INV-2")
    payment = _payment(tenant, "1500.00", (first, "1200.00"), (second, "300.00"))
    mappings = _mappings(tenant, rent, invoices={first.pk: "130", second.pk: "140"})
    assert payment_payload(payment, mappings) == {
        "TotalAmt": 1500.0,
        "CustomerRef": {"value": "58"},
        "TxnDate": "2026-01-20",
        "CurrencyRef": {"value": "USD"},
        "PrivateNote": f"released-sync payment {payment.pk}",
        "PaymentRefNum": "BACS 0042",
        "Line": [
            {"Amount": 1200.0, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
            {"Amount": 300.0, "LinkedTxn": [{"TxnId": "140", "TxnType": "Invoice"}]},
        ],
    }


def test_it_keeps_a_long_reference_whole_in_the_private_note(tenant, rent):
    reference = "Standing order 2026-01 Harbour View flat 4"
    payload = payment_payload(
        _payment(tenant, "10.00", reference=reference), _mappings(tenant, rent)
    )
    assert payload["PaymentRefNum"] == reference[:21]  # QBO's limit for PaymentRefNum
    assert payload["PrivateNote"].endswith(f"\nReference: {reference}")


def test_it_names_the_invoice_a_payment_waits_for(make_invoice, tenant, rent):
    payment = _payment(tenant, "100.00", (make_invoice("INV-9"), "100.00"))
    with pytest.raises(MissingMapping, match="allocated to invoice INV-9"):
        payment_payload(payment, _mappings(tenant, rent))


# ---- markers and fingerprints -----------------------------------------------------------------


def test_it_marks_a_record_so_it_can_be_found_again():
    assert record_marker("invoice", 123) == "released-sync invoice 123"
    with pytest.raises(ValueError):
        record_marker("invoices", 123)


def test_it_fingerprints_equal_payloads_alike():
    payload = {"Line": [{"Amount": 1200.0, "Qty": 1.5}], "DocNumber": "INV-1"}
    same = {"DocNumber": "INV-1", "Line": [{"Qty": Decimal("1.500"), "Amount": Decimal("1200")}]}
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(payload))
    assert fingerprint(payload) == fingerprint(same)


def test_it_fingerprints_a_changed_amount_differently():
    assert fingerprint({"TotalAmt": 100.0}) != fingerprint({"TotalAmt": 100.01})
    assert fingerprint({"Qty": Decimal("0.125")}) != fingerprint({"Qty": Decimal("0.13")})


# ---- against the sandbox ----------------------------------------------------------------------


@pytest.fixture
def us_realm(qbo):
    return qbo.control("POST", "realms", {"name": "Acme North Books", "class_tracking": True})


def _api(qbo, realm: dict) -> client.QboApi:
    tokens = qbo.control("POST", f"realms/{realm['realm_id']}/tokens")
    return client.api_client(
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        realm_id=realm["realm_id"],
    )


def _save(api: client.QboApi, qbo_class, payload: dict):
    return client.call(api, lambda qb: qbo_class.from_json(payload).save(qb=qb))


def _get(api: client.QboApi, qbo_class, qbo_id: str):
    return client.call(api, lambda qb: qbo_class.get(qbo_id, qb=qb))


def _onboard(api: client.QboApi, tenant, rent, **fields) -> Mappings:
    """What onboarding would have mapped: the tenant as a customer, RENT as the seeded Rent item."""
    customer = _save(api, Customer, customer_payload(tenant))
    item = client.call(api, lambda qb: Item.filter(Name="Rent", qb=qb))[0]
    return _mappings(
        tenant, rent, customers={tenant.pk: customer.Id}, items={rent.pk: item.Id}, **fields
    )


@pytest.mark.sandbox
def test_it_round_trips_invoice_credit_and_payment_through_the_sandbox(
    qbo, us_realm, make_invoice, tenant, rent, harbour_view
):
    api = _api(qbo, us_realm)
    tracked = client.create_class(api, name=harbour_view.name)["Id"]
    mappings = _onboard(api, tenant, rent, classes={harbour_view.pk: tracked}, class_tracking=True)
    invoice = make_invoice(
        lines=((1, "1200.00"), ("1.5", "33.33")), status=APPROVED, property=harbour_view
    )
    sent = _save(api, QboInvoice, invoice_payload(invoice, mappings))
    assert sent.TotalAmt == sent.Balance == float(invoice.total) == 1250.0
    assert sent.DocNumber == "INV-1" and sent.ClassRef.value == tracked
    mappings = dataclasses.replace(mappings, invoices={invoice.pk: sent.Id})

    note = _credit_note(tenant, rent, invoice=invoice)
    memo = _save(api, CreditMemo, credit_memo_payload(note, mappings))
    assert memo.TotalAmt == float(note.total) == 200.0
    _save(api, QboPayment, credit_allocation_payload(note, mappings, credit_memo_id=memo.Id))
    assert _get(api, CreditMemo, memo.Id).RemainingCredit == 0

    payment = _payment(tenant, "500.00", (invoice, "500.00"))
    received = _save(api, QboPayment, payment_payload(payment, mappings))
    assert received.TotalAmt == 500.0 and received.UnappliedAmt == 0
    assert (
        _get(api, QboInvoice, sent.Id).Balance == float(invoice_balance(invoice=invoice)) == 550.0
    )


@pytest.mark.sandbox
def test_it_has_a_taxed_us_invoice_accepted_with_its_tax_codes(
    qbo, us_realm, make_invoice, tenant, rent, sales_tax
):
    api = _api(qbo, us_realm)
    mappings = _onboard(api, tenant, rent, tax_codes={sales_tax.pk: "TAX"})
    invoice = make_invoice(lines=((1, "1200.00", sales_tax), (1, "50.00")), status=APPROVED)
    sent = _save(api, QboInvoice, invoice_payload(invoice, mappings))
    codes = [line.SalesItemLineDetail.TaxCodeRef.value for line in sent.Line[:2]]
    assert codes == ["TAX", "NON"]
    assert sent.Line[-1].DetailType == "SubTotalLineDetail" and sent.Line[-1].Amount == 1250.0


@pytest.mark.sandbox
def test_it_matches_a_taxed_us_invoice_total(qbo, us_realm, make_invoice, tenant, rent, sales_tax):
    api = _api(qbo, us_realm)
    mappings = _onboard(api, tenant, rent, tax_codes={sales_tax.pk: "TAX"})
    invoice = make_invoice(lines=((1, "1200.00", sales_tax),), status=APPROVED)
    sent = _save(api, QboInvoice, invoice_payload(invoice, mappings))
    assert sent.TotalAmt == float(invoice.total) == 1306.5


@pytest.mark.sandbox
def test_it_matches_a_taxed_uk_invoice_total(qbo, make_invoice, tenant, rent, acme_north):
    realm = qbo.control("POST", "realms", {"name": "Acme UK Books", "country": "UK"})
    vat = TaxRate.objects.create(company=acme_north, name="VAT standard", rate=Decimal("20"))
    api = _api(qbo, realm)
    # Sandbox UK code "2" is "20.0% S" (qbo_sandbox/entities/tax.py), as in a fresh UK company.
    mappings = _onboard(api, tenant, rent, tax_codes={vat.pk: "2"}, country="UK")
    invoice = make_invoice(
        lines=((1, "1000.00", vat), (2, "12.50", vat)), currency="GBP", status=APPROVED
    )
    sent = _save(api, QboInvoice, invoice_payload(invoice, mappings))
    assert sent.TxnTaxDetail.TotalTax == float(invoice.tax_total) == 205.0
    assert sent.TotalAmt == sent.Balance == float(invoice.total) == 1230.0
