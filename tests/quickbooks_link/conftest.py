from __future__ import annotations

import pytest

from quickbooks_link.models import QuickBooksConnection
from tests.quickbooks_link.oauth_dance import connect


@pytest.fixture
def connected(client, alice, acme_north, qbo) -> QuickBooksConnection:
    """Acme North connected by alice to a fresh sandbox realm, through the real OAuth dance."""
    realm = qbo.control("POST", "realms", {"name": "Acme North Books"})["realm_id"]
    client.force_login(alice)
    connect(client, acme_north, realm_id=realm)
    return QuickBooksConnection.objects.get(company=acme_north)
