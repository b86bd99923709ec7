"""Shared plumbing for the sync-engine benchmarks (bench_backfill, _incremental, _fleet, _on_demand).

Each benchmark is a script that starts what it needs and cleans up after itself:

- a scratch state: a temporary VAR_DIR holding a SQLite file and the filesystem broker by default;
  with `--postgres URL` a fresh database is created next to the one named in URL (and dropped at
  the end); with `--redis URL` that Redis is the broker and the rate limiter's store;
- a `python -m qbo_sandbox` subprocess on a free port;
- Celery worker subprocesses with the same environment, as the Procfile starts them;
- Django in the benchmark process itself, configured by the same environment, to seed data,
  request syncs and read the results.

Data is written the way seed_demo writes it (bulk_create, totals computed in Python), never
through per-row saves, so no post_save receiver queues on-demand runs while seeding.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNC_FROM = datetime.date(2025, 1, 1)
ISSUE_DATE = datetime.date(2026, 1, 1)
INVOICES_PER_TENANT = 12  # a year of monthly rent per tenant, as in the demo data
BATCH_SIZE = 2000


# ---- arguments and environment ------------------------------------------------------------------


def parser(doc: str) -> argparse.ArgumentParser:
    """The options every benchmark takes; each script adds its own sizes."""
    parsed = argparse.ArgumentParser(
        description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parsed.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server (a scratch database is made there)"
    )
    parsed.add_argument(
        "--redis",
        metavar="URL",
        help="Redis broker and limiter store; use a spare db number: its queues are emptied at the end",
    )
    parsed.add_argument("--keep", action="store_true", help="keep the scratch VAR_DIR (debugging)")
    return parsed


@dataclass
class Bench:
    """Where this benchmark's state lives, and the environment every process of it shares."""

    var_dir: Path
    database_url: str
    broker_url: str
    sandbox_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def database_label(self) -> str:
        if self.database_url.startswith("sqlite"):
            return "SQLite (WAL, scratch file)"
        return "PostgreSQL " + _without_password(self.database_url)

    @property
    def broker_label(self) -> str:
        if self.broker_url.startswith("filesystem"):
            return "filesystem transport (limiter in the database)"
        return "Redis " + _without_password(self.broker_url) + " (limiter in Redis)"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "released_sync.settings",
            "VAR_DIR": str(self.var_dir),
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "QBO_ENVIRONMENT": "local",
            "QBO_SANDBOX_URL": self.sandbox_url,
            # Production settings (DEBUG off: no query log kept in memory), with throwaway keys.
            "DEBUG": "False",
            "SECRET_KEY": _SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": _FERNET_KEY,
            "LOG_LEVEL": "WARNING",
            **self.extra,
        }


_SECRET_KEY = secrets.token_urlsafe(50)
_FERNET_KEY = ""  # filled by _fernet_key() once cryptography is importable


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@contextlib.contextmanager
def bench_state(options: argparse.Namespace, **extra: str) -> Iterator[Bench]:
    """A scratch VAR_DIR (and PostgreSQL database), removed afterwards with every subprocess."""
    global _FERNET_KEY
    _FERNET_KEY = _FERNET_KEY or _fernet_key()
    var_dir = Path(tempfile.mkdtemp(prefix="released-sync-bench-"))
    scratch_db = None
    if options.postgres:
        scratch_db = _postgres_create(options.postgres)
        database_url = scratch_db
    else:
        database_url = f"sqlite:///{var_dir / 'db.sqlite3'}"
    bench = Bench(var_dir, database_url, options.redis or "filesystem://", extra=dict(extra))
    try:
        yield bench
    finally:
        stop_processes(bench.processes)
        _close_django_connections()
        if options.redis:
            _redis_cleanup(options.redis)
        if scratch_db:
            _postgres_drop(options.postgres, scratch_db)
        if options.keep:
            print(f"(kept {var_dir})")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def _postgres_admin(url: str, statement: str) -> None:
    """One statement on the server's maintenance database (CREATE/DROP DATABASE need autocommit)."""
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    admin = psycopg2.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")))
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(statement)
    finally:
        admin.close()


def _postgres_create(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    name = f"{(parts.path.strip('/') or 'released_sync')}_bench_{uuid.uuid4().hex[:8]}"
    _postgres_admin(url, f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def _postgres_drop(url: str, scratch: str) -> None:
    name = urllib.parse.urlsplit(scratch).path.strip("/")
    _postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _redis_cleanup(url: str) -> None:
    """Drop what the benchmark left in Redis: its queues and the limiter's windows."""
    import redis

    client = redis.Redis.from_url(url)
    keys = [*client.scan_iter("qbo-limits:*"), *client.scan_iter("_kombu.binding*")]
    keys += [k for k in ("bulk", "on_demand", "unacked", "unacked_index") if client.exists(k)]
    if keys:
        client.delete(*keys)


def _close_django_connections() -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


def django_setup(bench: Bench, *, migrate: bool = True) -> None:
    """Configure Django in this process with the benchmark's environment, and migrate."""
    os.environ.update(bench.env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def print_environment(bench: Bench, **more: object) -> None:
    print(f"  database   {bench.database_label}")
    print(f"  broker     {bench.broker_label}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    # The machine may be shared: the load average says how much else was running.
    print(f"  machine    {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load {load}")
    for name, value in more.items():
        print(f"  {name.replace('_', ' '):<10} {value}")


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, left: bool = False
) -> None:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 or left else c.rjust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))))  # fmt: skip
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(share * 100) - 1]


# ---- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(bench: Bench, *, minute_seconds: float = 60, latency_ms: int = 0) -> str:
    """Start qbo_sandbox (in-memory state) and point the benchmark's environment at it."""
    port = free_port()
    command = [sys.executable, "-m", "qbo_sandbox", "--port", str(port)]
    command += ["--minute-seconds", str(minute_seconds), "--latency-ms", str(latency_ms)]
    log = (bench.var_dir / "sandbox.log").open("w")
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    bench.processes.append(process)
    bench.sandbox_url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        with contextlib.suppress(OSError):
            control(bench.sandbox_url, "GET", "health")
            os.environ["QBO_SANDBOX_URL"] = bench.sandbox_url
            return bench.sandbox_url
        time.sleep(0.05)
    raise RuntimeError(f"qbo_sandbox did not start; see {bench.var_dir / 'sandbox.log'}")


def control(url: str, method: str, path: str, body: dict | None = None) -> dict:
    """One call to the sandbox's control surface (/__sandbox__/...)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/__sandbox__/{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def start_workers(
    bench: Bench, *, count: int, concurrency: int, queues: str = "on_demand,bulk", tag: str = "w"
) -> list[subprocess.Popen]:
    """Celery workers as the Procfile starts them; they log to VAR_DIR/worker-*.log."""
    started = []
    for number in range(count):
        name = f"{tag}{number}"
        command = [sys.executable, "-m", "celery", "-A", "released_sync", "worker",
                   "--concurrency", str(concurrency), "--queues", queues, "-n", f"{name}@%h",
                   "--without-gossip", "--without-mingle", "--loglevel", "INFO"]  # fmt: skip
        log = (bench.var_dir / f"worker-{name}.log").open("w")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=bench.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
    bench.processes.extend(started)
    return started


def wait_workers_ready(bench: Bench, workers: Sequence[subprocess.Popen], timeout=90) -> None:
    """Wait until every worker has logged "ready." (pinging through the broker would need
    broadcast support, which the filesystem transport lacks)."""
    logs = sorted(bench.var_dir.glob("worker-*.log"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in workers):
            tails = "\n".join(log.read_text(errors="replace")[-1500:] for log in logs)
            raise RuntimeError(f"a worker exited; its log ends:\n{tails}")
        if sum(" ready." in log.read_text(errors="replace") for log in logs) >= len(workers):
            return
        time.sleep(0.2)
    raise RuntimeError(f"workers not ready after {timeout} s; see the logs in {bench.var_dir}")


def stop_processes(processes: Sequence[subprocess.Popen]) -> None:
    """Ask each process to stop (a Celery worker finishes its task first), then kill its group:
    each was started in its own session, so a worker's pool children go with it."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group id is the process's own id
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


# ---- data ---------------------------------------------------------------------------------------


@dataclass
class World:
    """One company's reference rows, as the seeder made them."""

    company: object
    tax_rate: object
    charge_code: object


def company_create(name: str, group_name: str = "Bench Group"):
    from companies.models import ChargeCode, Company, Group, TaxRate

    group, _ = Group.objects.get_or_create(name=group_name)
    company = Company.objects.create(group=group, name=name)
    tax_rate = TaxRate.objects.create(company=company, name="Exempt", rate=Decimal("0"))
    code = ChargeCode.objects.create(
        company=company, code="RENT", name="Rent", default_tax_rate=tax_rate
    )
    return World(company, tax_rate, code)


def tenants_seed(world: World, count: int, *, prefix: str = "Tenant") -> list:
    from companies.models import Tenant

    tenants = [
        Tenant(
            company=world.company,
            name=f"{prefix} {number:06d}",
            email=f"tenant{number}@example.com",
            billing_address=f"{number} Water Street, New York, NY 10004",
        )
        for number in range(count)
    ]
    return Tenant.objects.bulk_create(tenants, batch_size=BATCH_SIZE)


def invoices_seed(world: World, tenants: Sequence, count: int, *, first_number: int = 0) -> list:
    """`count` approved invoices of one rent line each, spread over the tenants in turn."""
    from companies.models import DocumentStatus, Invoice, InvoiceLine

    invoices, lines = [], []
    for offset in range(count):
        number = first_number + offset
        tenant = tenants[offset % len(tenants)]
        amount = Decimal(1000 + number % 2000)
        invoice = Invoice(
            company=world.company, number=f"INV-{number:07d}", tenant=tenant,
            issue_date=ISSUE_DATE, due_date=ISSUE_DATE + datetime.timedelta(days=14),
            status=DocumentStatus.APPROVED, currency="USD", memo=f"Rent, {tenant.name}",
            subtotal=amount, tax_total=Decimal("0.00"), total=amount,
        )  # fmt: skip
        invoices.append(invoice)
        lines.append(
            InvoiceLine(
                invoice=invoice, charge_code=world.charge_code, description="Rent",
                unit_amount=amount, tax_rate=world.tax_rate,
            )
        )  # fmt: skip
    Invoice.objects.bulk_create(invoices, batch_size=BATCH_SIZE)
    InvoiceLine.objects.bulk_create(lines, batch_size=BATCH_SIZE)
    return invoices


@dataclass
class Realm:
    realm_id: str
    access_token: str
    refresh_token: str
    item_id: str = ""  # the realm's "Rent" item, once known


def realm_create(url: str, name: str) -> Realm:
    realm = control(url, "POST", "realms", {"name": name, "custom_txn_numbers": True})
    tokens = control(url, "POST", f"realms/{realm['realm_id']}/tokens")
    return Realm(realm["realm_id"], tokens["access_token"], tokens["refresh_token"])


def connect(world: World, realm: Realm, *, item_id: str | None = None, refresh: bool = True):
    """Connect and onboard the company without the browser, as tests/sync_engine/conftest.py does:
    a QuickBooksConnection on the realm, the reference data read, the tax rate mapped to NON and
    the charge code to the realm's Rent item."""
    from django.utils import timezone

    from quickbooks_link.models import ExternalLink, QboEntity, QuickBooksConnection
    from quickbooks_link.onboarding import reference_refresh, references

    now = timezone.now()
    connection = QuickBooksConnection.objects.create(
        company=world.company, realm_id=realm.realm_id, access_token=realm.access_token,
        refresh_token=realm.refresh_token,
        access_token_expires_at=now + datetime.timedelta(hours=1), connected_at=now,
        onboarded_at=now, sync_from_date=SYNC_FROM, qbo_country="US", qbo_currency="USD",
        qbo_preferences={"custom_txn_numbers": True, "class_tracking": False},
    )  # fmt: skip
    if refresh:
        reference_refresh(connection=connection)
        item_id = item_id or references(world.company, "Item").get(name="Rent").qbo_id
    realm.item_id = item_id or realm.item_id
    ExternalLink.objects.create(
        company=world.company, qbo_entity=QboEntity.TAX_CODE, qbo_id="NON", tax_rate=world.tax_rate
    )
    ExternalLink.objects.create(
        company=world.company, qbo_entity=QboEntity.ITEM, qbo_id=realm.item_id,
        charge_code=world.charge_code,
    )  # fmt: skip
    return connection


# ---- runs and QuickBooks stats ------------------------------------------------------------------


def wait_runs(run_ids: Sequence[int], *, timeout: float, poll: float = 0.5) -> bool:
    """Wait until every run has finished; False if the timeout came first."""
    from sync_engine.models import SyncRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = SyncRun.objects.filter(pk__in=run_ids).exclude(status__in=SyncRun.FINISHED)
        if not pending.exists():
            return True
        time.sleep(poll)
    return False


def run_statuses(run_ids: Sequence[int]) -> dict[str, int]:
    from django.db.models import Count

    from sync_engine.models import SyncRun

    rows = SyncRun.objects.filter(pk__in=run_ids).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


@dataclass
class Calls:
    """What the sandbox counted for a realm: requests by endpoint and status, and the peaks."""

    by_endpoint: dict[str, dict[str, int]]
    throttled: int
    peaks: dict[str, int]

    @property
    def total(self) -> int:
        return sum(sum(statuses.values()) for statuses in self.by_endpoint.values())

    @property
    def ok(self) -> int:
        return sum(
            n for statuses in self.by_endpoint.values() for s, n in statuses.items() if s < "300"
        )

    def endpoint(self, name: str) -> int:
        return sum(self.by_endpoint.get(name, {}).values())

    def minus(self, before: Calls) -> Calls:
        by_endpoint = {
            endpoint: {
                status: n - before.by_endpoint.get(endpoint, {}).get(status, 0)
                for status, n in statuses.items()
            }
            for endpoint, statuses in self.by_endpoint.items()
        }
        return Calls(by_endpoint, self.throttled - before.throttled, self.peaks)

    def summary(self) -> str:
        parts = [
            f"{endpoint} {sum(s.values())}"
            for endpoint, s in sorted(self.by_endpoint.items())
            if sum(s.values())
        ]
        return ", ".join(parts) or "none"


def calls(url: str, realm_id: str) -> Calls:
    stats = control(url, "GET", f"realms/{realm_id}/stats")
    peaks = {k: v for k, v in stats.items() if k.startswith("max_")}
    # Why the sandbox answered 429 (per_second, per_minute, batch_per_minute, concurrency, ...).
    peaks |= {f"429 {why}": n for why, n in stats.get("throttled_by", {}).items()}
    return Calls(stats.get("requests", {}), stats.get("throttled", 0), peaks)


def fleet_calls(url: str, realm_ids: Sequence[str]) -> Calls:
    """The sum over many realms (peaks are the highest any one realm reached)."""
    total: dict[str, dict[str, int]] = {}
    throttled, peaks = 0, {}
    for realm_id in realm_ids:
        one = calls(url, realm_id)
        throttled += one.throttled
        for endpoint, statuses in one.by_endpoint.items():
            into = total.setdefault(endpoint, {})
            for status, n in statuses.items():
                into[status] = into.get(status, 0) + n
        for name, value in one.peaks.items():
            # 429 reasons add up over the realms; peaks are the highest any one realm reached.
            both = (peaks.get(name, 0), value)
            peaks[name] = sum(both) if name.startswith("429") else max(both)
    return Calls(total, throttled, peaks)


def no_enqueue() -> None:
    """Runs requested in this process are executed in this process (the benchmark drains them),
    so the task the request would put on the broker on commit is left out, as the test suite's
    run_sync fixture does by not running the on-commit callbacks."""
    from sync_engine import services

    services._enqueue = lambda run, countdown=0: None


def drain(company) -> list[int]:
    """Claim and execute every queued run of the company in this process, oldest first."""
    from sync_engine.engine.runner import sync_run_execute
    from sync_engine.models import SyncRun
    from sync_engine.services import sync_run_claim

    done = []
    for queued in SyncRun.objects.filter(company=company, status="queued").order_by("pk"):
        if sync_run_claim(queued):
            sync_run_execute(queued)
            done.append(queued.pk)
    return done


def elapsed_since(started: float) -> float:
    return time.perf_counter() - started
