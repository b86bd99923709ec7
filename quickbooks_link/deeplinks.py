"""Links into QuickBooks Online's own pages (or the local emulator's) for an object."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings

APP_HOSTS = {
    "production": "https://app.qbo.intuit.com",
    "sandbox": "https://app.sandbox.qbo.intuit.com",
}
# Which QuickBooks page shows each kind of object, and the parameter naming it.
PAGES = {
    "tenant": ("customerdetail", "nameId"),
    "invoice": ("invoice", "txnId"),
    "credit_note": ("creditmemo", "txnId"),
    "payment": ("recvpayment", "txnId"),
}


def qbo_url(entity: str, qbo_id: str, realm_id: str) -> str:
    """The QuickBooks page of an object, or "" when QuickBooks has no page for it."""
    if entity not in PAGES or not qbo_id:
        return ""
    page, parameter = PAGES[entity]
    query = {parameter: qbo_id}
    if settings.QBO_ENVIRONMENT == "local":
        query["realm"] = realm_id  # the emulator serves many companies from one host
        return f"{settings.QBO_SANDBOX_URL}/app/{page}?{urlencode(query)}"
    return f"{APP_HOSTS[settings.QBO_ENVIRONMENT]}/app/{page}?{urlencode(query)}"
