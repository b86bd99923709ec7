"""Run history, the message log, and the sync panel of the integration page."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from quickbooks_link.models import QuickBooksConnection
from sync_engine.models import Entity, SyncMessage, SyncRun, SyncRunProgress
from sync_engine.selectors import next_automatic_sync


def _run(company, user=None) -> SyncRun:
    now = timezone.now()
    run = SyncRun.objects.create(company=company, trigger="manual", requested_by=user, status="succeeded",
                                 started_at=now - datetime.timedelta(seconds=42), finished_at=now)  # fmt: skip
    SyncRunProgress.objects.create(
        run=run, entity=Entity.INVOICE, total=3, done=3, created=2, skipped=1
    )
    return run


def test_it_lists_every_run_with_its_trigger_counts_and_outcome(client, bob, acme_north, alice):
    _run(acme_north, user=alice)
    client.force_login(bob)
    html = client.get(reverse("sync_engine:history", args=[acme_north.pk])).content.decode()
    assert "Manual" in html and "by alice" in html
    assert "Invoices: 2 created, 0 updated, 1 skipped, 0 failed" in html
    assert "Succeeded" in html and "0:00:42" in html


def test_it_shows_the_message_log_to_ops_and_finance_admins_only(client, olivia, bob, acme_north):
    SyncMessage.objects.create(company=acme_north, entity=Entity.INVOICE, record_label="INV-7",
                               direction="outgoing", operation="create", http_status=200,
                               request_id="1-abc", outcome="ok", text="OK")  # fmt: skip
    url = reverse("sync_engine:messages", args=[acme_north.pk])
    client.force_login(olivia)
    html = client.get(url, {"record": "INV-7"}).content.decode()
    assert "INV-7" in html and "1-abc" in html
    client.force_login(bob)
    assert client.get(url).status_code == 403


def test_it_hides_another_groups_history_and_log(client, charlie, acme_north):
    client.force_login(charlie)
    assert client.get(reverse("sync_engine:history", args=[acme_north.pk])).status_code == 404
    assert client.get(reverse("sync_engine:messages", args=[acme_north.pk])).status_code == 404


def test_it_knows_the_next_automatic_sync_from_the_editable_schedule(db):
    task = PeriodicTask.objects.get(task="sync_engine.tasks.sync_all_companies")
    task.last_run_at = timezone.now() - datetime.timedelta(minutes=5)
    task.save()
    assert abs(
        next_automatic_sync() - (task.last_run_at + datetime.timedelta(minutes=20))
    ) < datetime.timedelta(seconds=1)


def test_it_shows_last_and_next_sync_and_a_sync_button_on_the_integration_page(
    client, alice, acme_north
):
    now = timezone.now()
    QuickBooksConnection.objects.create(company=acme_north, realm_id="1", connected_at=now,
                                        onboarded_at=now, sync_from_date=datetime.date(2025, 1, 1))  # fmt: skip
    _run(acme_north)
    client.force_login(alice)
    html = client.get(reverse("quickbooks_link:integration", args=[acme_north.pk])).content.decode()
    assert "Last successful sync" in html and "Next scheduled sync" in html
    assert reverse("sync_engine:start", args=[acme_north.pk]) in html
    assert reverse("sync_engine:messages", args=[acme_north.pk]) in html


def test_it_charts_items_and_errors_per_run_over_30_days(client, alice, acme_north):
    from sync_engine.templatetags.sync_tags import runs_chart_svg

    _run(acme_north)
    old = _run(acme_north)
    SyncRun.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=31)
    )
    chart = runs_chart_svg(acme_north)
    assert [(bar["items"], bar["errors"]) for bar in chart["bars"]] == [(3, 0)]
    assert chart["bars"][0]["height"] == chart["height"]  # the tallest bar fills the chart
    client.force_login(alice)
    html = client.get(reverse("quickbooks_link:integration", args=[acme_north.pk])).content.decode()
    assert "<svg" in html and "3 items, 0 errors" in html
