"""One version number for everything shoppers see of the catalogue.

Cached fragments (category tree, list pages) put the version in their key; any change that
shoppers can see calls bump(), so stale entries are simply never read again and expire on their
own. Works the same with local memory (one process) and Redis (shared by all web workers).
"""

import time

from django.core.cache import cache

VERSION_KEY = "catalog:version"
# Scheduled listing times pass without a write; the worker applies them each minute and bumps,
# and this short lifetime bounds anything cached across that gap.
FRAGMENT_TIMEOUT = 60


def version():
    value = cache.get(VERSION_KEY)
    if value is None:
        value = time.time_ns()
        cache.add(VERSION_KEY, value, None)
        value = cache.get(VERSION_KEY, value)
    return value


def bump():
    cache.set(VERSION_KEY, time.time_ns(), None)


def key(*parts):
    return "catalog:" + ":".join(str(p) for p in (version(), *parts))
