"""The only module that talks to QuickBooks: through intuit-oauth and python-quickbooks, unmodified.

Where the app talks to is configuration alone (qbo-api.md §7): for QBO_ENVIRONMENT=local the
AuthClient's `environment` is the emulator's discovery URL and the API base URL is the emulator's;
for sandbox/production both are Intuit's. Neither library sets HTTP timeouts, so a requests
adapter adds one; a response hook records each exchange for the message log and for classifying
failures by their real HTTP status (python-quickbooks reports a non-JSON 429 or 503 only as
"Error reading json response", error code 10000).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests
from django.conf import settings
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks import exceptions as qb_exceptions
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item
from quickbooks.objects.preferences import Preferences
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.trackingclass import Class
from requests.adapters import HTTPAdapter

from quickbooks_link.errors import (
    QboError,
    QboPermanentError,
    QboReconnectRequired,
    QboTimeoutError,
    QboTransientError,
    classify,
)
from quickbooks_link.limits import Permit

MINOR_VERSION = 75  # Intuit ignores 1-74 since 2025-08-01 (qbo-api.md §4).
SCOPES = [Scopes.ACCOUNTING]
# intuit-oauth 1.2.6 has no switch for this (1.2.7 does); the header is all the switch sends.
HARD_EXPIRY_HEADER = "x-include-refresh-token-hard-expires-in"

T = TypeVar("T")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int | None
    hard_expires_in: int | None


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    intuit_tid: str


@dataclass
class QboApi:
    """A python-quickbooks client for one realm, and the exchanges it has made."""

    qb: QuickBooks
    realm_id: str
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def last_exchange(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None


class _TimeoutAdapter(HTTPAdapter):
    def send(self, request, **kwargs):
        kwargs["timeout"] = kwargs.get("timeout") or settings.QBO_HTTP_TIMEOUT
        return super().send(request, **kwargs)


API_PATH = re.compile(r"/v3/company/(?P<realm>[^/]+)/(?P<rest>[^?]*)")


class _LimitedAdapter(_TimeoutAdapter):
    """Every Accounting API request waits for a permit under QuickBooks' limits (see limits.py).

    A 429 that still arrives was refused before QuickBooks did anything, so resending it is safe:
    it is waited out here, with exponential backoff and jitter, a bounded number of times.
    """

    def send(self, request, **kwargs):
        match = API_PATH.search(request.url)
        if match is None:
            return super().send(request, **kwargs)
        realm, batch = match["realm"], match["rest"].startswith("batch")
        for attempt in range(settings.QBO_THROTTLE_RETRIES + 1):
            with Permit(realm, batch=batch):
                response = super().send(request, **kwargs)
            if response.status_code != 429 or attempt == settings.QBO_THROTTLE_RETRIES:
                return response
            time.sleep(min(2**attempt, 30) * (0.5 + random.random()))  # noqa: S311
        return response


def _with_timeouts(session: requests.Session, adapter: HTTPAdapter | None = None) -> None:
    adapter = adapter or _TimeoutAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)


def _is_local() -> bool:
    return settings.QBO_ENVIRONMENT == "local"


def _discovery_environment() -> str:
    if _is_local():
        # The emulator serves plain HTTP on loopback; oauthlib refuses that unless told it is local.
        if settings.QBO_SANDBOX_URL.startswith("http://"):
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return f"{settings.QBO_SANDBOX_URL}/.well-known/openid_configuration"
    return settings.QBO_ENVIRONMENT


def _auth_client() -> AuthClient:
    try:
        client = AuthClient(
            settings.QBO_CLIENT_ID,
            settings.QBO_CLIENT_SECRET,
            settings.QBO_REDIRECT_URI,
            environment=_discovery_environment(),
        )
    except (requests.RequestException, ValueError, KeyError) as exc:
        # The constructor fetches Intuit's discovery document.
        raise QboTransientError(f"QuickBooks sign-in is unreachable: {exc}") from exc
    _with_timeouts(client)
    client.headers[HARD_EXPIRY_HEADER] = "true"
    return client


def _oauth_error(exc: AuthClientError) -> QboError:
    try:
        error = exc.response.json().get("error", "")
    except ValueError:
        error = ""
    tid = exc.intuit_tid or ""
    if error == "invalid_grant":
        return QboReconnectRequired(
            "QuickBooks no longer accepts this connection (invalid_grant)",
            code="invalid_grant",
            http_status=exc.status_code,
            intuit_tid=tid,
        )
    if exc.status_code >= 500 or exc.status_code == 429:
        return QboTransientError(
            f"QuickBooks sign-in answered HTTP {exc.status_code}",
            http_status=exc.status_code,
            intuit_tid=tid,
        )
    return QboPermanentError(
        f"QuickBooks sign-in refused the request ({error or exc.status_code})",
        code=error,
        http_status=exc.status_code,
        intuit_tid=tid,
    )


def _token_call(operation: Callable[[AuthClient], object]) -> AuthClient:
    client = _auth_client()
    try:
        operation(client)
    except AuthClientError as exc:
        raise _oauth_error(exc) from exc
    except requests.RequestException as exc:
        raise QboTransientError(f"QuickBooks sign-in did not answer: {exc}") from exc
    return client


def _tokens_of(client: AuthClient) -> Tokens:
    def seconds(name: str) -> int | None:
        value = getattr(client, name, None)
        return int(value) if value not in (None, "") else None

    return Tokens(
        access_token=client.access_token,
        refresh_token=client.refresh_token,
        expires_in=seconds("expires_in") or 3600,
        refresh_expires_in=seconds("x_refresh_token_expires_in"),
        hard_expires_in=seconds("x_refresh_token_hard_expires_in"),
    )


def authorization_url(*, state: str) -> str:
    """Where to send a person to grant access.

    https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
    """
    return _auth_client().get_authorization_url(SCOPES, state_token=state)


def exchange_code(*, code: str, realm_id: str) -> Tokens:
    """Trade the callback's authorization code for tokens (grant_type=authorization_code)."""
    client = _token_call(lambda c: c.get_bearer_token(code, realm_id=realm_id))
    return _tokens_of(client)


def refresh_tokens(*, refresh_token: str) -> Tokens:
    """A new access token; the refresh token in the answer may be a new one too (always keep it).

    https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq
    """
    client = _token_call(lambda c: c.refresh(refresh_token=refresh_token))
    return _tokens_of(client)


def revoke_token(*, token: str) -> None:
    """Revoke the app's access to the realm (either token revokes both)."""
    _token_call(lambda c: c.revoke(token=token))


def api_client(*, access_token: str, refresh_token: str, realm_id: str) -> QboApi:
    """A python-quickbooks client for one realm, with timeouts and exchange recording.

    python-quickbooks never refreshes tokens itself: after a refresh, build a new client.
    """
    auth = _auth_client()
    auth.access_token, auth.refresh_token, auth.realm_id = access_token, refresh_token, realm_id
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=refresh_token,
        company_id=realm_id,
        minorversion=MINOR_VERSION,
    )
    if _is_local():
        qb.api_url_v3 = qb.sandbox_api_url_v3 = f"{settings.QBO_SANDBOX_URL}/v3"
    api = QboApi(qb=qb, realm_id=realm_id)
    _with_timeouts(qb.session, _LimitedAdapter())
    qb.session.hooks["response"].append(_recorder(api))
    return api


def _recorder(api: QboApi):
    def record(response: requests.Response, *args, **kwargs) -> None:
        api.exchanges.append(
            Exchange(
                method=response.request.method,
                url=response.request.url.split("?")[0],
                status=response.status_code,
                intuit_tid=response.headers.get("intuit_tid", ""),
            )
        )

    return record


def call(api: QboApi, operation: Callable[[QuickBooks], T]) -> T:
    """Run one python-quickbooks operation, turning every failure into a classified QboError."""
    seen = len(api.exchanges)
    try:
        return operation(api.qb)
    except qb_exceptions.QuickbooksException as exc:
        exchange = api.last_exchange if len(api.exchanges) > seen else None
        raise classify(
            http_status=exchange.status if exchange else None,
            code=str(exc.error_code or ""),
            message=exc.message,
            detail=str(exc.detail or ""),
            intuit_tid=exchange.intuit_tid if exchange else "",
        ) from exc
    except requests.Timeout as exc:
        raise QboTimeoutError(f"QuickBooks did not answer in time: {exc}") from exc
    except requests.RequestException as exc:
        raise QboTransientError(f"QuickBooks did not answer: {exc}") from exc


def read_company_info(api: QboApi) -> dict:
    """The realm's company name and country.

    https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo
    """
    info = call(api, lambda qb: CompanyInfo.all(qb=qb))[0]
    return {"name": info.CompanyName, "country": info.Country or ""}


def read_preferences(api: QboApi) -> dict:
    """The realm settings that change how we sync.

    https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/preferences
    """
    prefs = call(api, lambda qb: Preferences.get(qb=qb))
    accounting, sales, currency = (
        prefs.AccountingInfoPrefs,
        prefs.SalesFormsPrefs,
        prefs.CurrencyPrefs,
    )
    home = getattr(currency, "HomeCurrency", None) if currency else None
    return {
        "custom_txn_numbers": bool(getattr(sales, "CustomTxnNumbers", False)),
        "class_tracking": bool(getattr(accounting, "ClassTrackingPerTxn", False)),
        "multicurrency": bool(getattr(currency, "MultiCurrencyEnabled", False)),
        "closing_date": (getattr(accounting, "BookCloseDate", "") or None),
        "home_currency": getattr(home, "value", "") if home else "",
    }


PAGE_SIZE = 1000  # QBO's MAXRESULTS ceiling (qbo-api.md §1)


def _all_pages(api: QboApi, entity_class, where: str = "") -> list:
    rows: list = []
    while True:
        start = len(rows) + 1

        def page(qb, start=start):
            if where:
                return entity_class.where(where, start_position=start, max_results=PAGE_SIZE, qb=qb)
            return entity_class.all(start_position=start, max_results=PAGE_SIZE, qb=qb)

        batch = call(api, page)
        rows.extend(batch)
        if len(batch) < PAGE_SIZE:
            return rows


def read_reference_data(api: QboApi, *, with_classes: bool) -> dict[str, list[dict]]:
    """Accounts, items, tax codes, (classes) and customers, for mapping at onboarding.

    https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    """
    entities = {"Account": Account, "Item": Item, "TaxCode": TaxCode, "Customer": Customer}
    if with_classes:
        entities["Class"] = Class
    # Inactive accounts and items are read too, so a mapping to one can be flagged.
    inactive_too = {"Account", "Item"}
    return {
        name: [
            obj.to_dict()
            for obj in _all_pages(
                api, cls, "Active IN (true, false)" if name in inactive_too else ""
            )
        ]
        for name, cls in entities.items()
    }


def create_service_item(api: QboApi, *, name: str, income_account_id: str) -> dict:
    """Create a Service item that books its sales to the given income account.

    https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/item
    """
    item = Item()
    item.Name, item.Type = name, "Service"
    item.IncomeAccountRef = Ref()
    item.IncomeAccountRef.value = income_account_id
    return call(api, lambda qb: item.save(qb=qb)).to_dict()


def create_class(api: QboApi, *, name: str) -> dict:
    """Create a class (one per property, for class tracking).

    https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/class
    """
    tracking_class = Class()
    tracking_class.Name = name
    return call(api, lambda qb: tracking_class.save(qb=qb)).to_dict()


# --- Raw-JSON operations for the sync engine. Every write carries a requestid, so repeating it
# after a lost answer returns QuickBooks' first answer instead of writing twice (qbo-api.md §3).


def _body(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"))


def create(api: QboApi, entity: str, payload: dict, *, request_id: str) -> dict:
    """Create one object. https://developer.intuit.com/app/developer/qbo/docs/learn/rest-api-features"""
    answer = call(api, lambda qb: qb.create_object(entity, _body(payload), request_id=request_id))
    return answer[entity]


def update(api: QboApi, entity: str, payload: dict, *, request_id: str) -> dict:
    """Full update of one object; the payload carries Id and the SyncToken it was based on."""
    answer = call(api, lambda qb: qb.update_object(entity, _body(payload), request_id=request_id))
    return answer[entity]


def read(api: QboApi, entity: str, qbo_id: str) -> dict:
    """Read one object by Id."""
    return call(api, lambda qb: qb.get_single_object(entity, qbo_id))[entity]


def query(api: QboApi, sql: str) -> list[dict]:
    """Run one query; returns the rows of its entity (no paging: callers bound MAXRESULTS).

    https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries
    """
    entity = sql.split(" FROM ", 1)[1].split()[0] if " FROM " in sql else ""
    answer = call(api, lambda qb: qb.query(sql))["QueryResponse"]
    return answer.get(entity, [])


def void_invoice(api: QboApi, qbo_id: str, sync_token: str, *, request_id: str) -> dict:
    """Void an invoice (it stays, with zero amounts). operation=void, as Intuit documents it."""
    url = f"{api.qb.api_url}/company/{api.realm_id}/invoice"
    body = _body({"Id": qbo_id, "SyncToken": sync_token})
    answer = call(
        api, lambda qb: qb.post(url, body, params={"operation": "void"}, request_id=request_id)
    )
    return answer["Invoice"]


def changes_since(api: QboApi, entities: list[str], since: str) -> dict[str, list[dict]]:
    """Change data capture: what changed in QuickBooks since a time (at most 30 days back).

    https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture
    """
    answer = call(api, lambda qb: qb.change_data_capture(",".join(entities), since))
    changes: dict[str, list[dict]] = {}
    for response in answer.get("CDCResponse", []):
        for group in response.get("QueryResponse", []):
            for entity in entities:
                changes.setdefault(entity, []).extend(group.get(entity, []))
    return changes


BATCH_LIMIT = 30  # items per batch request (qbo-api.md §1)


def batch(api: QboApi, items: list[dict], *, request_id: str) -> list[dict]:
    """Send up to 30 operations in one request; returns the BatchItemResponse list (by bId).

    A requestid makes a retry the same request only with the same bIds too (qbo-api.md §3), so
    callers give stable bIds. https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/batch
    """
    assert len(items) <= BATCH_LIMIT
    url = f"{api.qb.api_url}/company/{api.realm_id}/batch"
    body = _body({"BatchItemRequest": items})
    answer = call(api, lambda qb: qb.post(url, body, request_id=request_id))
    return answer.get("BatchItemResponse", [])


def fault_error(fault: dict) -> QboError:
    """A classified error for one item's Fault inside a batch answer."""
    first = (fault.get("Error") or [{}])[0]
    return classify(
        http_status=None,
        code=str(first.get("code", "")),
        message=first.get("Message", ""),
        detail=first.get("Detail", ""),
    )


def delete(api: QboApi, entity: str, qbo_id: str, sync_token: str, *, request_id: str) -> dict:
    """Delete a transaction (operation=delete); linked transactions must be unlinked first."""
    body = _body({"Id": qbo_id, "SyncToken": sync_token})
    return call(api, lambda qb: qb.delete_object(entity, body, request_id=request_id))[entity]


def void_payment(api: QboApi, qbo_id: str, sync_token: str, *, request_id: str) -> dict:
    """Void a payment: a sparse update with include=void (qbo-api.md §4 Payment)."""
    body = _body({"Id": qbo_id, "SyncToken": sync_token, "sparse": True})
    params = {"operation": "update", "include": "void"}
    answer = call(
        api,
        lambda qb: qb.update_object("Payment", body, params=params, request_id=request_id),
    )
    return answer["Payment"]
