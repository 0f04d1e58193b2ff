"""Whole shop pages for visitors who are not logged in: the pages shoppers open first (home, a
category's list, a product page) are kept rendered, per page, language and what the visitor chose
(store, location), and thrown away precisely when something they show changes.

How a page is kept. A view wrapped in `@cached_page` is rendered once with markers where a visitor's
own parts go (the CSRF token and the 购物车 badge; a visitor with flash messages to show is never
served a kept page). The rendered page is stored in the shared cache (Redis) for at most
catalog.cache.PAGE_TIMEOUT seconds, and in this process's memory; each request then only puts in
its token and badge.

What a page depends on. While it renders, the code that reads data names what that data depends on,
before reading it: `depends(name, ...)` (e.g. `stock_dep(product_id)`, `STORES_DEP`) and
`depends_area("home")`; the catalogue version (catalog.cache) always. Each name is a version in the
shared cache; the page is stored with the versions it was built from and is served only while all
of them are unchanged. Writers bump the names they change once their transaction commits
(`bump(...)`): a sale bumps the stock of its products, so those products' pages (and the home page
when they are on it) are rebuilt, and every other page stays warm. Reading a version before the data
it guards is what makes this safe: a page built from data read before a commit was stored with the
version from before the bump that follows that commit.

Timing. A process checks a kept page's versions again at most every RECHECK_SECONDS
(settings.CATALOG_PAGE_CACHE_RECHECK, 1 s): a change made in another process (a worker, another
gunicorn worker) shows within that time, one made in this process at once (its bump marks the name
here before the commit: a page begun before the mark is not served here again, and one begun after
it read the change if it shares the writer's connection, as a test does). A schedule
(a banner's start, a product's delisting time) caps the page's lifetime: `valid_until(when)`.
A page whose rendering set a cookie, changed the session, used a real CSRF token or queued a message
is not kept. Without a shared cache (locmem in development: a worker could not reach the web
server's memory) or with CATALOG_PAGE_CACHE off nothing is kept; during a Redis outage neither.
"""

import hashlib
import re
import threading
import time
from collections import OrderedDict
from functools import wraps

from asgiref.local import Local
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import get_language

from core import shell
from core.cache import reachable
from core.templatetags.tabbar import cart_badge_html

from . import cache as catalog_cache

STORES_DEP = "stores"
LOCAL_MAX_ENTRIES = 500
CHANGED_HERE_MAX = 10_000
MAX_QUERY_VALUE = 64  # a longer query value is not a page worth keeping

_local = OrderedDict()  # page key -> _Entry
_lock = threading.Lock()
_changed_here = {}  # dependency key -> when this process last bumped it (time.time())
_recording = Local()  # per thread: the page being rendered (its dependencies, its lifetime)


# every product's stock at once: what a bulk change (a stocktake posted) bumps; stock_dep includes it
ALL_STOCK_DEP = "stock:all"


def stock_dep(product_id):
    """The name of a product's stock, in every store (stores bumps it with each stock change)."""
    return f"stock:{int(product_id)}"


def _dep_key(name):
    return f"catalog:pagedep:{catalog_cache._namespace()}:{name}"


def _now():
    return timezone.now().timestamp()  # a test may move the clock (django.utils.timezone.now)


def enabled():
    return bool(getattr(settings, "CATALOG_PAGE_CACHE", False))


# --- what a page depends on (called while it renders) ---------------------------------------
class _Recording:
    def __init__(self):
        self.versions = {}  # dependency key -> version read before the data
        self.begun = time.time()  # before any data is read
        self.expires = _now() + catalog_cache.PAGE_TIMEOUT
        self.storable = True


def _current():
    return getattr(_recording, "page", None)


def depends(*names):
    """This page shows data that changes with these names: their versions are read now (one round
    trip), before the caller reads the data. Outside a kept page's rendering it does nothing."""
    page = _current()
    if page is None:
        return
    if any(name.startswith("stock:") for name in names):
        names = (*names, ALL_STOCK_DEP)
    keys = [_dep_key(name) for name in dict.fromkeys(names) if _dep_key(name) not in page.versions]
    if not keys:
        return
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:  # never bumped (or evicted): give it a version, whoever sets it first wins
        cache.add(key, time.time_ns(), None)
    if missing:
        found.update(cache.get_many(missing))
    for key in keys:
        if key not in found:  # the shared cache did not answer: this page cannot be checked later
            page.storable = False
            return
        page.versions[key] = found[key]


def depends_area(area):
    """This page shows one of catalog.cache's areas (the home page's HQ content)."""
    page = _current()
    if page is not None:
        page.versions[catalog_cache.area_version_key(area)] = catalog_cache.area_version(area)


def valid_until(when):
    """This page changes by itself at `when` (an aware datetime, or None for never): keep it no longer."""
    page = _current()
    if page is not None and when is not None:
        page.expires = min(page.expires, when.timestamp())


def context(request):
    """Context processor (last in the list): while a page is being kept, the visitor's own parts
    are markers (core.shell's), put in per request."""
    if getattr(request, "_pagecache_recording", False):
        return {"csrf_token": shell.CSRF_MARKER, "cart_badge": shell.BadgeSlot(), "messages": ()}
    return {}


# --- writers ---------------------------------------------------------------------------------
def bump(*names):
    """These names changed: pages built from them are not served again. In this process at once (a
    page begun before this moment is not served here), everywhere once the surrounding transaction
    commits (at once outside one): new versions in the shared cache."""
    if not names or not enabled():  # nothing is kept: nothing to throw away
        return
    keys = [_dep_key(name) for name in names]
    now = time.time()
    with _lock:
        if len(_changed_here) > CHANGED_HERE_MAX:  # older marks concern pages expired by now
            for key in [k for k, at in _changed_here.items() if at < now - catalog_cache.PAGE_TIMEOUT]:
                del _changed_here[key]
        for key in keys:
            _changed_here[key] = now
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _set_versions(keys))
    else:
        _set_versions(keys)


def _set_versions(keys):
    cache.set_many(dict.fromkeys(keys, time.time_ns()), None)
    with _lock:
        _checked.clear()
        for value in _values.values():  # kept values too: checked again on their next read
            value.checked = float("-inf")


def _changed_since(begun, keys):
    """Whether this process bumped one of `keys` at or after `begun` (a page's start)."""
    if not _changed_here:
        return False
    return any(_changed_here.get(key, 0) >= begun for key in keys)


# --- kept pages --------------------------------------------------------------------------------
class _Entry:
    """A kept page: its body cut at the markers, the versions it was built from, its end."""

    __slots__ = ("parts", "content_type", "versions", "expires", "begun")

    def __init__(self, parts, content_type, versions, expires, begun):
        self.parts, self.content_type, self.versions, self.expires = parts, content_type, versions, expires
        self.begun = begun


_MARKERS = re.compile("(" + re.escape(shell.CSRF_MARKER) + "|" + re.escape(shell.BADGE_MARKER) + ")")
_checked = {}  # page key -> monotonic time of its last version check in this process


def _cut(html):
    """[bytes, marker, bytes, marker, ...]: the markers as str, the rest encoded once."""
    return tuple(piece if i % 2 else piece.encode() for i, piece in enumerate(_MARKERS.split(html)))


def _usable(request, allowed):
    if request.method not in ("GET", "HEAD") or not enabled() or not reachable():
        return False
    if any(name not in allowed or len(value) > MAX_QUERY_VALUE for name, value in request.GET.items()):
        return False
    if "messages" in request.COOKIES:
        return False
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        if request.user.is_authenticated or request.session.get("_messages"):
            return False
    return True


def _page_key(request, view_name):
    vary = [hook(request) for hook in _vary_hooks()]
    raw = "|".join([request.get_full_path(), get_language() or "", request.headers.get("HX-Request", ""), *vary])
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
    return f"catalog:page:{catalog_cache._namespace()}:{view_name}:{digest}"


_hooks = None


def _vary_hooks():
    """settings.CATALOG_PAGE_CACHE_VARY: functions of the request giving what else a page differs by
    (the stores app: the chosen store, the saved location)."""
    global _hooks
    names = tuple(getattr(settings, "CATALOG_PAGE_CACHE_VARY", ()))
    if _hooks is None or _hooks[0] != names:
        _hooks = (names, [import_string(name) for name in names])
    return _hooks[1]


def _recheck_seconds():
    return float(getattr(settings, "CATALOG_PAGE_CACHE_RECHECK", 1.0))


def _lookup(key):
    """The kept page if it is still good, else None."""
    with _lock:
        entry = _local.get(key)
    if entry is None:
        entry = cache.get(key)
        if entry is None:
            return None
        checked = None
    else:
        checked = _checked.get(key)
    if entry.expires <= _now() or _changed_since(entry.begun, entry.versions):
        return None
    now = time.monotonic()
    if checked is None or now - checked > _recheck_seconds():
        current = cache.get_many(list(entry.versions))
        if any(current.get(k) != v for k, v in entry.versions.items()):
            with _lock:
                _local.pop(key, None)
                _checked.pop(key, None)
            return None
        _remember(key, entry, now)
    return entry


def _remember(key, entry, now):
    with _lock:
        _local[key] = entry
        _local.move_to_end(key)
        _checked[key] = now
        while len(_local) > LOCAL_MAX_ENTRIES:
            old, _entry = _local.popitem(last=False)
            _checked.pop(old, None)


def _storable(request, response, page):
    if not page.storable or response.status_code != 200 or response.streaming or response.cookies:
        return False
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):  # a real token went into the page
        return False
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return False
    storage = getattr(request, "_messages", None)
    if storage is not None and getattr(storage, "_queued_messages", None):
        return False
    return page.expires > _now() + 1 and not _changed_since(page.begun, page.versions)


_empty_badges = {}  # language -> the badge of an empty cart


def _badge(request):
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:  # no session: no cart
        language = get_language()
        badge = _empty_badges.get(language)
        if badge is None:
            badge = _empty_badges[language] = str(cart_badge_html(0))
        return badge
    counter = getattr(settings, "CATALOG_PAGE_CACHE_CART_COUNT", None)
    return cart_badge_html(import_string(counter)(request) if counter else 0)


def _fill(request, parts):
    """The page's bytes with this visitor's token and badge in place of the markers."""
    token = badge = None
    out = []
    for i, piece in enumerate(parts):
        if not i % 2:
            out.append(piece)
        elif piece == shell.CSRF_MARKER:
            token = token or shell.csrf_token(request).encode()
            out.append(token)
        else:
            badge = badge or str(_badge(request)).encode()
            out.append(badge)
    return b"".join(out)


def _respond(request, entry):
    response = HttpResponse(_fill(request, entry.parts), content_type=entry.content_type)
    response["X-Page-Cache"] = "hit"
    return response


def cached_page(*, params=()):
    """Keep this view's pages for visitors (see the module docstring). `params`: the query
    parameters the page reads; a request with any other is served as usual and not kept."""
    allowed = frozenset(params)

    def decorate(view):
        view_name = view.__name__

        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not _usable(request, allowed):
                return view(request, *args, **kwargs)
            key = _page_key(request, view_name)
            entry = _lookup(key)
            if entry is not None:
                return _respond(request, entry)
            page = _Recording()
            page.versions[catalog_cache.version_key()] = catalog_cache.version()
            _recording.page = page
            request._pagecache_recording = True
            try:
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response = response.render()
            finally:
                _recording.page = None
                request._pagecache_recording = False
            if response.streaming:
                return response
            html = response.content.decode(response.charset)
            entry = _Entry(_cut(html), response["Content-Type"], page.versions, page.expires, page.begun)
            state = "skip"
            if _storable(request, response, page):
                ttl = max(1, int(entry.expires - _now()))
                cache.set(key, entry, ttl)
                _remember(key, entry, time.monotonic())
                state = "miss"
            response.content = _fill(request, entry.parts)  # status, headers and cookies kept
            response["X-Page-Cache"] = state
            return response

        return wrapper

    return decorate


# --- kept values ---------------------------------------------------------------------------------
_values = {}  # key -> _Value
VALUES_MAX_ENTRIES = 100


class _Value:
    __slots__ = ("value", "versions", "begun", "checked", "expires")

    def __init__(self, value, versions, begun, checked, expires):
        self.value, self.versions, self.begun, self.checked, self.expires = value, versions, begun, checked, expires


def kept_value(key, names, compute):
    """`compute()`, kept in this process while the dependency `names` are unchanged, as a kept page
    is: checked against their versions at most every RECHECK_SECONDS (a change made in another
    process shows within that time), dropped at once by a bump in this process, and kept no longer
    than a page (catalog.cache.PAGE_TIMEOUT: what a writer that bumps nothing changed shows within
    it); a bump committed in this process has it checked again on its next read. For a small read every page of a kind makes (the store list's cities). Without the page
    cache (off, or the shared cache unreachable) it is computed every time."""
    if not enabled() or not reachable():
        return compute()
    keys = [_dep_key(name) for name in names]
    now = time.monotonic()
    entry = _values.get(key)
    if entry is not None and entry.expires > now and not _changed_since(entry.begun, keys):
        if now - entry.checked <= _recheck_seconds():
            return entry.value
        current = cache.get_many(keys)
        if all(current.get(k) == v for k, v in entry.versions.items()):
            entry.checked = now
            return entry.value
    begun = time.time()
    versions = cache.get_many(keys)  # before the data, as depends() reads them
    missing = [k for k in keys if k not in versions]
    for k in missing:
        cache.add(k, time.time_ns(), None)
    if missing:
        versions.update(cache.get_many(missing))
    value = compute()
    if len(versions) == len(keys) and not _changed_since(begun, keys):
        with _lock:
            _values[key] = _Value(value, versions, begun, now, now + catalog_cache.PAGE_TIMEOUT)
            while len(_values) > VALUES_MAX_ENTRIES:
                del _values[next(iter(_values))]
    return value


def _forget_checks():
    with _lock:
        _checked.clear()


catalog_cache.bump_listeners.append(_forget_checks)


def clear_local():
    """Forget what this process keeps (tests)."""
    with _lock:
        _local.clear()
        _checked.clear()
        _changed_here.clear()
        _empty_badges.clear()
        _values.clear()
