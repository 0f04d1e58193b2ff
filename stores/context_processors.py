"""Template context for every page, both lazy: a page that does not use them runs no query.

- ``chosen_store``: the shopper's chosen store (or None), read when a template first asks.
- ``store_unread_notifications``: the back-office bell's and menu's badge, for staff only: the
  user's open notices (unread, and not about a low-stock alert restocked since), one COUNT query.
"""

from django.utils.functional import SimpleLazyObject

from core.prepared import Prepared

CHOSEN_SESSION_KEY = "stores.chosen_store_id"
CHOSEN_COOKIE = "md_store"


class _Lazy:
    """Resolved once, on first use, by a template (templates call callables)."""

    def __init__(self, func):
        self._func = func
        self._done = False
        self._value = None

    def __call__(self):
        if not self._done:
            self._value = self._func()
            self._done = True
        return self._value


def _chosen_store_query(store_id):
    from .selectors import visible_stores

    return visible_stores().filter(pk=store_id)[:1]


# the chosen store's row, read on most shop pages: compiled once per process (core.prepared)
_chosen_store = Prepared(_chosen_store_query)


def get_chosen_store(request):
    cached = getattr(request, "_stores_chosen", False)
    if cached is not False:
        return cached
    from .selectors import chosen_store_id

    store_id = chosen_store_id(request)
    store = next(iter(_chosen_store(store_id)), None) if store_id else None
    request._stores_chosen = store
    return store


def chosen_store(request):
    # home_store_partial: catalog's home.html includes it as the chosen-store line in its header
    return {
        "chosen_store": _Lazy(lambda: get_chosen_store(request)),
        "home_store_partial": "stores/partials/_home_store.html",
    }


def store_notifications(request):
    def count():
        user = getattr(request, "user", None)
        if user is None or not (user.is_authenticated and user.is_staff):
            return 0
        from .selectors import open_notifications

        return open_notifications(user).count()

    return {"store_unread_notifications": SimpleLazyObject(count)}
