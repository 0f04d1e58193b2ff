import json
from unittest import mock

import pytest
from django.db.utils import OperationalError

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_all_up_is_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


def test_cache_down_is_503_naming_the_cache(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["cache"]
    assert body["checks"]["database"] == "ok"


def test_broker_down_is_503_naming_the_broker(client):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        celery_app.conf.broker_url = original
    assert response.status_code == 503
    assert json.loads(response.content)["down"] == ["broker"]


def test_database_down_is_503_naming_the_database(client):
    with mock.patch("core.health.connection") as conn:
        conn.cursor.side_effect = OperationalError("connection refused")
        response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["database"]
    assert "connection refused" not in response.content.decode()
