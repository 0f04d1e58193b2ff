"""Template context for every page, lazy: ``cart_badge`` is the number of pieces in the shopper's
cart for the 购物车 tab. It is worked out only when a template reads it (the tab bar does), so a
page without the tab bar runs no query for it, and a page with it runs one at most (none for a
visitor without a cart, none when the view already counted the cart)."""


class _Lazy:
    """Resolved once, on first use (templates call callables)."""

    def __init__(self, func):
        self._func = func
        self._done = False
        self._value = None

    def __call__(self):
        if not self._done:
            self._value = self._func()
            self._done = True
        return self._value


def cart_badge(request):
    def count():
        from .selectors import cart_count

        return cart_count(request)

    return {"cart_badge": _Lazy(count)}
