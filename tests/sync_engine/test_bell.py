"""The sync bell in the quick-links bar, and Start Sync."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quickbooks_link.models import QuickBooksConnection
from sync_engine.models import Direction, Entity, SyncItemResult, SyncRun, SyncRunProgress
from sync_engine.selectors import bell_state


@pytest.fixture
def ready(acme_north) -> QuickBooksConnection:
    now = timezone.now()
    return QuickBooksConnection.objects.create(
        company=acme_north, realm_id="1", connected_at=now, onboarded_at=now,
        sync_from_date=datetime.date(2025, 1, 1),
    )  # fmt: skip


def _run(company, status, **fields) -> SyncRun:
    finished = timezone.now() if status in SyncRun.FINISHED else None
    return SyncRun.objects.create(company=company, trigger="manual", status=status,
                                  finished_at=finished, **fields)  # fmt: skip


def _failure(run) -> SyncItemResult:
    return SyncItemResult.objects.create(
        run=run, company=run.company, entity=Entity.INVOICE, record_label="INV-9",
        direction=Direction.OUTGOING, outcome="failed", explanation="The books are closed.",
    )  # fmt: skip


class TestFlags:
    def test_it_has_no_flag_before_any_sync(self, ready):
        assert bell_state(company=ready.company).flag == "none"

    def test_it_is_blue_after_a_clean_sync(self, ready):
        _run(ready.company, "succeeded")
        assert (bell_state(company=ready.company).flag, bell_state(company=ready.company).text) == (
            "blue",
            "Synced",
        )

    def test_it_is_orange_while_a_running_sync_has_found_errors(self, ready):
        _failure(_run(ready.company, "running"))
        assert bell_state(company=ready.company).flag == "orange"

    def test_it_is_red_when_the_last_sync_left_errors(self, ready):
        _failure(_run(ready.company, "succeeded_with_errors"))
        state = bell_state(company=ready.company)
        assert (state.flag, state.text) == ("red", "Last sync finished with errors")
        assert [e.record_label for e in state.latest_errors] == ["INV-9"]

    def test_it_is_red_when_the_last_sync_did_not_complete(self, ready):
        _run(ready.company, "failed")
        assert bell_state(company=ready.company).text == "Last sync did not complete"

    def test_it_says_an_unconnected_company_does_not_sync(self, client, bob, acme_north):
        state = bell_state(company=acme_north)
        assert (state.flag, state.can_sync) == ("none", False)
        client.force_login(bob)
        html = client.get(reverse("sync_engine:bell", args=[acme_north.pk])).content.decode()
        assert "connect and onboard QuickBooks first" in html and "Start Sync" not in html


def test_it_shows_which_entities_are_syncing_and_keeps_polling(client, bob, acme_north):
    run = _run(acme_north, "running")
    SyncRunProgress.objects.create(run=run, entity=Entity.INVOICE, total=400, done=120)
    client.force_login(bob)
    html = client.get(reverse("sync_engine:bell", args=[acme_north.pk])).content.decode()
    assert "Invoices 120 / 400" in html
    assert "every 2s" in html and "spinning" in html


def test_it_stops_polling_when_nothing_runs(client, bob, ready):
    _run(ready.company, "succeeded")
    client.force_login(bob)
    html = client.get(reverse("sync_engine:bell", args=[ready.company_id])).content.decode()
    assert "hx-trigger" not in html and "Synced" in html


@pytest.mark.parametrize("user", ["bob", "olivia", "alice"])
def test_it_lets_every_role_start_a_sync(
    client, request, user, ready, django_capture_on_commit_callbacks
):
    person = request.getfixturevalue(user)
    client.force_login(person)
    enqueue = mock.patch("sync_engine.tasks.sync_company.apply_async")
    with enqueue, django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("sync_engine:start", args=[ready.company_id]), {"next": "/"})
    run = SyncRun.objects.get(company=ready.company)
    assert (run.trigger, run.requested_by) == ("manual", person)


def test_it_answers_htmx_with_the_bell_itself(client, bob, ready):
    client.force_login(bob)
    with mock.patch("sync_engine.tasks.sync_company.apply_async"):
        response = client.post(
            reverse("sync_engine:start", args=[ready.company_id]),
            {"open": "1"},
            HTTP_HX_REQUEST="true",
        )
    assert 'id="sync-bell"' in response.content.decode()


def test_it_explains_that_an_unconnected_company_cannot_sync(client, bob, acme_north):
    client.force_login(bob)
    response = client.post(reverse("sync_engine:start", args=[acme_north.pk]), follow=True)
    assert "cannot sync until it is connected and onboarded" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_it_never_redirects_off_site(client, bob, ready):
    client.force_login(bob)
    with mock.patch("sync_engine.tasks.sync_company.apply_async"):
        response = client.post(reverse("sync_engine:start", args=[ready.company_id]),
                               {"next": "https://evil.example/"})  # fmt: skip
    assert response["Location"] == "/"


def test_it_refuses_a_post_without_a_csrf_token(bob, ready):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(reverse("sync_engine:start", args=[ready.company_id])).status_code == 403


def test_it_hides_another_groups_company(client, charlie, acme_north):
    client.force_login(charlie)
    assert client.get(reverse("sync_engine:bell", args=[acme_north.pk])).status_code == 404
    assert client.post(reverse("sync_engine:start", args=[acme_north.pk])).status_code == 404


class TestSwitcher:
    def test_it_switches_the_current_company(self, client, alice, acme_north, acme_south):
        client.force_login(alice)
        client.post(reverse("companies:switch"), {"company": acme_south.pk, "next": "/"})
        assert client.get("/").context["current_company"].pk == acme_south.pk

    def test_it_refuses_another_groups_company(self, client, charlie, acme_north):
        client.force_login(charlie)
        response = client.post(reverse("companies:switch"), {"company": acme_north.pk})
        assert response.status_code == 404
