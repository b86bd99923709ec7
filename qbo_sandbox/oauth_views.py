"""HTTP side of OAuth: discovery document, consent page, token and revoke endpoints (qbo-api.md §5)."""

from __future__ import annotations

import html
import json
import time
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from qbo_sandbox.context import Sandbox
from qbo_sandbox.oauth import OAuthError

OAUTH_JSON = "application/json"


def discovery(sandbox: Sandbox, request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    # id_token is never issued, so jwks_uri only has to exist for intuit-oauth's constructor.
    return JSONResponse(
        {
            "issuer": "https://oauth.platform.intuit.com/op/v1",
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
            "jwks_uri": f"{base}/op/v1/jwks",
            "response_types_supported": ["code"],
            "scopes_supported": [
                "openid",
                "email",
                "profile",
                "address",
                "phone",
                "com.intuit.quickbooks.accounting",
                "com.intuit.quickbooks.payment",
            ],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }
    )


def jwks(_sandbox: Sandbox, _request: Request) -> Response:
    return JSONResponse({"keys": []})


async def authorize(sandbox: Sandbox, request: Request) -> Response:
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: v[0] for k, v in parse_qs((await request.body()).decode()).items()})
    if params.get("client_id") != sandbox.config.client_id or not params.get("redirect_uri"):
        return HTMLResponse(
            "<h1>invalid_client</h1><p>Unknown client_id or no redirect_uri.</p>", status_code=400
        )
    action = params.get("action") or params.get("auto")
    if action == "cancel":
        return _redirect(params, {"error": "access_denied"})
    if action == "connect":
        realm_id = params.get("realm_id") or ""
        if realm_id == "new" or (not realm_id and not sandbox.state.realms):
            realm_id = sandbox.create_realm({}).realm_id
        if sandbox.realm(realm_id) is None:
            return HTMLResponse("<h1>Unknown company</h1>", status_code=400)
        code = sandbox.oauth.issue_code(realm_id, params["client_id"], params["redirect_uri"])
        return _redirect(params, {"code": code, "realmId": realm_id})
    return HTMLResponse(_consent_page(sandbox, params))


def _redirect(params: dict, extra: dict) -> Response:
    query = {**extra, "state": params.get("state", "")}
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return RedirectResponse(params["redirect_uri"] + separator + urlencode(query), status_code=302)


def _consent_page(sandbox: Sandbox, params: dict) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in ("client_id", "response_type", "scope", "redirect_uri", "state")
    )
    options = "".join(
        f'<label><input type="radio" name="realm_id" value="{html.escape(r.realm_id)}"'
        f"{' checked' if i == 0 else ''}> {html.escape(r.settings.name)} "
        f"({html.escape(r.realm_id)}, {html.escape(r.settings.country)})</label><br>"
        for i, r in enumerate(sandbox.state.realms.values())
    )
    options += (
        '<label><input type="radio" name="realm_id" value="new"'
        f"{'' if sandbox.state.realms else ' checked'}> Create a new sandbox company</label>"
    )
    return (
        "<!doctype html><html><head><title>Connect to QuickBooks (sandbox)</title></head><body>"
        "<h1>Connect an app to a sandbox company</h1>"
        f"<p>App <code>{html.escape(params.get('client_id', ''))}</code> asks for "
        f"<code>{html.escape(params.get('scope', ''))}</code>.</p>"
        f'<form method="post" action="/connect/oauth2">{hidden}{options}<p>'
        '<button name="action" value="connect">Connect</button> '
        '<button name="action" value="cancel">Cancel</button></p></form></body></html>'
    )


async def token(sandbox: Sandbox, request: Request) -> Response:
    try:
        client_id = sandbox.oauth.check_client(request.headers.get("authorization"))
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        include_hard = request.headers.get("x-include-refresh-token-hard-expires-in", "") == "true"
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            realm_faults = _code_realm_faults(sandbox, form.get("code", ""))
            body = sandbox.oauth.exchange_code(
                client_id, form.get("code", ""), form.get("redirect_uri", ""), realm_faults
            )
            if include_hard:
                body = _with_hard_expiry(sandbox, body)
        elif grant_type == "refresh_token":
            body = sandbox.oauth.refresh(
                client_id, form.get("refresh_token", ""), sandbox.faults.profile, include_hard
            )
        else:
            raise OAuthError("unsupported_grant_type")
    except OAuthError as error:
        return _oauth_error(error)
    return Response(json.dumps(body), media_type=OAUTH_JSON, headers=_no_store())


def _code_realm_faults(sandbox: Sandbox, code: str) -> dict:
    entry = sandbox.oauth.data["codes"].get(code)
    return sandbox.faults.profile(entry["realm_id"] if entry else None)


def _with_hard_expiry(sandbox: Sandbox, body: dict) -> dict:
    entry = sandbox.oauth.data["refresh_tokens"][body["refresh_token"]]
    grant = sandbox.oauth.data["grants"][entry["grant_id"]]
    body["x_refresh_token_hard_expires_in"] = max(0, int(grant["hard_expires_at"] - time.time()))
    return body


async def revoke(sandbox: Sandbox, request: Request) -> Response:
    try:
        sandbox.oauth.check_client(request.headers.get("authorization"))
    except OAuthError as error:
        return _oauth_error(error)
    raw = await request.body()
    try:
        token_value = json.loads(raw).get("token", "")
    except (ValueError, AttributeError):
        token_value = parse_qs(raw.decode()).get("token", [""])[0]
    sandbox.oauth.revoke_token(token_value)
    return Response(b"", status_code=200)


def userinfo(sandbox: Sandbox, request: Request) -> Response:
    caller = sandbox.oauth.authenticate(request.headers.get("authorization"))
    if caller is None:
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse(
        {
            "sub": caller.client_id,
            "email": "sandbox@example.invalid",
            "emailVerified": True,
            "givenName": "Sandbox",
            "familyName": "User",
        }
    )


def _oauth_error(error: OAuthError) -> Response:
    return Response(
        json.dumps(error.body()),
        status_code=error.status,
        media_type=OAUTH_JSON,
        headers={"intuit_tid": "1-sandbox"},
    )


def _no_store() -> dict:
    return {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache", "intuit_tid": "1-sandbox"}
