"""Every fault of the control surface (CONTRACT.md "PUT faults") as a real client meets it."""

from __future__ import annotations

import time

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import AuthorizationException, SevereException, ValidationException
from quickbooks.objects.customer import Customer

from tests.qbo_sandbox.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI


def _auth_client(sandbox) -> AuthClient:
    return AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=sandbox.discovery_url)


def _connect(sandbox, realm_id: str) -> QuickBooks:
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    qb = QuickBooks(
        auth_client=_auth_client(sandbox),
        refresh_token=tokens["refresh_token"],
        company_id=realm_id,
        minorversion=75,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    return qb


@pytest.fixture
def realm_id(sandbox) -> str:
    return sandbox.control("POST", "realms", {"name": "Faulty Lettings"})["realm_id"]


def _customer(name: str) -> Customer:
    customer = Customer()
    customer.DisplayName = name
    return customer


def test_it_adds_the_configured_latency(sandbox, realm_id):
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"latency_ms": 300, "jitter_ms": 50})
    started = time.monotonic()
    Customer.all(qb=qb)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2


def test_it_keeps_a_realm_fault_to_that_realm(sandbox, realm_id):
    other = sandbox.control("POST", "realms", {})["realm_id"]
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"latency_ms": 500})
    started = time.monotonic()
    Customer.all(qb=_connect(sandbox, other))
    assert time.monotonic() - started < 0.4
    assert sandbox.control("GET", f"realms/{other}/faults")["latency_ms"] == 0


def test_it_answers_server_errors_at_the_configured_rate(sandbox, realm_id):
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", "faults", {"error_5xx_rate": 1})
    with pytest.raises(SevereException) as caught:
        _customer("Never Saved").save(qb=qb)
    assert caught.value.error_code == 10000
    sandbox.control("PUT", "faults", {})
    assert Customer.all(qb=qb) == []  # the failed write did nothing


def test_it_hangs_longer_than_the_client_waits(sandbox, realm_id):
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"hang_rate": 1, "hang_seconds": 3})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            f"{sandbox.api_url}/company/{realm_id}/preferences",
            headers={
                "Authorization": f"Bearer {tokens['access_token']}",
                "Accept": "application/json",
            },
            timeout=0.5,
        )


def test_it_commits_a_lost_response_and_replays_it_by_requestid(sandbox, realm_id):
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"lost_response_rate": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        _customer("Lost Tenant").save(qb=qb, request_id="lost-1")
    sandbox.control("PUT", f"realms/{realm_id}/faults", {})
    replayed = _customer("Lost Tenant").save(qb=qb, request_id="lost-1")
    again = _customer("Lost Tenant").save(qb=qb, request_id="lost-1")
    assert replayed.Id == again.Id
    assert [c.Id for c in Customer.all(qb=qb)] == [replayed.Id]  # written exactly once


def test_it_replays_a_fault_answer_by_requestid_too(sandbox, realm_id):
    qb = _connect(sandbox, realm_id)
    _customer("Taken").save(qb=qb)
    with pytest.raises(Exception) as first:
        _customer("Taken").save(qb=qb, request_id="dup-1")
    with pytest.raises(Exception) as second:
        _customer("Taken").save(qb=qb, request_id="dup-1")
    assert first.value.error_code == second.value.error_code == 6240


def test_it_forces_invalid_grant_on_refresh(sandbox, realm_id):
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"force_invalid_grant": True})
    auth = _auth_client(sandbox)
    with pytest.raises(AuthClientError) as caught:
        auth.refresh(refresh_token=tokens["refresh_token"])
    assert caught.value.status_code == 400
    assert b"invalid_grant" in caught.value.content
    sandbox.control("PUT", f"realms/{realm_id}/faults", {})
    auth.refresh(refresh_token=tokens["refresh_token"])  # the token itself is still good
    assert auth.access_token


def test_it_answers_401_and_invalid_grant_after_revocation(sandbox, realm_id):
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    qb = _connect(sandbox, realm_id)
    Customer.all(qb=qb)
    sandbox.control("POST", f"realms/{realm_id}/revoke")
    with pytest.raises(AuthorizationException) as caught:
        Customer.all(qb=qb)
    assert caught.value.error_code == 401
    assert '"code":"3200"' in caught.value.detail
    with pytest.raises(AuthClientError):
        _auth_client(sandbox).refresh(refresh_token=tokens["refresh_token"])


def test_it_throttles_a_burst_then_recovers(sandbox, realm_id):
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"throttle_burst": 2})
    for _ in range(2):
        with pytest.raises(ValidationException) as caught:
            Customer.all(qb=qb)
        assert caught.value.error_code == 3001
    assert Customer.all(qb=qb) == []
    assert sandbox.control("GET", f"realms/{realm_id}/stats")["throttled"] == 2
