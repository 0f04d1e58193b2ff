"""The shared cache on Redis, built so that Redis going down does not take the shop down with it.

`ResilientRedisCache` is django-redis's cache with three differences:

- An unreachable Redis (refused or timed-out connection, or an error reply such as OOM or READONLY)
  is a cache miss: `get` answers its default, `get_many` an empty dict, `add` False, writes do
  nothing. Pages then build from the database, as they do on a cold cache. The catalogue
  (catalog.cache), sessions (database sessions with a cached copy, core.sessions) and WeChat
  tokens all read through it.
- After a failure, Redis is not asked again for RETRY_SECONDS (one connection attempt per process per
  window, not one per call: a page reading ten keys from a blackholed Redis would otherwise wait ten
  socket timeouts). The outage is logged when it starts, then at most once every LOG_EVERY_SECONDS,
  and once when Redis answers again; `cache_recovered` is sent then (catalog.cache bumps its version:
  a change made during the outage could not bump it).
- Keys under one of the STRICT_KEY_PREFIXES (OPTIONS) are not caches but state that must not be
  silently lost: rate-limit counters ("allauth:rl:") and the health probe ("healthz:"). Their
  operations raise `CacheUnavailable` instead, and the caller decides (members.auth.ratelimits:
  rate limits refuse, politely).

The breaker's state is per process and per Redis location (Django makes one cache object per thread).
"""

import logging
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from django.dispatch import Signal
from django_redis.cache import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5
LOG_EVERY_SECONDS = 60

# sent (sender=the cache's location, without credentials) by the first call that reaches Redis again after an outage
cache_recovered = Signal()


class CacheUnavailable(RedisConnectionError):
    """A strict key's operation while Redis is unreachable. A redis ConnectionError, so that whatever
    handles Redis outages further up (a 503 with Retry-After) handles this one too."""


# what "Redis is unreachable" looks like through django-redis (it re-raises the client's error)
UNREACHABLE = (RedisError, socket.timeout, ConnectionError, TimeoutError)


def _without_credentials(location):
    """redis://:secret@host:6379/0 -> redis://host:6379/0, for logs and messages."""
    parts = urlsplit(location)
    if parts.password is None and parts.username is None:
        return location
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class _Breaker:
    def __init__(self, location):
        self.location = _without_credentials(location)
        self.lock = threading.Lock()
        self.down_since = None  # monotonic time of the first failure of this outage
        self.retry_at = 0.0
        self.logged_at = None

    def is_open(self):
        return self.down_since is not None and time.monotonic() < self.retry_at

    def failed(self, exc):
        now = time.monotonic()
        with self.lock:
            first = self.down_since is None
            if first:
                self.down_since = now
            self.retry_at = now + RETRY_SECONDS
            log = first or now - self.logged_at >= LOG_EVERY_SECONDS
            if log:
                self.logged_at = now
        if log:
            logger.warning(
                "cache %s unreachable for %.0f s, served from the database: %s: %s",
                self.location, now - self.down_since, type(exc).__name__, exc,
            )

    def succeeded(self):
        if self.down_since is None:
            return
        with self.lock:
            down_since, self.down_since = self.down_since, None
        if down_since is None:
            return  # another thread saw the recovery first
        logger.warning("cache %s reachable again after %.0f s", self.location, time.monotonic() - down_since)
        cache_recovered.send(sender=self.location)


_breakers = {}
_breakers_lock = threading.Lock()


def _breaker_for(location):
    with _breakers_lock:
        return _breakers.setdefault(location, _Breaker(location))


def reset_breakers():
    """Forget every outage (tests that point the cache somewhere else and back)."""
    with _breakers_lock:
        _breakers.clear()


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        options = params.get("OPTIONS", {})
        self.strict_prefixes = tuple(options.get("STRICT_KEY_PREFIXES", ()))
        self.breaker = _breaker_for(server if isinstance(server, str) else ",".join(server))

    def _is_strict(self, keys):
        return bool(self.strict_prefixes) and any(str(k).startswith(self.strict_prefixes) for k in keys)

    def _guard(self, keys, fallback, call, *args, **kwargs):
        strict = self._is_strict(keys)
        if self.breaker.is_open():
            if strict:
                raise CacheUnavailable(f"cache {self.breaker.location} unreachable")
            return fallback
        try:
            result = call(*args, **kwargs)
        except UNREACHABLE as exc:
            self.breaker.failed(exc)
            if strict:
                raise CacheUnavailable(str(exc)) from exc
            return fallback
        self.breaker.succeeded()
        return result

    # Django's cache API, each with what it answers when Redis cannot: a miss, or "not done".
    def get(self, key, default=None, version=None, client=None):
        return self._guard((key,), default, super().get, key, default=default, version=version, client=client)

    def get_many(self, keys, *args, **kwargs):
        keys = list(keys)
        return self._guard(keys, {}, super().get_many, keys, *args, **kwargs)

    def add(self, key, *args, **kwargs):
        return self._guard((key,), False, super().add, key, *args, **kwargs)

    def set(self, key, *args, **kwargs):
        return self._guard((key,), False, super().set, key, *args, **kwargs)

    def set_many(self, data, *args, **kwargs):
        return self._guard(tuple(data), list(data), super().set_many, data, *args, **kwargs)

    def delete(self, key, *args, **kwargs):
        return self._guard((key,), False, super().delete, key, *args, **kwargs)

    def delete_many(self, keys, *args, **kwargs):
        keys = list(keys)
        return self._guard(keys, None, super().delete_many, keys, *args, **kwargs)

    def has_key(self, key, *args, **kwargs):
        return self._guard((key,), False, super().has_key, key, *args, **kwargs)

    def touch(self, key, *args, **kwargs):
        return self._guard((key,), False, super().touch, key, *args, **kwargs)

    def incr(self, key, *args, **kwargs):
        # a counter that cannot be read cannot be incremented: the caller must decide
        if self.breaker.is_open():
            raise CacheUnavailable(f"cache {self.breaker.location} unreachable")
        try:
            result = super().incr(key, *args, **kwargs)
        except UNREACHABLE as exc:
            self.breaker.failed(exc)
            raise CacheUnavailable(str(exc)) from exc
        self.breaker.succeeded()
        return result

    def decr(self, key, delta=1, version=None, client=None):
        return self.incr(key, -delta, version=version, client=client)

    def clear(self):
        return self._guard((), False, super().clear)


def reachable(backend=None) -> bool:
    """False while this process sees `backend` (the default cache when None) as unreachable."""
    if backend is None:
        from django.core.cache import cache as backend
    breaker = getattr(backend, "breaker", None)
    return breaker is None or breaker.down_since is None
