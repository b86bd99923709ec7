"""The settings module as a whole: production refuses development defaults and passes --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    inherited = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "released_sync.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _production_env(**overrides: str) -> dict[str, str]:
    return {
        "DEBUG": "False",
        "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-" + "y" * 10,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "sync.example.com",
        **overrides,
    }


def test_it_passes_the_deploy_checks_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **_production_env())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_the_development_secret_key_when_debug_is_off():
    env = _production_env()
    del env["SECRET_KEY"]
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is False" in result.stderr


def test_it_refuses_the_development_encryption_key_when_debug_is_off():
    env = _production_env()
    del env["FIELD_ENCRYPTION_KEY"]
    result = _manage("check", **env)
    assert "FIELD_ENCRYPTION_KEY must be set when DEBUG is False" in result.stderr


def test_it_refuses_a_malformed_value_at_start_up():
    result = _manage("check", DEBUG="yes")
    assert "DEBUG must be True or False, got 'yes'" in result.stderr


def test_it_refuses_a_broker_it_does_not_support():
    result = _manage("check", CELERY_BROKER_URL="amqp://guest@localhost//")
    assert "CELERY_BROKER_URL must be a redis:// URL or filesystem://" in result.stderr


def test_it_needs_real_credentials_for_intuit():
    result = _manage("check", QBO_ENVIRONMENT="production")
    assert "needs QBO_CLIENT_ID and QBO_CLIENT_SECRET" in result.stderr


def test_it_has_no_model_changes_without_a_migration():
    result = _manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
