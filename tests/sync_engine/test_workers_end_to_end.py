"""Real Celery worker processes run syncs requested by the operators' command.

Three workers at once consume from the broker the app is configured with (Redis in CI, the
filesystem transport elsewhere) against the test database, and sync three companies into the
sandbox. Every invoice must land once, whichever worker took which run.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from companies.models import ChargeCode, Company, Invoice, InvoiceLine, Tenant
from companies.services import document_totals_refresh
from quickbooks_link import client as qbo_client
from quickbooks_link.models import ExternalLink, QuickBooksConnection
from quickbooks_link.onboarding import reference_refresh, references
from sync_engine.models import SyncRun

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db_connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def worker_env(qbo, tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "QBO_ENVIRONMENT": "local",
        "QBO_SANDBOX_URL": qbo.url,
        "VAR_DIR": str(tmp_path),  # the filesystem broker's folders, when there is no Redis
        "SYNC_TRANSIENT_RETRIES": "3",
    }
    return env


@pytest.fixture
def workers(worker_env):
    args = [sys.executable, "-m", "celery", "-A", "released_sync", "worker", "--concurrency", "1",
            "--queues", "on_demand,bulk", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]  # fmt: skip
    processes = [
        subprocess.Popen(
            [*args, "-n", f"e2e{n}@%h"],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(3)
    ]
    yield processes
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _company_with_invoices(group, qbo, index: int, count: int) -> Company:
    company = Company.objects.create(group=group, name=f"Worker Co {index}")
    realm = qbo.control(
        "POST", "realms", {"name": f"Worker Books {index}", "custom_txn_numbers": True}
    )
    tokens = qbo.control("POST", f"realms/{realm['realm_id']}/tokens")
    now = timezone.now()
    connection = QuickBooksConnection.objects.create(
        company=company, realm_id=realm["realm_id"], access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"], access_token_expires_at=now + datetime.timedelta(hours=1),
        connected_at=now, onboarded_at=now, sync_from_date=datetime.date(2025, 1, 1), qbo_country="US",
        qbo_preferences={"custom_txn_numbers": True},
    )  # fmt: skip
    reference_refresh(connection=connection)
    rent = ChargeCode.objects.create(company=company, code="RENT", name="Rent")
    ExternalLink.objects.create(company=company, qbo_entity="Item", charge_code=rent,
                                qbo_id=references(company, "Item").get(name="Rent").qbo_id)  # fmt: skip
    tenant = Tenant.objects.create(company=company, name=f"Tenant {index}")
    for number in range(count):
        invoice = Invoice.objects.create(
            company=company,
            number=f"INV-{number:04d}",
            tenant=tenant,
            currency="USD",
            issue_date=datetime.date(2026, 1, 1),
            due_date=datetime.date(2026, 1, 15),
            status="approved",
        )
        InvoiceLine.objects.create(invoice=invoice, charge_code=rent, unit_amount=100 + number)
        document_totals_refresh(document=invoice)
    SyncRun.objects.filter(company=company).delete()  # saves queued on-demand runs; start clean
    return company


def test_it_syncs_several_companies_on_several_workers_exactly_once(acme, qbo, workers, worker_env):
    companies = [_company_with_invoices(acme, qbo, index, count=12) for index in range(3)]
    result = subprocess.run(
        [sys.executable, "manage.py", "sync", "--all", "--wait", "--timeout", "120"],
        cwd=ROOT, env=worker_env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for company in companies:
        connection = QuickBooksConnection.objects.get(company=company)
        api = qbo_client.api_client(access_token=connection.access_token,
                                    refresh_token=connection.refresh_token, realm_id=connection.realm_id)  # fmt: skip
        numbers = [
            row["DocNumber"]
            for row in qbo_client.query(api, "SELECT * FROM Invoice MAXRESULTS 100")
        ]
        assert sorted(numbers) == [f"INV-{n:04d}" for n in range(12)]
    workers_used = set(
        SyncRun.objects.filter(company__in=companies).values_list("worker", flat=True)
    )
    assert all(workers_used)
