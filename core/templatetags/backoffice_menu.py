"""`{% backoffice_menu %}`: the back-office menu (backoffice/_menu.html), rendered once per process
for each combination of what it shows.

The menu is most of the work of every back-office page (a dozen permission checks, some thirty
translations and a dozen reversed URLs) and depends only on: the user's permission set (from
core.permissions, cached), whether they are a superuser, the language, the page's view name (the
active item), the user's id (the new-order banner's data) and their unread store notices (the
badge, counted only when the menu shows it), plus the URL configuration and script prefix. All of
them are the key, so a stored copy is never another user's or another page's menu, and a changed
permission is a new key. Copies live in this process's memory (a bounded dict): a new release
(templates, translations) starts new processes, and settings changed by tests empty it.
"""

import threading

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

register = template.Library()

MENU_TEMPLATE = "backoffice/_menu.html"
BADGE_PERMISSION = "stores.view_lowstockalert"
MAX_MENUS = 1000  # past it the store is emptied and fills again: a few kilobytes each

_menus = {}
_lock = threading.Lock()


def forget_menus(**_kwargs):
    with _lock:
        _menus.clear()


setting_changed.connect(forget_menus, dispatch_uid="core.backoffice_menu.forget")


def _key(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    badge = 0
    if user.has_perm(BADGE_PERMISSION):
        badge = str(context.get("store_unread_notifications") or 0)  # a lazy count: str() proxies
    match = getattr(request, "resolver_match", None)
    return (
        frozenset(user.get_all_permissions()), bool(user.is_superuser), user.pk, badge, get_language(),
        match.view_name if match else None, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(),
    )


@register.simple_tag(takes_context=True)
def backoffice_menu(context):
    key = _key(context)
    menu = _menus.get(key) if key is not None else None
    if menu is None:
        menu = context.template.engine.get_template(MENU_TEMPLATE).render(context)
        if key is not None:
            with _lock:
                if len(_menus) >= MAX_MENUS:
                    _menus.clear()
                _menus[key] = menu
    return mark_safe(menu)  # noqa: S308 - our own template's output, escaped when it was rendered
