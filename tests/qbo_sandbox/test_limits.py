"""QBO throttling (qbo-api.md §1) as a client meets it: through python-quickbooks or plain HTTP."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException, ValidationException
from quickbooks.objects.customer import Customer

from tests.qbo_sandbox.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    start_sandbox,
    stop_sandbox,
)

THROTTLE_XML = Path(
    "/work/shared/qbo-recordings/quickbooks-ruby/spec/fixtures/too_many_requests_error.xml"
)


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


def _http(sandbox, realm_id: str) -> tuple[requests.Session, str]:
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
    )
    return session, f"{sandbox.api_url}/company/{realm_id}"


@pytest.fixture
def compressed():
    """A sandbox whose "minute" lasts 2 s (so a "second" lasts 1/30 s)."""
    sandbox = start_sandbox("--minute-seconds", "2")
    yield sandbox
    stop_sandbox(sandbox)


def test_it_throttles_the_eleventh_request_in_a_second(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    for _ in range(10):
        Customer.all(qb=qb)
    with pytest.raises(ValidationException) as caught:
        Customer.all(qb=qb)
    assert caught.value.error_code == 3001
    stats = sandbox.control("GET", f"realms/{realm_id}/stats")
    assert stats["max_requests_per_second"] == 10
    assert stats["throttled_by"] == {"per_second": 1}


def test_it_throttles_beyond_500_requests_a_minute(compressed):
    realm_id = compressed.control("POST", "realms", {})["realm_id"]
    session, base = _http(compressed, realm_id)
    statuses: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # A client must outrun 500 requests per "minute"; refused requests don't count, so it
        # simply keeps sending and checks the stats now and then.
        for _ in range(25):
            statuses.append(session.get(f"{base}/companyinfo/{realm_id}").status_code)
        stats = compressed.control("GET", f"realms/{realm_id}/stats")
        if stats["throttled_by"].get("per_minute"):
            break
    assert stats["throttled_by"]["per_minute"] >= 1
    assert stats["max_requests_per_minute"] == 500
    assert set(statuses) == {200, 429}


def test_it_refuses_more_than_ten_concurrent_requests(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"latency_ms": 400})
    session, base = _http(sandbox, realm_id)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(lambda _: session.get(f"{base}/preferences").status_code, range(16))
        )
    stats = sandbox.control("GET", f"realms/{realm_id}/stats")
    assert statuses.count(200) == 10
    assert statuses.count(429) == 6
    assert stats["max_concurrency"] == 10
    assert stats["throttled_by"] == {"concurrency": 6}


def test_it_allows_40_batch_requests_a_minute():
    sandbox = start_sandbox("--minute-seconds", "6")  # a "second" is 0.1 s: pace to stay under 10
    try:
        realm_id = sandbox.control("POST", "realms", {})["realm_id"]
        qb = _connect(sandbox, realm_id)
        body = json.dumps({"BatchItemRequest": [{"bId": "q", "Query": "select * from Term"}]})
        for _ in range(40):
            assert "BatchItemResponse" in qb.batch_operation(body)
            time.sleep(0.012)
        with pytest.raises(ValidationException) as caught:
            qb.batch_operation(body)
        stats = sandbox.control("GET", f"realms/{realm_id}/stats")
    finally:
        stop_sandbox(sandbox)
    assert caught.value.error_code == 3001
    assert stats["max_batch_per_minute"] == 40
    assert stats["throttled_by"] == {"batch_per_minute": 1}


def test_it_rejects_a_batch_of_more_than_30_items(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    items = [{"bId": str(i), "Query": "select * from Term"} for i in range(31)]
    with pytest.raises(ValidationException) as caught:
        qb.batch_operation(json.dumps({"BatchItemRequest": items}))
    assert "at most 30" in caught.value.detail
    accepted = qb.batch_operation(json.dumps({"BatchItemRequest": items[:30]}))
    assert len(accepted["BatchItemResponse"]) == 30


def test_it_answers_429_with_a_json_fault_by_default(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    session, base = _http(sandbox, realm_id)
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"throttle_burst": 1})
    response = session.get(f"{base}/preferences")
    assert response.status_code == 429
    error = response.json()["Fault"]["Error"][0]
    assert response.json()["Fault"]["type"] == "SERVICE"
    assert error == {
        "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "Detail": "The request limit was reached.  Try again later",
        "code": "3001",
    }


def test_it_surfaces_a_json_429_as_validation_exception_3001(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", f"realms/{realm_id}/faults", {"throttle_burst": 1})
    with pytest.raises(ValidationException) as caught:
        Customer.all(qb=qb)
    assert caught.value.error_code == 3001
    assert "ThrottleExceeded" in caught.value.message


def test_it_answers_429_with_the_recorded_xml_body_when_asked(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    session, base = _http(sandbox, realm_id)
    sandbox.control(
        "PUT", f"realms/{realm_id}/faults", {"throttle_burst": 1, "throttle_format": "xml"}
    )
    response = session.get(f"{base}/preferences")
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/xml")
    recorded = THROTTLE_XML.read_text()
    assert _without_time(response.text) == _without_time(recorded)


def test_it_surfaces_an_xml_429_as_an_unreadable_json_error(sandbox):
    realm_id = sandbox.control("POST", "realms", {})["realm_id"]
    qb = _connect(sandbox, realm_id)
    sandbox.control("PUT", "faults", {"throttle_burst": 1, "throttle_format": "xml"})
    with pytest.raises(QuickbooksException) as caught:
        Customer.all(qb=qb)
    assert caught.value.error_code == 10000
    assert "Error reading json response" in caught.value.message
    assert "ThrottleExceeded" in caught.value.message


def _without_time(xml: str) -> str:
    import re

    return re.sub(r'time="[^"]*"', 'time=""', xml).strip()
