"""Client-building helpers and small HTTP utilities shared by the qbo_sandbox conformance tests.

Everything here talks to the sandbox the way a real integration talks to Intuit: the unmodified
`python-quickbooks` and `intuit-oauth` clients, pointed at the sandbox by configuration only
(qbo_sandbox/CONTRACT.md, ../shared/docs/qbo-api.md §7), or plain `requests` for raw wire checks.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.account import Account
from quickbooks.objects.base import LinkedTxn
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine
from requests.adapters import HTTPAdapter

from .conftest import Sandbox, start_sandbox, stop_sandbox

# The contract's default app credentials (CONTRACT.md, "Start").
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT_URI = "http://127.0.0.1:8000/quickbooks/callback/"

# Every network call in these tests is bounded: neither library sets a timeout of its own.
HTTP_TIMEOUT = 10
# Rate windows are compressed (see sandbox_process_fixture), so a throttled request clears quickly.
THROTTLE_BACKOFF_SECONDS = 0.02
THROTTLE_PATIENCE_SECONDS = 5
TEST_DEADLINE_SECONDS = 60

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


class _ClientAdapter(HTTPAdapter):
    """Gives every request a timeout, and on HTTP 429 waits and re-sends (bounded), as a
    well-behaved QBO client does: a throttled request was not processed (qbo-api.md §1)."""

    def __init__(self, retry_throttled: bool = True) -> None:
        super().__init__()
        self.retry_throttled = retry_throttled

    def send(self, request, **kwargs):  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = HTTP_TIMEOUT
        give_up = time.monotonic() + THROTTLE_PATIENCE_SECONDS
        while True:
            response = super().send(request, **kwargs)
            if not (self.retry_throttled and response.status_code == 429):
                return response
            if time.monotonic() > give_up:
                return response
            response.close()
            time.sleep(THROTTLE_BACKOFF_SECONDS)


def bound_session(session: requests.Session, retry_throttled: bool = True) -> requests.Session:
    """Mount the client adapter on a session (the libraries' AuthClient and OAuth2Session too)."""
    adapter = _ClientAdapter(retry_throttled)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@pytest.fixture(name="deadline", autouse=True)
def deadline_fixture() -> Iterator[None]:
    """Fail a test that hangs instead of hanging the suite (the libraries' discovery fetch in
    AuthClient.__init__ happens before a timeout adapter can be mounted)."""

    def _expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"test exceeded {TEST_DEADLINE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, TEST_DEADLINE_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(name="sandbox_process", scope="session")
def sandbox_process_fixture() -> Iterator[Sandbox]:
    """The conftest sandbox with rate windows compressed 60x (CONTRACT.md --minute-seconds).

    These suites check semantics, and each test drives one fresh realm as fast as it can, which
    trips QBO's documented 10 requests/second/realm limit (qbo-api.md §1) that the sandbox rightly
    enforces. The clients here back off on 429 like a real integration; compressing the windows
    (limits keep their ratios) keeps that wait to milliseconds. Throttling itself is tested with
    `throttle_burst`. Modules that import this get it in place of conftest's `sandbox_process`.
    """
    sandbox = start_sandbox("--minute-seconds", "1")
    yield sandbox
    stop_sandbox(sandbox)


# --- control surface ---------------------------------------------------------------------------


def new_realm(sandbox: Sandbox, **settings: Any) -> str:
    """Create a realm through the control surface and return its realm id."""
    realm = sandbox.control(
        "POST", "realms", {"name": "Conformance Co", "country": "US", **settings}
    )
    return str(realm["realm_id"])


def issue_tokens(sandbox: Sandbox, realm_id: str) -> dict[str, Any]:
    """A token pair for the realm without the consent page (CONTRACT.md control surface)."""
    return sandbox.control("POST", f"realms/{realm_id}/tokens")


def set_oauth(sandbox: Sandbox, **settings: Any) -> dict[str, Any]:
    return sandbox.control("PUT", "oauth", settings)


# --- library clients ---------------------------------------------------------------------------


def make_auth_client(sandbox: Sandbox, client_secret: str = CLIENT_SECRET) -> AuthClient:
    """An intuit-oauth AuthClient whose `environment` is the sandbox discovery URL (qbo-api.md §5)."""
    auth_client = AuthClient(
        CLIENT_ID, client_secret, REDIRECT_URI, environment=sandbox.discovery_url
    )
    bound_session(auth_client)  # AuthClient is itself a requests.Session
    return auth_client


def make_qb(sandbox: Sandbox, realm_id: str, tokens: dict[str, Any] | None = None) -> QuickBooks:
    """A python-quickbooks client for the realm, configured exactly as CONTRACT.md shows."""
    tokens = tokens or issue_tokens(sandbox, realm_id)
    auth_client = make_auth_client(sandbox)
    auth_client.access_token = tokens["access_token"]
    auth_client.refresh_token = tokens["refresh_token"]
    qb = QuickBooks(
        auth_client=auth_client,
        refresh_token=tokens["refresh_token"],
        company_id=realm_id,
        minorversion=75,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    bound_session(qb.session)
    return qb


# --- raw wire access ---------------------------------------------------------------------------


class RawApi:
    """Plain HTTP access to `/v3/company/{realm}/...`, for checks on the wire format itself."""

    def __init__(
        self, sandbox: Sandbox, realm_id: str, access_token: str, retry_throttled: bool = True
    ) -> None:
        self.sandbox = sandbox
        self.realm_id = realm_id
        self.access_token = access_token
        self.session = bound_session(requests.Session(), retry_throttled)

    @classmethod
    def for_new_realm(cls, sandbox: Sandbox, retry_throttled: bool = True) -> RawApi:
        realm_id = new_realm(sandbox)
        token = issue_tokens(sandbox, realm_id)["access_token"]
        return cls(sandbox, realm_id, token, retry_throttled)

    def url(self, resource: str) -> str:
        return f"{self.sandbox.url}/v3/company/{self.realm_id}{resource}"

    def request(
        self,
        method: str,
        resource: str,
        params: list[tuple[str, str]] | dict[str, str] | None = None,
        body: str | bytes | None = None,
        content_type: str = "application/json",
        token: str | None = None,
    ) -> requests.Response:
        headers = {
            "Accept": "application/json",
            "Authorization": f"Bearer {token or self.access_token}",
        }
        if body is not None:
            headers["Content-Type"] = content_type
        return self.session.request(
            method,
            self.url(resource),
            params=params,
            data=body.encode() if isinstance(body, str) else body,
            headers=headers,
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )

    def post_json(
        self, resource: str, payload: dict[str, Any], params: dict[str, str] | None = None
    ) -> requests.Response:
        return self.request(
            "POST",
            resource,
            params={"minorversion": "75", **(params or {})},
            body=json.dumps(payload),
        )

    def create(self, entity: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Create (or update) an entity and return the object; fails the test on any fault."""
        response = self.post_json(f"/{entity.lower()}", payload)
        assert response.status_code == 200, (entity, payload, response.status_code, response.text)
        return response.json()[entity]

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/{entity.lower()}/{entity_id}", {"minorversion": "75"})
        assert response.status_code == 200, (entity, entity_id, response.text)
        return response.json()[entity]

    def query(self, sql: str) -> dict[str, Any]:
        response = self.request("GET", "/query", {"query": sql, "minorversion": "75"})
        assert response.status_code == 200, (sql, response.status_code, response.text)
        return response.json()["QueryResponse"]

    def delete(self, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        response = self.post_json(
            f"/{entity.lower()}",
            {"Id": obj["Id"], "SyncToken": obj["SyncToken"]},
            {"operation": "delete"},
        )
        assert response.status_code == 200, response.text
        return response.json()[entity]

    # --- seeding helpers (found by name first: the sandbox seeds a fresh QBO company) ---

    def find_one(self, entity: str, where: str) -> dict[str, Any] | None:
        rows = self.query(f"SELECT * FROM {entity} WHERE {where}").get(entity, [])
        return rows[0] if rows else None

    def income_account(self) -> dict[str, Any]:
        found = self.find_one("Account", "AccountType = 'Income'")
        return found or self.create("Account", {"Name": "Services Income", "AccountType": "Income"})

    def service_item(self, name: str = "Services") -> dict[str, Any]:
        """The item the recordings invoice ("Services", Id 1 in a fresh US company)."""
        found = self.find_one("Item", f"Name = '{name}'")
        if found:
            return found
        account = self.income_account()
        return self.create(
            "Item",
            {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account["Id"]}},
        )

    def customer(self, display_name: str, **fields: Any) -> dict[str, Any]:
        return self.create("Customer", {"DisplayName": display_name, **fields})

    def invoice(self, customer_id: str, *amounts: float, **fields: Any) -> dict[str, Any]:
        item = self.service_item()
        lines = [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"], "name": item["Name"]}},
            }
            for amount in (amounts or (100.0,))
        ]
        return self.create(
            "Invoice", {"Line": lines, "CustomerRef": {"value": customer_id}, **fields}
        )


def fault_codes(body: dict[str, Any]) -> list[str]:
    return [error["code"] for error in body["Fault"]["Error"]]


# --- fixtures for the library suites (import the *_fixture names; pytest uses `name=`) -----------------------------------------------------------


@pytest.fixture(name="realm_id")
def realm_id_fixture(sandbox: Sandbox) -> str:
    return new_realm(sandbox)


@pytest.fixture(name="qb")
def qb_fixture(sandbox: Sandbox, realm_id: str) -> QuickBooks:
    return make_qb(sandbox, realm_id)


@pytest.fixture(name="api")
def api_fixture(sandbox: Sandbox, realm_id: str) -> RawApi:
    return RawApi(sandbox, realm_id, issue_tokens(sandbox, realm_id)["access_token"])


# --- python-quickbooks object builders ---------------------------------------------------------


def services_item(qb: QuickBooks) -> Item:
    """The "Services" item of a fresh US company, created if the seed lacks it."""
    found = Item.filter(Name="Services", qb=qb)
    if found:
        return found[0]
    income = Account.filter(AccountType="Income", qb=qb)
    if income:
        account = income[0]
    else:
        account = Account()
        account.Name = "Services Income"
        account.AccountType = "Income"
        account = account.save(qb=qb)
    item = Item()
    item.Name = "Services"
    item.Type = "Service"
    item.IncomeAccountRef = account.to_ref()
    return item.save(qb=qb)


def save_customer(qb: QuickBooks, display_name: str, **attrs: Any) -> Customer:
    customer = Customer()
    customer.DisplayName = display_name
    for key, value in attrs.items():
        setattr(customer, key, value)
    return customer.save(qb=qb)


def sales_line(item: Item, amount: float) -> SalesItemLine:
    line = SalesItemLine()
    line.Amount = amount
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item.to_ref()
    return line


def build_invoice(qb: QuickBooks, customer: Customer, *amounts: float, **attrs: Any) -> Invoice:
    item = services_item(qb)
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line = [sales_line(item, amount) for amount in (amounts or (100.0,))]
    for key, value in attrs.items():
        setattr(invoice, key, value)
    return invoice


def save_invoice(qb: QuickBooks, customer: Customer, *amounts: float, **attrs: Any) -> Invoice:
    return build_invoice(qb, customer, *amounts, **attrs).save(qb=qb)


def linked_line(amount: float, txn: Any) -> PaymentLine:
    line = PaymentLine()
    line.Amount = amount
    linked = LinkedTxn()
    linked.TxnId = txn.Id
    linked.TxnType = txn.qbo_object_name
    line.LinkedTxn = [linked]
    return line


def save_payment(qb: QuickBooks, customer: Customer, total: float, *lines: PaymentLine) -> Payment:
    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = total
    payment.Line = list(lines)
    return payment.save(qb=qb)
