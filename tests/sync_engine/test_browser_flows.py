"""The pages as a person uses them, in a real browser (Debian's Chromium driven by Playwright).

A background thread plays the Celery worker: it waits a moment (so the spinner can be seen),
then runs what is queued, exactly as a worker would, against the running sandbox.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from django.db import connection as db_connection

from companies.models import Invoice
from quickbooks_link.models import QuickBooksConnection
from sync_engine.models import SyncItemResult
from tests.conftest import require_service
from tests.sync_engine.conftest import drain

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "password"  # the shared world's users (tests/conftest.py)


@pytest.fixture(scope="module")
def browser():
    require_service("Chromium", Path(CHROMIUM).exists(), "install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread, so Django must allow ORM calls meanwhile;
    # only for these tests: later ones, and their subprocesses, must not inherit it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


@pytest.fixture
def worker(connected):
    """Runs what is queued for the company, a second after it is queued, until the test ends."""
    stop = threading.Event()

    def work():
        try:
            while not stop.wait(1.0):
                drain(connected.company)
        finally:
            db_connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_it_logs_in_and_shows_the_overview(page, alice, connected):
    log_in(page, alice)
    assert page.inner_text("h1") == "Sync Overview"
    assert "Incomplete pipeline" in page.inner_text(".tiles")
    shot(page, "overview")


def test_it_starts_a_sync_from_the_bell_and_shows_progress(
    page, bob, connected, make_invoice, worker, qbo
):
    from sync_engine.models import SyncRun

    for number in range(40):
        make_invoice(number=f"INV-{number:03d}", status=Invoice.Status.APPROVED)
    SyncRun.objects.filter(company=connected.company).delete()  # the saves' own on-demand runs
    # QuickBooks answering slowly keeps the run going long enough to watch it.
    qbo.control("PUT", f"realms/{connected.realm_id}/faults", {"latency_ms": 700})
    log_in(page, bob)
    page.click("#sync-bell summary")
    page.click("text=Start Sync")
    page.wait_for_selector("#sync-bell .bell-icon.spinning")
    assert "Syncing" in page.inner_text("#sync-bell summary")
    page.wait_for_selector("#sync-bell .progress-list li:has-text('Invoices')", timeout=30_000)
    shot(page, "bell-syncing")
    page.wait_for_selector("#sync-bell:not(:has(.spinning))", timeout=60_000)
    assert "Synced" in page.inner_text("#sync-bell summary")


def test_it_filters_results_expands_an_error_unlinks_and_relinks(
    page, alice, connected, make_invoice, run_sync, qbo
):
    qbo.control("PATCH", f"realms/{connected.realm_id}", {"closing_date": "2026-06-30"})
    QuickBooksConnection.objects.filter(pk=connected.pk).update(
        qbo_preferences={"custom_txn_numbers": True, "closing_date": "2026-06-30"}
    )
    make_invoice(number="INV-CLOSED", status=Invoice.Status.APPROVED)  # dated Jan 2026: closed
    run_sync(connected.company)
    log_in(page, alice)
    page.goto(f"/companies/{connected.company_id}/sync/results/?since=2000-01-01")
    page.select_option("select[name=outcome]", "failed")
    page.click("text=Apply")
    page.wait_for_url("**outcome=failed**")
    page.click("tr:has-text('INV-CLOSED') summary")
    assert "How to fix it." in page.inner_text("tr:has-text('INV-CLOSED')")
    shot(page, "sync-results-error")
    page.fill("tr:has-text('INV-CLOSED') input[name^=reason]", "Entered by hand in QuickBooks")
    page.click("tr:has-text('INV-CLOSED') button:has-text('Unlink')")
    page.wait_for_selector("text=Unlink: 1 item.")
    assert SyncItemResult.objects.filter(resolution="unlinked").exists()
    page.goto(f"/companies/{connected.company_id}/sync/results/?since=2000-01-01&link=unlinked")
    page.click("tr:has-text('INV-CLOSED') summary")
    page.click("tr:has-text('INV-CLOSED') button:has-text('Relink')")
    page.wait_for_selector("text=Relink: 1 item.")


def test_it_filters_the_overview_by_tile_and_by_several_statuses(
    page, olivia, connected, acme_south
):
    log_in(page, olivia)
    page.click(".tile.status-not_connected")
    page.wait_for_url("**status=not_connected**")
    assert page.inner_text("table.overview tbody").count("Not connected") == 1
    page.select_option("#status-filter", ["not_connected", "incomplete_pipeline"])
    page.click("text=Filter")
    page.wait_for_url("**status=incomplete_pipeline**")
    assert len(page.query_selector_all("table.overview tbody tr")) == 2
    shot(page, "overview-filtered")


def test_it_opens_the_message_log_and_the_run_history(
    page, olivia, connected, make_invoice, run_sync
):
    make_invoice(number="INV-1", status=Invoice.Status.APPROVED)
    run_sync(connected.company)
    log_in(page, olivia)
    page.goto(f"/companies/{connected.company_id}/sync/messages/")
    assert "create" in page.inner_text("table")
    shot(page, "message-log")
    page.goto(f"/companies/{connected.company_id}/sync/history/")
    assert "Succeeded" in page.inner_text("table")
    shot(page, "run-history")
    page.goto(f"/companies/{connected.company_id}/integrations/quickbooks/")
    shot(page, "integration")
