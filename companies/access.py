"""Who may see and do what: every view that takes a company id goes through here."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from companies.models import Company, Membership

Role = Membership.Role


def company_for_user(request: HttpRequest, pk: int, *, roles: tuple[str, ...] = ()) -> Company:
    """The company if the user belongs to its group (else 404), with one of `roles` (else 403).

    A company of another group answers 404, not 403, so ids reveal nothing.
    """
    if not request.user.is_authenticated:
        raise Http404
    company = get_object_or_404(
        Company.objects.select_related("group"), pk=pk, group__memberships__user=request.user
    )
    if roles and not has_role(request.user, company, roles):
        raise PermissionDenied("Your role does not allow this.")
    return company


def has_role(user, company: Company, roles: tuple[str, ...]) -> bool:
    return Membership.objects.filter(user=user, group_id=company.group_id, role__in=roles).exists()
