"""Reachability checks for /healthz: each returns None when fine, or a short reason."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection, transaction

log = logging.getLogger(__name__)


# /healthz must answer while a sale piles up on a hot row: its query touches no table (nothing it
# could wait behind) and gives up after this long even when the server itself is stuck.
HEALTH_STATEMENT_TIMEOUT_MS = 1000


def check_database():
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # local to this transaction: the connection keeps its own timeouts afterwards
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(HEALTH_STATEMENT_TIMEOUT_MS)])
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
