"""State changes of sync runs. Every status change is one compare-and-set along SyncRun.ALLOWED."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from companies.models import Company
from sync_engine.models import SyncRun


def sync_run_request(*, company: Company, trigger: str, requested_by=None) -> SyncRun:
    """Queue a full sync of the company, or return the one already waiting (bursts merge).

    The partial unique constraint "one queued full run per company" does the merging, so two
    requests racing in different processes still end up as one run.
    """
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                company=company, trigger=trigger, requested_by=requested_by
            )
    except IntegrityError:
        return SyncRun.objects.get(company=company, status=SyncRun.Status.QUEUED, record_entity="")
