"""Incremental sync cost: 10 changed invoices in a company with 1,000 vs 100,000 synced invoices.

    .venv/bin/python bench/bench_incremental.py [--sizes 1000,100000] [--changed 10]
        [--postgres URL] [--redis URL]

A full run should cost what changed, not what exists. For each size, one company is seeded with
bulk inserts (seed_demo-style: one tenant per 12 invoices, one rent line each) and made to look
fully synced without pushing everything through QuickBooks, which would take hours at 500/min:

- every tenant and invoice gets an ExternalLink with a QuickBooks Id, SyncToken and the
  fingerprint of the payload the engine would send today (sync_engine.payloads), so the engine
  sees nothing to send;
- the invoices that will change, and their tenants, really exist in the sandbox realm: they are
  created there through the app's client with those same payloads, and linked to the real Ids;
- the connection's pushed_through and last_pulled_at are set to now, as a completed run leaves
  them.

Then the memo of `--changed` invoices is edited (a QuerySet update that bumps updated_at, as an
import does; a form save would also queue on-demand runs) and one full run is requested and run
in this process, as the test suite's run_sync fixture does. Measured around that run alone: wall
time, SQL queries (django.test.utils.CaptureQueriesContext on the default connection) and the
QuickBooks requests the sandbox counted for the realm (stats before and after). Nothing else is
running, so the run has the machine to itself.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import _harness as h

CHUNK = 2000
FAKE_ID_BASE = 10_000_000  # Ids for the links of records that are not really in the sandbox


@dataclass
class Measured:
    size: int
    changed: int
    seed_seconds: float
    seconds: float
    queries: int
    query_kinds: Counter
    calls: h.Calls
    status: str
    outcomes: dict[str, int]


def _mappings(world: h.World, tenant_ids: dict[int, str], realm: h.Realm):
    from sync_engine.payloads import Mappings

    return Mappings(
        customers=tenant_ids, items={world.charge_code.pk: realm.item_id},
        tax_codes={world.tax_rate.pk: "NON"}, classes={}, invoices={}, country="US",
        class_tracking=False,
    )  # fmt: skip


def _really_create(connection, kind, records, mappings, links: dict) -> None:
    """Create these records in the sandbox with the engine's payloads; remember the answers."""
    from quickbooks_link import client
    from quickbooks_link.tokens import connection_api

    api = connection_api(connection=connection)
    for record in records:
        payload = kind.build(record, mappings)
        answer = client.create(
            api, kind.qbo_entity, payload, request_id=f"bench-{kind.entity}-{record.pk}"
        )
        links[record.pk] = (str(answer["Id"]), str(answer["SyncToken"]))
        if kind.entity == "tenant":
            mappings.customers[record.pk] = str(answer["Id"])


def _link_rows(world, kind, records, mappings, real: dict) -> list:
    from django.utils import timezone

    from quickbooks_link.models import ExternalLink
    from sync_engine import payloads

    now = timezone.now()
    rows = []
    for record in records:
        qbo_id, token = real.get(record.pk) or (str(FAKE_ID_BASE + record.pk), "0")
        rows.append(
            ExternalLink(
                company=world.company, qbo_entity=kind.qbo_entity, qbo_id=qbo_id,
                sync_token=token, last_synced_at=now, **{kind.link_field: record},
                fingerprint=payloads.fingerprint(kind.build(record, mappings)),
            )
        )  # fmt: skip
    return rows


def mark_synced(world: h.World, connection, realm: h.Realm, targets: list[int]) -> None:
    """Links for every tenant and invoice as a completed sync leaves them (see the docstring)."""
    from django.db import transaction
    from django.utils import timezone

    from companies.models import Invoice, Tenant
    from quickbooks_link.models import ExternalLink, QuickBooksConnection
    from sync_engine.engine.push import KINDS

    invoice_kind, tenant_kind = KINDS["invoice"], KINDS["tenant"]
    target_invoices = list(
        Invoice.objects.filter(pk__in=targets).prefetch_related(
            "lines__charge_code", "lines__tax_rate"
        )
    )
    target_tenants = list(Tenant.objects.filter(pk__in={i.tenant_id for i in target_invoices}))
    tenants = list(Tenant.objects.filter(company=world.company).order_by("pk"))
    customers = {t.pk: str(FAKE_ID_BASE + t.pk) for t in tenants}
    mappings = _mappings(world, customers, realm)
    real_tenants: dict[int, tuple[str, str]] = {}
    real_invoices: dict[int, tuple[str, str]] = {}
    _really_create(connection, tenant_kind, target_tenants, mappings, real_tenants)
    _really_create(connection, invoice_kind, target_invoices, mappings, real_invoices)
    with transaction.atomic():
        ExternalLink.objects.bulk_create(
            _link_rows(world, tenant_kind, tenants, mappings, real_tenants), batch_size=CHUNK
        )
        invoices = (
            Invoice.objects.filter(company=world.company)
            .select_related("tenant")
            .prefetch_related("lines__charge_code", "lines__tax_rate")
            .order_by("pk")
        )
        for start in range(0, invoices.count(), CHUNK):
            chunk = list(invoices[start : start + CHUNK])
            ExternalLink.objects.bulk_create(
                _link_rows(world, invoice_kind, chunk, mappings, real_invoices), batch_size=CHUNK
            )
    # Everything up to now was sent by a completed run, and QuickBooks' changes were read.
    time.sleep(1.1)  # QuickBooks' change times have one-second resolution
    now = timezone.now()
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        pushed_through=now, last_pulled_at=now
    )


def _targets(world: h.World, changed: int) -> list[int]:
    from companies.models import Invoice

    pks = list(
        Invoice.objects.filter(company=world.company).order_by("pk").values_list("pk", flat=True)
    )
    step = max(len(pks) // changed, 1)
    return pks[::step][:changed]


def _kind_of(sql: str) -> str:
    return sql.split(None, 1)[0].upper() if sql.strip() else "?"


def measure(bench: h.Bench, size: int, changed: int) -> Measured:
    from django.db import connection as db
    from django.db.models import Count, F, Value
    from django.db.models.functions import Concat
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from companies.models import Invoice
    from sync_engine.models import SyncItemResult, SyncRun
    from sync_engine.services import sync_run_request

    started = time.perf_counter()
    world = h.company_create(f"Incremental {size}")
    tenants = h.tenants_seed(world, -(-size // h.INVOICES_PER_TENANT))
    h.invoices_seed(world, tenants, size)
    realm = h.realm_create(bench.sandbox_url, f"Incremental Books {size}")
    connection = h.connect(world, realm)
    targets = _targets(world, changed)
    mark_synced(world, connection, realm, targets)
    seed_seconds = h.elapsed_since(started)

    Invoice.objects.filter(pk__in=targets).update(
        memo=Concat(F("memo"), Value(" (corrected)")), updated_at=timezone.now()
    )
    before = h.calls(bench.sandbox_url, realm.realm_id)
    with CaptureQueriesContext(db) as captured:
        started = time.perf_counter()
        run = sync_run_request(company=world.company, trigger=SyncRun.Trigger.MANUAL)
        h.drain(world.company)
        seconds = h.elapsed_since(started)
    run.refresh_from_db()
    outcomes = SyncItemResult.objects.filter(run=run).values("outcome").annotate(n=Count("pk"))
    return Measured(
        size=size, changed=len(targets), seed_seconds=seed_seconds, seconds=seconds,
        queries=len(captured.captured_queries),
        query_kinds=Counter(_kind_of(q["sql"]) for q in captured.captured_queries),
        calls=h.calls(bench.sandbox_url, realm.realm_id).minus(before),
        status=run.status + (f" ({run.error_message[:60]})" if run.error_message else ""),
        outcomes={row["outcome"]: row["n"] for row in outcomes},
    )  # fmt: skip


def main() -> None:
    parser = h.parser(__doc__)
    parser.add_argument("--sizes", default="1000,100000", help="synced invoices per company")
    parser.add_argument("--changed", type=int, default=10)
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    with h.bench_state(options) as bench:
        h.start_sandbox(bench)
        h.django_setup(bench)
        h.no_enqueue()
        results = [measure(bench, size, options.changed) for size in sizes]
        _report(bench, results)


def _report(bench: h.Bench, results: list[Measured]) -> None:
    print("\n== Incremental full run: changed invoices in an already-synced company")
    h.print_environment(
        bench,
        run="one full run in this process (no worker); real-time sandbox, no latency",
    )
    headers = ["synced invoices", "changed", "run s", "SQL queries", "QBO requests",
               "QBO writes", "429s", "run status", "results", "setup s"]  # fmt: skip
    rows = [
        [m.size, m.changed, round(m.seconds, 2), m.queries, m.calls.total,
         m.calls.endpoint("invoice") + m.calls.endpoint("customer") + m.calls.endpoint("batch"),
         m.calls.throttled, m.status, ", ".join(f"{k} {v}" for k, v in sorted(m.outcomes.items())),
         round(m.seed_seconds, 1)]
        for m in results
    ]  # fmt: skip
    h.print_table(headers, rows)
    for m in results:
        kinds = ", ".join(f"{k} {n}" for k, n in m.query_kinds.most_common())
        print(f"  {m.size:,}: QBO {m.calls.summary()}; SQL {kinds}")


if __name__ == "__main__":
    main()
