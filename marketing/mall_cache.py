"""The points mall's item grid, rendered once per language and tab and kept until something it shows
changes: the same for every shopper (the balance above it is read for each request, never cached).

The key carries two versions: the catalogue's (catalog.cache: a SKU's image or spec, a product's
cover) and the mall's own, bumped by every writer of what a card shows:
- a PointsItem or a Coupon saved or deleted (marketing.receivers), the admin's "stop issuing"
  action (a queryset update);
- an item's exchanged count moved by an exchange or its cancellation, a coupon's issued count moved
  by a claim or a copy given back (marketing.services).
A card also changes with time alone (an item's window opens or closes, a fixed-date coupon ends):
each grid is kept with the first such moment after it was rendered, and is not served past it.

Like catalog.cache, a bump happens at once and again on commit (a request that read the new version
while still seeing the old rows cannot keep them reachable), the version is read once per request,
grids are also kept in the process's memory for LOCAL_TTL seconds (their key names their version,
so a bump still shows at once), and when Redis answers again after an outage the version is bumped,
since a change made meanwhile could not bump it. Redis down reads as a miss: the grid is rendered
from the database on every request.
"""

import threading
import time
from collections import OrderedDict

from asgiref.local import Local
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.dispatch import receiver

from catalog import cache as catalog_cache
from core.cache import cache_recovered, reachable

VERSION_KEY = "marketing:mall:version"
GRID_TIMEOUT = 300
LOCAL_TTL = 30
LOCAL_MAX_ENTRIES = 64

_local = OrderedDict()
_local_lock = threading.Lock()
_request = Local()
# the mall's head for members, per (language, kind), with a marker for the balance (marketing.views)
tops = {}


def _namespace():
    return str(connection.settings_dict.get("NAME", ""))[-40:]


def version_key():
    return f"{VERSION_KEY}:{_namespace()}"


def _start_request(**kwargs):
    _request.active, _request.versions = True, None


def _finish_request(**kwargs):
    _request.active, _request.versions = False, None


request_started.connect(_start_request, dispatch_uid="marketing.mall_cache.start")
request_finished.connect(_finish_request, dispatch_uid="marketing.mall_cache.finish")


def _read_versions():
    """(catalogue version, mall version), in one round trip when both are there."""
    names = [catalog_cache.version_key(), version_key()]
    found = cache.get_many(names)
    mall = found.get(names[1])
    if mall is None:
        mall = time.time_ns()
        cache.add(names[1], mall, None)
        mall = cache.get(names[1], mall)
    catalogue = found.get(names[0])
    if catalogue is None:
        catalogue = catalog_cache.version()
    return catalogue, mall


def versions():
    """Read once per request (outside one, e.g. in a shell, every time)."""
    if not getattr(_request, "active", False):
        return _read_versions()
    cached = getattr(_request, "versions", None)
    if cached is None:
        cached = _request.versions = _read_versions()
    return cached


def bump():
    """A new mall version now and once the surrounding transaction commits (see catalog.cache.bump)."""
    _set_new_version()
    if connection.in_atomic_block:
        transaction.on_commit(_set_new_version)


def _set_new_version():
    cache.set(version_key(), time.time_ns(), None)
    _request.versions = None


@receiver(cache_recovered, dispatch_uid="marketing.mall_cache.recovered")
def _bump_after_outage(sender, **kwargs):
    _set_new_version()


def grid_key(*parts):
    catalogue, mall = versions()
    return ":".join(str(p) for p in ("marketing:mall:grid", _namespace(), catalogue, mall, *parts))


def get(name):
    """The kept grid (html) for this key, or None: from process memory, else the shared cache; never
    one whose time has passed (an item's window, a coupon's end)."""
    now = time.time()
    with _local_lock:
        hit = _local.get(name)
    if hit is not None and hit[0] > time.monotonic() and hit[1][1] > now:
        return hit[1][0]
    value = cache.get(name)
    if value is None or value[1] <= now:
        return None
    _remember(name, value)
    return value[0]


def set(name, html, good_until):  # noqa: A001 - mirrors the cache API
    """Keep a grid until `good_until` (epoch seconds; the next moment a card changes by itself)."""
    value = (html, good_until)
    timeout = max(1, min(GRID_TIMEOUT, int(good_until - time.time()) + 1))
    cache.set(name, value, timeout)
    if reachable() and not settings.DEBUG:
        _remember(name, value)


def _remember(name, value):
    with _local_lock:
        _local[name] = (time.monotonic() + LOCAL_TTL, value)
        _local.move_to_end(name)
        while len(_local) > LOCAL_MAX_ENTRIES:
            _local.popitem(last=False)


def clear_local():
    with _local_lock:
        _local.clear()
        tops.clear()
