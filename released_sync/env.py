"""Strict readers for configuration taken from environment variables.

Every reader fails loudly with `ImproperlyConfigured` on a malformed value: a typo in production
configuration must stop the process at start-up, not surface later as odd behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str) -> str:
    return os.getenv(name, default)


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default)
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, got {value!r}")
    return value == "True"


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None


def envfloat(name: str, default: str) -> float:
    value = os.getenv(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.getenv(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def envsecret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = os.getenv(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points at an unreadable file: {exc}") from None
    return os.getenv(name, default)


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Web, worker and beat share one SQLite file in the demo. WAL lets readers work while a
        # writer commits, IMMEDIATE takes the write lock up front (no mid-transaction upgrade
        # deadlocks), and the timeout waits for a busy writer instead of failing at once.
        config["CONN_MAX_AGE"] = 0
        # Tests use a file too: an in-memory shared-cache database takes table locks that ignore
        # the busy timeout, so concurrency tests would fail there and nowhere else.
        # Named per process, so two test runs on one machine never share (and break) one file.
        name = Path(config["NAME"])
        if config["NAME"] != ":memory:":
            config["TEST"] = {"NAME": str(name.with_name(f"test_{os.getpid()}_{name.name}"))}
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


def fernet_keys(name: str, value: str) -> list[str]:
    """Comma-separated Fernet keys: the first encrypts, all decrypt (so keys can be rotated)."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured(f"{name} must hold at least one Fernet key")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} holds a value that is not a Fernet key "
                "(make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None
    return keys
