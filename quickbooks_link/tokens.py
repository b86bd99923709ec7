"""Keeping a company's QuickBooks tokens fresh, safely across any number of workers.

Intuit may rotate the refresh token on any refresh, and a superseded one is refused, so two
workers refreshing at once must not both use (or both store) what they hold. One worker takes a
short lease on the connection (a compare-and-set, no transaction held across the HTTP call), and
the others wait for the token generation to move on and use the winner's tokens. Tokens are
stored with a compare-and-set on `token_generation`, so an older token never overwrites a newer.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import TypeVar

from django.db.models import F, Q
from django.utils import timezone

from quickbooks_link import client
from quickbooks_link.client import QboApi, Tokens
from quickbooks_link.errors import QboAuthError, QboReconnectRequired
from quickbooks_link.models import QuickBooksConnection

REFRESH_MARGIN = datetime.timedelta(minutes=5)
LEASE = datetime.timedelta(seconds=30)
POLL_SECONDS = 0.1

T = TypeVar("T")


def _reloaded(connection: QuickBooksConnection) -> QuickBooksConnection:
    return QuickBooksConnection.objects.get(pk=connection.pk)


def _needs_refresh(connection: QuickBooksConnection) -> bool:
    expires = connection.access_token_expires_at
    return (
        not connection.access_token or expires is None or expires - timezone.now() < REFRESH_MARGIN
    )


def token_fields(tokens: Tokens, *, now: datetime.datetime) -> dict:
    """The connection fields that store a token answer from Intuit."""
    fields = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "access_token_expires_at": now + datetime.timedelta(seconds=tokens.expires_in),
        "refresh_token_expires_at": (
            now + datetime.timedelta(seconds=tokens.refresh_expires_in)
            if tokens.refresh_expires_in
            else None
        ),
    }
    if tokens.hard_expires_in:
        fields["refresh_token_hard_expires_at"] = now + datetime.timedelta(
            seconds=tokens.hard_expires_in
        )
    return fields


def connection_store_tokens(
    *, connection: QuickBooksConnection, tokens: Tokens, expected_generation: int
) -> bool:
    """Store new tokens unless someone stored newer ones first. Returns whether we won."""
    updated = QuickBooksConnection.objects.filter(
        pk=connection.pk, token_generation=expected_generation
    ).update(
        **token_fields(tokens, now=timezone.now()),
        token_generation=F("token_generation") + 1,
        token_refresh_lease_until=None,
        updated_at=timezone.now(),
    )
    return updated == 1


def _take_lease(connection: QuickBooksConnection) -> bool:
    now = timezone.now()
    return (
        QuickBooksConnection.objects.filter(
            pk=connection.pk, token_generation=connection.token_generation
        )
        .filter(Q(token_refresh_lease_until__isnull=True) | Q(token_refresh_lease_until__lt=now))
        .update(token_refresh_lease_until=now + LEASE)
        == 1
    )


def _release_lease(connection: QuickBooksConnection) -> None:
    QuickBooksConnection.objects.filter(
        pk=connection.pk, token_generation=connection.token_generation
    ).update(token_refresh_lease_until=None)


def _wait_for_new_generation(connection: QuickBooksConnection) -> QuickBooksConnection:
    deadline = time.monotonic() + LEASE.total_seconds()
    while time.monotonic() < deadline:
        current = _reloaded(connection)
        if current.token_generation != connection.token_generation:
            return current
        if current.token_refresh_lease_until is None:
            break  # the holder gave up (a transient failure): try ourselves
        time.sleep(POLL_SECONDS)
    return _reloaded(connection)


def connection_refresh_tokens(
    *, connection: QuickBooksConnection, seen_generation: int | None = None
) -> QuickBooksConnection:
    """Make sure the connection holds a usable access token, refreshing it if needed.

    1. If another worker already refreshed since `seen_generation` (or the token is still fresh
       and no refresh was forced), use what is stored.
    2. Otherwise take the lease; if another worker holds it, wait for its tokens.
    3. Refresh at Intuit and store by compare-and-set. An invalid_grant while the generation
       moved on means we lost a race, not our access; only an unexplained one needs reconnecting.
    """
    while True:
        current = _reloaded(connection)
        if seen_generation is not None and current.token_generation != seen_generation:
            return current
        if seen_generation is None and not _needs_refresh(current):
            return current
        if not _take_lease(current):
            waited = _wait_for_new_generation(current)
            if waited.token_generation != current.token_generation:
                return waited
            continue
        return _refresh_holding_lease(current)


def _refresh_holding_lease(current: QuickBooksConnection) -> QuickBooksConnection:
    from quickbooks_link.services import connection_require_reconnect

    try:
        tokens = client.refresh_tokens(refresh_token=current.refresh_token)
    except QboReconnectRequired as exc:
        latest = _reloaded(current)
        if latest.token_generation != current.token_generation:
            return latest
        _release_lease(current)
        connection_require_reconnect(connection=current, reason=exc.message)
        raise
    except Exception:
        _release_lease(current)
        raise
    connection_store_tokens(
        connection=current, tokens=tokens, expected_generation=current.token_generation
    )
    return _reloaded(current)


def connection_api(*, connection: QuickBooksConnection, force_refresh: bool = False) -> QboApi:
    """A ready python-quickbooks client for the company: tokens refreshed when under 5 minutes."""
    seen = connection.token_generation if force_refresh else None
    fresh = connection_refresh_tokens(connection=connection, seen_generation=seen)
    connection.token_generation = fresh.token_generation
    return client.api_client(
        access_token=fresh.access_token,
        refresh_token=fresh.refresh_token,
        realm_id=fresh.realm_id,
    )


def connection_call(*, connection: QuickBooksConnection, operation: Callable[[QboApi], T]) -> T:
    """Run one operation with a ready client; after a 401, refresh once and try again."""
    try:
        return operation(connection_api(connection=connection))
    except QboAuthError:
        return operation(connection_api(connection=connection, force_refresh=True))
