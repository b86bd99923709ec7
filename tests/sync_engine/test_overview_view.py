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
