"""The Accounting API under /v3/company/{realmId}/ (qbo-api.md §4, §7).

Request pipeline, in the order a real request meets QBO:
1. Bearer token -> the lowercase 401 envelope when missing/expired/revoked or for another realm.
2. Throttling: a pending `throttle_burst`, then the per-realm+app limits (429, JSON or XML body).
3. Injected latency (asyncio.sleep, so it holds no thread), hangs, 5xx.
4. `requestid` replay: a write already answered for this realm+requestid gets the stored answer.
5. The operation itself; its answer is stored for replay *before* a lost-response fault drops the
   connection, so the client's retry with the same requestid gets it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from qbo_sandbox import clock, documents, errors, query
from qbo_sandbox.batch_cdc import run_batch, run_cdc
from qbo_sandbox.context import Sandbox
from qbo_sandbox.entities.base import Writer
from qbo_sandbox.entities.common import check_numeric_id
from qbo_sandbox.entities.registry import BY_LOWER_NAME
from qbo_sandbox.store import Realm

JSON_TYPE = "application/json;charset=utf-8"
QBO_VERSION = "1944.190"  # as in the 2020 cassettes


class LostResponse(Exception):
    """Raised after a committed write to make the transport drop the connection."""


@dataclass
class Answer:
    status: int
    body: bytes
    media_type: str = JSON_TYPE

    def response(self) -> Response:
        return Response(
            self.body,
            status_code=self.status,
            media_type=self.media_type,
            headers={"intuit_tid": _tid(), "QBO-Version": QBO_VERSION},
        )


def _tid() -> str:
    return "1-" + secrets.token_hex(12)


def json_answer(status: int, body: dict) -> Answer:
    return Answer(status, json.dumps(body, separators=(",", ":")).encode())


def fault_answer(fault: errors.QboFault, country: str = "US") -> Answer:
    return json_answer(fault.status, errors.fault_envelope(fault, clock.envelope_time(country)))


async def handle_api(sandbox: Sandbox, request: Request) -> Response:
    realm_id = request.path_params["realm_id"]
    rest = request.path_params.get("rest", "").strip("/")
    endpoint = rest.split("/")[0].lower() or "company"
    caller = sandbox.oauth.authenticate(request.headers.get("authorization"))
    realm = sandbox.realm(realm_id)
    if caller is None or realm is None or caller.realm_id != realm_id:
        if realm is not None:
            sandbox.limiter.count(realm_id, endpoint, 401)
        return _unauthorized(request)
    try:
        answer = await _admitted(sandbox, request, realm, caller.client_id, endpoint, rest)
    except LostResponse:
        sandbox.limiter.count(realm_id, endpoint, "lost")
        return await drop_connection(request.scope)
    sandbox.limiter.count(realm_id, endpoint, answer.status)
    return answer.response()


async def drop_connection(scope: dict) -> Response:
    """Close the socket with no response at all (the "lost response" fault).

    uvicorn's ASGI `send` is a bound method of its request cycle, which owns the transport; the
    outermost middleware keeps that raw `send` in the scope. After abort() uvicorn marks the cycle
    disconnected and silently drops whatever the app still sends.
    """
    raw_send = scope.get("qbo_sandbox.raw_send")
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)  # let connection_lost() run before anything else is sent
    return Response(b"", status_code=500)


def _unauthorized(request: Request) -> Response:
    token = (request.headers.get("authorization") or "")[7:]
    body = json.dumps(errors.unauthorized_envelope(token), separators=(",", ":")).encode()
    return Response(
        body,
        status_code=401,
        media_type="application/json",
        headers={
            "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"',
            "intuit_tid": _tid(),
        },
    )


async def _admitted(
    sandbox: Sandbox, request: Request, realm: Realm, client_id: str, endpoint: str, rest: str
) -> Answer:
    profile = sandbox.faults.profile(realm.realm_id)
    if sandbox.faults.take_throttle(realm.realm_id):
        sandbox.limiter.refused(realm.realm_id, "throttle_burst")
        return _throttled(profile)
    refusal = sandbox.limiter.admit(realm.realm_id, client_id, endpoint == "batch")
    if refusal is not None:
        sandbox.limiter.refused(realm.realm_id, refusal)
        return _throttled(profile)
    try:
        return await _served(sandbox, request, realm, endpoint, rest, profile)
    finally:
        sandbox.limiter.release(realm.realm_id, client_id)


def _throttled(profile: dict) -> Answer:
    time = clock.envelope_time()
    if profile.get("throttle_format") == "xml":
        # Recorded 429 bodies were XML even for Accept: application/json (qbo-api.md §1).
        return Answer(429, errors.throttle_xml(time).encode(), "application/xml")
    return json_answer(429, errors.throttle_json(time))


async def _served(
    sandbox: Sandbox, request: Request, realm: Realm, endpoint: str, rest: str, profile: dict
) -> Answer:
    faults = sandbox.faults
    delay = faults.latency_seconds(profile, sandbox.config.latency_ms)
    if delay > 0:
        await asyncio.sleep(delay)
    if faults.roll(profile["hang_rate"]):
        await asyncio.sleep(float(profile["hang_seconds"] or 0))
    if faults.roll(profile["error_5xx_rate"]):
        return json_answer(503, errors.server_error(clock.envelope_time(realm.settings.country)))
    body = await request.body()
    is_write = request.method == "POST" and endpoint != "query"
    replay_key = _replay_key(realm, request, body) if is_write else None
    stored = sandbox.state.request_ids.get(replay_key) if replay_key else None
    if stored is not None:
        return Answer(stored["status"], stored["body"].encode(), stored["media_type"])
    answer = _dispatch(sandbox, request, realm, endpoint, rest, body)
    if replay_key is not None:
        sandbox.state.request_ids[replay_key] = {
            "status": answer.status,
            "body": answer.body.decode(),
            "media_type": answer.media_type,
        }
        sandbox.state.mark_changed()
    if is_write and faults.roll(profile["lost_response_rate"]):
        raise LostResponse
    return answer


def _replay_key(realm: Realm, request: Request, body: bytes) -> str | None:
    request_id = request.query_params.get("requestid")
    if not request_id:
        return None
    key = f"{realm.realm_id}|{request_id}"
    if request.url.path.rstrip("/").endswith("/batch"):
        # A batch retry is the same request only with the same bIds too (qbo-api.md §3).
        try:
            items = json.loads(body).get("BatchItemRequest", [])
            key += "|" + ",".join(str(i.get("bId")) for i in items)
        except (ValueError, AttributeError):
            pass
    return key


def _dispatch(
    sandbox: Sandbox, request: Request, realm: Realm, endpoint: str, rest: str, body: bytes
) -> Answer:
    country = realm.settings.country
    try:
        status, payload, changes = _route(request, realm, endpoint, rest, body)
    except errors.QboFault as fault:
        return fault_answer(fault, country)
    except PdfAnswer as pdf:
        return Answer(200, pdf.body, "application/pdf")
    sandbox.record_changes(changes)
    payload["time"] = clock.envelope_time(country)
    return json_answer(status, payload)


def _route(request: Request, realm: Realm, endpoint: str, rest: str, body: bytes):
    parts = rest.split("/")
    method = request.method
    if endpoint == "query" and len(parts) == 1:
        text = request.query_params.get("query") if method == "GET" else body.decode()
        if not text:
            text = request.query_params.get("query", "")
        _, result = query.run(realm, text)
        return 200, {"QueryResponse": result}, []
    if endpoint == "batch" and method == "POST" and len(parts) == 1:
        payload, changes = run_batch(realm, _json_body(body))
        return 200, payload, changes
    if endpoint == "cdc" and method == "GET" and len(parts) == 1:
        return 200, run_cdc(realm, request.query_params), []
    rules = BY_LOWER_NAME.get(endpoint)
    if rules is not None and len(parts) == 3 and parts[2] in ("send", "pdf"):
        return _document(request, realm, rules, parts)
    if rules is None or len(parts) > 2:
        raise errors.unsupported_operation(request.url.path)
    if method == "GET":
        return 200, {rules.name: _read(realm, rules, parts)}, []
    if method != "POST" or (len(parts) != 1 and rules.kind != "singleton"):
        raise errors.unsupported_operation(request.url.path)
    return _write(realm, rules, request.query_params, _json_body(body))


def _read(realm: Realm, rules, parts: list[str]) -> dict:
    if rules.kind == "singleton":
        return realm.get(rules.name, "1")
    if len(parts) != 2:
        raise errors.unsupported_operation(f"/v3/company/{realm.realm_id}/{'/'.join(parts)}")
    record_id = parts[1] if rules.name == "TaxCode" else _checked_id(parts[1])
    record = realm.get(rules.name, record_id)
    if record is None:
        if realm.is_deleted(rules.name, record_id):
            raise errors.deleted_object()
        raise errors.QboFault("610", "Object Not Found", errors.INACTIVE_DETAIL)
    return record


def _document(request: Request, realm: Realm, rules, parts: list[str]):
    record = _read(realm, rules, parts[:2])
    if parts[2] == "pdf" and request.method == "GET":
        raise PdfAnswer(documents.pdf_bytes(rules.name, record))
    if parts[2] == "send" and request.method == "POST":
        sent, writer = documents.send_document(
            realm, rules.name, record, request.query_params.get("sendTo")
        )
        return 200, {rules.name: sent}, writer.changes
    raise errors.unsupported_operation(request.url.path)


class PdfAnswer(Exception):
    """Carries a PDF body out of the JSON routing (GET /{entity}/{id}/pdf)."""

    def __init__(self, body: bytes) -> None:
        super().__init__("pdf")
        self.body = body


def _checked_id(text: str) -> str:
    return check_numeric_id(text)


def _write(realm: Realm, rules, params, body: dict):
    writer = Writer(realm)
    operation = (params.get("operation") or "").lower()
    if operation == "delete":
        record = writer.delete(rules, body)
    elif operation == "void" or (operation == "update" and params.get("include") == "void"):
        record = writer.void(rules, body)
    elif rules.kind == "singleton":
        record = writer.update(rules, {**body, "Id": "1"})
    elif body.get("Id") not in (None, "", 0, "0"):
        record = writer.update(rules, body)
    else:
        record = writer.create(rules, body)
    return 200, {rules.name: record}, writer.changes


def _json_body(body: bytes) -> dict:
    try:
        parsed = json.loads(body or b"{}")
    except UnicodeDecodeError:
        raise errors.QboFault(
            "500", "Unsupported Operation", "Request body is not valid UTF-8"
        ) from None
    except ValueError as error:
        raise errors.QboFault(
            "2010",
            "Request has invalid or unsupported property",
            f"Unable to parse request body: {error}",
        ) from None
    if not isinstance(parsed, dict):
        raise errors.QboFault(
            "2010",
            "Request has invalid or unsupported property",
            "The request body must be a JSON object",
        )
    return parsed
