"""Intuit's notifications are verified and turn into one queued sync per company they name."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from quickbooks_link.models import QuickBooksConnection
from sync_engine.models import SyncRun

TOKEN = "verifier-token-for-tests"
URL = "/quickbooks/webhooks/"


@pytest.fixture(autouse=True)
def _verifier(settings):
    settings.QBO_WEBHOOK_VERIFIER_TOKEN = TOKEN


def _connect(company, realm_id: str) -> QuickBooksConnection:
    now = timezone.now()
    return QuickBooksConnection.objects.create(
        company=company, realm_id=realm_id, connected_at=now, onboarded_at=now
    )


@pytest.fixture
def north(acme_north) -> QuickBooksConnection:
    return _connect(acme_north, "1001")


@pytest.fixture
def south(acme_south) -> QuickBooksConnection:
    return _connect(acme_south, "1002")


def _sign(body: bytes, token: str = TOKEN) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def _post(client, payload, signature: str | None = ""):
    body = json.dumps(payload).encode()
    headers = {} if signature is None else {"intuit-signature": signature or _sign(body)}
    return client.post(URL, body, content_type="application/json", headers=headers)


def _legacy(realm_id: str, entity: str = "Invoice") -> dict:
    entities = [{"name": entity, "id": "1", "operation": "Update", "lastUpdated": "2026-11-21"}]
    return {
        "eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]
    }


def _cloud_event(realm_id: str, entity: str = "invoice") -> dict:
    return {
        "specversion": "1.0",
        "id": f"event-{realm_id}-{entity}",
        "source": "intuit.test",
        "type": f"qbo.{entity}.updated.v1",
        "time": "2026-11-21T10:00:00.000Z",
        "intuitentityid": "1",
        "intuitaccountid": realm_id,
        "data": {},
    }


def _queued(company) -> list[SyncRun]:
    return list(SyncRun.objects.filter(company=company, status=SyncRun.Status.QUEUED))


def test_it_resolves_the_url():
    assert reverse("sync_engine:quickbooks_webhook") == URL


def test_it_queues_a_sync_for_a_legacy_notification(client, north):
    response = _post(client, _legacy("1001"))
    assert response.status_code == 200
    [run] = _queued(north.company)
    assert (run.trigger, run.record_entity) == (SyncRun.Trigger.AUTOMATIC, "")


def test_it_queues_one_sync_per_company_for_cloud_events_mixing_realms(client, north, south):
    events = [_cloud_event("1001"), _cloud_event("1002"), _cloud_event("1001", "payment")]
    assert _post(client, events).status_code == 200
    assert len(_queued(north.company)) == 1
    assert len(_queued(south.company)) == 1


def test_it_merges_a_burst_into_the_waiting_run(client, north):
    for _ in range(3):
        assert _post(client, _legacy("1001")).status_code == 200
    assert len(_queued(north.company)) == 1


def test_it_ignores_an_unknown_realm(client, north):
    assert _post(client, [_cloud_event("9999")]).status_code == 200
    assert not SyncRun.objects.exists()


def test_it_ignores_entities_that_are_not_synced(client, north):
    assert _post(client, _legacy("1001", entity="Vendor")).status_code == 200
    assert not SyncRun.objects.exists()


def test_it_ignores_a_company_that_is_not_onboarded(client, acme_north):
    QuickBooksConnection.objects.create(
        company=acme_north, realm_id="1001", connected_at=timezone.now()
    )
    assert _post(client, _legacy("1001")).status_code == 200
    assert not SyncRun.objects.exists()


def test_it_refuses_a_missing_signature(client, north):
    assert _post(client, _legacy("1001"), signature=None).status_code == 401
    assert not SyncRun.objects.exists()


def test_it_refuses_a_bad_signature(client, north):
    body = json.dumps(_legacy("1001")).encode()
    assert _post(client, _legacy("1001"), signature=_sign(body, "wrong")).status_code == 401
    assert _post(client, _legacy("1001"), signature="not base64!").status_code == 401
    assert not SyncRun.objects.exists()


def test_it_refuses_a_signature_of_another_body(client, north):
    other = _sign(json.dumps(_legacy("1002")).encode())
    assert _post(client, _legacy("1001"), signature=other).status_code == 401


def test_it_answers_503_without_a_verifier_token(client, north, settings):
    settings.QBO_WEBHOOK_VERIFIER_TOKEN = ""
    assert _post(client, _legacy("1001")).status_code == 503
    assert not SyncRun.objects.exists()


def test_it_refuses_get(client):
    assert client.get(URL).status_code == 405


def test_it_answers_400_to_a_signed_body_that_is_not_json(client, north):
    body = b"not json"
    response = client.post(
        URL, body, content_type="application/json", headers={"intuit-signature": _sign(body)}
    )
    assert response.status_code == 400


def test_it_needs_no_csrf_token(north):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert _post(strict, _legacy("1001")).status_code == 200
