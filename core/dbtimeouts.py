"""PostgreSQL timeouts for the worker and for manage.py commands.

Every connection starts with the web's short DB_LOCK_TIMEOUT_MS and DB_STATEMENT_TIMEOUT_MS
(DATABASES OPTIONS in settings: no extra round trip per request). A Celery worker or a command
(settlement, reconciliation, migrations, imports) may lawfully wait longer: `use_task_timeouts()`,
called when a worker starts (config/celery.py) and by manage.py, gives every connection of the
process DB_TASK_LOCK_TIMEOUT_MS and DB_TASK_STATEMENT_TIMEOUT_MS instead, set once per connection
when it opens (and on those already open), so each task runs under them without a query of its own.
SQLite has no such settings; nothing is done there.
"""

from django.db.backends.signals import connection_created

_task_process = False


def set_task_timeouts(connection):
    from django.conf import settings

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
            [str(max(settings.DB_TASK_LOCK_TIMEOUT_MS, 0)), str(max(settings.DB_TASK_STATEMENT_TIMEOUT_MS, 0))],
        )


def _on_connection_created(sender, connection, **kwargs):
    if _task_process:
        set_task_timeouts(connection)


def use_task_timeouts(**_signal_kwargs):
    """From now on this process's database connections use the task timeouts (idempotent)."""
    global _task_process
    if _task_process:
        return
    _task_process = True
    connection_created.connect(_on_connection_created, dispatch_uid="core.dbtimeouts")
    from django.apps import apps

    if not apps.ready:
        return  # no connection is open before Django is set up
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.in_atomic_block:
            set_task_timeouts(connection)
