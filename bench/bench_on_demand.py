"""On-demand latency: an approved invoice is saved; how long until it is in QuickBooks?

    .venv/bin/python bench/bench_on_demand.py [--samples 20] [--backfill-invoices 5000]
        [--backfill-company other|same] [--workers 1 --concurrency 2] [--dedicated]
        [--minute-seconds 60] [--postgres URL] [--redis URL]

Setup: a company connected to its own sandbox realm, its tenants already in QuickBooks (a first
full sync run in this process), and Celery workers as the Procfile starts them (by default one
worker, concurrency 2, consuming on_demand and bulk; `--dedicated` adds a worker that consumes
on_demand only, as the README suggests for heavy backfills).

One sample: an invoice is written as a draft with its line (drafts never sync), then approved and
saved as a person's save does (`invoice.save()`, whose post_save receiver queues an on-demand run
on commit). The clock starts just before that save and stops when the invoice's link holds a
QuickBooks Id, which the engine writes right after QuickBooks answered the create (polled every
10 ms; polling the sandbox instead would spend the realm's own rate limit). Samples are taken one
at a time.

Two phases, reported as p50/p95/max:
1. idle: nothing else running;
2. during a backfill: a first sync of `--backfill-invoices` invoices (and their tenants) runs on
   the bulk queue, of another company on its own realm by default (workers and machine shared),
   or `--backfill-company same` (the same realm: its QuickBooks limits shared too). Samples start
   once the backfill is sending, and only samples that finished while it still ran are counted.
QuickBooks limits run in real time by default (`--minute-seconds 60`, sandbox and app alike).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from decimal import Decimal

import _harness as h

POLL = 0.01
SAMPLE_TIMEOUT = 120.0


@dataclass
class Phase:
    label: str
    latencies: list[float] = field(default_factory=list)
    lost: int = 0  # samples not in QuickBooks within SAMPLE_TIMEOUT
    outside: int = 0  # samples that finished after the backfill had ended (not counted)


def _draft(world: h.World, tenant, number: int):
    from companies.models import DocumentStatus, Invoice, InvoiceLine
    from companies.services import document_totals_refresh

    invoice = Invoice.objects.create(
        company=world.company, number=f"OD-{number:06d}", tenant=tenant,
        issue_date=h.ISSUE_DATE, due_date=h.ISSUE_DATE + datetime.timedelta(days=14),
        status=DocumentStatus.DRAFT, currency="USD", memo="On-demand sample",
    )  # fmt: skip
    InvoiceLine.objects.create(
        invoice=invoice, charge_code=world.charge_code, description="Rent",
        unit_amount=Decimal(1500 + number), tax_rate=world.tax_rate,
    )  # fmt: skip
    return document_totals_refresh(document=invoice)


def one_sample(world: h.World, tenant, number: int) -> float | None:
    """Seconds from the approving save to the QuickBooks Id on its link; None if it never came."""
    from companies.models import DocumentStatus
    from quickbooks_link.models import ExternalLink

    invoice = _draft(world, tenant, number)
    invoice.status = DocumentStatus.APPROVED
    started = time.perf_counter()
    invoice.save()  # post_save -> document_saved -> an on-demand run, queued on commit
    deadline = started + SAMPLE_TIMEOUT
    while time.perf_counter() < deadline:
        if ExternalLink.objects.filter(invoice=invoice, qbo_id__gt="").exists():
            return h.elapsed_since(started)
        time.sleep(POLL)
    return None


def sample(phase: Phase, world: h.World, tenants: list, count: int, first: int, still=None) -> None:
    for index in range(count):
        if still is not None and not still():
            phase.outside += count - index  # the backfill is over: the rest would be idle samples
            return
        latency = one_sample(world, tenants[index % len(tenants)], first + index)
        if latency is None:
            phase.lost += 1
        elif still is not None and not still():
            phase.outside += 1
        else:
            phase.latencies.append(latency)
        time.sleep(0.2)  # a person's next save is never instantaneous


def _first_sync(world: h.World) -> None:
    """Put the tenants in QuickBooks (a full run in this process; the task it also enqueues finds
    the run finished and does nothing)."""
    from sync_engine.models import SyncRun
    from sync_engine.services import sync_run_request

    run = sync_run_request(company=world.company, trigger=SyncRun.Trigger.MANUAL)
    h.drain(world.company)
    run.refresh_from_db()
    if run.status != SyncRun.Status.SUCCEEDED:
        raise RuntimeError(f"the first sync ended {run.status}: {run.error_message}")


def start_backfill(world: h.World, options, first_number: int):
    """Seed the backfill's invoices (a first sync: everything unsent) and request its run."""
    from sync_engine.models import SyncRun
    from sync_engine.services import sync_run_request

    tenants = h.tenants_seed(
        world, -(-options.backfill_invoices // h.INVOICES_PER_TENANT), prefix="Backfill Tenant"
    )
    h.invoices_seed(world, tenants, options.backfill_invoices, first_number=first_number)
    # Newer than the company's pushed_through, so the full run sends them all.
    return sync_run_request(company=world.company, trigger=SyncRun.Trigger.MANUAL)


def _sending(run, company, timeout: float = 120) -> None:
    """Wait until the backfill is running and has put something in QuickBooks."""
    from quickbooks_link.models import ExternalLink

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        sent = ExternalLink.objects.filter(company=company, qbo_entity="Invoice", qbo_id__gt="")
        if run.status == "running" and sent.exists():
            return
        time.sleep(0.2)
    raise RuntimeError(f"the backfill did not start sending within {timeout} s ({run.status})")


def _connected_world(bench: h.Bench, name: str, tenants: int) -> tuple[h.World, list]:
    world = h.company_create(name)
    tenant_rows = h.tenants_seed(world, tenants, prefix=f"{name} Tenant")
    h.connect(world, h.realm_create(bench.sandbox_url, f"{name} Books"))
    _first_sync(world)
    return world, tenant_rows


def _run_sent(run) -> int:
    from sync_engine.models import SyncItemResult

    return SyncItemResult.objects.filter(run=run, outcome="created").count()


def main() -> None:
    parser = h.parser(__doc__)
    parser.add_argument("--samples", type=int, default=20, help="per phase")
    parser.add_argument("--backfill-invoices", type=int, default=5000)
    parser.add_argument("--backfill-company", choices=["other", "same"], default="other")
    parser.add_argument("--minute-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2, help="per worker (Procfile: 2)")
    parser.add_argument("--dedicated", action="store_true", help="add an on_demand-only worker")
    options = parser.parse_args()
    minute = str(options.minute_seconds)
    with h.bench_state(options, QBO_LIMIT_MINUTE_SECONDS=minute) as bench:
        h.start_sandbox(bench, minute_seconds=options.minute_seconds)
        h.django_setup(bench)
        world, tenants = _connected_world(bench, "On Demand Co", 5)
        workers = h.start_workers(bench, count=options.workers, concurrency=options.concurrency)
        if options.dedicated:
            workers += h.start_workers(bench, count=1, concurrency=1, queues="on_demand", tag="od")
        h.wait_workers_ready(bench, workers)
        idle = Phase("idle")
        sample(idle, world, tenants, options.samples, first=0)
        busy_world = world
        if options.backfill_company == "other":
            busy_world, _ = _connected_world(bench, "Backfill Co", 1)
        run = start_backfill(busy_world, options, first_number=100_000)
        _sending(run, busy_world.company)
        busy = Phase(f"during a backfill ({options.backfill_company} company)")

        def backfill_running() -> bool:
            run.refresh_from_db()
            return run.status == "running"

        started = time.perf_counter()
        sample(busy, world, tenants, options.samples, options.samples, backfill_running)
        busy_seconds = h.elapsed_since(started)
        run.refresh_from_db()
        _report(bench, options, [idle, busy], run, busy_seconds)


def _report(bench: h.Bench, options, phases: list[Phase], run, busy_seconds: float) -> None:
    workers = f"{options.workers} x concurrency {options.concurrency} (on_demand,bulk)"
    if options.dedicated:
        workers += " + 1 x concurrency 1 (on_demand only)"
    print("\n== On demand: approved invoice saved -> in QuickBooks")
    h.print_environment(
        bench,
        workers=workers,
        sandbox=f"no latency; QBO minute = {options.minute_seconds:g} s (app limiter the same)",
        backfill=f"{options.backfill_invoices:,} invoices, {options.backfill_company} company; "
        f"{_run_sent(run):,} records sent by the end of sampling ({busy_seconds:.0f} s), "
        f"run {run.status}",
    )
    rows = []
    for phase in phases:
        values = phase.latencies
        rows.append([
            phase.label, len(values),
            _ms(h.percentile(values, 0.5)), _ms(h.percentile(values, 0.95)),
            _ms(max(values) if values else float("nan")), phase.lost, phase.outside,
        ])  # fmt: skip
    h.print_table(["phase", "samples", "p50", "p95", "max", "over 120 s", "not counted"], rows)


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:,.0f} ms"


if __name__ == "__main__":
    main()
