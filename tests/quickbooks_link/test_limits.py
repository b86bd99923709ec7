"""QuickBooks' limits hold across threads and processes, with either backend."""

from __future__ import annotations

import threading

import pytest
from quickbooks.objects.customer import Customer

from quickbooks_link import client as qbo_client
from quickbooks_link.limits import DatabaseLimiter, Limits, RedisLimiter
from quickbooks_link.tokens import connection_call
from tests.services import redis_url_or_reason

SMALL = Limits(in_flight=3, per_second=5, per_minute=8, batch_per_minute=2, minute_seconds=60)


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, db):
    if request.param == "database":
        return DatabaseLimiter(SMALL)
    limiter = RedisLimiter(redis_url_or_reason()[0], SMALL)
    for key in limiter._keys("realm-1"):
        limiter.redis.delete(key)
    return limiter


def _grant(backend, count: int, *, batch: bool = False, release: bool = False) -> list[str]:
    tokens = []
    for _ in range(count):
        token, wait = backend.try_acquire("realm-1", batch=batch)
        assert token and wait == 0
        if release:
            backend.release("realm-1", token)
        tokens.append(token)
    return tokens


def test_it_holds_the_in_flight_limit(backend):
    tokens = _grant(backend, 3)
    token, wait = backend.try_acquire("realm-1", batch=False)
    assert token is None and wait > 0
    backend.release("realm-1", tokens[0])
    assert backend.try_acquire("realm-1", batch=False)[0]


def test_it_holds_the_per_second_limit(backend):
    _grant(backend, 5, release=True)
    token, wait = backend.try_acquire("realm-1", batch=False)
    assert token is None and 0 < wait <= 1


def test_it_holds_the_batch_limit_per_minute(backend):
    _grant(backend, 2, batch=True, release=True)
    token, wait = backend.try_acquire("realm-1", batch=True)
    assert token is None and wait > 1
    assert backend.try_acquire("realm-1", batch=False)[0]  # ordinary requests still go


def test_it_keeps_realms_apart(backend):
    _grant(backend, 3)
    assert backend.try_acquire("realm-2", batch=False)[0]


def _read_customers(connection) -> list:
    return connection_call(
        connection=connection,
        operation=lambda api: qbo_client.call(api, lambda qb: Customer.all(qb=qb)),
    )


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_it_never_lets_a_burst_exceed_quickbooks_limits(connected, qbo):
    from django.db import connection as db_connection

    errors = []

    def reader():
        try:
            for _ in range(4):
                _read_customers(connected)
        except Exception as exc:  # asserted below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=reader) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stats = qbo.control("GET", f"realms/{connected.realm_id}/stats")
    assert errors == []
    assert stats["throttled"] == 0, stats
    assert stats["max_concurrency"] <= 10
    assert stats["max_requests_per_second"] <= 10


@pytest.mark.sandbox
def test_it_waits_out_a_429_instead_of_failing(connected, qbo, settings):
    settings.QBO_THROTTLE_RETRIES = 3
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"throttle_burst": 2})
    assert _read_customers(connected) == []
    assert qbo.control("GET", f"realms/{connected.realm_id}/stats")["throttled"] == 2
