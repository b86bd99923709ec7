"""Fleet cycle: one automatic sync cycle over many connected companies with a few changes each.

    .venv/bin/python bench/bench_fleet.py [--companies 1000] [--changes 5] [--latency-ms 100]
        [--workers 4 --concurrency 4] [--postgres URL] [--redis URL]

Setup (not timed): `--companies` companies, each connected and onboarded on its own sandbox realm
(tokens from the control surface, the tax rate mapped to NON and the charge code to the realm's
Rent item), with one tenant already in QuickBooks (created there with the engine's payload and
linked with its fingerprint) and pushed_through / last_pulled_at set as a completed run leaves
them. Then `--changes` new approved invoices per company are inserted in bulk: the changes the
cycle has to send.

Timed: the sandbox gets `--latency-ms` on every request (a global latency fault, PUT /faults, set
after the setup so the setup stays fast), `--workers` Celery worker processes of `--concurrency`
each consume both queues, and the cycle is requested as Celery Beat's task does it
(`sync_all_request`, here with spread 0 so everything is queued at once). The clock runs from the
request until every run has finished. Reported: the cycle's wall time, runs by status, runs per
second, each run's queue wait (queued to started) and duration (started to finished) at p50/p95,
the invoices that reached QuickBooks, and the requests the sandbox counted over all realms.
"""

from __future__ import annotations

import datetime
import json
import time
import urllib.request
from dataclasses import dataclass

import _harness as h


@dataclass
class Fleet:
    company_ids: list[int]
    realm_ids: list[str]


def _create_customer(url: str, realm: h.Realm, payload: dict) -> dict:
    """Straight to the sandbox's API (no latency yet): the tenant QuickBooks already has."""
    request = urllib.request.Request(
        f"{url}/v3/company/{realm.realm_id}/customer?minorversion=75",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {realm.access_token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["Customer"]


def _company_setup(bench: h.Bench, index: int, item_id: str | None) -> tuple[h.World, h.Realm]:
    from quickbooks_link.models import ExternalLink
    from sync_engine import payloads

    world = h.company_create(f"Fleet Co {index:05d}")
    realm = h.realm_create(bench.sandbox_url, f"Fleet Books {index:05d}")
    # Reference data is read once (the first company): every fresh realm is seeded alike, and
    # each run refreshes it anyway.
    h.connect(world, realm, item_id=item_id, refresh=item_id is None)
    tenant = h.tenants_seed(world, 1, prefix=f"Fleet Tenant {index:05d}")[0]
    payload = payloads.customer_payload(tenant)
    customer = _create_customer(bench.sandbox_url, realm, payload)
    ExternalLink.objects.create(
        company=world.company, qbo_entity="Customer", tenant=tenant, qbo_id=customer["Id"],
        sync_token=customer["SyncToken"], fingerprint=payloads.fingerprint(payload),
    )  # fmt: skip
    return world, realm


def fleet_setup(bench: h.Bench, companies: int, changes: int) -> Fleet:
    from django.utils import timezone

    from companies.models import Tenant
    from quickbooks_link.models import QuickBooksConnection

    worlds, realms, item_id = [], [], None
    for index in range(companies):
        world, realm = _company_setup(bench, index, item_id)
        item_id = item_id or realm.item_id
        worlds.append(world)
        realms.append(realm)
    time.sleep(1.1)  # QuickBooks' change times have one-second resolution
    now = timezone.now()
    QuickBooksConnection.objects.filter(company__in=[w.company for w in worlds]).update(
        pushed_through=now, last_pulled_at=now
    )
    for number, world in enumerate(worlds):
        tenants = list(Tenant.objects.filter(company=world.company))
        h.invoices_seed(world, tenants, changes, first_number=number * changes)
    return Fleet([w.company.pk for w in worlds], [r.realm_id for r in realms])


def _seconds(delta: datetime.timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def run_timings(run_ids: list[int]) -> tuple[list[float], list[float]]:
    from sync_engine.models import SyncRun

    waits, durations = [], []
    for queued, started, finished in SyncRun.objects.filter(pk__in=run_ids).values_list(
        "queued_at", "started_at", "finished_at"
    ):
        if started and queued:
            waits.append((started - queued).total_seconds())
        if started and finished:
            durations.append((finished - started).total_seconds())
    return waits, durations


def cycle(bench: h.Bench, fleet: Fleet, options) -> dict:
    from quickbooks_link.models import ExternalLink
    from sync_engine.models import SyncRun
    from sync_engine.services import sync_all_request

    workers = h.start_workers(bench, count=options.workers, concurrency=options.concurrency)
    h.wait_workers_ready(bench, workers)
    h.control(bench.sandbox_url, "PUT", "faults", {"latency_ms": options.latency_ms})
    latest = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    before = h.fleet_calls(bench.sandbox_url, fleet.realm_ids)  # the setup's own calls
    started = time.perf_counter()
    requested = sync_all_request(spread_seconds=0)
    enqueue_seconds = h.elapsed_since(started)
    run_ids = list(SyncRun.objects.filter(pk__gt=latest).values_list("pk", flat=True))
    finished = h.wait_runs(run_ids, timeout=options.timeout, poll=1.0)
    seconds = h.elapsed_since(started)
    h.control(bench.sandbox_url, "PUT", "faults", {"latency_ms": 0})
    waits, durations = run_timings(run_ids)
    landed = ExternalLink.objects.filter(
        company_id__in=fleet.company_ids, qbo_entity="Invoice", qbo_id__gt=""
    ).count()
    return {
        "requested": requested, "seconds": seconds, "enqueue_seconds": enqueue_seconds,
        "finished": finished, "statuses": h.run_statuses(run_ids), "waits": waits,
        "durations": durations, "landed": landed,
        "calls": h.fleet_calls(bench.sandbox_url, fleet.realm_ids).minus(before),
    }  # fmt: skip


def main() -> None:
    parser = h.parser(__doc__)
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=5, help="new invoices per company")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait at most")
    options = parser.parse_args()
    with h.bench_state(options) as bench:
        h.start_sandbox(bench)
        h.django_setup(bench)
        started = time.perf_counter()
        fleet = fleet_setup(bench, options.companies, options.changes)
        setup_seconds = h.elapsed_since(started)
        result = cycle(bench, fleet, options)
        _report(bench, options, setup_seconds, result)


def _report(bench: h.Bench, options, setup_seconds: float, r: dict) -> None:
    print(f"\n== Automatic cycle: {options.companies:,} companies x {options.changes} new invoices")
    h.print_environment(
        bench,
        workers=f"{options.workers} processes x concurrency {options.concurrency} "
        f"(queues on_demand,bulk)",
        sandbox=f"latency {options.latency_ms} ms on every request, real-time limits",
        setup=f"{setup_seconds:.0f} s (not timed)",
    )
    waits, durations, calls = r["waits"], r["durations"], r["calls"]
    expected = options.companies * options.changes
    rows = [
        ["cycle wall time (request -> every run finished)", f"{r['seconds']:.1f} s"
         + ("" if r["finished"] else f" (timed out at {options.timeout:.0f} s)")],
        ["requesting the runs (sync_all_request)", f"{r['enqueue_seconds']:.1f} s"],
        ["runs requested / by status", f"{r['requested']:,} / {r['statuses']}"],
        ["runs per second", f"{r['requested'] / r['seconds']:.2f}"],
        ["queue wait p50 / p95 / max", _three(waits)],
        ["run duration p50 / p95 / max", _three(durations)],
        ["invoices in QuickBooks / expected", f"{r['landed']:,} / {expected:,}"],
        ["QBO requests (all realms)", f"{calls.total:,}; {calls.summary()}"],
        ["QBO requests per company", f"{calls.total / max(options.companies, 1):.1f}"],
        ["429s; peak in flight on one realm", f"{calls.throttled}; "
         f"{calls.peaks.get('max_concurrency', 0)}"],
    ]  # fmt: skip
    h.print_table(["measure", "value"], rows, left=True)


def _three(values: list[float]) -> str:
    if not values:
        return "-"
    p50, p95 = h.percentile(values, 0.5), h.percentile(values, 0.95)
    return f"{p50:.2f} s / {p95:.2f} s / {max(values):.2f} s"


if __name__ == "__main__":
    main()
