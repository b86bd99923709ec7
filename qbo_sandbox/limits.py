"""QBO throttling per realm and app (qbo-api.md §1).

500 requests/minute, 10 requests/second, more than 10 concurrent requests, 40 batch requests/minute,
all per (realmId, client id). Windows slide; `--minute-seconds S` shrinks a "minute" to S seconds and a
"second" to S/60 seconds so tests can cross the limits quickly. A refused request does not count
against the window: QBO's gateway rejects it before it is served.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

PER_MINUTE = 500
PER_SECOND = 10
CONCURRENT = 10
BATCH_PER_MINUTE = 40
BATCH_ITEMS = 30


@dataclass
class Window:
    in_flight: int = 0
    minute: deque = field(default_factory=deque)
    second: deque = field(default_factory=deque)
    batch: deque = field(default_factory=deque)


@dataclass
class RealmStats:
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    throttled: int = 0
    throttled_by: dict[str, int] = field(default_factory=dict)  # addition to CONTRACT.md
    max_concurrency: int = 0
    max_requests_per_minute: int = 0
    max_requests_per_second: int = 0
    max_batch_per_minute: int = 0

    def as_json(self) -> dict:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "throttled_by": self.throttled_by,
            "max_concurrency": self.max_concurrency,
            "max_requests_per_minute": self.max_requests_per_minute,
            "max_requests_per_second": self.max_requests_per_second,
            "max_batch_per_minute": self.max_batch_per_minute,
        }


class Limiter:
    def __init__(self, minute_seconds: float) -> None:
        self.minute = float(minute_seconds)
        self.second = self.minute / 60
        self.windows: dict[tuple[str, str], Window] = {}
        self.stats: dict[str, RealmStats] = {}

    def reset(self) -> None:
        self.windows.clear()
        self.stats.clear()

    def stats_for(self, realm_id: str) -> RealmStats:
        stats = self.stats.get(realm_id)
        if stats is None:
            stats = self.stats[realm_id] = RealmStats()
        return stats

    def admit(self, realm_id: str, client_id: str, is_batch: bool) -> str | None:
        """Take a slot, or say which limit refuses the request."""
        window = self.windows.setdefault((realm_id, client_id), Window())
        now = time.monotonic()
        _prune(window.minute, now - self.minute)
        _prune(window.second, now - self.second)
        _prune(window.batch, now - self.minute)
        if window.in_flight >= CONCURRENT:
            return "concurrency"
        if len(window.second) >= PER_SECOND:
            return "per_second"
        if len(window.minute) >= PER_MINUTE:
            return "per_minute"
        if is_batch and len(window.batch) >= BATCH_PER_MINUTE:
            return "batch_per_minute"
        window.in_flight += 1
        window.minute.append(now)
        window.second.append(now)
        if is_batch:
            window.batch.append(now)
        self._observe(realm_id, window)
        return None

    def release(self, realm_id: str, client_id: str) -> None:
        window = self.windows.get((realm_id, client_id))
        if window is not None and window.in_flight > 0:
            window.in_flight -= 1

    def _observe(self, realm_id: str, window: Window) -> None:
        stats = self.stats_for(realm_id)
        stats.max_concurrency = max(stats.max_concurrency, window.in_flight)
        stats.max_requests_per_minute = max(stats.max_requests_per_minute, len(window.minute))
        stats.max_requests_per_second = max(stats.max_requests_per_second, len(window.second))
        stats.max_batch_per_minute = max(stats.max_batch_per_minute, len(window.batch))

    def refused(self, realm_id: str, reason: str) -> None:
        by_reason = self.stats_for(realm_id).throttled_by
        by_reason[reason] = by_reason.get(reason, 0) + 1

    def count(self, realm_id: str, endpoint: str, status: int | str) -> None:
        """Tally an answer; `status` is the HTTP status, or "lost" for a dropped connection."""
        per_endpoint = self.stats_for(realm_id).requests.setdefault(endpoint, {})
        per_endpoint[str(status)] = per_endpoint.get(str(status), 0) + 1
        if status == 429:
            self.stats_for(realm_id).throttled += 1


def _prune(stamps: deque, cutoff: float) -> None:
    while stamps and stamps[0] <= cutoff:
        stamps.popleft()
