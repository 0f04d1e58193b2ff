"""What the checkout page reads of a store that changes seldom: its opening hours (for the pickup
slots) and the express fee rules that apply to it (its own, HQ's), kept in this process under one
version for all stores.

Every write to them goes through a model's save() or delete() (the store settings page, the admin;
a queryset's delete() sends the same signals), and the signals below call `changed`: a new version at once and again when the transaction
commits, so a page built meanwhile from the rows as they were before the commit carries the first
new version and is never read after the second. The version is read from the shared cache before
the rows (one Redis round trip, instead of two queries); the rows are kept with the version they
were read under and served only while it is current. A queryset update() or bulk_create() of these
rows sends no signal: call `changed()` after one.

Only the page reads through here: placing an order reads the rows themselves (a rule changed between
the page and the submit then shows as a changed amount, as any other change does).

Redis down (core.cache: misses, writes do nothing): no version, so every page reads the rows. A
version that could not be set during the outage is why a new one is set when Redis answers again
(core.cache.cache_recovered)."""

import secrets
import threading

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.cache import cache_recovered
from core.prepared import Prepared
from stores.models import StoreHours

from .models import ExpressFeeRule

MAX_STORES = 2000  # more stores than that in one process: start again (a store's entry is tiny)

# the rows, compiled once per process (core.prepared); placing an order reads through these too
store_hours = Prepared(lambda store_id: StoreHours.objects.filter(store_id=store_id).order_by("weekday", "opens"))
express_rules = Prepared(lambda store_id: ExpressFeeRule.objects.filter(Q(store__isnull=True) | Q(store_id=store_id)))

_local = {}  # store id -> (version, hours, rules)
_lock = threading.Lock()


def _namespace():
    # one Redis may serve several databases (tests, benchmarks, a second shop): keep them apart
    return str(connection.settings_dict.get("NAME", ""))[-40:]


def version_key():
    return f"orders:store-rules:{_namespace()}:v"


def _new_token():
    return secrets.token_hex(8)


def _read_version():
    """The current version, made here when there is none yet (None while Redis is down)."""
    name = version_key()
    version = cache.get(name)
    if version is None:
        version = _new_token()
        if not cache.add(name, version, None):
            version = cache.get(name)  # another process made it first (or Redis is down: None)
    return version


def _set_new_version():
    cache.set(version_key(), _new_token(), None)


def changed():
    """The hours or express rules of some store change (in the caller's transaction, if any): no
    process serves its kept copies again, now nor after the commit."""
    _set_new_version()
    if connection.in_atomic_block:
        transaction.on_commit(_set_new_version)


def for_store(store_id):
    """(hours, rules): the store's opening hours in weekday order and the express fee rules that
    apply to it (its own and HQ's), as `store_hours` and `express_rules` read them."""
    version = _read_version()
    if version is not None:
        kept = _local.get(store_id)
        if kept is not None and kept[0] == version:
            return kept[1], kept[2]
    hours, rules = tuple(store_hours(store_id)), tuple(express_rules(store_id))
    if version is not None:
        with _lock:
            if len(_local) >= MAX_STORES:
                _local.clear()
            _local[store_id] = (version, hours, rules)
    return hours, rules


def clear_local():
    """Forget this process's copies (tests)."""
    with _lock:
        _local.clear()


@receiver(post_save, sender=StoreHours, dispatch_uid="orders.store_rules.hours_saved")
@receiver(post_delete, sender=StoreHours, dispatch_uid="orders.store_rules.hours_deleted")
@receiver(post_save, sender=ExpressFeeRule, dispatch_uid="orders.store_rules.rule_saved")
@receiver(post_delete, sender=ExpressFeeRule, dispatch_uid="orders.store_rules.rule_deleted")
def _row_changed(**kwargs):
    changed()


@receiver(cache_recovered, dispatch_uid="orders.store_rules.recovered")
def _recovered(**kwargs):
    _set_new_version()
