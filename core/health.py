"""Reachability checks for /healthz: each returns None when fine, or a short reason."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection

log = logging.getLogger(__name__)


def check_database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        log.warning("healthz: database down: %s", exc)
        return type(exc).__name__
    return None


def check_cache():
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        ok = cache.get(key) == "1"
        cache.delete(key)
    except Exception as exc:
        log.warning("healthz: cache down: %s", exc)
        return type(exc).__name__
    return None if ok else "read-back failed"


def check_broker():
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            conn.default_channel  # noqa: B018 (opening a channel proves the transport works)
    except Exception as exc:
        log.warning("healthz: broker down: %s", exc)
        return type(exc).__name__
    return None


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def run_checks():
    return {name: check() for name, check in CHECKS.items()}
