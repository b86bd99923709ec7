"""Signal receivers: one line each, calling a service."""

from __future__ import annotations

from django.dispatch import receiver

from quickbooks_link.onboarding import onboarding_completed
from sync_engine.models import SyncRun
from sync_engine.services import sync_run_request


@receiver(onboarding_completed)
def start_first_sync(sender, connection, user, **kwargs):
    sync_run_request(company=connection.company, trigger=SyncRun.Trigger.MANUAL, requested_by=user)
