"""The sync engine's part of pages owned by other apps (the integration page), as template tags.

Templates are the project's, so a page can show sync facts while quickbooks_link's Python never
imports the sync engine.
"""

from __future__ import annotations

from django import template

from sync_engine.selectors import bell_state, last_successful_sync, next_automatic_sync

register = template.Library()


@register.inclusion_tag("sync_engine/_integration_sync.html", takes_context=True)
def sync_panel(context, company):
    return {
        "company": company,
        "request": context.get("request"),
        "last_success": last_successful_sync(company),
        "next_sync": next_automatic_sync(),
        "bell": bell_state(company=company),
    }
