"""Tokens are encrypted at rest: what the database holds is never the token."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from quickbooks_link.fields import _fernet
from quickbooks_link.models import QuickBooksConnection

ACCESS = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.access-token-value"
REFRESH = "AB11700000000refresh-token-value"


def _raw_columns(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM quickbooks_link_quickbooksconnection "
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


@pytest.fixture
def stored(acme_north) -> QuickBooksConnection:
    return QuickBooksConnection.objects.create(
        company=acme_north, access_token=ACCESS, refresh_token=REFRESH
    )


def test_it_stores_ciphertext_not_the_token(stored):
    raw_access, raw_refresh = _raw_columns(stored.pk)
    assert ACCESS not in raw_access
    assert REFRESH not in raw_refresh
    assert raw_access.startswith("gAAAAA")  # a Fernet token


def test_it_reads_back_the_plaintext(stored):
    fresh = QuickBooksConnection.objects.get(pk=stored.pk)
    assert (fresh.access_token, fresh.refresh_token) == (ACCESS, REFRESH)


def test_it_encrypts_the_same_token_differently_each_time(stored, acme_south):
    other = QuickBooksConnection.objects.create(company=acme_south, access_token=ACCESS)
    assert _raw_columns(stored.pk)[0] != _raw_columns(other.pk)[0]


def test_it_keeps_an_empty_token_empty(acme_north):
    empty = QuickBooksConnection.objects.create(company=acme_north)
    assert _raw_columns(empty.pk) == ("", "")


def test_it_still_decrypts_after_a_key_rotation(stored, settings):
    old_keys = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    _fernet.cache_clear()
    assert QuickBooksConnection.objects.get(pk=stored.pk).refresh_token == REFRESH


def test_it_fails_loudly_when_the_key_is_wrong(stored, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        QuickBooksConnection.objects.get(pk=stored.pk)
