"""Every company-scoped page and action: another group's user gets 404, a visitor must log in.

The URLs are read from the URL configuration itself, so a new page cannot be forgotten here.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from quickbooks_link.models import QuickBooksConnection


def _company_urls(patterns=None, namespace: str = "") -> list[str]:
    names = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names += _company_urls(pattern.url_patterns, inner)
        elif (
            isinstance(pattern, URLPattern) and pattern.name and "<int:pk>" in str(pattern.pattern)
        ):
            names.append(f"{namespace}{pattern.name}")
    return sorted(names)


COMPANY_URLS = _company_urls()
# URLs that take more than the company's id: the rest of their arguments.
EXTRA_ARGS = {
    "quickbooks_link:onboarding_step": ["tax"],
    "sync_engine:record": ["invoice", 1],
}


def _url(name: str, company) -> str:
    return reverse(name, args=[company.pk, *EXTRA_ARGS.get(name, [])])


def test_it_knows_the_company_pages():
    assert "sync_engine:results" in COMPANY_URLS and "quickbooks_link:integration" in COMPANY_URLS


@pytest.mark.parametrize("name", COMPANY_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_404_to_another_groups_user(client, charlie, acme_north, name, method):
    QuickBooksConnection.objects.create(
        company=acme_north, realm_id="1", connected_at=acme_north.created_at
    )
    client.force_login(charlie)
    response = getattr(client, method)(_url(name, acme_north))
    assert response.status_code in (404, 405), (name, method, response.status_code)
    if response.status_code == 405:  # the method is refused before the company is looked up
        other = "post" if method == "get" else "get"
        assert getattr(client, other)(_url(name, acme_north)).status_code == 404


@pytest.mark.parametrize("name", COMPANY_URLS)
def test_it_sends_a_visitor_to_log_in(client, acme_north, name):
    response = client.get(_url(name, acme_north))
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("login"))
