"""The sync engine's part of pages owned by other apps (the integration page), as template tags.

Templates are the project's, so a page can show sync facts while quickbooks_link's Python never
imports the sync engine.
"""

from __future__ import annotations

from django import template

from sync_engine.selectors import (
    bell_state,
    last_successful_sync,
    next_automatic_sync,
    runs_chart,
)

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


CHART_WIDTH, CHART_HEIGHT, BAR_GAP, MAX_SLOT = 600, 120, 2, 24


@register.inclusion_tag("sync_engine/_runs_chart.html")
def runs_chart_svg(company):
    """Bars per run: items synced (blue) with the errors among them (red), scaled to the tallest."""
    runs = runs_chart(company)
    tallest = max((run["items"] for run in runs), default=0) or 1
    slot = min(CHART_WIDTH / max(len(runs), 1), MAX_SLOT)  # a few runs: slim bars, not slabs
    bars = []
    for index, run in enumerate(runs):
        height = CHART_HEIGHT * run["items"] / tallest
        error_height = CHART_HEIGHT * min(run["errors"], run["items"]) / tallest
        bars.append({
            **run,
            "x": round(index * slot + BAR_GAP / 2, 1),
            "width": round(max(slot - BAR_GAP, 1), 1),
            "y": round(CHART_HEIGHT - height, 1),
            "height": round(height, 1),
            "error_y": round(CHART_HEIGHT - error_height, 1),
            "error_height": round(error_height, 1),
        })  # fmt: skip
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "tallest": tallest}
