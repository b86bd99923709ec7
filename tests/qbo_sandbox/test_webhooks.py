"""Webhook notifications (qbo-api.md §6): both payload formats, the signature, and that delivery never
holds up the API answer."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.objects.customer import Customer

from tests.qbo_sandbox.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

VERIFIER = "verifier-token-for-tests"


class Receiver:
    """A tiny local HTTP endpoint that records every POST (optionally answering slowly)."""

    def __init__(self, delay: float = 0) -> None:
        self.posts: queue.Queue[tuple[dict, bytes]] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                receiver.posts.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout: float = 5) -> tuple[dict, bytes]:
        return self.posts.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _connect(sandbox, realm_id: str) -> QuickBooks:
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    auth = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=sandbox.discovery_url)
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=tokens["refresh_token"],
        company_id=realm_id,
        minorversion=75,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    return qb


def _save_customer(qb: QuickBooks, name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    return customer.save(qb=qb)


def test_it_posts_legacy_notifications_signed_with_the_verifier_token(sandbox, receiver):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    sandbox.control(
        "PUT", "webhooks", {"url": receiver.url, "verifier_token": VERIFIER, "format": "legacy"}
    )
    customer = _save_customer(qb, "Hooked Tenant")
    headers, body = receiver.next()
    assert qb.validate_webhook_signature(body.decode(), headers["intuit-signature"], VERIFIER)
    notification = json.loads(body)["eventNotifications"][0]
    assert notification["realmId"] == realm_id
    entity = notification["dataChangeEvent"]["entities"][0]
    assert {k: entity[k] for k in ("name", "id", "operation")} == {
        "name": "Customer",
        "id": customer.Id,
        "operation": "Create",
    }
    assert entity["lastUpdated"][-5] in "+-"  # legacy offset without a colon: -0800


def test_it_posts_cloudevents_as_a_json_array(sandbox, receiver):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    sandbox.control(
        "PUT",
        "webhooks",
        {"url": receiver.url, "verifier_token": VERIFIER, "format": "cloudevents"},
    )
    customer = _save_customer(qb, "Cloud Tenant")
    customer.Notes = "moved in"
    customer.save(qb=qb)
    events = []
    while len(events) < 2:
        headers, body = receiver.next()
        assert qb.validate_webhook_signature(body.decode(), headers["intuit-signature"], VERIFIER)
        events += json.loads(body)
    assert [e["type"] for e in events] == ["qbo.customer.created.v1", "qbo.customer.updated.v1"]
    assert {e["intuitentityid"] for e in events} == {customer.Id}
    assert {e["intuitaccountid"] for e in events} == {realm_id}
    assert all(e["specversion"] == "1.0" for e in events)


def test_it_never_delays_the_api_answer_for_a_slow_receiver(sandbox):
    slow = Receiver(delay=2)
    try:
        realm_id = sandbox.control("POST", "realms", {})["realm_id"]
        qb = _connect(sandbox, realm_id)
        sandbox.control("PUT", "webhooks", {"url": slow.url, "verifier_token": VERIFIER})
        started = time.monotonic()
        _save_customer(qb, "Patient Tenant")
        assert time.monotonic() - started < 1
        slow.next(timeout=5)
    finally:
        slow.close()


def test_it_notifies_changes_made_in_the_html_view(sandbox, receiver):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    invoice = qb.create_object(
        "Invoice",
        json.dumps(
            {
                "CustomerRef": {"value": _save_customer(qb, "Viewed Tenant").Id},
                "Line": [
                    {
                        "Amount": 50,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            }
        ),
    )["Invoice"]
    sandbox.control("PUT", "webhooks", {"url": receiver.url, "verifier_token": VERIFIER})
    query = urllib.parse.urlencode({"txnId": invoice["Id"], "realm": realm_id})
    response = requests.post(
        timeout=10,
        url=f"{sandbox.url}/app/invoice/void?{query}",
        data={"SyncToken": invoice["SyncToken"]},
        allow_redirects=False,
    )
    assert response.status_code == 303
    _, body = receiver.next()
    entity = json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
    assert (entity["name"], entity["id"], entity["operation"]) == ("Invoice", invoice["Id"], "Void")


def test_it_stops_sending_when_turned_off(sandbox, receiver):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", "webhooks", {"url": receiver.url, "verifier_token": VERIFIER})
    sandbox.control("PUT", "webhooks", {})
    _save_customer(qb, "Quiet Tenant")
    with pytest.raises(queue.Empty):
        receiver.next(timeout=0.5)
