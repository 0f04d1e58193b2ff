"""One version number for everything shoppers see of the catalogue, and a two-level fragment cache.

Cached fragments (category tree, list pages, product pages) put the version in their key; any
change that shoppers can see calls bump(), so stale entries are simply never read again and expire
on their own. The version itself is read from the shared cache (Redis in production) on every
request, so a change made in one process shows in all of them at once.

Fragments are kept in the shared cache and, for LOCAL_TTL seconds, in this process's memory: a
warm page then costs one shared-cache read (the version) instead of one per fragment. Within one
request the version is read once (a page is built from one version, and one Redis round trip is
paid, not one per fragment); outside requests (worker, shell) every call reads it afresh. Because the
key carries the version, the local copy can never outlive a change. Callers must treat returned
values as read-only (they are shared between requests of this process).

Sales figures are the one exception to "any change bumps": every order would otherwise throw
away every cached category tree, list and product page. `catalog.services.add_sales` writes the
count to the database and bumps nothing; the "已售N" of cards and product pages (and the sales sort
order of lists) comes from the fragment as it was built, so it is at most SALES_STALENESS seconds
behind the database: a fragment lives FRAGMENT_TIMEOUT seconds in the shared cache, and a copy
taken just before it expires lives LOCAL_TTL seconds more in a process, and a whole page built from
it (catalog.pagecache) PAGE_TIMEOUT seconds more. No fragment that shows
sales may be cached for longer than FRAGMENT_TIMEOUT (tests/catalog/test_sales_cache.py checks
every page). Anything that needs the exact count (orders, reports) reads `Product.sales_count`
from the database. Any other change still shows at once.

Without Redis (core.cache: an outage reads as misses) every request reads a version of its own, so
each page is built from the database and nothing is kept in process memory; when Redis answers
again the version is bumped once (core.cache.cache_recovered), because a change made during the
outage could not bump it and fragments cached before it must not be served.
"""

import threading
import time
from collections import OrderedDict

from asgiref.local import Local
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.dispatch import receiver

from core.cache import cache_recovered, reachable

VERSION_KEY = "catalog:version"
# Scheduled listing times pass without a write; the worker applies them each minute and bumps,
# and this short lifetime bounds anything cached across that gap.
FRAGMENT_TIMEOUT = 60
LOCAL_TTL = 30
LOCAL_MAX_ENTRIES = 2000
# a whole page kept for visitors (catalog.pagecache) lives at most this long, built from fragments
PAGE_TIMEOUT = 30
# how old a shown sales figure can be, in seconds (see the module docstring)
SALES_STALENESS = FRAGMENT_TIMEOUT + LOCAL_TTL + PAGE_TIMEOUT

_local = OrderedDict()
_local_lock = threading.Lock()


def _namespace():
    # one Redis may serve several databases (tests, benchmarks, a second shop): keep them apart
    return str(connection.settings_dict.get("NAME", ""))[-40:]


def version_key():
    return f"{VERSION_KEY}:{_namespace()}"


_request = Local()  # per thread (and per asyncio task): the version this request has read


def _start_request(**kwargs):
    _request.active, _request.version, _request.areas = True, None, {}


def _finish_request(**kwargs):
    _request.active, _request.version, _request.areas = False, None, {}


request_started.connect(_start_request, dispatch_uid="catalog.cache.start")
request_finished.connect(_finish_request, dispatch_uid="catalog.cache.finish")


def _read_version():
    name = version_key()
    value = cache.get(name)
    if value is None:
        value = time.time_ns()
        cache.add(name, value, None)
        value = cache.get(name, value)
    return value


def version():
    if not getattr(_request, "active", False):
        return _read_version()
    if _request.version is None:
        _request.version = _read_version()
    return _request.version


def bump():
    """A new version now, and again once the surrounding transaction commits: a request running
    meanwhile may read the first new version while it still sees the old rows, and cache stale
    fragments under it; the second bump makes those unreachable."""
    _set_new_version()
    if connection.in_atomic_block:
        transaction.on_commit(_set_new_version)


# called with no argument after each bump made in this process (catalog.pagecache checks its kept
# pages again at once)
bump_listeners = []


def _bumped():
    for listener in bump_listeners:
        listener()


def _set_new_version():
    value = time.time_ns()
    cache.set(version_key(), value, None)
    _bumped()
    if getattr(_request, "active", False):
        _request.version = value  # what this request writes, it reads back


def key(*parts):
    return "catalog:" + ":".join(str(p) for p in (_namespace(), version(), *parts))


# --- areas: a second version for content shown on one page only ---------------------------------
# HQ's home-page content (banners, notice, featured list) and the search page's hot words change
# often and are shown on one page each: they bump their own area's version, not the catalogue's,
# so that editing a banner keeps every product, list and category page cached. An area's
# fragments carry both versions (a catalogue change still reaches them: a banner's product
# delisted). Read once per request, like the catalogue version.
AREAS = ("home", "search")


def area_version_key(area):
    return f"{VERSION_KEY}:{_namespace()}:area:{area}"


def _read_area_version(area):
    name = area_version_key(area)
    value = cache.get(name)
    if value is None:
        value = time.time_ns()
        cache.add(name, value, None)
        value = cache.get(name, value)
    return value


def area_version(area):
    if area not in AREAS:
        raise ValueError(area)
    if not getattr(_request, "active", False):
        return _read_area_version(area)
    versions = getattr(_request, "areas", None)
    if versions is None:
        versions = _request.areas = {}
    if area not in versions:
        versions[area] = _read_area_version(area)
    return versions[area]


def bump_area(area):
    """A new version of one area (see bump() for why twice): the catalogue stays cached."""
    if area not in AREAS:
        raise ValueError(area)
    _set_new_area_version(area)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _set_new_area_version(area))


def _set_new_area_version(area):
    value = time.time_ns()
    cache.set(area_version_key(area), value, None)
    _bumped()
    if getattr(_request, "active", False) and getattr(_request, "areas", None) is not None:
        _request.areas[area] = value


def area_key(area, *parts):
    """A fragment key that changes with the catalogue and with the area."""
    return key("area", area, area_version(area), *parts)


def _remember(name, value, ttl):
    expires = time.monotonic() + min(ttl, LOCAL_TTL)
    with _local_lock:
        _local[name] = (expires, value)
        _local.move_to_end(name)
        while len(_local) > LOCAL_MAX_ENTRIES:
            _local.popitem(last=False)


def get(name):
    """A fragment by its (versioned) key: process memory first, then the shared cache."""
    with _local_lock:
        hit = _local.get(name)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    value = cache.get(name)
    if value is not None:
        _remember(name, value, FRAGMENT_TIMEOUT)
    return value


def set(name, value, timeout=FRAGMENT_TIMEOUT):  # noqa: A001 - mirrors the cache API
    cache.set(name, value, timeout)
    if reachable():  # during an outage the key's version is this request's own: never read again
        _remember(name, value, timeout)


def clear_local():
    with _local_lock:
        _local.clear()


@receiver(cache_recovered, dispatch_uid="catalog.cache.recovered")
def _bump_after_outage(sender, **kwargs):
    _set_new_version()
