"""`{% tabbar %}`: the shop's bottom tab bar (shop/partials/_tabbar.html), rendered once per language
and active tab in each process, with this request's cart badge put in.

The bar is the same for every shopper but its 购物车 badge: rendering its template, four icons and
five translations on every page cost more than some whole pages. The badge (the context's
`cart_badge`, a callable of orders.context_processors) is built here, as the template once built it.
With DEBUG on templates may change under a running server, so nothing is kept.
"""

import threading

from django import template
from django.conf import settings
from django.template import loader
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext

from core.shell import BadgeSlot

register = template.Library()

TEMPLATE = "shop/partials/_tabbar.html"
TABS = ("home", "category", "cart", "me")  # what the template compares active_tab with
BADGE_MARKER = "<!--cart-badge-->"

_rendered = {}
_lock = threading.Lock()


def _parts(active_tab):
    """(before the badge, after the badge) of the bar for the active language and this tab."""
    key = (get_language(), active_tab)
    parts = _rendered.get(key)
    if parts is None:
        html = loader.render_to_string(TEMPLATE, {"active_tab": active_tab, "cart_badge_html": mark_safe(BADGE_MARKER)})
        before, _marker, after = html.partition(BADGE_MARKER)
        parts = (before, after)
        if not settings.DEBUG:
            with _lock:
                _rendered[key] = parts
    return parts


def cart_badge_html(count):
    """The 购物车 badge: hidden at 0, "99+" past 99 (shop.js updates it after an add to cart)."""
    count = count or 0
    return format_html(
        '<span class="weui-badge" style="position: absolute; top: -2px; right: -13px;" data-cart-badge '
        'aria-label="{}"{}>{}</span>',
        gettext("购物车中有 %(n)s 件商品") % {"n": count},
        mark_safe(" hidden") if not count else "",
        "99+" if count > 99 else count,
    )


def _badge(context):
    badge = context.get("cart_badge")
    if isinstance(badge, BadgeSlot):  # a layout being kept (core.shell): the badge goes in later
        return BadgeSlot.marker
    return cart_badge_html(badge() if callable(badge) else badge)


@register.simple_tag(takes_context=True)
def tabbar(context):
    active_tab = context.get("active_tab")
    before, after = _parts(active_tab if active_tab in TABS else "")
    return mark_safe(before + _badge(context) + after)  # noqa: S308 - our own template and format_html


def clear():
    with _lock:
        _rendered.clear()
