"""What the fault suite shares: a world to back-fill, worker processes to kill, a driver that keeps
requesting syncs, and the invariants every scenario ends with, checked in QuickBooks itself.

The driver runs in its own process (``python -c`` with the workers' environment) because a task
sent from the test process would go to the test's broker, not the workers': with the filesystem
transport each has its own folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]
# The sandbox's "minute" lasts this many seconds, and the workers' limiter is told so
# (QBO_LIMIT_MINUTE_SECONDS): QuickBooks' 500 a minute would otherwise make a 2,000-invoice
# back-fill take four minutes, while 10 in flight and the ratios between windows stay as Intuit's.
MINUTE_SECONDS = 6
SYNC_FROM = datetime.date(2025, 1, 1)
DRIVER = "import django; django.setup(); from tests.sync_engine import faults_support as f; f.drive_main()"


# --- The world: one company, connected to a fresh realm, with a back-log of approved invoices.


@dataclass
class World:
    company_id: int
    realm_id: str
    tenants: list[str]
    # number -> total, for every approved invoice that must end up in QuickBooks.
    expected: dict[str, Decimal]
    # Invoices QuickBooks can never take (a charge code with no Item): each must stay an open,
    # explained item error, and never reach QuickBooks.
    refused: dict[int, str] = field(default_factory=dict)


def build_world(group, sandbox, *, invoices: int, tenants: int = 25, refused: int = 2) -> World:
    from companies.models import ChargeCode, Company, Invoice, InvoiceLine, Tenant
    from quickbooks_link.models import ExternalLink, QuickBooksConnection
    from quickbooks_link.onboarding import reference_refresh, references
    from sync_engine.models import SyncRun

    company = Company.objects.create(group=group, name="Faulty Towers")
    realm = sandbox.control("POST", "realms", {"name": "Faulty Books", "custom_txn_numbers": True})
    realm_id = realm["realm_id"]
    tokens = sandbox.control("POST", f"realms/{realm_id}/tokens")
    now = timezone.now()
    connection = QuickBooksConnection.objects.create(
        company=company, realm_id=realm_id, access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        access_token_expires_at=now + datetime.timedelta(seconds=tokens["expires_in"]),
        connected_at=now, onboarded_at=now, sync_from_date=SYNC_FROM, qbo_country="US",
        qbo_currency="USD", qbo_preferences={"custom_txn_numbers": True},
    )  # fmt: skip
    reference_refresh(connection=connection)
    rent = ChargeCode.objects.create(company=company, code="RENT", name="Rent")
    unmapped = ChargeCode.objects.create(company=company, code="ODD", name="Never mapped")
    item = references(company, "Item").get(name="Rent").qbo_id
    ExternalLink.objects.create(company=company, qbo_entity="Item", qbo_id=item, charge_code=rent)
    people = Tenant.objects.bulk_create(
        Tenant(company=company, name=f"Tenant {n:03d}") for n in range(tenants)
    )
    # bulk_create sends no post_save, so no on-demand runs are queued: the back-log waits for a
    # full sync, as after onboarding.
    total = invoices + refused
    documents = Invoice.objects.bulk_create(
        Invoice(
            company=company, number=f"F-{n:05d}", tenant=people[n % tenants],
            issue_date=datetime.date(2026, 1, 1), due_date=datetime.date(2026, 1, 31),
            currency="USD", status="approved", subtotal=_amount(n), total=_amount(n),
        )
        for n in range(total)
    )  # fmt: skip
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=doc, charge_code=unmapped if n >= invoices else rent,
                    unit_amount=_amount(n))
        for n, doc in enumerate(documents)
    )  # fmt: skip
    SyncRun.objects.filter(company=company).delete()
    return World(
        company_id=company.pk,
        realm_id=realm_id,
        tenants=[person.name for person in people],
        expected={doc.number: doc.total for doc in documents[:invoices]},
        refused={doc.pk: doc.number for doc in documents[invoices:]},
    )


def _amount(n: int) -> Decimal:
    return Decimal(100 + n % 997) + Decimal(n % 100) / 100


def reconnect(sandbox, world: World) -> None:
    """What a finance admin's reconnect leaves behind: new tokens, the lapse cleared."""
    from quickbooks_link.client import Tokens
    from quickbooks_link.models import QuickBooksConnection
    from quickbooks_link.tokens import token_fields

    answer = sandbox.control("POST", f"realms/{world.realm_id}/tokens")
    tokens = Tokens(answer["access_token"], answer["refresh_token"], answer["expires_in"],
                    answer["x_refresh_token_expires_in"], None)  # fmt: skip
    connection = QuickBooksConnection.objects.get(company_id=world.company_id)
    QuickBooksConnection.objects.filter(pk=connection.pk).update(
        **token_fields(tokens, now=timezone.now()),
        token_generation=connection.token_generation + 1,
        reconnect_required_at=None,
        reconnect_reason="",
    )


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


class SlowWrites:
    """A TCP proxy in front of the sandbox that holds some writes for `delay` seconds before
    passing them on, whatever the client does meanwhile.

    The sandbox's own hang fault drops a request whose client gave up (the body is read after
    the hang), so it cannot show what Intuit does: a request the client stopped waiting for may
    still be running, and land later. This can: the client times out, the write lands after.
    """

    def __init__(self, upstream: str, *, rate: float, delay: float, seed: int = 7) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.rate, self.delay = rate, delay
        self.rng = random.Random(seed)  # chaos, not secrets: seeded to replay
        self.held = 0
        self.landing = 0  # held writes not yet answered by QuickBooks
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._pipe, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()

    def settle(self, timeout: float) -> None:
        """Wait until every held write has landed, so QuickBooks holds all it ever will."""
        wait_until(lambda: self.landing == 0, timeout=timeout, what="held writes landing")

    def stop(self) -> None:
        async def cancel_pipes() -> None:
            pipes = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_pipes(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _is_write(self, data: bytes) -> bool:
        line = data.split(b"\r\n", 1)[0]
        return line.startswith(b"POST /v3/company/") and b"/query" not in line

    async def _pipe(self, client_r, client_w) -> None:
        upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
        answered = asyncio.Event()

        async def up() -> None:
            hold_until, holding = 0.0, False
            while data := await client_r.read(65536):
                if self._is_write(data) and self.rng.random() < self.rate:
                    hold_until, self.held = self.loop.time() + self.delay, self.held + 1
                    holding, self.landing = True, self.landing + 1
                    answered.clear()
                await asyncio.sleep(max(hold_until - self.loop.time(), 0))
                upstream_w.write(data)
                await upstream_w.drain()
            # The client is gone; keep the upstream open until QuickBooks has answered, so the
            # request is served rather than abandoned.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), 15)
            if holding:
                self.landing -= 1
            upstream_w.close()

        async def down() -> None:
            while data := await upstream_r.read(65536):
                answered.set()
                with contextlib.suppress(ConnectionError, RuntimeError):
                    client_w.write(data)
                    await client_w.drain()
            answered.set()
            client_w.close()

        await asyncio.gather(up(), down(), return_exceptions=True)


# --- Processes: the workers, and the driver that requests syncs.


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db_connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def worker_env(sandbox_url: str, var_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "released_sync.settings",
        "DATABASE_URL": database_url(),
        "QBO_ENVIRONMENT": "local",
        "QBO_SANDBOX_URL": sandbox_url,
        "QBO_LIMIT_MINUTE_SECONDS": str(MINUTE_SECONDS),
        "VAR_DIR": str(var_dir),  # the filesystem broker's folders, when there is no Redis
        "SYNC_TRANSIENT_RETRIES": "3",
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


class Workers:
    """Celery worker processes, each the leader of its own process group so that a SIGKILL takes
    its pool children with it (a crashed container), and so that nothing outlives the test."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, concurrency: int = 1) -> None:
        self.env, self.log_dir, self.concurrency = env, log_dir, concurrency
        self.processes: list[subprocess.Popen] = []
        self.killed = 0
        self._started = 0

    def start(self, count: int = 1) -> None:
        for _ in range(count):
            self._started += 1
            name = f"fault{self._started}@%h"
            log = open(self.log_dir / f"worker{self._started}.log", "wb")  # noqa: SIM115
            args = [sys.executable, "-m", "celery", "-A", "released_sync", "worker", "-n", name,
                    "--concurrency", str(self.concurrency), "--queues", "on_demand,bulk",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "--loglevel", "WARNING"]  # fmt: skip
            self.processes.append(
                subprocess.Popen(
                    args, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
                )
            )
            log.close()

    def holding(self, pid: int) -> subprocess.Popen | None:
        """The worker whose process group holds a pid (the pool child that claimed a run)."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((p for p in self.processes if p.pid == group and p.poll() is None), None)

    def kill(self, process: subprocess.Popen) -> None:
        _signal_group(process, signal.SIGKILL)
        process.wait()
        self.processes.remove(process)
        self.killed += 1

    def kill_random(self, rng: random.Random, *, sparing: subprocess.Popen | None = None) -> None:
        alive = [p for p in self.processes if p.poll() is None and p is not sparing]
        if alive:
            self.kill(rng.choice(alive))

    def stop(self) -> None:
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        # Warm shutdown finishes the task at hand; a few seconds, then the rest die hard.
        deadline = time.monotonic() + 3
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            # Always the whole group: a pool child left behind would keep consuming tasks.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.processes.clear()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def start_driver(env: dict[str, str], world: World, log_dir: Path, *args: str) -> subprocess.Popen:
    """Start the process that keeps requesting full syncs until the back-log is done."""
    log = open(log_dir / "driver.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "--company", str(world.company_id), *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    return process


def finish_driver(process: subprocess.Popen, log_dir: Path, *, timeout: float) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    return (log_dir / "driver.log").read_text()


def drive_main() -> None:
    """The driver's entry point (run with DRIVER): what an operator, Beat and the reaper do.

    1. Optionally queue on-demand runs for the first N invoices (as N saves would).
    2. Every half second: reap stale runs (that also re-sends queued runs whose task was lost);
       when no run of the company is active, either stop (done) or request a full sync.
    Done means: a full run that started after the calm file appeared (after the faults stopped)
    finished without failing, and no push is left pending. Exit 0 when done, 1 at the deadline.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--company", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--calm-file", default="")
    parser.add_argument("--record-runs", type=int, default=0)
    parser.add_argument("--once", action="store_true", help="request one full run, wait for it")
    options = parser.parse_args(sys.argv[1:])
    started = timezone.now()
    if options.record_runs:
        _request_record_runs(options.company, options.record_runs)
    done = _drive(options, started)
    _print_runs(options.company)
    sys.exit(0 if done else 1)


def _request_record_runs(company_id: int, count: int) -> None:
    from companies.models import Company, Invoice
    from sync_engine.models import Entity
    from sync_engine.services import sync_record_request

    company = Company.objects.get(pk=company_id)
    for pk in (
        Invoice.objects.filter(company=company).order_by("pk").values_list("pk", flat=True)[:count]
    ):
        sync_record_request(company=company, entity=Entity.INVOICE, record_id=pk)


def _drive(options, started: datetime.datetime) -> bool:
    from companies.models import Company
    from sync_engine.models import SyncRun
    from sync_engine.services import sync_run_request, sync_runs_reap_stale

    company = Company.objects.get(pk=options.company)
    deadline = time.monotonic() + options.timeout
    requested = None
    while time.monotonic() < deadline:
        try:
            sync_runs_reap_stale()
            if not SyncRun.objects.filter(company=company, status__in=SyncRun.ACTIVE).exists():
                if options.once and requested is not None:
                    return True
                if not options.once and _done(company, options.calm_file, started):
                    return True
                requested = sync_run_request(company=company, trigger=SyncRun.Trigger.MANUAL)
        except Exception as exc:  # a broker or database outage: an operator would try again
            cause = exc.__context__
            print(f"driver: {type(exc).__name__}: {exc} (after {cause!r})", flush=True)
        time.sleep(0.5)
    return False


def _done(company, calm_file: str, started: datetime.datetime) -> bool:
    from quickbooks_link.models import ExternalLink
    from sync_engine.models import SyncRun

    calm = started
    if calm_file:
        if not os.path.exists(calm_file):
            return False
        calm = datetime.datetime.fromtimestamp(os.path.getmtime(calm_file), tz=datetime.UTC)
    runs = SyncRun.objects.filter(company=company, status__in=SyncRun.FINISHED)
    last = runs.filter(record_entity="").order_by("-finished_at", "-pk").first()
    # The full run that settles things must also have started after every on-demand run ended.
    record_runs_ended = (
        runs.exclude(record_entity="")
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return bool(
        last
        and last.status != SyncRun.Status.FAILED
        and last.started_at >= max(calm, record_runs_ended or calm)
        and not ExternalLink.objects.filter(company=company, pending_since__isnull=False).exists()
    )


def _print_runs(company_id: int) -> None:
    from sync_engine.models import SyncRun

    for run in SyncRun.objects.filter(company_id=company_id).order_by("pk"):
        print(json.dumps({"run": run.pk, "record": run.record_entity, "status": run.status,
                          "kind": run.error_kind, "error": run.error_message[:160]}))  # fmt: skip


def run_summary(company_id: int) -> dict[str, int]:
    """How the full runs ended, e.g. {"succeeded": 1, "failed:timeout": 3}."""
    from sync_engine.models import SyncRun

    summary: dict[str, int] = {}
    for status, kind in SyncRun.objects.filter(company_id=company_id, record_entity="").values_list(
        "status", "error_kind"
    ):
        key = f"{status}:{kind}" if kind else status
        summary[key] = summary.get(key, 0) + 1
    return summary


# --- Invariants, checked against QuickBooks through python-quickbooks.


def qbo_all(api, entity: str, where: str = "") -> list[dict]:
    """Every row of an entity, page by page (QuickBooks answers at most 1,000 per query)."""
    from quickbooks_link import client

    rows: list[dict] = []
    while True:
        sql = f"SELECT * FROM {entity} {where} STARTPOSITION {len(rows) + 1} MAXRESULTS 1000"
        page = client.query(api, sql)
        rows.extend(page)
        if len(page) < 1000:
            return rows


def assert_invariants(world: World, *, expected_status: str | None = None) -> None:
    """What must hold after any fault, once the faults stop and syncs have caught up.

    1. Every approved invoice is in QuickBooks exactly once (DocNumber = the app's number, unique),
       with the app's total, and linked to that object; nothing else is there.
    2. No duplicate customers; every tenant billed is there once.
    3. Every refusal is an open item error that explains itself; there is no other open error.
    4. No run is left queued or running, and the company shows the right status.
    """
    from quickbooks_link import client
    from quickbooks_link.models import ExternalLink, QuickBooksConnection
    from sync_engine.models import SyncItemResult, SyncRun
    from sync_engine.selectors import company_sync_status
    from sync_engine.statuses import CompanyStatus

    connection = QuickBooksConnection.objects.get(company_id=world.company_id)
    api = client.api_client(access_token=connection.access_token,
                            refresh_token=connection.refresh_token, realm_id=world.realm_id)  # fmt: skip

    invoices = qbo_all(api, "Invoice")
    numbers = [row.get("DocNumber") for row in invoices]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    assert not duplicated, f"invoices in QuickBooks more than once: {duplicated[:20]}"
    missing = sorted(set(world.expected) - set(numbers))
    assert not missing, f"{len(missing)} approved invoices never reached QuickBooks: {missing[:20]}"
    extra = sorted(set(numbers) - set(world.expected))
    assert not extra, f"invoices in QuickBooks that should not be: {extra[:20]}"
    wrong = {
        row["DocNumber"]: (row["TotalAmt"], str(world.expected[row["DocNumber"]]))
        for row in invoices
        if Decimal(str(row["TotalAmt"])) != world.expected[row["DocNumber"]]
    }
    assert not wrong, f"invoices with the wrong TotalAmt (QBO, app): {list(wrong.items())[:10]}"
    linked = dict(
        ExternalLink.objects.filter(company_id=world.company_id, invoice__isnull=False)
        .exclude(qbo_id="")
        .values_list("invoice__number", "qbo_id")
    )
    unlinked = {row["DocNumber"] for row in invoices if linked.get(row["DocNumber"]) != row["Id"]}
    assert not unlinked, (
        f"invoices whose link is not their QuickBooks object: {sorted(unlinked)[:20]}"
    )

    customers = [
        row["DisplayName"] for row in qbo_all(api, "Customer", "WHERE Active IN (true, false)")
    ]
    twice = sorted({name for name in customers if customers.count(name) > 1})
    assert not twice, f"customers in QuickBooks more than once: {twice}"
    assert set(world.tenants) <= set(customers), "a billed tenant is not a QuickBooks customer"

    open_errors = SyncItemResult.objects.filter(
        company_id=world.company_id, outcome="failed", resolved_at__isnull=True
    )
    described = {
        row.record_id: row
        for row in open_errors
        if row.entity == "invoice" and row.explanation.strip()
    }
    assert set(described) == set(world.refused), (
        "open item errors should be exactly the refused invoices, explained: "
        f"{[(r.entity, r.record_label, r.error_code, r.message[:80]) for r in open_errors][:10]}"
    )

    active = SyncRun.objects.filter(company_id=world.company_id, status__in=SyncRun.ACTIVE)
    assert not active.exists(), f"runs left active: {list(active.values('pk', 'status'))}"
    status = expected_status or (
        CompanyStatus.SYNC_HAS_ERRORS if world.refused else CompanyStatus.SUCCESSFULLY_SYNCED
    )
    from companies.models import Company

    assert company_sync_status(company=Company.objects.get(pk=world.company_id)) == status
