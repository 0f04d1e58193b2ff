"""A real Celery worker consumes a real task from a real broker and changes the database.

One worker runs on Redis (production's broker); one on kombu's filesystem transport (what
`make run` uses with no server).
"""

import time
from datetime import timedelta

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _app(broker_url, transport_options=None):
    # not the current app: later tests' .delay() must keep running inline (eager), not go to this broker
    app = Celery("mendian-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = transport_options or {}
    app.conf.task_always_eager = False
    app.autodiscover_tasks()
    return app


def _expired_session():
    return Session.objects.create(
        session_key="expired-session-key-0123456789",
        session_data="",
        expire_date=timezone.now() - timedelta(days=1),
    )


def _wait_until(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _run_through_worker(app):
    _expired_session()
    live = Session.objects.create(
        session_key="live-session-key-0123456789", session_data="", expire_date=timezone.now() + timedelta(days=1)
    )
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        app.send_task("members.tasks.clear_expired_sessions")
        done = _wait_until(lambda: not Session.objects.filter(session_key__startswith="expired").exists())
    assert done, "the worker did not run the task within 30 s"
    assert Session.objects.filter(pk=live.pk).exists()


@pytest.mark.redis
def test_worker_on_redis_runs_a_task():
    _run_through_worker(_app(settings.REDIS_URL))


def test_worker_on_the_filesystem_broker_runs_a_task(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
        "control_folder": str(tmp_path / "control"),
    }
    _run_through_worker(_app("filesystem://", options))


def test_beat_schedule_names_registered_tasks():
    from config.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
