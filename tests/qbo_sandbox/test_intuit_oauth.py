"""intuit-oauth 1.2.6 against the sandbox's OAuth 2.0 endpoints (qbo-api.md §5, CONTRACT.md "Wire").

The consent step has no browser here: the contract's `auto=connect|cancel` query parameter answers the
302 at once, and the Location header carries what Intuit would put on the redirect.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.exceptions import AuthorizationException
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer

from .conftest import Sandbox
from .helpers import (  # noqa: F401 (fixtures)
    CLIENT_ID,
    HTTP_TIMEOUT,
    REDIRECT_URI,
    RawApi,
    bound_session,
    deadline_fixture,
    issue_tokens,
    make_auth_client,
    make_qb,
    realm_id_fixture,
    sandbox_process_fixture,
    set_oauth,
)

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


def _consent(auth_client: AuthClient, realm_id: str, action: str) -> dict[str, str]:
    """Follow the authorization URL with the contract's auto-consent and read the redirect."""
    url = auth_client.get_authorization_url([Scopes.ACCOUNTING], state_token="csrf-123")
    response = requests.get(
        url,
        params={"realm_id": realm_id, "auto": action},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _grant(sandbox: Sandbox, realm_id: str) -> tuple[AuthClient, str]:
    auth_client = make_auth_client(sandbox)
    code = _consent(auth_client, realm_id, "connect")["code"]
    auth_client.get_bearer_token(code, realm_id=realm_id)
    return auth_client, code


def _error(raised: pytest.ExceptionInfo[AuthClientError]) -> dict[str, Any]:
    return raised.value.response.json() if raised.value.content else {}


def _refresh_fails_with(auth_client: AuthClient, token: str, error: str) -> None:
    with pytest.raises(AuthClientError) as raised:
        auth_client.refresh(refresh_token=token)
    # qbo-api.md §5 failures: HTTP 400 {"error":"invalid_grant", ...}.
    assert raised.value.status_code == 400
    assert _error(raised)["error"] == error


def _client_for(sandbox: Sandbox, realm_id: str, auth_client: AuthClient) -> QuickBooks:
    qb = QuickBooks(
        auth_client=auth_client,
        refresh_token=auth_client.refresh_token,
        company_id=realm_id,
        minorversion=75,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    bound_session(qb.session)
    return qb


# --- discovery and authorization URL -----------------------------------------------------------


def test_it_fetches_the_discovery_document_in_the_constructor(sandbox: Sandbox) -> None:
    auth_client = make_auth_client(sandbox)
    # CONTRACT.md "Wire": every endpoint points back at the sandbox.
    assert auth_client.auth_endpoint == f"{sandbox.url}/connect/oauth2"
    assert auth_client.token_endpoint == f"{sandbox.url}/oauth2/v1/tokens/bearer"
    assert auth_client.revoke_endpoint == f"{sandbox.url}/oauth2/v1/tokens/revoke"
    assert auth_client.issuer_uri and auth_client.jwks_uri and auth_client.user_info_url


def test_it_serves_discovery_with_and_without_a_trailing_slash(sandbox: Sandbox) -> None:
    plain = requests.get(sandbox.discovery_url, timeout=HTTP_TIMEOUT)
    slashed = requests.get(sandbox.discovery_url + "/", timeout=HTTP_TIMEOUT)
    assert plain.status_code == slashed.status_code == 200
    assert plain.json() == slashed.json()
    # The six keys intuit-oauth reads (qbo-api.md §5).
    assert {
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    } <= set(plain.json())


def test_it_builds_the_authorization_url_for_the_sandbox(sandbox: Sandbox) -> None:
    url = make_auth_client(sandbox).get_authorization_url(
        [Scopes.ACCOUNTING], state_token="csrf-123"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{sandbox.url}/connect/oauth2"
    # qbo-api.md §5 "Authorization URL params".
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID],
        "response_type": ["code"],
        "scope": [ACCOUNTING_SCOPE],
        "redirect_uri": [REDIRECT_URI],
        "state": ["csrf-123"],
    }


def test_it_shows_a_consent_page_listing_the_realms(sandbox: Sandbox) -> None:
    sandbox.control("POST", "realms", {"name": "Harbour View Lettings"})
    url = make_auth_client(sandbox).get_authorization_url([Scopes.ACCOUNTING], "csrf-123")
    page = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert "Harbour View Lettings" in page.text


# --- consent -----------------------------------------------------------------------------------


def test_it_redirects_with_code_state_and_realm_on_connect(sandbox: Sandbox, realm_id: str) -> None:
    params = _consent(make_auth_client(sandbox), realm_id, "connect")
    # qbo-api.md §5: callback ?code=...&state=...&realmId=...
    assert set(params) == {"code", "state", "realmId"}
    assert params["state"] == "csrf-123" and params["realmId"] == realm_id
    assert params["code"]


def test_it_redirects_with_access_denied_on_cancel(sandbox: Sandbox, realm_id: str) -> None:
    params = _consent(make_auth_client(sandbox), realm_id, "cancel")
    assert params == {"error": "access_denied", "state": "csrf-123"}


def test_it_connects_through_the_posted_consent_form(sandbox: Sandbox, realm_id: str) -> None:
    form = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": ACCOUNTING_SCOPE,
        "redirect_uri": REDIRECT_URI,
        "state": "csrf-form",
        "realm_id": realm_id,
        "action": "connect",
    }
    response = requests.post(
        f"{sandbox.url}/connect/oauth2", data=form, allow_redirects=False, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["state"] == ["csrf-form"] and params["realmId"] == [realm_id]


# --- token endpoint ----------------------------------------------------------------------------


def test_it_exchanges_the_code_for_a_token_pair(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    # qbo-api.md §5: access 3600 s, refresh 8726400 s (the contract's defaults).
    assert auth_client.access_token and auth_client.refresh_token
    assert auth_client.expires_in == 3600
    assert auth_client.x_refresh_token_expires_in == 8726400
    assert auth_client.realm_id == realm_id
    # Not returned unless asked for with the opt-in header (qbo-api.md §0).
    assert not hasattr(auth_client, "x_refresh_token_hard_expires_in")


def test_it_lets_python_quickbooks_use_the_granted_tokens(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    qb = _client_for(sandbox, realm_id, auth_client)
    assert CompanyInfo.get(realm_id, qb=qb).CompanyName == "Conformance Co"


def test_it_refreshes_when_python_quickbooks_starts_without_an_access_token(
    sandbox: Sandbox, realm_id: str
) -> None:
    refresh_token = issue_tokens(sandbox, realm_id)["refresh_token"]
    auth_client = make_auth_client(sandbox)
    # qbo-api.md §7: QuickBooks() calls auth_client.refresh() once when access_token is None.
    qb = QuickBooks(
        auth_client=auth_client, refresh_token=refresh_token, company_id=realm_id, minorversion=75
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = sandbox.api_url
    bound_session(qb.session)
    assert auth_client.access_token
    assert Customer.all(qb=qb) == []


def test_it_rejects_a_reused_code(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, code = _grant(sandbox, realm_id)
    with pytest.raises(AuthClientError) as raised:
        auth_client.get_bearer_token(code, realm_id=realm_id)
    assert raised.value.status_code == 400
    assert _error(raised)["error"] == "invalid_grant"


def test_it_rejects_a_wrong_client_secret(sandbox: Sandbox, realm_id: str) -> None:
    good = make_auth_client(sandbox)
    code = _consent(good, realm_id, "connect")["code"]
    bad = make_auth_client(sandbox, client_secret="not-the-secret")
    with pytest.raises(AuthClientError) as raised:
        bad.get_bearer_token(code, realm_id=realm_id)
    # qbo-api.md §5: invalid_client for bad credentials (RFC 6749 allows 400 or 401).
    assert raised.value.status_code in (400, 401)
    assert _error(raised)["error"] == "invalid_client"


# --- refresh -----------------------------------------------------------------------------------


def test_it_rotates_the_refresh_token_and_rejects_the_old_one(
    sandbox: Sandbox, realm_id: str
) -> None:
    set_oauth(sandbox, rotate_refresh_token="always", reject_superseded=True)
    auth_client, _ = _grant(sandbox, realm_id)
    old_access, old_refresh = auth_client.access_token, auth_client.refresh_token
    auth_client.refresh()
    assert auth_client.refresh_token != old_refresh
    assert auth_client.access_token != old_access
    _refresh_fails_with(make_auth_client(sandbox), old_refresh, "invalid_grant")
    auth_client.refresh()  # the newest one keeps working


def test_it_keeps_the_refresh_token_when_rotation_is_off(sandbox: Sandbox, realm_id: str) -> None:
    set_oauth(sandbox, rotate_refresh_token="never")
    auth_client, _ = _grant(sandbox, realm_id)
    refresh_token = auth_client.refresh_token
    auth_client.refresh()
    assert auth_client.refresh_token == refresh_token
    auth_client.refresh()
    assert auth_client.refresh_token == refresh_token


def test_it_reports_the_hard_expiry_only_when_asked(sandbox: Sandbox, realm_id: str) -> None:
    set_oauth(sandbox, hard_expiry_seconds=1000)
    auth_client, _ = _grant(sandbox, realm_id)
    auth_client.refresh()
    assert not hasattr(auth_client, "x_refresh_token_hard_expires_in")
    # intuit-oauth 1.2.7's opt-in header (qbo-api.md §0); AuthClient is a requests.Session, so a
    # default header reaches the token call of the unmodified 1.2.6.
    auth_client.headers["x-include-refresh-token-hard-expires-in"] = "true"
    auth_client.refresh()
    assert 900 < auth_client.x_refresh_token_hard_expires_in <= 1000


def test_it_defaults_the_hard_expiry_to_five_years(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    auth_client.headers["x-include-refresh-token-hard-expires-in"] = "true"
    auth_client.refresh()
    # qbo-api.md §5: a 5-year hard maximum from issue.
    five_years = 5 * 365 * 86400
    assert (
        five_years - 86400 <= auth_client.x_refresh_token_hard_expires_in <= five_years + 2 * 86400
    )


def test_it_fails_refresh_with_a_forced_invalid_grant(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    sandbox.control("PUT", "faults", {"force_invalid_grant": True})
    _refresh_fails_with(auth_client, auth_client.refresh_token, "invalid_grant")


def test_it_fails_refresh_with_an_unknown_token(sandbox: Sandbox) -> None:
    _refresh_fails_with(make_auth_client(sandbox), "not-a-real-refresh-token", "invalid_grant")


# --- revoke ------------------------------------------------------------------------------------


def test_it_revokes_both_tokens(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    access, refresh = auth_client.access_token, auth_client.refresh_token
    qb = _client_for(sandbox, realm_id, auth_client)
    assert auth_client.revoke(token=refresh) is True
    # The access token now gets the lowercase 401 envelope (error/401.yml) ...
    raw = RawApi(sandbox, realm_id, access).request("GET", "/companyinfo/" + realm_id)
    assert raw.status_code == 401
    assert raw.headers["WWW-Authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    body = raw.json()
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert body["fault"]["error"][0]["code"] == "3200"
    assert "Fault" not in body  # only the lowercase envelope is recorded for 401s
    with pytest.raises(AuthorizationException) as raised:
        Customer.all(qb=qb)
    assert raised.value.error_code == 401
    # ... and the refresh token is dead too.
    _refresh_fails_with(make_auth_client(sandbox), refresh, "invalid_grant")


def test_it_revokes_with_the_access_token(sandbox: Sandbox, realm_id: str) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    access, refresh = auth_client.access_token, auth_client.refresh_token
    # qbo-api.md §5 Revoke: either token may be sent.
    assert auth_client.revoke(token=access) is True
    raw = RawApi(sandbox, realm_id, access).request("GET", "/companyinfo/" + realm_id)
    assert raw.status_code == 401
    _refresh_fails_with(make_auth_client(sandbox), refresh, "invalid_grant")


def test_it_refuses_an_unknown_access_token(sandbox: Sandbox, realm_id: str) -> None:
    raw = RawApi(sandbox, realm_id, "not-a-token").request("GET", "/companyinfo/" + realm_id)
    assert raw.status_code == 401
    assert raw.json()["fault"]["error"][0]["code"] == "3200"


# --- wire details and lifetimes ----------------------------------------------------------------


def test_it_answers_the_token_endpoint_with_the_documented_fields(
    sandbox: Sandbox, realm_id: str
) -> None:
    auth_client = make_auth_client(sandbox)
    code = _consent(auth_client, realm_id, "connect")["code"]
    response = requests.post(
        auth_client.token_endpoint,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, "sandbox-client-secret"),
        headers={"Accept": "application/json"},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200
    body = response.json()
    # qbo-api.md §5 token response; no id_token without an OpenID scope (it would make
    # intuit-oauth fetch and validate against jwks_uri).
    assert set(body) == {
        "token_type",
        "access_token",
        "refresh_token",
        "expires_in",
        "x_refresh_token_expires_in",
    }
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int)


def test_it_keeps_the_refresh_token_within_a_day_by_default(
    sandbox: Sandbox, realm_id: str
) -> None:
    auth_client, _ = _grant(sandbox, realm_id)
    refresh_token = auth_client.refresh_token
    auth_client.refresh()
    # qbo-api.md §5: the value changes about every 24 h (contract default "daily").
    assert auth_client.refresh_token == refresh_token


def test_it_honours_a_grace_period_for_a_superseded_refresh_token(
    sandbox: Sandbox, realm_id: str
) -> None:
    set_oauth(
        sandbox, rotate_refresh_token="always", reject_superseded=True, superseded_grace_seconds=60
    )
    auth_client, _ = _grant(sandbox, realm_id)
    old_refresh = auth_client.refresh_token
    auth_client.refresh()
    assert auth_client.refresh_token != old_refresh
    late = make_auth_client(sandbox)
    late.refresh(refresh_token=old_refresh)  # within the grace window: still accepted
    assert late.access_token


def test_it_needs_a_new_quickbooks_client_after_the_access_token_expires(
    sandbox: Sandbox, realm_id: str
) -> None:
    set_oauth(sandbox, access_token_ttl=1)
    auth_client, _ = _grant(sandbox, realm_id)
    qb = _client_for(sandbox, realm_id, auth_client)
    time.sleep(2.2)
    # qbo-api.md §7: no automatic refresh; an expired token is a 401 -> AuthorizationException.
    with pytest.raises(AuthorizationException) as raised:
        Customer.all(qb=qb)
    assert raised.value.error_code == 401
    assert "Token expired" in raised.value.detail  # error/401.yml detail
    auth_client.refresh()
    assert Customer.all(qb=_client_for(sandbox, realm_id, auth_client)) == []
