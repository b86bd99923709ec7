"""QuickBooks' API limits, held across every worker process together (qbo-api.md §1).

Per realm and app: at most 10 requests in flight, 10 a second, 500 a minute, and 40 batch requests
a minute. Each request takes a permit before it is sent and gives it back when the answer is in.

Windows slide, and they count each request at the latest moment it can have reached Intuit: "now"
while it is in flight, and the moment its answer came once it is done. Intuit counts a request
when it arrives, which lies somewhere between the two, so however the network delays requests,
no window Intuit sees can hold more than the limit. (Counting at send time instead lets delayed
requests bunch up at Intuit's end; the tests caught exactly that.)

Two interchangeable backends: Redis (atomic Lua scripts, for any number of machines) when the
broker is Redis, and the database otherwise (the embedded default: one SQLite file shared by the
demo's processes, whose write transactions are serialised; PostgreSQL takes an advisory lock).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from quickbooks_link.errors import QboNotSentError

logger = logging.getLogger(__name__)
IN_FLIGHT_POLL = 0.05  # every slot is held by a request still in flight: look again soon


@dataclass(frozen=True)
class Limits:
    in_flight: int = 10
    per_second: int = 10
    per_minute: int = 500
    batch_per_minute: int = 40
    minute_seconds: float = 60.0  # shortened only to match a time-compressed sandbox in benchmarks
    lease_seconds: float = 180.0  # a permit whose holder died is given back after this

    @property
    def second_seconds(self) -> float:
        return self.minute_seconds / 60


class Throttled(Exception):
    """No permit came free within the time we were willing to wait."""


def configured_limits() -> Limits:
    return Limits(minute_seconds=settings.QBO_LIMIT_MINUTE_SECONDS)


# Sorted sets per realm: KEYS[1] in flight (score = lease expiry), KEYS[2..4] the per-second,
# per-minute and batch windows (score = lease expiry while in flight, then the time it finished).
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token, is_batch = ARGV[1], ARGV[2] == '1'
local lease, second, minute = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - second)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - minute)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - minute)
local wait = 0
local function full(key, limit, span)
  if redis.call('ZCARD', key) < limit then return end
  local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  local free_at = oldest + span
  if oldest > now then free_at = now + tonumber(ARGV[10]) end
  wait = math.max(wait, free_at - now, 1)
end
full(KEYS[1], tonumber(ARGV[6]), 0)
full(KEYS[2], tonumber(ARGV[7]), second)
full(KEYS[3], tonumber(ARGV[8]), minute)
if is_batch then full(KEYS[4], tonumber(ARGV[9]), minute) end
if wait > 0 then return wait end
local keys = is_batch and 4 or 3
for i = 1, keys do redis.call('ZADD', KEYS[i], now + lease, token) end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], minute + lease) end
return 0
"""

RELEASE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, 4 do redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1]) end
return 0
"""


class RedisLimiter:
    def __init__(self, url: str, limits: Limits) -> None:
        self.redis = redis.Redis.from_url(url)
        self.limits = limits
        self.acquire_script = self.redis.register_script(ACQUIRE_SCRIPT)
        self.release_script = self.redis.register_script(RELEASE_SCRIPT)

    def _keys(self, realm: str) -> list[str]:
        return [f"qbo-limits:{realm}:{name}" for name in ("inflight", "second", "minute", "batch")]

    def try_acquire(self, realm: str, *, batch: bool) -> tuple[str | None, float]:
        token, lim = uuid.uuid4().hex, self.limits
        args = [
            token,
            "1" if batch else "0",
            int(lim.lease_seconds * 1000),
            int(lim.second_seconds * 1000),
            int(lim.minute_seconds * 1000),
            lim.in_flight,
            lim.per_second,
            lim.per_minute,
            lim.batch_per_minute,
            int(IN_FLIGHT_POLL * 1000),
        ]
        wait_ms = int(self.acquire_script(keys=self._keys(realm), args=args))
        return (token, 0.0) if wait_ms == 0 else (None, wait_ms / 1000)

    def release(self, realm: str, token: str) -> None:
        self.release_script(keys=self._keys(realm), args=[token])


class DatabaseLimiter:
    """The same rules kept in the database, for the embedded default without Redis."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def try_acquire(self, realm: str, *, batch: bool) -> tuple[str | None, float]:
        from quickbooks_link.models import ApiPermit

        lim, token = self.limits, uuid.uuid4().hex
        with transaction.atomic():
            ApiPermit.lock_realm(realm)
            now = timezone.now()
            permits = ApiPermit.objects.filter(realm_id=realm)
            _forget_old(permits, now, lim)
            waits = [
                _wait_in_flight(permits, now, lim.in_flight),
                _wait_window(permits, now, lim.second_seconds, lim.per_second),
                _wait_window(permits, now, lim.minute_seconds, lim.per_minute),
            ]
            if batch:
                batches = permits.filter(batch=True)
                waits.append(_wait_window(batches, now, lim.minute_seconds, lim.batch_per_minute))
            wait = max(waits)
            if wait > 0:
                return None, wait
            lease_until = now + timedelta(seconds=lim.lease_seconds)
            ApiPermit.objects.create(
                realm_id=realm, token=token, batch=batch, lease_until=lease_until
            )
        return token, 0.0

    def release(self, realm: str, token: str) -> None:
        from quickbooks_link.models import ApiPermit

        ApiPermit.objects.filter(realm_id=realm, token=token).update(
            lease_until=None, done_at=timezone.now()
        )


def _forget_old(permits, now, lim: Limits) -> None:
    # A permit whose holder died counts as done when its lease ran out.
    for permit in permits.filter(done_at__isnull=True, lease_until__lt=now):
        permits.filter(pk=permit.pk).update(done_at=permit.lease_until, lease_until=None)
    permits.filter(done_at__lt=now - timedelta(seconds=lim.minute_seconds)).delete()


def _wait_in_flight(permits, now, limit: int) -> float:
    if permits.filter(lease_until__gt=now).count() < limit:
        return 0.0
    return IN_FLIGHT_POLL


def _wait_window(permits, now, span: float, limit: int) -> float:
    start = now - timedelta(seconds=span)
    counted = permits.filter(Q(lease_until__gt=now) | Q(done_at__gt=start))
    if counted.count() < limit:
        return 0.0
    oldest = permits.filter(done_at__gt=start).order_by("done_at").first()
    if oldest is None:
        return IN_FLIGHT_POLL
    return max((oldest.done_at + timedelta(seconds=span) - now).total_seconds(), 0.001)


@cache
def _limiter_for(broker_url: str, limits: Limits):
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisLimiter(broker_url, limits)
    return DatabaseLimiter(limits)


def limiter():
    return _limiter_for(settings.CELERY_BROKER_URL, configured_limits())


class Permit:
    """`with Permit(realm, batch=...):` waits for room under the limits, then holds a slot."""

    def __init__(self, realm: str, *, batch: bool = False, max_wait: float | None = None) -> None:
        self.realm, self.batch = realm, batch
        self.max_wait = settings.QBO_LIMIT_MAX_WAIT if max_wait is None else max_wait
        self.token: str | None = None

    def __enter__(self) -> Permit:
        deadline = time.monotonic() + self.max_wait
        backend = limiter()
        while True:
            self.token, wait = _transient_if_down(
                lambda: backend.try_acquire(self.realm, batch=self.batch)
            )
            if self.token:
                return self
            if time.monotonic() + wait > deadline:
                raise Throttled(f"QuickBooks limits for realm {self.realm} stayed full")
            time.sleep(wait)

    def __exit__(self, *exc_info) -> None:
        try:
            limiter().release(self.realm, self.token)
        except Exception:
            # The answer is in already; an unreleased permit only expires with its lease.
            logger.warning("could not release a QuickBooks permit for realm %s", self.realm)


def _transient_if_down(operation):
    """The limiter's store (Redis or the database) being unreachable is a transient failure."""
    import redis

    try:
        return operation()
    except (redis.RedisError, DatabaseError) as exc:
        raise QboNotSentError(f"The QuickBooks rate limiter is unavailable: {exc}") from exc
