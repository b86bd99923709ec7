from __future__ import annotations

from typing import NamedTuple

from companies.selectors import companies_for_user

SESSION_KEY = "current_company_id"


class CompanyChoice(NamedTuple):
    pk: int
    name: str


def current_company(request) -> dict:
    """The company the quick-links bar is about: the one in the URL, else the last one chosen.

    Only companies of the user's own groups are ever offered or chosen.
    """
    if not request.user.is_authenticated:
        return {}
    # Ids and names only: this runs on every page, and ops staff may see thousands of companies.
    companies = [
        CompanyChoice(pk, name)
        for pk, name in companies_for_user(request.user).order_by("name").values_list("pk", "name")
    ]
    wanted = _company_in_url(request) or request.session.get(SESSION_KEY)
    current = next((c for c in companies if c.pk == wanted), companies[0] if companies else None)
    if current is not None and request.session.get(SESSION_KEY) != current.pk:
        request.session[SESSION_KEY] = current.pk
    return {"my_companies": companies, "current_company": current}


def _company_in_url(request) -> int | None:
    match = getattr(request, "resolver_match", None)
    value = match.kwargs.get("pk") if match and "company" in (match.route or "") else None
    return int(value) if value else None
