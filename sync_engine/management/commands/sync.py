"""`manage.py sync --company ID | --all [--wait]`: request syncs, as the pages' Start Sync does."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from companies.models import Company
from sync_engine.models import SyncRun
from sync_engine.services import companies_due_for_sync, sync_run_request


class Command(BaseCommand):
    help = "Request a manual sync of one company or of every connected company."

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--company", type=int, help="the company's id")
        target.add_argument("--all", action="store_true", help="every connected company")
        parser.add_argument("--wait", action="store_true", help="wait until the runs finish")
        parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait at most")

    def handle(self, *args, company=None, all=False, wait=False, timeout=3600, **options):
        companies = companies_due_for_sync() if all else self._one(company)
        runs = [sync_run_request(company=c, trigger=SyncRun.Trigger.MANUAL) for c in companies]
        for run in runs:
            self.stdout.write(f"Requested run {run.pk} for {run.company.name}.")
        if wait and runs:
            self._wait([run.pk for run in runs], timeout)

    def _one(self, pk: int) -> list[Company]:
        company = companies_due_for_sync().filter(pk=pk).first()
        if company is None:
            raise CommandError(
                f"Company {pk} does not exist, or is not connected, onboarded and authorised."
            )
        return [company]

    def _wait(self, run_ids: list[int], timeout: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = list(SyncRun.objects.filter(pk__in=run_ids).select_related("company"))
            if all(run.status in SyncRun.FINISHED for run in runs):
                for run in runs:
                    self.stdout.write(
                        f"{run.company.name}: {run.get_status_display()} {run.error_message}"
                    )
                if any(run.status == SyncRun.Status.FAILED for run in runs):
                    raise CommandError("Some runs failed.")
                return
            time.sleep(1)
        raise CommandError(f"Runs still unfinished after {timeout} s.")
