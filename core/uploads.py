"""A failed upload leaves no file behind.

Two ways a file could outlive the save it belonged to, and what closes each:

- the write itself fails half-way (disk full, the upload stream breaks): core.storage.MediaStorage
  writes to a hidden temporary file beside the target and renames it into place only once it is
  complete, removing the temporary file otherwise;
- the file is complete but its row never is: Django writes a FileField's file before the row
  that names it (in pre_save), so a transaction that then rolls back (the INSERT fails, a later
  step of the same service raises, the commit itself fails) would leave a file nothing names.
  An `ImageField` (core.images) reports every file it saves to the current upload scope; when the
  scope ends, after the view and every transaction in it, a file whose row does not name it is
  deleted from storage.

Each request is one scope (UploadCleanupMiddleware, first in MIDDLEWARE); code outside a request
that uploads (a command, a task) can use ``with uploads.scope():``. A scope inside another one
joins it: the outermost decides, once everything has committed or rolled back.
"""

import contextvars
import logging
from contextlib import contextmanager

from django.db import DatabaseError, router
from django.db.transaction import TransactionManagementError

log = logging.getLogger(__name__)

_pending = contextvars.ContextVar("core_uploads_pending", default=None)


def saved(instance, field, name):
    """Called by core.images when `name` was written to `field`'s storage for `instance`."""
    pending = _pending.get()
    if pending is not None and name:
        pending.append((instance, field, name))


@contextmanager
def scope():
    if _pending.get() is not None:
        yield
        return
    pending = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if pending:
            remove_unreferenced(pending)


def remove_unreferenced(pending):
    """Delete each saved file whose row does not name it (any more, or never did)."""
    for instance, field, name in pending:
        try:
            named = _row_names(instance, field, name)
        except (DatabaseError, TransactionManagementError):
            log.warning("could not check whether %s is still used; keeping it", name, exc_info=True)
            continue
        if named:
            continue
        try:
            field.storage.delete(name)
            log.info("removed %s: the row it was uploaded for was not saved", name)
        except Exception:
            log.exception("could not remove %s, an upload whose row was not saved", name)


def _row_names(instance, field, name):
    if instance.pk is None:
        return False
    model = type(instance)
    database = router.db_for_write(model, instance=instance)
    return model._base_manager.using(database).filter(pk=instance.pk, **{field.attname: name}).exists()


class UploadCleanupMiddleware:
    """Runs each request in an upload scope (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with scope():
            return self.get_response(request)
