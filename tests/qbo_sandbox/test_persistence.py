"""--data-dir keeps the QBO side across restarts (the demo must survive a restart)."""

from __future__ import annotations

import json

from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from tests.qbo_sandbox.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    start_sandbox,
    stop_sandbox,
)


def _connect(sandbox, realm_id: str, refresh_token: str) -> QuickBooks:
    auth = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=sandbox.discovery_url)
    qb = QuickBooks(
        auth_client=auth, refresh_token=refresh_token, company_id=realm_id, minorversion=75
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    return qb


def _fill(sandbox) -> tuple[str, str, str]:
    realm_id = sandbox.control(
        "POST",
        "realms",
        {"name": "Persistent Lettings", "country": "UK", "custom_txn_numbers": True},
    )["realm_id"]
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    qb = _connect(sandbox, realm_id, tokens["refresh_token"])
    customer = Customer()
    customer.DisplayName = "Kept Tenant"
    customer = customer.save(qb=qb)
    invoice = qb.create_object(
        "Invoice",
        json.dumps(
            {
                "CustomerRef": {"value": customer.Id},
                "DocNumber": "R-1",
                "Line": [
                    {
                        "Amount": 100,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": "2"},
                            "TaxCodeRef": {"value": "2"},
                        },
                    }
                ],
            }
        ),
    )["Invoice"]
    return realm_id, tokens["refresh_token"], invoice["Id"]


def test_it_keeps_realms_records_and_tokens_across_a_restart(tmp_path):
    first = start_sandbox("--minute-seconds", "0.06", data_dir=tmp_path)
    try:
        realm_id, refresh_token, invoice_id = _fill(first)
    finally:
        stop_sandbox(first)
    second = start_sandbox("--minute-seconds", "0.06", data_dir=tmp_path)
    try:
        realm = second.control("GET", f"realms/{realm_id}")
        qb = _connect(second, realm_id, refresh_token)  # the old refresh token still works
        invoice = Invoice.get(invoice_id, qb=qb)
        customers = Customer.all(qb=qb)
        new = Customer()
        new.DisplayName = "Next Tenant"
        new = new.save(qb=qb)
    finally:
        stop_sandbox(second)
    assert realm["name"] == "Persistent Lettings" and realm["custom_txn_numbers"] is True
    assert invoice.DocNumber == "R-1" and invoice.TotalAmt == 120  # 20% VAT added
    assert [c.DisplayName for c in customers] == ["Kept Tenant"]
    assert int(new.Id) > int(customers[0].Id)  # Id sequences continue, never reused


def test_it_starts_empty_without_a_data_dir(tmp_path):
    first = start_sandbox("--minute-seconds", "0.06")
    try:
        first.control("POST", "realms", {})
    finally:
        stop_sandbox(first)
    second = start_sandbox("--minute-seconds", "0.06")
    try:
        assert second.control("GET", "realms") == {"realms": []}
    finally:
        stop_sandbox(second)
    assert list(tmp_path.iterdir()) == []


def test_it_forgets_everything_on_reset_even_on_disk(tmp_path):
    first = start_sandbox("--minute-seconds", "0.06", data_dir=tmp_path)
    try:
        first.control("POST", "realms", {})
        first.control("POST", "reset")
    finally:
        stop_sandbox(first)
    second = start_sandbox("--minute-seconds", "0.06", data_dir=tmp_path)
    try:
        assert second.control("GET", "realms") == {"realms": []}
    finally:
        stop_sandbox(second)
