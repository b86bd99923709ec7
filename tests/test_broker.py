"""A message goes through the configured Celery broker and comes back out."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from released_sync.celery import app
from tests.services import redis_url_or_reason


def _round_trip(celery_app: Celery) -> dict:
    name = f"test-round-trip-{uuid.uuid4().hex}"
    with celery_app.connection_for_write() as connection:
        queue = connection.SimpleQueue(name)
        try:
            queue.put({"hello": "broker"})
            message = queue.get(timeout=5)
            message.ack()
            return message.payload
        finally:
            queue.close()


def test_it_round_trips_a_message_through_the_configured_broker():
    assert _round_trip(app) == {"hello": "broker"}


@pytest.mark.redis
def test_it_round_trips_a_message_through_redis():
    url, _ = redis_url_or_reason()
    redis_app = Celery("round-trip", broker=url)
    assert _round_trip(redis_app) == {"hello": "broker"}
