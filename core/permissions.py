"""A staff member's permissions, read from the shared cache instead of two queries on every page.

Django's ModelBackend loads every permission a user holds (their own and their groups', two
queries) the first time a request asks `has_perm`, and every back-office page asks: the menu
alone checks a dozen. `CachedPermissionsBackend` keeps that set in the cache under the user's id,
stamped with the cache's permissions token; any change that can alter anyone's permissions (a
user's own permissions or groups, a group's permissions, a group, permission or content type
saved or deleted, a staff member's store assignments) replaces the token, so every stored set is
ignored from then on and read again from the database. The token is replaced at once and again
when the change commits: a request that read the old rows while the change was still open
cannot leave its stale set standing under the new token.

A superuser's set is stored with that flag and not reused if the flag changed; an inactive user
has none, as in ModelBackend. With Redis down (core.cache) every read misses and the backend
behaves exactly like ModelBackend; when Redis answers again the token is replaced (a change made
meanwhile could not replace it).
"""

import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .cache import cache_recovered

TOKEN_KEY = "perms:token"
ENTRY_TIMEOUT = 60 * 60  # a safety net only: the token is what makes a stored set stale


def _entry_key(user_id):
    return f"perms:user:{user_id}"


def _replace_token():
    cache.set(TOKEN_KEY, uuid.uuid4().hex, timeout=None)


def permissions_changed(**_kwargs):
    """Forget every stored permission set: now, and once more when the current transaction commits.
    Connected to the auth models' signals below; other apps call it for changes of their own that
    decide what staff may see (stores: a staff member's store assignments)."""
    _replace_token()
    transaction.on_commit(_replace_token)


class CachedPermissionsBackend(ModelBackend):
    """ModelBackend whose `get_all_permissions` reads the set from the cache (see the module). It
    only answers permission questions (and loads the user of a session it is named in): logging
    in stays with the backends after it, so it never checks a password a second time."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = self._cached(user_obj)
        return user_obj._perm_cache

    def _cached(self, user_obj):
        key = _entry_key(user_obj.pk)
        found = cache.get_many([TOKEN_KEY, key])
        token, entry = found.get(TOKEN_KEY), found.get(key)
        superuser = bool(user_obj.is_superuser)
        if entry is not None and token is not None and entry[0] == token and entry[1] == superuser:
            return set(entry[2])
        perms = super().get_all_permissions(user_obj)
        if token is None:  # no token yet (a fresh cache): make one, so that the set can be stored
            _replace_token()
            token = cache.get(TOKEN_KEY)
        if token is not None:
            cache.set(key, (token, superuser, sorted(perms)), timeout=ENTRY_TIMEOUT)
        return perms


def _replace_token_after_outage(sender, **_kwargs):
    """A change made while Redis was down could not replace the token: the sets stored before it
    must not come back with Redis."""
    _replace_token()


def connect_signals():
    """Every change of Django's own permission data replaces the token (core.apps.ready)."""
    User = get_user_model()
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(permissions_changed, sender=through, dispatch_uid=f"core.permissions.{through._meta.label}")
    for model in (Group, Permission, ContentType):
        for signal in (post_save, post_delete):
            signal.connect(permissions_changed, sender=model,
                           dispatch_uid=f"core.permissions.{signal is post_save}.{model._meta.label}")
    cache_recovered.connect(_replace_token_after_outage, dispatch_uid="core.permissions.recovered")


def grant_new_model_permissions(group, app_label, plan, using="default"):
    """Give `group` the permissions of every model of `app_label` that a migration of this migrate
    run created (post_migrate's `plan`), so a group made by an earlier release also gets a model
    added since (a photo gallery, a refund queue). Permissions of older models are left as the
    merchant set them: one taken away from the group stays away."""
    from django.db.migrations.operations import CreateModel

    created = {
        operation.name_lower
        for migration, backwards in plan or ()
        if not backwards and migration.app_label == app_label
        for operation in migration.operations
        if isinstance(operation, CreateModel)
    }
    if created:
        group.permissions.add(*Permission.objects.using(using).filter(
            content_type__app_label=app_label, content_type__model__in=created))
