"""Driving the OAuth dance as a browser would: app → sandbox consent page → app callback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.urls import reverse


def consent(authorize_url: str, *, realm_id: str, action: str = "connect") -> str:
    """Answer the sandbox's consent page as a person would; return the callback path+query."""
    response = requests.get(
        f"{authorize_url}&{urlencode({'realm_id': realm_id, 'auto': action})}",
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code in (302, 303), response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def connect(client, company, *, realm_id: str, action: str = "connect"):
    """Click Connect, consent in the sandbox, follow the callback. Returns the callback response."""
    started = client.post(reverse("quickbooks_link:connect", args=[company.pk]))
    assert started.status_code == 302, started
    return client.get(consent(started["Location"], realm_id=realm_id, action=action))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
