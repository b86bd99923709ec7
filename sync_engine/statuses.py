"""The seven company statuses of the Sync Overview (product.md §5), derived from facts.

Nothing here is stored: the status is worked out at read time from the connection, the runs and
the open item errors, so it can never drift from what actually happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from sync_engine.models import SyncRun


class CompanyStatus(models.TextChoices):
    # In precedence order: the first that matches wins.
    NOT_CONNECTED = "not_connected", "Not connected"
    NEEDS_RECONNECTING = "needs_reconnecting", "Needs reconnecting"
    INCOMPLETE_ONBOARDING = "incomplete_onboarding", "Incomplete onboarding"
    IN_PROGRESS = "in_progress", "In progress"
    INCOMPLETE_PIPELINE = "incomplete_pipeline", "Incomplete pipeline"
    SYNC_HAS_ERRORS = "sync_has_errors", "Sync has errors"
    SUCCESSFULLY_SYNCED = "successfully_synced", "Successfully synced"


STATUS_HELP = {
    CompanyStatus.NOT_CONNECTED: "Connect the company to QuickBooks Online.",
    CompanyStatus.NEEDS_RECONNECTING: (
        "QuickBooks refused our access. Settings › Manage Integrations & Add-ons › QuickBooks "
        "Online › View details › Advanced › Reconnect."
    ),
    CompanyStatus.INCOMPLETE_ONBOARDING: (
        "Settings › Manage Integrations & Add-ons › QuickBooks Online › View details › "
        "Complete Onboarding."
    ),
    CompanyStatus.IN_PROGRESS: "A sync is queued or running.",
    CompanyStatus.INCOMPLETE_PIPELINE: (
        "The last sync did not complete. This is usually temporary: start another sync."
    ),
    CompanyStatus.SYNC_HAS_ERRORS: "Some records failed. Open Sync Results to fix them.",
    CompanyStatus.SUCCESSFULLY_SYNCED: "The last sync completed with no errors.",
}


@dataclass(frozen=True)
class StatusFacts:
    """What the status is derived from; the selectors annotate these onto each company."""

    connected: bool
    reconnect_required: bool
    onboarded: bool
    active_run: bool
    last_full_run_status: str | None
    open_errors: int


def status_from_facts(facts: StatusFacts) -> CompanyStatus:
    if not facts.connected:
        return CompanyStatus.NOT_CONNECTED
    if facts.reconnect_required:
        return CompanyStatus.NEEDS_RECONNECTING
    if not facts.onboarded:
        return CompanyStatus.INCOMPLETE_ONBOARDING
    if facts.active_run:
        return CompanyStatus.IN_PROGRESS
    # No full sync has ever finished: the pipeline has not completed yet, and the fix is the
    # same as for a failed one (start a sync).
    if facts.last_full_run_status in (None, SyncRun.Status.FAILED):
        return CompanyStatus.INCOMPLETE_PIPELINE
    if facts.open_errors:
        return CompanyStatus.SYNC_HAS_ERRORS
    return CompanyStatus.SUCCESSFULLY_SYNCED
