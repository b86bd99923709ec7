"""Tokens stay fresh, rotate safely under concurrency, and a lapse asks a person to reconnect."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.core import mail
from django.db import connection as db_connection
from django.utils import timezone

from quickbooks_link import client as qbo_client
from quickbooks_link.errors import QboReconnectRequired
from quickbooks_link.models import QuickBooksConnection
from quickbooks_link.tokens import connection_api, connection_call, connection_refresh_tokens
from sync_engine.selectors import company_sync_status
from sync_engine.statuses import CompanyStatus
from tests.quickbooks_link.oauth_dance import connect

pytestmark = pytest.mark.sandbox


def _expire_soon(connection: QuickBooksConnection, minutes: int) -> None:
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        access_token_expires_at=timezone.now() + datetime.timedelta(minutes=minutes)
    )


def test_it_refreshes_an_access_token_with_under_five_minutes_left(connected):
    before = QuickBooksConnection.objects.get(pk=connected.pk)
    _expire_soon(connected, 4)
    connection_api(connection=connected)
    fresh = QuickBooksConnection.objects.get(pk=connected.pk)
    assert fresh.token_generation == before.token_generation + 1
    assert fresh.access_token != before.access_token


def test_it_keeps_an_access_token_with_time_left(connected):
    _expire_soon(connected, 30)
    connection_api(connection=connected)
    assert QuickBooksConnection.objects.get(pk=connected.pk).token_generation == (
        connected.token_generation
    )


def test_it_refreshes_once_and_retries_after_a_401(connected, qbo):
    qbo.control("PUT", "oauth", {"access_token_ttl": 1})
    connection_api(connection=connected, force_refresh=True)  # a token that lives 1 s
    _expire_soon(connected, 60)  # … which we believe is good for an hour
    time.sleep(1.2)
    info = connection_call(connection=connected, operation=qbo_client.read_company_info)
    assert info["name"] == "Acme North Books"


def test_it_persists_a_rotated_refresh_token(connected, qbo):
    qbo.control("PUT", "oauth", {"rotate_refresh_token": "always", "reject_superseded": True})
    connection_api(connection=connected, force_refresh=True)
    stored = QuickBooksConnection.objects.get(pk=connected.pk)
    assert stored.refresh_token != connected.refresh_token
    # The stored one is the live one: it refreshes again without complaint.
    assert qbo_client.refresh_tokens(refresh_token=stored.refresh_token).access_token


@pytest.mark.django_db(transaction=True)
def test_it_survives_eight_workers_refreshing_at_once(connected, qbo):
    """With rotation on every refresh and superseded tokens refused, no worker may lose access."""
    qbo.control("PUT", "oauth", {"rotate_refresh_token": "always", "reject_superseded": True})
    start = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            fresh = connection_refresh_tokens(
                connection=connected, seen_generation=connected.token_generation
            )
            results.append((fresh.token_generation, fresh.access_token))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len({generation for generation, _ in results}) == 1
    stored = QuickBooksConnection.objects.get(pk=connected.pk)
    assert stored.reconnect_required_at is None
    assert {token for _, token in results} == {stored.access_token}
    # The stored refresh token is the one QuickBooks still honours.
    assert qbo_client.refresh_tokens(refresh_token=stored.refresh_token).refresh_token


def test_it_needs_reconnecting_after_invalid_grant(connected, qbo, alice):
    qbo.control("POST", f"realms/{connected.realm_id}/revoke")
    with pytest.raises(QboReconnectRequired):
        connection_api(connection=connected, force_refresh=True)
    stored = QuickBooksConnection.objects.get(pk=connected.pk)
    assert stored.reconnect_required_at is not None
    assert "invalid_grant" in stored.reconnect_reason
    assert company_sync_status(company=connected.company) == CompanyStatus.NEEDS_RECONNECTING


def test_it_emails_the_person_who_connected_once(
    connected, qbo, alice, django_capture_on_commit_callbacks
):
    qbo.control("POST", f"realms/{connected.realm_id}/revoke")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            with pytest.raises(QboReconnectRequired):
                connection_api(connection=connected, force_refresh=True)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]
    assert "Reconnect" in mail.outbox[0].body
    assert connected.refresh_token not in mail.outbox[0].body


def test_it_shows_a_banner_to_finance_admins_only(client, connected, qbo, bob):
    QuickBooksConnection.objects.filter(pk=connected.pk).update(
        reconnect_required_at=timezone.now(), reconnect_reason="invalid_grant"
    )
    assert b"QuickBooks needs reconnecting for Acme North" in client.get("/").content
    client.force_login(bob)
    assert b"QuickBooks needs reconnecting" not in client.get("/").content


def test_it_leaves_needs_reconnecting_after_a_reconnect(client, connected, qbo):
    qbo.control("POST", f"realms/{connected.realm_id}/revoke")
    with pytest.raises(QboReconnectRequired):
        connection_api(connection=connected, force_refresh=True)
    connect(client, connected.company, realm_id=connected.realm_id)
    stored = QuickBooksConnection.objects.get(pk=connected.pk)
    assert stored.reconnect_required_at is None
    assert connection_call(connection=stored, operation=qbo_client.read_company_info)["name"]
