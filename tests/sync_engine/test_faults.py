"""The fault suite: the sync engine's guarantees while workers, QuickBooks and the broker fail.

Each scenario back-fills a company into a sandbox realm with real Celery worker processes (against
the test database and the broker the app is configured with), injects one kind of failure, lets
syncs catch up once it stops, and ends with the same invariants, checked in QuickBooks through
python-quickbooks (faults_support.assert_invariants): every approved invoice there exactly once
with the right total, no duplicate customers, every refusal an open explained error, no run left
active, and the right company status.

The sandbox runs with compressed rate windows (faults_support.MINUTE_SECONDS) so a 2,000-invoice
back-fill fits in a minute; the workers' limiter is told the same, so the limits keep their ratios.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db.models import Q

from companies.models import Company
from quickbooks_link.models import ExternalLink
from sync_engine.models import SyncItemResult, SyncRun
from sync_engine.selectors import company_sync_status
from sync_engine.statuses import CompanyStatus
from tests.qbo_sandbox.conftest import Sandbox, start_sandbox, stop_sandbox
from tests.services import redis_url_or_reason
from tests.sync_engine.faults_support import (
    MINUTE_SECONDS,
    SlowWrites,
    Workers,
    World,
    assert_invariants,
    build_world,
    finish_driver,
    reconnect,
    run_summary,
    start_driver,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

# A run heart-beats every 15 s (engine/context.py HEARTBEAT_SECONDS) while it calls QuickBooks, so
# the reaper must wait longer than that or it fails runs that are alive.
STALE_AFTER = "16"


@pytest.fixture(scope="module")
def _fault_sandbox_process() -> Iterator[Sandbox]:
    sandbox = start_sandbox("--minute-seconds", str(MINUTE_SECONDS))
    yield sandbox
    stop_sandbox(sandbox)


@pytest.fixture
def fault_qbo(_fault_sandbox_process, settings) -> Sandbox:
    """The time-compressed sandbox, reset, with the test process pointed at it too."""
    settings.QBO_ENVIRONMENT = "local"
    settings.QBO_SANDBOX_URL = _fault_sandbox_process.url
    settings.QBO_CLIENT_ID = "sandbox-client-id"
    settings.QBO_CLIENT_SECRET = "sandbox-client-secret"
    settings.QBO_LIMIT_MINUTE_SECONDS = MINUTE_SECONDS
    settings.QBO_HTTP_TIMEOUT = 10
    _fault_sandbox_process.control("POST", "reset")
    return _fault_sandbox_process


@pytest.fixture
def pool(tmp_path) -> Iterator[Callable[..., Workers]]:
    """Start worker processes; every one of them is stopped (or killed) when the test ends."""
    started: list[Workers] = []

    def make(env: dict[str, str], count: int, *, concurrency: int = 1) -> Workers:
        workers = Workers(env, tmp_path, concurrency=concurrency)
        started.append(workers)
        workers.start(count)
        return workers

    yield make
    for workers in started:
        workers.stop()


def _sync_until_done(env, world: World, tmp_path: Path, *args: str, timeout: float = 50) -> str:
    driver = start_driver(env, world, tmp_path, "--timeout", str(timeout), *args)
    log = finish_driver(driver, tmp_path, timeout=timeout + 15)
    assert driver.returncode == 0, f"the back-log was not done in {timeout} s:\n{log[-3000:]}"
    return log


def _worker_of_running_run(workers: Workers, world: World) -> subprocess.Popen | None:
    run = SyncRun.objects.filter(company_id=world.company_id, status="running").first()
    if run is None or ":" not in run.worker:
        return None
    return workers.holding(int(run.worker.rsplit(":", 1)[1]))


def _linked(world: World, field: str) -> int:
    return ExternalLink.objects.filter(
        company_id=world.company_id, **{f"{field}__isnull": False}, qbo_id__gt=""
    ).count()


def _linked_invoices(world: World) -> int:
    return _linked(world, "invoice")


def _faults(sandbox: Sandbox, world: World, **profile) -> None:
    sandbox.control("PUT", f"realms/{world.realm_id}/faults", profile)


def _profile(sandbox: Sandbox, world: World) -> dict:
    return sandbox.control("GET", f"realms/{world.realm_id}/faults")


def _stats(sandbox: Sandbox, world: World) -> dict:
    return sandbox.control("GET", f"realms/{world.realm_id}/stats")


def _answers(stats: dict, status: str) -> int:
    return sum(by_status.get(status, 0) for by_status in stats["requests"].values())


def test_it_loses_and_duplicates_nothing_when_workers_are_killed_during_a_backfill(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=2000)
    env = worker_env(fault_qbo.url, tmp_path, SYNC_RUN_STALE_AFTER=STALE_AFTER,
                     SYNC_PENDING_LEASE="3", QBO_HTTP_TIMEOUT="1")  # fmt: skip
    workers = pool(env, 3)
    calm = tmp_path / "calm"
    driver = start_driver(env, world, tmp_path, "--timeout", "100", "--calm-file", str(calm))
    rng = random.Random(20261122)  # chaos, not secrets: seeded to replay
    interrupted, mark = 0, 0
    try:
        # For 20 s a worker dies every few seconds (SIGKILL, pool child and all) and a new one
        # starts. When the back-fill has moved on by 100 invoices, it is the worker running it;
        # that run stays "running" until the reaper fails it, as after a real crash. Otherwise
        # an idle one: killing the busy one every time would let no run get anywhere.
        chaos_until = time.monotonic() + 20
        while time.monotonic() < chaos_until and driver.poll() is None:
            time.sleep(rng.uniform(1.5, 3))
            busy, linked = _worker_of_running_run(workers, world), _linked_invoices(world)
            if busy is not None and linked >= mark + 100:
                workers.kill(busy)
                interrupted, mark = interrupted + 1, linked
            else:
                workers.kill_random(rng, sparing=busy)
            workers.start(1)
    finally:
        calm.touch()
    log = finish_driver(driver, tmp_path, timeout=110)
    assert driver.returncode == 0, f"the back-log was not done:\n{log[-3000:]}"
    summary = run_summary(world.company_id)
    print(f"killed {workers.killed} workers, {interrupted} in the middle of a run: {summary}")
    assert workers.killed >= 6
    assert summary.get("failed:timeout", 0) >= 1, f"the kills interrupted no run: {summary}"
    assert_invariants(world)


def test_it_sends_everything_once_when_5_percent_of_answers_are_lost(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=900)
    env = worker_env(fault_qbo.url, tmp_path)
    pool(env, 3)
    # The write is committed in QuickBooks, then the connection drops without an answer. Full
    # runs create 30 records a batch; on-demand runs (one create each) cover the single path.
    _faults(fault_qbo, world, lost_response_rate=0.05)
    _sync_until_done(env, world, tmp_path, "--record-runs", "40")
    assert _answers(_stats(fault_qbo, world), "lost") >= 1
    _faults(fault_qbo, world)  # the invariants' own reads must not meet the fault
    assert_invariants(world)


def test_it_sends_everything_once_when_10_percent_of_requests_fail_with_5xx(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=600)
    env = worker_env(fault_qbo.url, tmp_path)
    pool(env, 3)
    _faults(fault_qbo, world, error_5xx_rate=0.1)
    _sync_until_done(env, world, tmp_path, "--record-runs", "30")
    assert _answers(_stats(fault_qbo, world), "503") >= 3
    _faults(fault_qbo, world)  # the invariants' own reads must not meet the fault
    assert_invariants(world)


def test_it_waits_out_429_bursts_and_never_reports_them_as_item_errors(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=300)
    # One wait-out in the client adapter, so a burst of 3 also reaches the engine's own retries
    # (the path where a 429 could leak out as an item error).
    env = worker_env(fault_qbo.url, tmp_path, QBO_THROTTLE_RETRIES="1")
    pool(env, 3)
    # Five in a row outlast the adapter's wait-outs: the engine's retries take over.
    _faults(fault_qbo, world, throttle_burst=5)
    driver = start_driver(env, world, tmp_path, "--record-runs", "30", "--timeout", "50")
    try:
        # A new burst each time the last one is used up, while the back-fill goes on.
        for burst in range(6):
            while driver.poll() is None and _profile(fault_qbo, world)["throttle_burst"]:
                time.sleep(0.1)
            if driver.poll() is not None:
                break
            time.sleep(0.5)
            # XML bodies too: recorded 429s were XML even for Accept: application/json.
            _faults(fault_qbo, world, throttle_burst=3,
                    throttle_format="xml" if burst % 2 else "json")  # fmt: skip
    finally:
        _faults(fault_qbo, world)
    log = finish_driver(driver, tmp_path, timeout=65)
    assert driver.returncode == 0, f"the back-log was not done:\n{log[-3000:]}"
    assert _stats(fault_qbo, world)["throttled"] >= 5
    throttled = SyncItemResult.objects.filter(company_id=world.company_id).filter(
        Q(error_code__in=["429", "3001"]) | Q(message__icontains="throttl")
    )
    assert not throttled.exists(), list(throttled.values("record_label", "error_code", "message"))
    assert_invariants(world)


def test_it_never_duplicates_after_requests_outlive_the_client_timeout(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=300)
    # 10% of requests hang 5 s and the client gives up after 1 s; the lease (8 s) outlives the
    # hang. Runs fail on the timed-out writes; once the faults stop, later runs must finish the
    # back-log without sending anything twice.
    env = worker_env(fault_qbo.url, tmp_path, QBO_HTTP_TIMEOUT="1", SYNC_PENDING_LEASE="8")
    pool(env, 3)
    _faults(fault_qbo, world, hang_rate=0.1, hang_seconds=5)
    # Batches make a full run's writes few; on-demand runs add single creates for the dice.
    stormy = start_driver(env, world, tmp_path, "--record-runs", "40", "--timeout", "15")
    finish_driver(stormy, tmp_path, timeout=25)  # not done yet, as expected in the storm
    timed_out = SyncRun.objects.filter(
        company_id=world.company_id, error_kind="transient", error_message__contains="in time"
    )  # on-demand runs count too: a timed-out write fails whichever run sent it
    assert timed_out.exists(), f"no run met a timeout: {run_summary(world.company_id)}"
    _faults(fault_qbo, world)
    _sync_until_done(env, world, tmp_path)
    assert_invariants(world)


def test_it_never_duplicates_a_batch_that_lands_after_the_client_gave_up(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=300)
    # The sandbox drops a hung request whose client left, so a proxy plays Intuit here: it holds
    # the first invoice batch 5 s before QuickBooks gets it, long after the client's 1 s timeout
    # and well inside the 8 s lease that is meant to keep later attempts off that record.
    slow = SlowWrites(fault_qbo.url, rate=0, delay=5)
    try:
        env = worker_env(slow.url, tmp_path, QBO_HTTP_TIMEOUT="1", SYNC_PENDING_LEASE="8")
        pool(env, 3)
        driver = start_driver(env, world, tmp_path, "--timeout", "40")
        wait_until(lambda: _linked(world, "tenant") == len(world.tenants), timeout=20,
                   what="the customers created; the invoice batches come next")  # fmt: skip
        slow.rate = 1.0
        wait_until(lambda: slow.held >= 1, timeout=10, what="a write held")
        slow.rate = 0
        log = finish_driver(driver, tmp_path, timeout=50)
        assert driver.returncode == 0, f"the back-log was not done:\n{log[-3000:]}"
        slow.settle(timeout=20)
    finally:
        slow.stop()
    assert_invariants(world)


def test_it_stops_cleanly_when_access_is_revoked_and_resumes_after_reconnecting(
    acme, fault_qbo, pool, tmp_path
):
    world = build_world(acme, fault_qbo, invoices=600)
    env = worker_env(fault_qbo.url, tmp_path)
    pool(env, 3)
    once = start_driver(env, world, tmp_path, "--once", "--timeout", "40")
    wait_until(lambda: _linked_invoices(world) >= 50, timeout=30, what="the back-fill started")
    # The person disconnected the app in QuickBooks while the back-fill runs.
    fault_qbo.control("POST", f"realms/{world.realm_id}/revoke")
    log = finish_driver(once, tmp_path, timeout=50)
    run = SyncRun.objects.get(company_id=world.company_id, record_entity="")
    assert (run.status, run.error_kind) == ("failed", "auth"), log
    assert _linked_invoices(world) < len(world.expected), "the run ended before the revoke"
    # Stopped at the first refusal: one 401, then the refresh was refused (invalid_grant).
    assert _answers(_stats(fault_qbo, world), "401") == 1
    company = Company.objects.get(pk=world.company_id)
    assert company_sync_status(company=company) == CompanyStatus.NEEDS_RECONNECTING
    assert not SyncItemResult.objects.filter(company_id=world.company_id, outcome="failed",
                                             entity="invoice").exclude(record_id__in=world.refused).exists()  # fmt: skip

    reconnect(fault_qbo, world)
    _sync_until_done(env, world, tmp_path)
    assert_invariants(world)


def _local_redis() -> tuple[str, int]:
    url, reason = redis_url_or_reason()
    if url is None or not os.getenv("CELERY_BROKER_URL", "").startswith("redis"):
        pytest.skip(f"the broker is not Redis ({reason or 'CELERY_BROKER_URL is not redis://'})")
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip(f"Redis at {parsed.hostname} is not local: this test restarts it")
    return "127.0.0.1", parsed.port or 6379


def _redis_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed: this test restarts Redis")
    return path


def _redis_up(port: int) -> bool:
    answer = subprocess.run(
        [_redis_tool("redis-cli"), "-p", str(port), "ping"], capture_output=True, text=True
    )
    return answer.stdout.strip() == "PONG"


def _redis_start(port: int) -> None:
    if _redis_up(port):
        return
    subprocess.run([_redis_tool("redis-server"), "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                    "--save", "", "--appendonly", "no"], check=True, capture_output=True)  # fmt: skip
    wait_until(lambda: _redis_up(port), timeout=10, what="Redis answering again")


def test_it_recovers_when_redis_restarts_during_a_backfill(acme, fault_qbo, pool, tmp_path):
    _, port = _local_redis()
    world = build_world(acme, fault_qbo, invoices=800)
    env = worker_env(fault_qbo.url, tmp_path, SYNC_RUN_STALE_AFTER=STALE_AFTER)
    pool(env, 3)
    calm = tmp_path / "calm"
    driver = start_driver(env, world, tmp_path, "--timeout", "55", "--calm-file", str(calm))
    try:
        wait_until(lambda: _linked_invoices(world) >= 100, timeout=30, what="the back-fill started")
        # Without persistence: every queued task, unacked delivery and limiter permit is gone.
        subprocess.run(
            [_redis_tool("redis-cli"), "-p", str(port), "shutdown", "nosave"], capture_output=True
        )
        time.sleep(3)
    finally:
        _redis_start(port)
        calm.touch()
    log = finish_driver(driver, tmp_path, timeout=65)
    assert driver.returncode == 0, f"the back-log was not done:\n{log[-3000:]}"
    assert_invariants(world)


def test_it_keeps_every_limit_with_many_runs_of_one_realm_at_once(acme, fault_qbo, pool, tmp_path):
    world = build_world(acme, fault_qbo, invoices=400)
    env = worker_env(fault_qbo.url, tmp_path)
    # Twelve processes at once against one realm, which allows ten requests in flight.
    pool(env, 3, concurrency=4)
    _faults(fault_qbo, world, latency_ms=40, jitter_ms=60)
    _sync_until_done(env, world, tmp_path, "--record-runs", "300", timeout=55)
    stats = _stats(fault_qbo, world)
    print(f"sandbox stats: { {k: v for k, v in stats.items() if k != 'requests'} }")
    assert stats["max_concurrency"] <= 10
    assert stats["max_requests_per_second"] <= 10
    assert stats["max_requests_per_minute"] <= 500
    assert stats["throttled"] == 0, stats["throttled_by"]
    # The load must have pressed on the limits, or the test proves nothing.
    assert stats["max_concurrency"] >= 5, stats
    assert_invariants(world)
