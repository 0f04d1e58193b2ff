"""A shop page whose layout is rendered once per process: `render_page(request, template, context, body)`.

The shop's base layout (shop/base.html: head, styles, scripts, the tab bar) and a page's own blocks
around its content are the same for every request of that page in one language but for three
things: the CSRF token, the 购物车 badge and the flash messages. Rendering them cost more than some
pages' whole data. So the page template is rendered once with markers in those places and the
page's body (its `{{ body }}`) left out; each request then puts in its token, its badge and its
body (already rendered, often from a cache) by string replacement, into the response's text
directly: no template is rendered and no context processor runs per request (they cost more than
the rest of some pages). The badge's count comes from settings.SHELL_CART_COUNT (core must not
import orders), asked only when the layout shows the badge. The view's context still reaches
whatever listens to django.test.signals.template_rendered (the test client's response.context),
sent as the page template's.

What the page template may use outside `{{ body }}`: the keys of `layout` (part of the kept copy's
key, e.g. {"active_tab": "me"}), the context processors' request-independent values (SITE_NAME,
LANGUAGE_CODE) and csrf_token / cart_badge / messages. A request with flash messages to show is
rendered the ordinary way. Nothing is kept with DEBUG on (templates may change under the server).
"""

import os
import re
import threading

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.shortcuts import render
from django.template import Context, loader
from django.test.signals import template_rendered
from django.utils.html import conditional_escape
from django.utils.module_loading import import_string
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


_MARKERS = re.compile("(" + "|".join(re.escape(m) for m in (CSRF_MARKER, BADGE_MARKER, BODY_MARKER)) + ")")


def _layout(request, template_name, layout):
    """The page template rendered for this layout, split at its markers: text, marker, text, ..."""
    key = (template_name, get_language(), tuple(sorted(layout.items())))
    pieces = _layouts.get(key)
    if pieces is None:
        context = {
            **layout, "body": mark_safe(BODY_MARKER), "csrf_token": CSRF_MARKER, "cart_badge": BadgeSlot(),
            "messages": (),
        }
        html = loader.render_to_string(template_name, context, request=request)
        if BODY_MARKER not in html:
            raise ValueError(f"{template_name} does not show {{{{ body }}}}")
        pieces = tuple(_MARKERS.split(html))
        if not settings.DEBUG:
            with _lock:
                if len(_layouts) < MAX_LAYOUTS:
                    _layouts[key] = pieces
    return pieces


def _badge(request):
    """This request's 购物车 badge, as the tab bar shows it."""
    from core.templatetags.tabbar import cart_badge_html  # it imports this module

    counter = getattr(settings, "SHELL_CART_COUNT", None)
    return str(cart_badge_html(import_string(counter)(request) if counter else 0))


def _announce(template_name, context):
    """The page's context to the listeners of template_rendered (the test client's response.context
    and response.templates), as a render would give it; nothing to do when none listens."""
    if template_rendered.receivers:
        template = loader.get_template(template_name)
        template_rendered.send(sender=template, template=getattr(template, "template", template),
                               context=Context(context))


def render_page(request, template_name, context, body, *, layout):
    """The response of `template_name` (a page that shows `{{ body }}`) with this body: its layout
    from this process's copy, the request's token, badge and body put in."""
    if _has_messages(request):
        return render(request, template_name, {**context, **layout, "body": body})
    pieces = _layout(request, template_name, layout)
    token = csrf_token(request)
    body = conditional_escape(body)
    badge = None
    out = []
    for i, piece in enumerate(pieces):
        if not i % 2:
            out.append(piece)
        elif piece == CSRF_MARKER:
            out.append(token)
        elif piece == BODY_MARKER:
            out.append(body)
        else:
            badge = badge or _badge(request)
            out.append(badge)
    _announce(template_name, {**context, **layout, "csrf_token": token, "body": body})
    return HttpResponse("".join(out))


def clear():
    """Forget the kept layouts (tests that change templates or settings)."""
    with _lock:
        _layouts.clear()
