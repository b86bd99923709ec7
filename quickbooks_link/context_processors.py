from __future__ import annotations

from companies.models import Membership
from quickbooks_link.models import QuickBooksConnection


def reconnect_banners(request) -> dict:
    """Companies whose QuickBooks access lapsed, for the finance admins who can reconnect them."""
    if not request.user.is_authenticated:
        return {}
    lapsed = QuickBooksConnection.objects.filter(
        reconnect_required_at__isnull=False,
        company__group__memberships__user=request.user,
        company__group__memberships__role=Membership.Role.FINANCE_ADMIN,
    ).select_related("company")
    return {"reconnect_needed": lapsed}
