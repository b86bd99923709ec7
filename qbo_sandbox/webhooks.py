"""Webhook notifications (qbo-api.md §6), sent in the background so they never delay an API answer.

Legacy format: `{"eventNotifications":[{"realmId", "dataChangeEvent":{"entities":[...]}}]}`, one element
per realm. CloudEvents format: a JSON array of events. Both signed with `intuit-signature` =
base64(HMAC-SHA256(verifier token, raw body)).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import urllib.request
import uuid

from qbo_sandbox.entities.base import Change
from qbo_sandbox.store import State

log = logging.getLogger("qbo_sandbox.webhooks")
BATCH_WINDOW = 0.05  # collect changes made close together into one POST, as Intuit batches them
SEND_TIMEOUT = 5


class WebhookSender:
    def __init__(self, state: State) -> None:
        self.state = state
        self.queue: asyncio.Queue[Change] | None = None

    def configure(self, values: dict) -> dict:
        if not values.get("url"):
            self.state.webhooks = {}
        else:
            self.state.webhooks = {
                "url": values["url"],
                "verifier_token": values.get("verifier_token", ""),
                "format": values.get("format", "legacy"),
            }
        self.state.mark_changed()
        return dict(self.state.webhooks)

    def notify(self, changes: list[Change]) -> None:
        if not changes or not self.state.webhooks.get("url") or self.queue is None:
            return
        for change in changes:
            self.queue.put_nowait(change)

    async def run_forever(self) -> None:
        self.queue = asyncio.Queue()
        while True:
            first = await self.queue.get()
            await asyncio.sleep(BATCH_WINDOW)
            changes = [first]
            while not self.queue.empty():
                changes.append(self.queue.get_nowait())
            config = dict(self.state.webhooks)
            if config.get("url"):
                body = render(changes, config.get("format", "legacy"))
                await asyncio.to_thread(
                    _post, config["url"], body, config.get("verifier_token", "")
                )


def render(changes: list[Change], fmt: str) -> bytes:
    if fmt == "cloudevents":
        return json.dumps([_cloud_event(c) for c in changes]).encode()
    realms: dict[str, list[dict]] = {}
    for change in changes:
        realms.setdefault(change.realm_id, []).append(
            {
                "name": change.entity,
                "id": change.record_id,
                "operation": change.operation,
                "lastUpdated": _legacy_time(change.last_updated),
            }
        )
    notifications = [
        {"realmId": realm_id, "dataChangeEvent": {"entities": entities}}
        for realm_id, entities in realms.items()
    ]
    return json.dumps({"eventNotifications": notifications}).encode()


def _legacy_time(text: str) -> str:
    # Intuit's legacy payload writes the offset without a colon: 2015-10-05T14:42:19-0700.
    return dt.datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M:%S%z")


def _cloud_event(change: Change) -> dict:
    moment = dt.datetime.fromisoformat(change.last_updated).astimezone(dt.UTC)
    operation = {
        "Create": "created",
        "Update": "updated",
        "Delete": "deleted",
        "Void": "voided",
    }.get(change.operation, change.operation.lower())
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "intuit.qbo-sandbox",
        "type": f"qbo.{change.entity.lower()}.{operation}.v1",
        "datacontenttype": "application/json",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "intuitentityid": change.record_id,
        "intuitaccountid": change.realm_id,
        "data": {},
    }


def sign(body: bytes, verifier_token: str) -> str:
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _post(url: str, body: bytes, verifier_token: str) -> None:
    # The target URL is configured by whoever runs the sandbox; http(s) only.
    if not url.startswith(("http://", "https://")):
        log.warning("webhook URL %s is not http(s); not sent", url)
        return
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "intuit-signature": sign(body, verifier_token),
            "intuit-notification-schema-version": "0.1",
            "intuit-t-id": str(uuid.uuid4()),
            "intuit-created-time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "User-Agent": "intuit_notification_server/0.1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:  # noqa: S310
            response.read()
    except OSError as error:
        # Intuit retries later; the sandbox only logs (retries are not emulated).
        log.warning("webhook POST to %s failed: %s", url, error)
