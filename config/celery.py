"""The Celery app. Settings come from Django's (CELERY_* names); tasks from each app's tasks.py."""

import os

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mendian")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def _task_database_timeouts(**kwargs):
    """Tasks run under the longer DB_TASK_* lock and statement timeouts (core.dbtimeouts). Sent
    by `celery worker` only, before it forks its pool (the children inherit it); a worker a test
    starts inside pytest keeps the web's timeouts."""
    from core.dbtimeouts import use_task_timeouts

    use_task_timeouts()
