"""Configuration from the environment fails loudly on malformed values."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from released_sync import env


@pytest.mark.parametrize("value", ["true", "1", "yes", ""])
def test_it_refuses_booleans_other_than_true_and_false(monkeypatch, value):
    monkeypatch.setenv("SOME_FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be True or False"):
        env.envbool("SOME_FLAG", "False")


def test_it_reads_a_boolean(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "True")
    assert env.envbool("SOME_FLAG", "False") is True


def test_it_refuses_a_number_that_is_not_whole(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "3.5")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a whole number"):
        env.envint("SOME_NUMBER", "1")


def test_it_refuses_an_unknown_choice(monkeypatch):
    monkeypatch.setenv("QBO_ENVIRONMENT", "staging")
    with pytest.raises(ImproperlyConfigured, match="local, sandbox, production"):
        env.envchoice("QBO_ENVIRONMENT", "local", ("local", "sandbox", "production"))


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env.envsecret("SOME_SECRET") == "s3cret"


def test_it_refuses_an_unreadable_secret_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET_FILE"):
        env.envsecret("SOME_SECRET")


def test_it_refuses_a_database_url_it_cannot_use():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database_from_url("mongodb://localhost/x")


def test_it_reads_a_postgres_url():
    config = env.database_from_url("postgres://app:pw@db:5432/released")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["NAME"], config["USER"]) == ("db", "released", "app")


def test_it_tunes_sqlite_for_several_processes():
    config = env.database_from_url("sqlite:////tmp/x.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_it_refuses_an_encryption_key_that_is_not_a_fernet_key():
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        env.fernet_keys("FIELD_ENCRYPTION_KEY", "too-short")


def test_it_accepts_several_keys_for_rotation():
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    assert env.fernet_keys("FIELD_ENCRYPTION_KEY", ",".join(keys)) == keys


def test_it_refuses_a_number_that_is_not_a_number(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "fast")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a number"):
        env.envfloat("SOME_NUMBER", "60")
