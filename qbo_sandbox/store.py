"""In-memory state of the whole sandbox, persisted as an atomic JSON snapshot.

Why a JSON snapshot and not sqlite: all state lives in one asyncio process and every request reads
and writes Python dicts, so the hot path never touches the disk. A background task writes the
snapshot (temp file + os.replace, so a crash never leaves half a file) at most every
`FLUSH_INTERVAL` seconds after a change, and once more on shutdown. That keeps writes off the
request path, which the ≥500 req/s target needs; the price is that a hard kill can lose the last
fraction of a second, acceptable for a demo/test emulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qbo_sandbox import clock

FLUSH_INTERVAL = 0.25
SNAPSHOT_NAME = "qbo_sandbox.json"

# Name-list people share one Id sequence in QBO (cassettes: customer 70 then vendor 71), and
# transactions share another (invoice 266, sales receipt 17 ...).
ID_SEQUENCES = {"Customer": "names", "Invoice": "txn", "CreditMemo": "txn", "Payment": "txn"}


@dataclass
class RealmSettings:
    name: str = "Sandbox Company"
    country: str = "US"
    custom_txn_numbers: bool = False
    warn_duplicate_doc_number: bool = False
    closing_date: str | None = None
    class_tracking: bool = False
    multicurrency: bool = False

    def update(self, values: dict) -> None:
        for key, value in values.items():
            if key in self.__dataclass_fields__ and key != "country":
                setattr(self, key, value)
        if values.get("country") in ("US", "UK", "AU"):
            self.country = values["country"]


@dataclass
class Realm:
    realm_id: str
    settings: RealmSettings
    records: dict[str, dict[str, dict]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, dict]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    next_doc_number: int = 1001
    next_address_id: int = 1

    def table(self, entity: str) -> dict[str, dict]:
        return self.records.setdefault(entity, {})

    def get(self, entity: str, record_id: str) -> dict | None:
        return self.records.get(entity, {}).get(record_id)

    def is_deleted(self, entity: str, record_id: str) -> bool:
        return record_id in self.tombstones.get(entity, {})

    def allocate_id(self, entity: str) -> str:
        sequence = ID_SEQUENCES.get(entity, entity)
        value = self.sequences.get(sequence, 1)
        self.sequences[sequence] = value + 1
        return str(value)

    def allocate_address_id(self) -> str:
        value = self.next_address_id
        self.next_address_id += 1
        return str(value)

    def now(self):
        return clock.now_in(self.settings.country)

    def to_json(self) -> dict:
        data = asdict(self)
        data["settings"] = asdict(self.settings)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Realm:
        data = dict(data)
        data["settings"] = RealmSettings(**data["settings"])
        return cls(**data)


class State:
    """Everything the sandbox knows. One instance per process."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self._changed = False
        self.clear()
        if data_dir is not None:
            self._load()

    def clear(self) -> None:
        self.realms: dict[str, Realm] = {}
        self.oauth: dict = {}  # owned by oauth.py: settings, codes, grants, tokens
        self.faults: dict = {"global": {}, "realms": {}}
        self.webhooks: dict = {}
        self.request_ids: dict[str, dict] = {}
        self.mark_changed()

    def new_realm_id(self) -> str:
        # Real realm ids are 16-19 digit numbers; tests only need them numeric and unique.
        while True:
            candidate = "9341" + "".join(secrets.choice("0123456789") for _ in range(12))
            if candidate not in self.realms:
                return candidate

    def mark_changed(self) -> None:
        self._changed = True

    # ---- persistence -------------------------------------------------------------------
    @property
    def snapshot_path(self) -> Path | None:
        return None if self.data_dir is None else self.data_dir / SNAPSHOT_NAME

    def snapshot(self) -> dict:
        return {
            "realms": {rid: realm.to_json() for rid, realm in self.realms.items()},
            "oauth": self.oauth,
            "faults": self.faults,
            "webhooks": self.webhooks,
            "request_ids": self.request_ids,
        }

    def _load(self) -> None:
        path = self.snapshot_path
        if path is None or not path.exists():
            return
        data = json.loads(path.read_text())
        self.realms = {rid: Realm.from_json(raw) for rid, raw in data.get("realms", {}).items()}
        self.oauth = data.get("oauth", {})
        self.faults = data.get("faults", {"global": {}, "realms": {}})
        self.webhooks = data.get("webhooks", {})
        self.request_ids = data.get("request_ids", {})
        self._changed = False

    def flush(self) -> None:
        """Write the snapshot now if anything changed (serialised in the loop, so it is consistent)."""
        path = self.snapshot_path
        if path is None or not self._changed:
            return
        self._changed = False
        text = json.dumps(self.snapshot(), separators=(",", ":"))
        _write_atomically(path, text)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            if self.snapshot_path is None or not self._changed:
                continue
            self._changed = False
            text = json.dumps(self.snapshot(), separators=(",", ":"))
            await asyncio.to_thread(_write_atomically, self.snapshot_path, text)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(text)
    os.replace(temp, path)
