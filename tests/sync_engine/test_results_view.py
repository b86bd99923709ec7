"""Sync Results: filters in the URL, explanations, and the actions finance admins can take."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from quickbooks_link.models import ExternalLink
from sync_engine.models import Direction, Entity, SyncItemResult, SyncRun


@pytest.fixture
def run(acme_north) -> SyncRun:
    return SyncRun.objects.create(company=acme_north, trigger="manual", status="succeeded_with_errors",
                                  finished_at=timezone.now())  # fmt: skip


def _result(run, label, outcome="failed", entity=Entity.INVOICE, record_id=1, **fields):
    return SyncItemResult.objects.create(
        run=run, company=run.company, entity=entity, record_id=record_id, record_label=label,
        direction=Direction.OUTGOING, outcome=outcome, **fields,
    )  # fmt: skip


def _page(client, company, **params):
    return client.get(reverse("sync_engine:results", args=[company.pk]), params)


def _act(client, company, **data):
    with mock.patch("sync_engine.tasks.sync_record.apply_async"):
        return client.post(reverse("sync_engine:result_action", args=[company.pk]), data)


def test_it_lists_results_with_their_explanation_and_fix(client, bob, run):
    _result(run, "INV-9", error_code="6210", explanation="The books are closed up to 31 Mar 2025.",
            suggested_fix="Reopen the period in QuickBooks or change the invoice date.")  # fmt: skip
    client.force_login(bob)
    html = _page(client, run.company, since="2000-01-01").content.decode()
    assert "INV-9" in html and "The books are closed up to 31 Mar 2025." in html
    assert "Reopen the period" in html


def test_it_filters_by_outcome_entity_and_text(client, bob, run):
    _result(run, "INV-1")
    _result(run, "Jane Doe", outcome="created", entity=Entity.TENANT, record_id=2)
    client.force_login(bob)

    def rows(**params) -> list[str]:
        page = _page(client, run.company, since="2000-01-01", **params).context["page"]
        return [row.record_label for row in page]

    assert rows(outcome="failed") == ["INV-1"]
    assert rows(entity="tenant") == ["Jane Doe"]
    assert rows(q="jane") == ["Jane Doe"]


def test_it_defaults_to_results_since_the_last_clean_sync(client, bob, run):
    old = _result(run, "INV-OLD")
    SyncItemResult.objects.filter(pk=old.pk).update(
        attempted_at=timezone.now() - datetime.timedelta(days=10)
    )
    SyncRun.objects.create(company=run.company, trigger="automatic", status="succeeded",
                           finished_at=timezone.now() - datetime.timedelta(days=1))  # fmt: skip
    _result(run, "INV-NEW")
    client.force_login(bob)
    assert [r.record_label for r in _page(client, run.company).context["page"]] == ["INV-NEW"]


def test_it_shows_a_property_manager_no_actions(client, bob, run):
    _result(run, "INV-1")
    client.force_login(bob)
    assert "Apply to ticked" not in _page(client, run.company).content.decode()
    assert _act(client, run.company, one=f"resolve:{run.pk}").status_code == 403


def test_it_resolves_an_error(client, alice, run):
    failure = _result(run, "INV-1")
    client.force_login(alice)
    _act(client, run.company, one=f"resolve:{failure.pk}")
    failure.refresh_from_db()
    assert (failure.resolution, failure.resolved_by) == ("manual", alice)


def test_it_retries_a_record_on_demand(client, alice, run, make_invoice):
    invoice = make_invoice()
    failure = _result(run, invoice.number, record_id=invoice.pk)
    client.force_login(alice)
    _act(client, run.company, one=f"retry:{failure.pk}")
    retry = SyncRun.objects.get(record_entity=Entity.INVOICE, record_id=invoice.pk)
    assert (retry.trigger, retry.requested_by) == ("manual", alice)


def test_it_unlinks_with_a_reason_and_relinks(client, alice, run, make_invoice):
    invoice = make_invoice()
    failure = _result(run, invoice.number, record_id=invoice.pk)
    client.force_login(alice)
    _act(
        client,
        run.company,
        one=f"unlink:{failure.pk}",
        **{f"reason-{failure.pk}": "Entered by hand"},
    )
    link = ExternalLink.objects.get(invoice=invoice)
    assert (link.unlinked_reason, link.unlinked_by) == ("Entered by hand", alice)
    assert SyncItemResult.objects.get(pk=failure.pk).resolution == "unlinked"
    assert (
        "Unlinked"
        in _page(client, run.company, link="unlinked", since="2000-01-01").content.decode()
    )
    _act(client, run.company, one=f"relink:{failure.pk}")
    assert ExternalLink.objects.get(invoice=invoice).unlinked_at is None
    assert SyncRun.objects.filter(record_id=invoice.pk).exists()  # relinking sends it again


def test_it_refuses_to_unlink_without_a_reason(client, alice, run, make_invoice):
    invoice = make_invoice()
    failure = _result(run, invoice.number, record_id=invoice.pk)
    client.force_login(alice)
    response = _act(client, run.company, one=f"unlink:{failure.pk}")
    assert not ExternalLink.objects.filter(invoice=invoice, unlinked_at__isnull=False).exists()
    assert response.status_code == 302


def test_it_acts_on_several_ticked_rows_at_once(client, alice, run):
    failures = [_result(run, f"INV-{n}", record_id=n) for n in range(3)]
    client.force_login(alice)
    _act(client, run.company, action="resolve", result=[f.pk for f in failures[:2]])
    assert SyncItemResult.objects.filter(resolution="manual").count() == 2


def test_it_hides_another_groups_results(client, charlie, run):
    _result(run, "INV-1")
    client.force_login(charlie)
    assert _page(client, run.company).status_code == 404
    assert _act(client, run.company, action="resolve", result=[1]).status_code == 404


def test_it_shows_progress_and_announces_new_results_while_a_sync_runs(client, bob, acme_north):
    from sync_engine.models import SyncRunProgress

    running = SyncRun.objects.create(company=acme_north, trigger="manual", status="running")
    SyncRunProgress.objects.create(run=running, entity=Entity.INVOICE, total=10, done=4, failed=1)
    client.force_login(bob)
    page = _page(client, acme_north)
    assert "Invoices 4 / 10 · 1 failed" in page.content.decode()
    shown_at = page.context["shown_at"]
    _result(running, "INV-NEW")
    live = client.get(
        reverse("sync_engine:results_live", args=[acme_north.pk]), {"shown_at": shown_at}
    )
    html = live.content.decode()
    assert "1 new result</strong>, 1 failed" in html and "errors found so far" in html


def test_it_links_each_row_to_the_apps_record_and_its_history(client, bob, run, make_invoice):
    invoice = make_invoice(number="INV-42")
    _result(run, "INV-42", record_id=invoice.pk, explanation="The books are closed.")
    client.force_login(bob)
    url = reverse("sync_engine:record", args=[run.company_id, "invoice", invoice.pk])
    assert url in _page(client, run.company, since="2000-01-01").content.decode()
    html = client.get(url).content.decode()
    assert "INV-42" in html and "1200.00" in html and "The books are closed." in html


def test_it_hides_a_record_of_another_company(client, bob, run, make_invoice, acme_south):
    invoice = make_invoice(number="INV-43")
    client.force_login(bob)
    url = reverse("sync_engine:record", args=[acme_south.pk, "invoice", invoice.pk])
    assert client.get(url).status_code == 404
