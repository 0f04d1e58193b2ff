"""The member's order list (我的订单), cached whole: its tabs with their counts and a page of cards,
under one version per member.

Every write to a member's orders goes through one of three places, and each calls `changed`:
`services.base.lock_order` (every use case on an existing order takes the member's and the order's
locks there first: cancel, complete, fulfil, after-sales, refunds, price changes),
`services.base.transition` (the payment confirmation locks with its own two statements, then
moves the order here) and `services.checkout._place_order` (a new order, through `created`).
`changed` sets a new version at once and again when the transaction commits: a page built meanwhile
from the rows as they were before the commit carries the first new version and is never read after
the second. A new order changes no row any page could read before its commit, so `created` sets the
version once, when it commits (one Redis write fewer on every order placed).

A stored page carries the version it was built under (read before its rows) and the generation;
it is served only while both are current, so nothing needs deleting. It is also served only until
the first 申请售后 window on it closes (the button goes with time, not with a write), and never
longer than PAGE_SECONDS (a store renamed meanwhile shows its new name after that).

Redis down (core.cache: misses, writes do nothing): every request builds its page from the
database. A version that could not be set during the outage is why the generation changes when
Redis answers again (core.cache.cache_recovered): every page cached before is dropped.

Keys carry the member's id: one member's page is never looked up under another's. The CSRF token
is put in after the cache (CSRF_MARK in the cached text)."""

import secrets
import time

from django.core.cache import cache
from django.db import connection, transaction
from django.dispatch import receiver

from core.cache import cache_recovered

PAGE_SECONDS = 600
VERSION_SECONDS = 24 * 3600  # longer than any page: a page whose version expired is never served
CSRF_MARK = "csrfmark7c1e0a9order0card"


def _namespace():
    # one Redis may serve several databases (tests, benchmarks, a second shop): keep them apart
    return str(connection.settings_dict.get("NAME", ""))[-40:]


def version_key(user_id):
    return f"orders:list:{_namespace()}:v:{user_id}"


def generation_key():
    return f"orders:list:{_namespace()}:gen"


def page_key(user_id, *parts):
    return f"orders:list:{_namespace()}:page:{user_id}:" + ":".join(str(p) for p in parts)


def _new_token():
    return secrets.token_hex(8)


def _set_version(user_id):
    cache.set(version_key(user_id), _new_token(), VERSION_SECONDS)


def changed(user_id):
    """The member's orders change (in the caller's transaction, if any): their cached list pages
    are not served again, now nor after the commit."""
    if user_id is None:
        return
    _set_version(user_id)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _set_version(user_id))


def created(user_id):
    """The member placed an order in the caller's transaction: the cached pages are right until it
    commits (they could not show it anyway), and not served after."""
    if user_id is None:
        return
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _set_version(user_id))
    else:
        _set_version(user_id)


@receiver(cache_recovered, dispatch_uid="orders.list_cache.recovered")
def _new_generation(**kwargs):
    cache.set(generation_key(), _new_token(), None)


def cached_page(user_id, parts, build):
    """The page text under `parts` (tab, page, language, ...) for this member, from the cache when
    it is current, else `build()` -> (text, seconds it may be kept, at most PAGE_SECONDS) stored
    under the version read before building. One cache round trip when warm."""
    names = [version_key(user_id), generation_key(), page_key(user_id, *parts)]
    found = cache.get_many(names)
    version, generation, stored = (found.get(name) for name in names)
    if stored is not None and version is not None and generation is not None:
        stored_version, stored_generation, until, text = stored
        if (stored_version, stored_generation) == (version, generation) and time.time() < until:
            return text
    # a missing version or generation is made here; another request making it at the same moment
    # wins (add), and this page is then built but not kept
    keep = True
    if version is None:
        version = _new_token()
        keep = cache.add(names[0], version, VERSION_SECONDS)
    if generation is None:
        generation = _new_token()
        keep = cache.add(names[1], generation, None) and keep
    text, seconds = build()
    seconds = min(seconds, PAGE_SECONDS)
    if keep and seconds > 0:
        cache.set(names[2], (version, generation, time.time() + seconds, text), seconds)
    return text
