"""Intuit's change notifications: verify them, then queue one sync for each company they name.

The answer must come within about 3 seconds or Intuit retries and may blacklist the endpoint
(qbo-api.md §6), so no QuickBooks call happens here: the queued run reads what changed by CDC.
Bursts merge into the company's waiting run (`sync_run_request`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sync_engine.models import SyncRun
from sync_engine.services import companies_due_for_sync, sync_run_request

log = logging.getLogger(__name__)

# Changes to these entities can matter to a sync; others (vendors, bills, …) are not synced.
RELEVANT = {"customer", "invoice", "creditmemo", "payment", "account", "item", "taxcode", "class"}


def signature_valid(body: bytes, signature: str, verifier_token: str) -> bool:
    """intuit-signature is base64(HMAC-SHA256(verifier token, raw body)); compared in constant
    time so the answer's timing tells nothing about how close a forgery came."""
    try:
        given = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def _legacy_realms(payload: dict) -> set[str]:
    realms = set()
    for notification in payload.get("eventNotifications") or []:
        event = notification.get("dataChangeEvent") or {}
        names = {str(e.get("name", "")).lower() for e in event.get("entities") or []}
        if notification.get("realmId") and (not names or names & RELEVANT):
            realms.add(str(notification["realmId"]))
    return realms


def _cloud_event_realms(events: list) -> set[str]:
    realms = set()
    for event in events:
        if not isinstance(event, dict) or not event.get("intuitaccountid"):
            continue
        # type is "qbo.<entity>.<operation>.v1"
        parts = str(event.get("type", "")).lower().split(".")
        if len(parts) < 2 or parts[1] in RELEVANT:
            realms.add(str(event["intuitaccountid"]))
    return realms


def webhook_realm_ids(payload: object) -> set[str]:
    """The realms a notification is about, in either format (CloudEvents: an array that may mix
    realms; legacy: {"eventNotifications": [...]}, one element per realm)."""
    if isinstance(payload, list):
        return _cloud_event_realms(payload)
    if isinstance(payload, dict):
        return _legacy_realms(payload)
    return set()


def webhook_request_syncs(*, realm_ids: set[str]) -> int:
    """Queue an automatic run for each connected company among these realms; unknown ones are
    ignored. Returns how many companies were asked for."""
    companies = list(companies_due_for_sync().filter(qbo_connection__realm_id__in=realm_ids))
    for company in companies:
        sync_run_request(company=company, trigger=SyncRun.Trigger.AUTOMATIC)
    return len(companies)


@csrf_exempt  # Intuit calls this; the HMAC signature is what authenticates it
@require_POST
def quickbooks_webhook(request: HttpRequest) -> HttpResponse:
    token = settings.QBO_WEBHOOK_VERIFIER_TOKEN
    if not token:
        return HttpResponse("Webhooks are not configured.", status=503)
    if not signature_valid(request.body, request.headers.get("intuit-signature", ""), token):
        return HttpResponse("Bad signature.", status=401)
    try:
        payload = json.loads(request.body)
    except ValueError:
        return HttpResponse("Not JSON.", status=400)
    realms = webhook_realm_ids(payload)
    queued = webhook_request_syncs(realm_ids=realms)
    log.info("QuickBooks webhook: %d realm(s), %d sync(s) requested", len(realms), queued)
    return HttpResponse("OK")
