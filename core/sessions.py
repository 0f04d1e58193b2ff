"""Sessions kept in the database, with a short-lived copy in the cache (SESSION_ENGINE with Redis).

Django's cached_db store: every write goes to the database first, reads come from the cache and fall
back to the database, so a Redis restart, flush or outage logs nobody out and loses no cart or
login step. One change: the cached copy lives at most CACHED_COPY_SECONDS (Django keeps it as long
as the session). A logout or login during an outage deletes or replaces the database row but
cannot reach the cached copy; if Redis comes back with its data (a network cut rather than a
restart), that stale copy is served for at most this long instead of for the session's lifetime.
"""

from django.contrib.sessions.backends import cached_db

CACHED_COPY_SECONDS = 300


class _ShortLivedCopies:
    """The session cache seen through a cap on every timeout the session store gives it."""

    def __init__(self, backend):
        self._backend = backend

    def set(self, key, value, timeout=None, **kwargs):
        timeout = CACHED_COPY_SECONDS if timeout is None else min(timeout, CACHED_COPY_SECONDS)
        return self._backend.set(key, value, timeout, **kwargs)

    async def aset(self, key, value, timeout=None, **kwargs):
        timeout = CACHED_COPY_SECONDS if timeout is None else min(timeout, CACHED_COPY_SECONDS)
        return await self._backend.aset(key, value, timeout, **kwargs)

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def __contains__(self, key):
        return key in self._backend

    def __str__(self):
        return str(self._backend)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _ShortLivedCopies(self._cache)
