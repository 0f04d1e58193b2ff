"""config.broker: kombu's Redis transport publishing through one redis-py client per channel and
connection pool, instead of a new client object per message; messages still arrive as kombu's own."""

import uuid

import pytest
from django.conf import settings
from kombu import Connection

from config.broker import Channel, Transport

pytestmark = pytest.mark.redis


def test_the_redis_broker_uses_it():
    assert settings.CELERY_BROKER_TRANSPORT == "config.broker:Transport"
    from config.celery import app

    with app.connection_for_write() as connection:
        assert isinstance(connection.default_channel, Channel)


def test_one_client_per_pool_and_a_new_one_for_a_new_pool():
    with Connection(settings.REDIS_URL, transport=Transport) as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first and first.connection_pool is channel.pool
        channel._disconnect_pools()  # what kombu does after the connection was lost
        again = channel._create_client()
        assert again is not first and again.connection_pool is channel.pool
        assert channel._create_client(asynchronous=True) is not again  # the consumer's client is kombu's


def test_messages_are_published_and_consumed_as_before():
    name = f"test-broker-{uuid.uuid4().hex[:8]}"
    with Connection(settings.REDIS_URL, transport=Transport) as connection:
        queue = connection.SimpleQueue(name)
        try:
            for n in range(3):
                queue.put({"n": n})
            assert len(queue) == 3
            received = []
            for _n in range(3):
                message = queue.get(timeout=2)
                received.append(message.payload["n"])
                message.ack()
            assert received == [0, 1, 2]
        finally:
            queue.clear()
            queue.close()
