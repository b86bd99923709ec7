"""The one object that ties the sandbox's parts together (built once per process)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qbo_sandbox import clock
from qbo_sandbox.entities.base import Change
from qbo_sandbox.entities.company import preferences_body
from qbo_sandbox.entities.seed import company_info_body, seed_realm
from qbo_sandbox.faults import Faults
from qbo_sandbox.limits import Limiter
from qbo_sandbox.oauth import OAuth
from qbo_sandbox.store import Realm, RealmSettings, State
from qbo_sandbox.webhooks import WebhookSender


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path | None = None
    latency_ms: float = 0
    minute_seconds: float = 60
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"  # noqa: S105 - the documented sandbox default


class Sandbox:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.state = State(config.data_dir)
        self.oauth = OAuth(self.state, config.client_id, config.client_secret)
        self.limiter = Limiter(config.minute_seconds)
        self.faults = Faults(self.state)
        self.webhooks = WebhookSender(self.state)

    def reset(self) -> None:
        self.state.clear()
        self.limiter.reset()

    def realm(self, realm_id: str) -> Realm | None:
        return self.state.realms.get(realm_id)

    def create_realm(self, values: dict) -> Realm:
        settings = RealmSettings()
        settings.update(values)
        realm_id = str(values.get("realm_id") or self.state.new_realm_id())
        realm = Realm(realm_id=realm_id, settings=settings)
        seed_realm(realm)
        self.state.realms[realm_id] = realm
        self.state.mark_changed()
        return realm

    def update_realm(self, realm: Realm, values: dict) -> Realm:
        realm.settings.update(values)
        self._refresh_company_records(realm)
        self.state.mark_changed()
        return realm

    def _refresh_company_records(self, realm: Realm) -> None:
        # Preferences and CompanyInfo mirror the settings; their SyncToken moves when they change.
        for entity, body in (
            ("Preferences", preferences_body(realm, _body(realm, "Preferences"))),
            ("CompanyInfo", {**_body(realm, "CompanyInfo"), "CompanyName": realm.settings.name}),
        ):
            current = realm.get(entity, "1")
            merged = {**current, **body}
            if merged != current:
                merged["SyncToken"] = str(int(current["SyncToken"]) + 1)
                merged["MetaData"] = {
                    **current["MetaData"],
                    "LastUpdatedTime": clock.meta_time(realm.now()),
                }
                realm.table(entity)["1"] = merged

    def record_changes(self, changes: list[Change]) -> None:
        if changes:
            self.state.mark_changed()
            self.webhooks.notify(changes)


def realm_json(realm: Realm) -> dict:
    return {"realm_id": realm.realm_id, **json.loads(json.dumps(realm.settings.__dict__))}


def _body(realm: Realm, entity: str) -> dict:
    record = realm.get(entity, "1") or (company_info_body(realm) if entity == "CompanyInfo" else {})
    return {
        k: v
        for k, v in record.items()
        if k not in ("SyncToken", "MetaData", "Id", "domain", "sparse")
    }
