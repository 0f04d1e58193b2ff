"""A shop page whose layout is rendered once per process: `render_page(request, template, context, body)`.

The shop's base layout (shop/base.html: head, styles, scripts, the tab bar) and a page's own blocks
around its content are the same for every request of that page in one language but for three
things: the CSRF token, the 购物车 badge and the flash messages. Rendering them cost more than some
pages' whole data. So the page template is rendered once with markers in those places and the
page's body (its `{{ body }}`) left out; each request then puts in its token, its badge and its
body (already rendered, often from a cache) by string replacement, through the tiny
core/page.html (so the view's context still reaches tests and template signals).

What the page template may use outside `{{ body }}`: the keys of `layout` (part of the kept copy's
key, e.g. {"active_tab": "me"}), the context processors' request-independent values (SITE_NAME,
LANGUAGE_CODE) and csrf_token / cart_badge / messages. A request with flash messages to show is
rendered the ordinary way. Nothing is kept with DEBUG on (templates may change under the server).
"""

import os
import threading

from django.conf import settings
from django.contrib.messages import get_messages
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.shortcuts import render
from django.template import loader
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

# what stands for a request's own parts in a kept layout; none is changed by HTML escaping
CSRF_MARKER = "mdcsrf:4c1f0e9a"
BODY_MARKER = "<!--md:body-->"
BADGE_MARKER = "<!--md:cart-badge-->"
MAX_LAYOUTS = 200

_layouts = {}
_lock = threading.Lock()


class BadgeSlot:
    """The cart_badge of a layout being kept: core.templatetags.tabbar writes BADGE_MARKER for it."""

    marker = BADGE_MARKER


_CHAR_INDEX = {char: i for i, char in enumerate(CSRF_ALLOWED_CHARS)}
_KEEP_BELOW = 256 - 256 % len(CSRF_ALLOWED_CHARS)  # bytes at or above it would bias the choice


def _random_chars(n):
    """`n` characters of CSRF_ALLOWED_CHARS, uniformly, from one read of the OS's random source
    (Django's get_random_string reads it once per character: 64 system calls for a token)."""
    out = []
    while len(out) < n:
        out.extend(CSRF_ALLOWED_CHARS[b % len(CSRF_ALLOWED_CHARS)] for b in os.urandom(n + 8) if b < _KEEP_BELOW)
    return "".join(out[:n])


def csrf_token(request):
    """This request's masked CSRF token, made once per request: what django.middleware.csrf.get_token
    gives (the secret from the cookie, else a new one the middleware sends; a fresh mask), with its
    random characters drawn in one read (tests/core/test_shell_csrf.py checks the middleware takes it)."""
    token = getattr(request, "_shell_csrf_token", None)
    if token is None:
        secret = request.META.get("CSRF_COOKIE")
        if secret is None:
            secret = request.META["CSRF_COOKIE"] = _random_chars(CSRF_SECRET_LENGTH)
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # send (or renew) the cookie
        mask = _random_chars(CSRF_SECRET_LENGTH)
        chars, index = CSRF_ALLOWED_CHARS, _CHAR_INDEX
        cipher = "".join(chars[(index[x] + index[y]) % len(chars)] for x, y in zip(secret, mask, strict=True))
        token = request._shell_csrf_token = mask + cipher
    return token


def _has_messages(request):
    storage = getattr(request, "_messages", None)
    if storage is None:
        return False
    return len(get_messages(request)) > 0


def _layout(request, template_name, layout):
    key = (template_name, get_language(), tuple(sorted(layout.items())))
    parts = _layouts.get(key)
    if parts is None:
        context = {
            **layout, "body": mark_safe(BODY_MARKER), "csrf_token": CSRF_MARKER, "cart_badge": BadgeSlot(),
            "messages": (),
        }
        html = loader.render_to_string(template_name, context, request=request)
        before, marker, after = html.partition(BODY_MARKER)
        if not marker:
            raise ValueError(f"{template_name} does not show {{{{ body }}}}")
        parts = (before, after)
        if not settings.DEBUG:
            with _lock:
                if len(_layouts) < MAX_LAYOUTS:
                    _layouts[key] = parts
    return parts


def render_page(request, template_name, context, body, *, layout):
    """The response of `template_name` (a page that shows `{{ body }}`) with this body: its layout
    from this process's copy, the request's token, badge and body put in."""
    if _has_messages(request):
        return render(request, template_name, {**context, **layout, "body": body})
    before, after = _layout(request, template_name, layout)
    token = csrf_token(request)
    # the badge goes in as core/page.html renders (its count comes from a context processor)
    before, after = before.replace(CSRF_MARKER, token), after.replace(CSRF_MARKER, token)
    return render(request, "core/page.html", {
        **context, **layout, "csrf_token": token,
        "page_before": mark_safe(before), "body": body, "page_after": mark_safe(after),  # noqa: S308 - ours
    })


def clear():
    """Forget the kept layouts (tests that change templates or settings)."""
    with _lock:
        _layouts.clear()
