"""State changes of a company's QuickBooks connection: connect, reconnect, disconnect."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from companies.models import Company
from quickbooks_link import client
from quickbooks_link.errors import QboError, QboPermanentError, QboReconnectRequired
from quickbooks_link.models import QuickBooksConnection
from quickbooks_link.tokens import token_fields

SESSION_KEY = "qbo_oauth"


class ConnectionRefused(Exception):
    """The connection attempt cannot be accepted; the message says why, for the person."""


@dataclass(frozen=True)
class PendingAuthorization:
    state: str
    company_id: int


def connection_for(company: Company) -> QuickBooksConnection:
    connection, _ = QuickBooksConnection.objects.get_or_create(company=company)
    return connection


def connection_begin(*, company: Company, session) -> str:
    """Start the OAuth dance: remember a fresh `state` in the person's session, return Intuit's URL.

    The state binds the callback to this browser session and this company (CSRF protection for
    the redirect back, RFC 6749 §10.12).
    """
    state = secrets.token_urlsafe(32)
    session[SESSION_KEY] = {"state": state, "company_id": company.pk}
    return client.authorization_url(state=state)


def connection_pending(*, session, state: str) -> PendingAuthorization:
    """The authorization this callback answers, or ConnectionRefused if the state does not match."""
    pending = session.pop(SESSION_KEY, None)
    if not pending or not state or not secrets.compare_digest(pending["state"], state):
        raise ConnectionRefused(
            "This QuickBooks sign-in did not come from this browser session, so nothing was "
            "changed. Start again from the integration page."
        )
    return PendingAuthorization(state=state, company_id=pending["company_id"])


def _refuse_other_realm(connection: QuickBooksConnection, realm_id: str) -> None:
    if connection.realm_id and connection.realm_id != realm_id:
        raise ConnectionRefused(
            f"This company is linked to the QuickBooks company {connection.qbo_company_name or connection.realm_id} "
            "and can never be linked to another one. Sign in again and choose that company."
        )
    taken = QuickBooksConnection.objects.filter(realm_id=realm_id).exclude(pk=connection.pk)
    if taken.exists():
        raise ConnectionRefused(
            "That QuickBooks company is already linked to another company here. Each QuickBooks "
            "company can feed one company's books."
        )


def connection_complete(
    *, company: Company, user, code: str, realm_id: str
) -> QuickBooksConnection:
    """Finish the OAuth dance: exchange the code, read the realm, and store it all at once.

    QuickBooks is called before anything is written, so a failed exchange changes nothing.
    """
    connection = connection_for(company)
    _refuse_other_realm(connection, realm_id)
    tokens = client.exchange_code(code=code, realm_id=realm_id)
    try:
        api = client.api_client(
            access_token=tokens.access_token, refresh_token=tokens.refresh_token, realm_id=realm_id
        )
        info = client.read_company_info(api)
        preferences = client.read_preferences(api)
    except QboError:
        client.revoke_token(token=tokens.refresh_token)
        raise
    return _store_connection(connection, user, realm_id, tokens, info, preferences)


def _store_connection(connection, user, realm_id, tokens, info, preferences):
    now = timezone.now()
    fields = {
        **token_fields(tokens, now=now),
        "realm_id": realm_id,
        "connected_at": now,
        "connected_by": user,
        "reconnect_required_at": None,
        "reconnect_reason": "",
        "qbo_company_name": info["name"],
        "qbo_country": info["country"][:2],
        "qbo_currency": preferences.pop("home_currency", ""),
        "qbo_preferences": preferences,
    }
    try:
        with transaction.atomic():
            # The realm is fixed once set: only an unlinked row or the same realm may be written.
            updated = QuickBooksConnection.objects.filter(
                pk=connection.pk, realm_id__in=["", realm_id]
            ).update(**fields, token_generation=connection.token_generation + 1, updated_at=now)
    except IntegrityError:
        updated = 0
    if updated != 1:
        raise ConnectionRefused("Another QuickBooks company was linked meanwhile; nothing changed.")
    return QuickBooksConnection.objects.get(pk=connection.pk)


def connection_require_reconnect(*, connection: QuickBooksConnection, reason: str) -> bool:
    """Mark the connection Needs reconnecting and tell the person who connected it (once)."""
    won = QuickBooksConnection.objects.filter(
        pk=connection.pk, reconnect_required_at__isnull=True
    ).update(reconnect_required_at=timezone.now(), reconnect_reason=reason[:300])
    if won:
        transaction.on_commit(lambda: _email_reconnect_needed(connection.pk))
    return bool(won)


def _email_reconnect_needed(connection_pk: int) -> None:
    connection = QuickBooksConnection.objects.select_related("company", "connected_by").get(
        pk=connection_pk
    )
    person = connection.connected_by
    if person is None or not person.email:
        return
    page = settings.SITE_URL + reverse("quickbooks_link:integration", args=[connection.company_id])
    send_mail(
        subject=f"QuickBooks needs reconnecting for {connection.company.name}",
        message=(
            f"QuickBooks Online stopped accepting our access to {connection.company.name} "
            f"({connection.reconnect_reason}).\n\nSyncing is paused; nothing is lost. To resume, "
            f"open {page} and choose Advanced › Reconnect, then sign in to the same QuickBooks "
            "company.\n"
        ),
        from_email=None,
        recipient_list=[person.email],
    )


def connection_disconnect(*, connection: QuickBooksConnection) -> None:
    """Revoke our tokens at Intuit and forget them; links, history and the realm are kept."""
    token = connection.refresh_token or connection.access_token
    if token:
        # A token Intuit no longer honours means access is already gone, which is the goal.
        with contextlib.suppress(QboReconnectRequired, QboPermanentError):
            client.revoke_token(token=token)
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        access_token="",
        refresh_token="",
        access_token_expires_at=None,
        token_generation=connection.token_generation + 1,
        connected_at=None,
        disconnected_at=timezone.now(),
        reconnect_required_at=None,
        reconnect_reason="",
    )
