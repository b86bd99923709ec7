"""Finding the real services (Redis, the broker) a test may need."""

from __future__ import annotations

import os


def redis_url_or_reason() -> tuple[str | None, str]:
    url = os.getenv("REDIS_URL") or os.getenv("CELERY_BROKER_URL", "")
    if not url.startswith(("redis://", "rediss://")):
        return None, "set CELERY_BROKER_URL=redis://… (or REDIS_URL) to run this test"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return None, f"{url} does not answer: {exc}"
    return url, ""
