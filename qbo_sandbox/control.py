"""The JSON control surface under /__sandbox__/ (CONTRACT.md)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qbo_sandbox.context import Sandbox, realm_json

REALM_KEYS = {
    "name",
    "country",
    "custom_txn_numbers",
    "warn_duplicate_doc_number",
    "closing_date",
    "class_tracking",
    "multicurrency",
    "realm_id",
}


async def _json(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _not_found(what: str) -> Response:
    return JSONResponse({"error": f"unknown {what}"}, status_code=404)


async def control(sandbox: Sandbox, request: Request) -> Response:
    path = request.path_params["path"].strip("/")
    parts = path.split("/")
    method = request.method
    body = await _json(request)
    if path == "health":
        return JSONResponse({"ok": True})
    if path == "reset" and method == "POST":
        sandbox.reset()
        return JSONResponse({"ok": True})
    if path == "realms":
        if method == "POST":
            settings = {k: v for k, v in body.items() if k in REALM_KEYS}
            if str(settings.get("realm_id", "")) in sandbox.state.realms:
                return JSONResponse({"error": "realm already exists"}, status_code=409)
            return JSONResponse(realm_json(sandbox.create_realm(settings)), status_code=201)
        return JSONResponse({"realms": [realm_json(r) for r in sandbox.state.realms.values()]})
    if path == "faults":
        if method == "PUT":
            return JSONResponse(sandbox.faults.put(None, body))
        return JSONResponse(sandbox.faults.profile(None))
    if path == "oauth":
        if method == "PUT":
            return JSONResponse(sandbox.oauth.update_settings(body))
        return JSONResponse(dict(sandbox.oauth.settings))
    if path == "webhooks":
        if method == "PUT":
            return JSONResponse(sandbox.webhooks.configure(body))
        return JSONResponse(dict(sandbox.state.webhooks))
    if parts[0] == "realms" and len(parts) >= 2:
        return _realm_control(sandbox, method, parts[1], parts[2:], body)
    return _not_found("control path")


def _realm_control(
    sandbox: Sandbox, method: str, realm_id: str, rest: list[str], body: dict
) -> Response:
    realm = sandbox.realm(realm_id)
    if realm is None:
        return _not_found("realm")
    action = rest[0] if rest else ""
    if action == "" and method in ("PATCH", "PUT"):
        settings = {k: v for k, v in body.items() if k in REALM_KEYS - {"realm_id"}}
        return JSONResponse(realm_json(sandbox.update_realm(realm, settings)))
    if action == "":
        return JSONResponse(realm_json(realm))
    if action == "tokens" and method == "POST":
        grant_id = sandbox.oauth.new_grant(realm_id, sandbox.config.client_id)
        answer = sandbox.oauth.token_response(grant_id)
        answer.pop("token_type")
        return JSONResponse(answer)
    if action == "revoke" and method == "POST":
        sandbox.oauth.revoke_realm(realm_id)
        return JSONResponse({"ok": True})
    if action == "faults":
        if method == "PUT":
            return JSONResponse(sandbox.faults.put(realm_id, body))
        return JSONResponse(sandbox.faults.profile(realm_id))
    if action == "stats":
        return JSONResponse(sandbox.limiter.stats_for(realm_id).as_json())
    return _not_found("control path")
