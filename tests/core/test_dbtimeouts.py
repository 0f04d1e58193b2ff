"""Web connections start with the short DB_LOCK/STATEMENT timeouts (settings OPTIONS); the Celery
worker and manage.py commands switch theirs to the longer DB_TASK_* ones (core.dbtimeouts)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created

from core import dbtimeouts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def current():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        return cursor.fetchone()


def as_ms(value):
    number = int("".join(ch for ch in value if ch.isdigit()))
    return number * {"ms": 1, "s": 1000, "min": 60000}[value.lstrip("0123456789")] if number else 0


@pytest.fixture
def task_process():
    yield
    dbtimeouts._task_process = False
    connection_created.disconnect(dispatch_uid="core.dbtimeouts")
    connection.close()


def test_web_connections_have_the_short_timeouts():
    assert [as_ms(v) for v in current()] == [settings.DB_LOCK_TIMEOUT_MS, settings.DB_STATEMENT_TIMEOUT_MS]


def test_the_celery_worker_switches_to_the_task_timeouts(task_process):
    from celery.signals import celeryd_init

    import config.celery  # noqa: F401 - connects its celeryd_init receiver

    current()  # a connection already open when the worker starts
    celeryd_init.send(sender="worker@test", instance=None, conf=None, options={})
    assert [as_ms(v) for v in current()] == [settings.DB_TASK_LOCK_TIMEOUT_MS, settings.DB_TASK_STATEMENT_TIMEOUT_MS]
    connection.close()  # and every connection it opens later
    assert [as_ms(v) for v in current()] == [settings.DB_TASK_LOCK_TIMEOUT_MS, settings.DB_TASK_STATEMENT_TIMEOUT_MS]
    assert settings.DB_TASK_STATEMENT_TIMEOUT_MS > settings.DB_STATEMENT_TIMEOUT_MS


def test_manage_py_commands_run_with_the_task_timeouts():
    code = ("from django.db import connection; c = connection.cursor(); "
            "c.execute(\"SELECT current_setting('statement_timeout')\"); print(c.fetchone()[0])")
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "DB_TASK_STATEMENT_TIMEOUT_MS": "123000"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "123s"
