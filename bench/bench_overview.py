"""Sync Overview server time with 5,000 companies (target: under 300 ms, constant query count).

Builds a fresh database (SQLite in a temp dir by default, or --postgres URL) with one group of N
companies spread over every status (connections, finished and running runs, open errors), then
renders the overview as an ops user through Django's test client, in-process, and prints the
server time (p50 / p95 / max over --requests renders) and the number of SQL queries per render.

    .venv/bin/python bench/bench_overview.py [--companies 5000] [--requests 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "released_sync.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _world(companies: int):
    """N companies in one group, cycling through the seven statuses."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from companies.models import Company, Group, Membership
    from quickbooks_link.models import QuickBooksConnection
    from sync_engine.models import Direction, SyncItemResult, SyncRun

    now = timezone.now()
    group = Group.objects.create(name="Bench Group")
    user = User.objects.create_user("ops-bench")  # force_login: no password needed
    Membership.objects.create(user=user, group=group, role=Membership.Role.OPS)
    made = Company.objects.bulk_create(
        Company(group=group, name=f"Company {n:05d}") for n in range(companies)
    )
    kinds = ["none", "reconnect", "onboarding", "running", "failed", "errors", "ok"]
    connections, runs = [], []
    for index, company in enumerate(made):
        kind = kinds[index % len(kinds)]
        if kind == "none":
            continue
        connections.append(QuickBooksConnection(
            company=company, realm_id=f"realm-{company.pk}", connected_at=now,
            onboarded_at=None if kind == "onboarding" else now,
            reconnect_required_at=now if kind == "reconnect" else None,
        ))  # fmt: skip
        status = {"running": "running", "failed": "failed", "errors": "succeeded_with_errors"}.get(
            kind, "succeeded"
        )
        runs.append(SyncRun(company=company, trigger="automatic", status=status,
                            finished_at=None if status == "running" else now))  # fmt: skip
    QuickBooksConnection.objects.bulk_create(connections, batch_size=2000)
    SyncRun.objects.bulk_create(runs, batch_size=2000)
    failed = [r for r in SyncRun.objects.filter(status="succeeded_with_errors")]
    SyncItemResult.objects.bulk_create(
        (SyncItemResult(run=r, company_id=r.company_id, entity="invoice", record_label="INV-1",
                        direction=Direction.OUTGOING, outcome="failed") for r in failed),
        batch_size=2000,
    )  # fmt: skip
    return user


def _measure(user, requests: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    client.get("/")  # warm caches and the session
    times = []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get("/")
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--companies", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--postgres", help="postgres://… URL of a database to use (it is migrated)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-overview-")
    url = args.postgres or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    _setup_django(url)
    user = _world(args.companies)
    times, queries = _measure(user, args.requests)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"Sync Overview, {args.companies:,} companies, {database}, {args.requests} renders")
    print(f"  server time  p50 {statistics.median(times):7.1f} ms")
    print(f"               p95 {sorted(times)[int(len(times) * 0.95) - 1]:7.1f} ms")
    print(f"               max {max(times):7.1f} ms")
    print(f"  SQL queries per render: {queries}")


if __name__ == "__main__":
    main()
