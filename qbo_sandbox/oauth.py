"""Intuit OAuth 2.0 (qbo-api.md §5): authorization codes, token endpoint, revocation.

A "grant" is one connection of the app to one realm; codes, refresh tokens and access tokens hang
off it, so revoking (by the revoke endpoint or by the control surface "user disconnected the app")
kills every token of that connection at once.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass

from qbo_sandbox.store import State

DAY = 86400
DEFAULT_SETTINGS = {
    "access_token_ttl": 3600,
    "refresh_token_ttl": 8726400,  # 101 days, the value Intuit returns (qbo-api.md §5)
    "rotate_refresh_token": "daily",
    "reject_superseded": True,
    "superseded_grace_seconds": 0,
    "hard_expiry_seconds": 5 * 365 * DAY,  # the 2025-11 five-year hard maximum
}
CODE_TTL = 600


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        # qbo-api.md §5: invalid_grant comes with error_description "Token invalid".
        self.description = description or ("Token invalid" if error == "invalid_grant" else None)

    def body(self) -> dict:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass
class Caller:
    realm_id: str
    client_id: str
    token: str


class OAuth:
    def __init__(self, state: State, client_id: str, client_secret: str) -> None:
        self.state = state
        self.client_id = client_id
        self.client_secret = client_secret

    @property
    def data(self) -> dict:
        oauth = self.state.oauth
        for key in ("codes", "grants", "refresh_tokens", "access_tokens"):
            oauth.setdefault(key, {})
        oauth.setdefault("settings", dict(DEFAULT_SETTINGS))
        return oauth

    @property
    def settings(self) -> dict:
        return self.data["settings"]

    def update_settings(self, values: dict) -> dict:
        for key, value in values.items():
            if key in DEFAULT_SETTINGS:
                self.settings[key] = value
        self.state.mark_changed()
        return dict(self.settings)

    # ---- client authentication ------------------------------------------------------------
    def check_client(self, authorization: str | None) -> str:
        """Basic auth with the configured id/secret, else invalid_client (qbo-api.md §5)."""
        if not authorization or not authorization.lower().startswith("basic "):
            raise OAuthError("invalid_client", 401)
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", 401) from None
        client_id, _, secret = decoded.partition(":")
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            raise OAuthError("invalid_client", 401)
        return client_id

    # ---- codes -----------------------------------------------------------------------------
    def issue_code(self, realm_id: str, client_id: str, redirect_uri: str) -> str:
        code = "AB" + secrets.token_urlsafe(30)
        self.data["codes"][code] = {
            "realm_id": realm_id,
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "expires_at": time.time() + CODE_TTL,
            "used": False,
        }
        self.state.mark_changed()
        return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str, faults: dict) -> dict:
        entry = self.data["codes"].get(code)
        if entry is None or entry["used"] or entry["expires_at"] < time.time():
            raise OAuthError("invalid_grant")
        entry["used"] = True  # a code works once; reuse is invalid_grant
        if entry["redirect_uri"] != redirect_uri or entry["client_id"] != client_id:
            raise OAuthError("invalid_grant")
        if faults.get("force_invalid_grant"):
            raise OAuthError("invalid_grant")
        grant_id = self.new_grant(entry["realm_id"], client_id)
        return self.token_response(grant_id)

    # ---- grants and tokens -------------------------------------------------------------------
    def new_grant(self, realm_id: str, client_id: str) -> str:
        now = time.time()
        grant_id = secrets.token_hex(8)
        self.data["grants"][grant_id] = {
            "realm_id": realm_id,
            "client_id": client_id,
            "created_at": now,
            "revoked": False,
            "hard_expires_at": now + float(self.settings["hard_expiry_seconds"]),
            "refresh_token": None,
        }
        self._rotate(grant_id)
        self.state.mark_changed()
        return grant_id

    def _rotate(self, grant_id: str) -> str:
        grant = self.data["grants"][grant_id]
        now = time.time()
        old = grant["refresh_token"]
        if old is not None:
            self.data["refresh_tokens"][old]["superseded_at"] = now
        token = "AB11" + secrets.token_urlsafe(36)
        self.data["refresh_tokens"][token] = {
            "grant_id": grant_id,
            "issued_at": now,
            "expires_at": now + self._refresh_ttl(),
            "superseded_at": None,
        }
        grant["refresh_token"] = token
        return token

    def _refresh_ttl(self) -> float:
        return float(self.settings["refresh_token_ttl"])

    def token_response(self, grant_id: str, include_hard_expiry: bool = False) -> dict:
        grant = self.data["grants"][grant_id]
        now = time.time()
        ttl = int(self.settings["access_token_ttl"])
        access = "eyJ" + secrets.token_urlsafe(48)
        self.data["access_tokens"][access] = {"grant_id": grant_id, "expires_at": now + ttl}
        refresh = grant["refresh_token"]
        entry = self.data["refresh_tokens"][refresh]
        entry["expires_at"] = min(now + self._refresh_ttl(), grant["hard_expires_at"])
        self.state.mark_changed()
        body = {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ttl,
            "x_refresh_token_expires_in": max(0, int(entry["expires_at"] - now)),
        }
        if include_hard_expiry:
            body["x_refresh_token_hard_expires_in"] = max(0, int(grant["hard_expires_at"] - now))
        return body

    def refresh(self, client_id: str, token: str, faults_for_realm, include_hard: bool) -> dict:
        entry = self.data["refresh_tokens"].get(token)
        if entry is None:
            raise OAuthError("invalid_grant")
        grant_id = entry["grant_id"]
        grant = self.data["grants"][grant_id]
        now = time.time()
        if grant["revoked"] or grant["client_id"] != client_id:
            raise OAuthError("invalid_grant")
        if entry["expires_at"] < now or grant["hard_expires_at"] < now:
            raise OAuthError("invalid_grant")
        if faults_for_realm(grant["realm_id"]).get("force_invalid_grant"):
            raise OAuthError("invalid_grant")
        if entry["superseded_at"] is not None and self.settings["reject_superseded"]:
            grace = float(self.settings["superseded_grace_seconds"])
            if now > entry["superseded_at"] + grace:
                raise OAuthError("invalid_grant")
        if self._should_rotate(grant):
            self._rotate(grant_id)
        return self.token_response(grant_id, include_hard)

    def _should_rotate(self, grant: dict) -> bool:
        mode = self.settings["rotate_refresh_token"]
        if mode == "always":
            return True
        if mode == "never":
            return False
        issued = self.data["refresh_tokens"][grant["refresh_token"]]["issued_at"]
        return time.time() - issued >= DAY  # "daily": Intuit rotates about every 24 h

    def revoke_token(self, token: str) -> None:
        entry = self.data["refresh_tokens"].get(token) or self.data["access_tokens"].get(token)
        if entry is not None:
            self.data["grants"][entry["grant_id"]]["revoked"] = True
            self.state.mark_changed()

    def revoke_realm(self, realm_id: str) -> None:
        for grant in self.data["grants"].values():
            if grant["realm_id"] == realm_id:
                grant["revoked"] = True
        self.state.mark_changed()

    def authenticate(self, authorization: str | None) -> Caller | None:
        """The caller of an API request, or None when the Bearer token is not good (-> 401)."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization[7:].strip()
        entry = self.data["access_tokens"].get(token)
        if entry is None or entry["expires_at"] < time.time():
            return None
        grant = self.data["grants"].get(entry["grant_id"])
        if grant is None or grant["revoked"]:
            return None
        return Caller(grant["realm_id"], grant["client_id"], token)
