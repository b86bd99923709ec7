"""Backfill throughput: a company's first sync into an empty QuickBooks realm, under QBO's limits.

    .venv/bin/python bench/bench_backfill.py [--invoices 10000] [--minute-seconds 6]
        [--postgres URL] [--redis URL] [--workers 1 --concurrency 2] [--no-naive]

What is measured, and how:
- The app: one company with N approved invoices (one rent line each) and their tenants (one per
  12 invoices), seeded with bulk inserts and connected to a fresh sandbox realm as onboarding
  leaves it. A manual full sync is requested as the pages do (`sync_run_request`) and run by
  real Celery workers (subprocesses, as the Procfile starts them) until the run finishes.
- Time is compressed: the sandbox runs with `--minute-seconds S` and the app with the same
  `QBO_LIMIT_MINUTE_SECONDS`, so QuickBooks' 500 requests/min, 10/s and 40 batches/min hold per
  S-second "minute" and a 10,000-invoice backfill fits in minutes instead of half an hour.
- Operations are records that reached QuickBooks (customers and invoices with a QuickBooks Id,
  counted in the app's links); requests are what the sandbox counted for the realm (a batch
  request counts once, whatever it carries). Rates are per compressed minute. The ceilings: 500
  requests/min one record each, and with batch 40 batches x 30 items = 1,200 records/min (plus the
  460 single requests left under the 500/min, 1,660 in all).
- The naive baseline, in the same run, on its own realm of the same sandbox: a loop of
  python-quickbooks `Customer.save()` then `Invoice.save()` calls, one request each, that sleeps
  one (compressed) second and retries when QuickBooks answers 429.
The two are run one after the other, not at once, so neither takes CPU from the other.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import _harness as h

NAIVE_DISCOVERY = "/.well-known/openid_configuration"


@dataclass
class Result:
    label: str
    records: int
    seconds: float
    requests: h.Calls
    minute_seconds: float
    note: str = ""
    peak_records_per_minute: float = 0.0

    @property
    def minutes(self) -> float:
        return self.seconds / self.minute_seconds

    def row(self) -> list[object]:
        per_minute = self.records / self.minutes if self.minutes else 0.0
        requests_per_minute = self.requests.total / self.minutes if self.minutes else 0.0
        return [
            self.label,
            self.records,
            self.requests.total,
            self.requests.endpoint("batch"),
            self.requests.throttled,
            round(self.seconds, 1),
            round(self.minutes, 1),
            round(per_minute, 1),
            round(self.peak_records_per_minute, 1) if self.peak_records_per_minute else "-",
            round(requests_per_minute, 1),
            self.requests.peaks.get("max_requests_per_minute", 0),
            f"{100 * per_minute / 500:.0f}%",
            f"{100 * per_minute / 1200:.0f}%",
        ]


HEADERS = [
    "client", "records", "requests", "batch req", "429s", "wall s", "QBO min",
    "records/min", "peak rec/min", "requests/min", "sandbox peak req/min", "of 500/min",
    "of 1200/min",
]  # fmt: skip


def _app_records(company) -> int:
    from quickbooks_link.models import ExternalLink

    return (
        ExternalLink.objects.filter(company=company, qbo_id__gt="")
        .filter(qbo_entity__in=["Customer", "Invoice"])
        .count()
    )


def _peak_per_minute(samples: list[tuple[float, int]], minute: float) -> float:
    """The most records that went in within any one compressed minute of the samples."""
    best = 0
    for start_index, (start, done) in enumerate(samples):
        inside = [n for t, n in samples[start_index:] if t - start <= minute]
        best = max(best, inside[-1] - done)
    return float(best)


def app_backfill(bench: h.Bench, world: h.World, realm: h.Realm, options) -> Result:
    from sync_engine.models import SyncRun
    from sync_engine.services import sync_run_request

    workers = h.start_workers(bench, count=options.workers, concurrency=options.concurrency)
    h.wait_workers_ready(bench, workers)
    before = h.calls(bench.sandbox_url, realm.realm_id)
    started = time.perf_counter()
    run = sync_run_request(company=world.company, trigger=SyncRun.Trigger.MANUAL)
    samples: list[tuple[float, int]] = []
    deadline = started + options.timeout
    while time.perf_counter() < deadline:
        samples.append((time.perf_counter() - started, _app_records(world.company)))
        run.refresh_from_db()
        if run.status in SyncRun.FINISHED:
            break
        time.sleep(0.5)
    seconds = h.elapsed_since(started)
    run.refresh_from_db()
    note = f"run {run.status}" + (f": {run.error_message[:80]}" if run.error_message else "")
    if run.status not in SyncRun.FINISHED:
        note = f"unfinished after {options.timeout} s"
    h.stop_processes(workers)
    delta = h.calls(bench.sandbox_url, realm.realm_id).minus(before)
    return Result(
        "released-sync engine", _app_records(world.company), seconds, delta,
        options.minute_seconds, note, _peak_per_minute(samples, options.minute_seconds),
    )  # fmt: skip


def _naive_client(bench: h.Bench, realm: h.Realm):
    """Plain python-quickbooks as its README shows, pointed at the sandbox (CONTRACT.md)."""
    from intuitlib.client import AuthClient
    from quickbooks import QuickBooks

    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    auth = AuthClient(
        "sandbox-client-id", "sandbox-client-secret", "http://127.0.0.1/callback",
        environment=bench.sandbox_url + NAIVE_DISCOVERY,
    )  # fmt: skip
    auth.access_token, auth.refresh_token = realm.access_token, realm.refresh_token
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=realm.refresh_token,
        company_id=realm.realm_id,
        minorversion=75,
    )
    qb.api_url_v3 = qb.sandbox_api_url_v3 = f"{bench.sandbox_url}/v3"
    return qb


def _save_retrying(obj, qb, statuses: list[int], pause: float, deadline: float) -> bool:
    from quickbooks.exceptions import QuickbooksException

    while time.perf_counter() < deadline:
        try:
            obj.save(qb=qb)
            return True
        except QuickbooksException:
            if not statuses or statuses[-1] != 429:
                raise
            time.sleep(pause)  # the naive retry: wait a second and try again
    return False


def naive_loop(bench: h.Bench, world: h.World, realm: h.Realm, options) -> Result:
    from quickbooks.objects.base import Ref
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.invoice import Invoice as QbInvoice

    from companies.models import Invoice, Tenant

    qb = _naive_client(bench, realm)
    statuses: list[int] = []
    qb.session.hooks["response"].append(
        lambda response, *a, **k: statuses.append(response.status_code)
    )
    tenants = list(Tenant.objects.filter(company=world.company).order_by("pk"))
    invoices = list(Invoice.objects.filter(company=world.company).order_by("pk"))
    pause = options.minute_seconds / 60
    before = h.calls(bench.sandbox_url, realm.realm_id)
    started = time.perf_counter()
    deadline = started + options.timeout
    done, customers = 0, {}
    for tenant in tenants:
        customer = Customer()
        customer.DisplayName = tenant.name
        if not _save_retrying(customer, qb, statuses, pause, deadline):
            break
        customers[tenant.pk], done = customer.Id, done + 1
    for invoice in invoices:
        if invoice.tenant_id not in customers:
            break
        line = SalesItemLine()
        line.Amount = float(invoice.total)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = Ref()
        line.SalesItemLineDetail.ItemRef.value = realm.item_id
        qb_invoice = QbInvoice()
        qb_invoice.DocNumber = invoice.number
        qb_invoice.Line = [line]
        qb_invoice.CustomerRef = Ref()
        qb_invoice.CustomerRef.value = customers[invoice.tenant_id]
        if not _save_retrying(qb_invoice, qb, statuses, pause, deadline):
            break
        done += 1
    seconds = h.elapsed_since(started)
    delta = h.calls(bench.sandbox_url, realm.realm_id).minus(before)
    note = "" if done == len(tenants) + len(invoices) else f"stopped at {options.timeout} s"
    return Result("naive Invoice.save() loop", done, seconds, delta, options.minute_seconds, note)


def main() -> None:
    parser = h.parser(__doc__)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--minute-seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2, help="per worker (Procfile: 2)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per phase, at most")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    options = parser.parse_args()
    minute = str(options.minute_seconds)
    with h.bench_state(options, QBO_LIMIT_MINUTE_SECONDS=minute) as bench:
        h.start_sandbox(bench, minute_seconds=options.minute_seconds)
        h.django_setup(bench)
        world = h.company_create("Backfill Co")
        tenant_count = -(-options.invoices // h.INVOICES_PER_TENANT)
        tenants = h.tenants_seed(world, tenant_count)
        h.invoices_seed(world, tenants, options.invoices)
        realm = h.realm_create(bench.sandbox_url, "Backfill Books")
        h.connect(world, realm)
        results = [app_backfill(bench, world, realm, options)]
        if not options.no_naive:
            naive_realm = h.realm_create(bench.sandbox_url, "Naive Books")
            naive_realm.item_id = realm.item_id
            results.append(naive_loop(bench, world, naive_realm, options))
        _report(bench, options, tenant_count, results)


def _report(bench: h.Bench, options, tenants: int, results: list[Result]) -> None:
    print(f"\n== Backfill: {options.invoices:,} invoices + {tenants:,} tenants into empty realms")
    h.print_environment(
        bench,
        workers=f"{options.workers} x concurrency {options.concurrency} (queues on_demand,bulk)",
        sandbox=f"--minute-seconds {options.minute_seconds} (1 QBO minute = "
        f"{options.minute_seconds:g} s), no latency; app QBO_LIMIT_MINUTE_SECONDS the same",
        ceilings="500 requests/min (10/s, 10 in flight); batch: 40 batches x 30 = 1,200 "
        "records/min",
    )
    h.print_table(HEADERS, [r.row() for r in results])
    for result in results:
        print(f"  {result.label}: {result.requests.summary()}" +
              (f"; {result.note}" if result.note else ""))  # fmt: skip
        print(f"    sandbox peaks: {result.requests.peaks}")


if __name__ == "__main__":
    main()
