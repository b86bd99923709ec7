"""The HTML view of the QBO side: lists, stable deep links, and the edits a person makes in QBO."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.invoice import Invoice

from tests.qbo_sandbox.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI


@pytest.fixture
def company(sandbox):
    """A realm with one customer and one 100.00 invoice; returns (realm id, qb, invoice)."""
    realm_id = sandbox.control("POST", "realms", {"name": "View & Co"})["realm_id"]
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    auth = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=sandbox.discovery_url)
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=tokens["refresh_token"],
        company_id=realm_id,
        minorversion=75,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    customer = qb.create_object("Customer", json.dumps({"DisplayName": "<b>Tenant</b>"}))
    invoice = qb.create_object(
        "Invoice",
        json.dumps(
            {
                "CustomerRef": {"value": customer["Customer"]["Id"]},
                "Line": [
                    {
                        "Amount": 100,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            }
        ),
    )["Invoice"]
    return realm_id, qb, invoice


def _invoice_url(sandbox, realm_id: str, invoice_id: str, action: str = "") -> str:
    query = urllib.parse.urlencode({"txnId": invoice_id, "realm": realm_id})
    return f"{sandbox.url}/app/invoice{'/' + action if action else ''}?{query}"


def test_it_lists_realms_and_their_documents_with_escaped_names(sandbox, company):
    realm_id, _, invoice = company
    home = requests.get(timeout=10, url=sandbox.url + "/")
    assert "View &amp; Co" in home.text and realm_id in home.text
    page = requests.get(timeout=10, url=f"{sandbox.url}/app/homepage", params={"realm": realm_id})
    assert page.status_code == 200
    assert "&lt;b&gt;Tenant&lt;/b&gt;" in page.text and "<b>Tenant</b>" not in page.text
    assert f"/app/invoice?txnId={invoice['Id']}&amp;realm={realm_id}" in page.text
    for heading in ("Customers", "Invoices", "CreditMemos", "Payments"):
        assert f"<h2>{heading}</h2>" in page.text


def test_it_serves_a_stable_deep_link_per_invoice(sandbox, company):
    realm_id, _, invoice = company
    page = requests.get(timeout=10, url=_invoice_url(sandbox, realm_id, invoice["Id"]))
    assert page.status_code == 200
    assert f"Invoice {invoice['DocNumber']}" in page.text
    missing = requests.get(timeout=10, url=_invoice_url(sandbox, realm_id, "999"))
    assert missing.status_code == 404


def test_it_records_a_payment_against_an_invoice(sandbox, company):
    realm_id, qb, invoice = company
    response = requests.post(
        timeout=10,
        url=_invoice_url(sandbox, realm_id, invoice["Id"], "payment"),
        data={"amount": "40", "memo": "paid at the desk"},
        allow_redirects=False,
    )
    assert response.status_code == 303
    fetched = Invoice.get(invoice["Id"], qb=qb)
    assert fetched.Balance == 60
    assert fetched.SyncToken == "1"  # applying a payment changes the invoice
    assert fetched.LinkedTxn[0].TxnType == "Payment"


def test_it_edits_a_line_amount_date_and_memo(sandbox, company):
    realm_id, qb, invoice = company
    line_id = invoice["Line"][0]["Id"]
    response = requests.post(
        timeout=10,
        url=_invoice_url(sandbox, realm_id, invoice["Id"], "edit"),
        data={
            "SyncToken": invoice["SyncToken"],
            "TxnDate": "2026-01-15",
            "CustomerMemo": "Rent Jan",
            f"line_{line_id}_amount": "125.50",
            f"line_{line_id}_description": "January rent",
        },
        allow_redirects=False,
    )
    assert response.status_code == 303
    fetched = Invoice.get(invoice["Id"], qb=qb)
    assert (fetched.TotalAmt, fetched.Balance, fetched.TxnDate) == (125.5, 125.5, "2026-01-15")
    assert fetched.CustomerMemo.value == "Rent Jan"
    assert fetched.Line[0].Description == "January rent"
    assert fetched.SyncToken == "1"


def test_it_voids_an_invoice(sandbox, company):
    realm_id, qb, invoice = company
    requests.post(
        timeout=10,
        url=_invoice_url(sandbox, realm_id, invoice["Id"], "void"),
        data={"SyncToken": invoice["SyncToken"]},
    )
    fetched = Invoice.get(invoice["Id"], qb=qb)
    assert (fetched.TotalAmt, fetched.Balance, fetched.PrivateNote) == (0, 0, "Voided")


def test_it_shows_the_qbo_fault_for_a_stale_edit(sandbox, company):
    realm_id, _, invoice = company
    response = requests.post(
        timeout=10,
        url=_invoice_url(sandbox, realm_id, invoice["Id"], "void"),
        data={"SyncToken": "7"},
    )
    assert response.status_code == 400
    assert "5010" in response.text
