from __future__ import annotations

import pytest
from django.urls import reverse

URL = reverse("sync_engine:overview")


def test_it_sends_an_anonymous_visitor_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_the_companies_of_the_users_group(client, alice, acme_north, acme_south, beta_one):
    client.force_login(alice)
    response = client.get(URL)
    names = [company.name for company in response.context["companies"]]
    assert names == ["Acme North", "Acme South"]


def test_it_never_shows_another_groups_companies(client, charlie, acme_north, beta_one):
    client.force_login(charlie)
    response = client.get(URL)
    assert [company.name for company in response.context["companies"]] == ["Beta One"]
    assert b"Acme North" not in response.content


def test_it_counts_companies_per_status_in_tiles(client, bob, acme_north, acme_south):
    client.force_login(bob)
    tiles = {tile["status"]: tile["count"] for tile in client.get(URL).context["tiles"]}
    assert tiles["not_connected"] == 2
    assert sum(tiles.values()) == 2


def test_it_shows_the_status_as_text_not_only_colour(client, olivia, acme_north):
    client.force_login(olivia)
    assert b"Not connected" in client.get(URL).content


def test_it_tells_a_user_without_a_group_what_to_do(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert b"not a member of any group" in client.get(URL).content


@pytest.mark.parametrize("path", ["/accounts/login/"])
def test_it_serves_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content


def _connected(company, **fields):
    from django.utils import timezone

    from quickbooks_link.models import QuickBooksConnection

    now = timezone.now()
    return QuickBooksConnection.objects.create(
        company=company, realm_id=f"r{company.pk}", connected_at=now, **fields
    )


def test_it_filters_the_list_by_a_tile(client, alice, acme_north, acme_south):
    _connected(acme_south)  # connected, onboarding unfinished
    client.force_login(alice)
    response = client.get(URL, {"status": "incomplete_onboarding"})
    assert [c.name for c in response.context["companies"]] == ["Acme South"]
    assert sum(t["count"] for t in response.context["tiles"]) == 2  # tiles still count everyone


def test_it_filters_by_several_statuses_at_once(client, alice, acme_north, acme_south, acme):
    from companies.models import Company

    third = Company.objects.create(group=acme, name="Acme West")
    _connected(acme_south)
    _connected(third, reconnect_required_at=acme_south.created_at)
    client.force_login(alice)
    response = client.get(URL, {"status": ["not_connected", "needs_reconnecting"]})
    assert [c.name for c in response.context["companies"]] == ["Acme North", "Acme West"]


def test_it_ignores_statuses_it_does_not_know(client, alice, acme_north):
    client.force_login(alice)
    assert [c.name for c in client.get(URL, {"status": "bogus"}).context["companies"]] == [
        "Acme North"
    ]


def test_it_offers_each_companys_actions(client, olivia, acme_north):
    client.force_login(olivia)
    html = client.get(URL).content.decode()
    for text in ("View Results", "Start Sync", "Integration Settings", "View message log"):
        assert text in html


def test_it_serves_the_live_part_with_the_same_filters(client, alice, acme_north, acme_south):
    client.force_login(alice)
    response = client.get(reverse("sync_engine:overview_body"), {"status": "not_connected"})
    assert response.templates[0].name == "sync_engine/_overview_body.html"
    assert len(response.context["companies"]) == 2


def test_it_uses_the_same_number_of_queries_for_many_companies(client, alice, acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from companies.models import Company

    client.force_login(alice)

    def queries_for(count: int) -> int:
        Company.objects.bulk_create(
            Company(group=acme, name=f"Company {Company.objects.count() + n}") for n in range(count)
        )
        client.get(URL)  # a first visit may save the session (the current company): not counted
        with CaptureQueriesContext(connection) as captured:
            client.get(URL)
        return len(captured)

    assert queries_for(5) == queries_for(200)
