"""`fixed_url(name)`: the URL of a view that takes no arguments, reversed once per process.

Shown on every request of some pages (the member centre's entries), reverse() cost more than
the rest of what they read. The answer depends only on the URL configuration and the script
prefix, both part of the memo's key; with DEBUG on (URLs edited under a running server) nothing
is kept.
"""

import threading

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

_urls = {}
_lock = threading.Lock()


def fixed_url(viewname):
    key = (get_urlconf(), get_script_prefix(), viewname)
    url = _urls.get(key)
    if url is None:
        url = reverse(viewname)
        if not settings.DEBUG:
            with _lock:
                if len(_urls) < 1000:
                    _urls[key] = url
    return url
