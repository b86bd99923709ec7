"""Injected faults, globally or per realm (CONTRACT.md "PUT faults").

A realm's profile overrides the global one key by key. `throttle_burst` is a counter consumed by the
next N API requests (realm counter first, then the global one).
"""

from __future__ import annotations

import random

from qbo_sandbox.store import State

DEFAULTS = {
    "latency_ms": 0,
    "jitter_ms": 0,
    "error_5xx_rate": 0.0,
    "hang_rate": 0.0,
    "hang_seconds": 0.0,
    "lost_response_rate": 0.0,
    "throttle_burst": 0,
    "throttle_format": "json",
    "force_invalid_grant": False,
}


class Faults:
    def __init__(self, state: State) -> None:
        self.state = state
        self.random = random.Random()  # noqa: S311 - fault dice, not secrets

    def _raw(self, realm_id: str | None) -> dict:
        if realm_id is None:
            return self.state.faults.setdefault("global", {})
        return self.state.faults.setdefault("realms", {}).setdefault(realm_id, {})

    def profile(self, realm_id: str | None) -> dict:
        """The profile as set at that level (global, or the realm's own overrides merged on top)."""
        merged = {**DEFAULTS, **self._raw(None)}
        if realm_id is not None:
            merged.update(self._raw(realm_id))
        return merged

    def put(self, realm_id: str | None, values: dict) -> dict:
        raw = self._raw(realm_id)
        raw.clear()
        raw.update({k: v for k, v in values.items() if k in DEFAULTS})
        self.state.mark_changed()
        return self.profile(realm_id)

    def take_throttle(self, realm_id: str) -> bool:
        for level in (realm_id, None):
            raw = self._raw(level)
            if int(raw.get("throttle_burst") or 0) > 0:
                raw["throttle_burst"] = int(raw["throttle_burst"]) - 1
                return True
        return False

    def latency_seconds(self, profile: dict, base_ms: float) -> float:
        latency = float(base_ms) + float(profile["latency_ms"] or 0)
        jitter = float(profile["jitter_ms"] or 0)
        if jitter:
            latency += self.random.uniform(0, jitter)
        return latency / 1000

    def roll(self, rate: object) -> bool:
        rate = float(rate or 0)
        return rate > 0 and self.random.random() < rate
