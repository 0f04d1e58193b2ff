"""`{% backoffice_frame %}…{% endbackoffice_frame %}`: the back-office frame (backoffice/base.html:
head, scripts, menu, header, bell) rendered once per process for each combination of what it
shows, so that every page extending it renders only its own blocks.

The frame's own nodes (a dozen translations, reversed URLs and static paths, the bell, the menu)
cost about as much as some pages' whole data, and they show the same HTML on every request but for
the page's blocks, the CSRF token and the user's display name. So the frame is rendered once with
a slot in each of those places (`@@mdframe:<what>@@`, which HTML escaping leaves alone) and kept;
each request then renders the page's blocks the ordinary way (in the same order, with
`{{ block.super }}`, as the ExtendsNode set them up) and puts them, its token and its user's name
in the slots (the token made as core.shell makes it: one read of the random source, the same
secret; a form in the page's blocks gets one of its own from the context, as valid). Same HTML as rendering the frame each time (tests/core/test_backoffice_frame.py).

The kept copy's key is everything else the frame shows: the menu's key (core.templatetags.
backoffice_menu: permissions, superuser, user id, the menu's badge, language, the page's view name,
URL configuration and prefix), whether the user is active, the bell's count when the bell shows,
and the frame's compiled node (a reloaded template is a new key). Settings (SITE_NAME, static
URLs) are not in it: a change empties the store, as a new release starts new processes. A page
with flash messages to show, a render without a request or an anonymous user, and everything with
DEBUG on are rendered the ordinary way.
"""

import re
import threading

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template.base import NodeList, TextNode
from django.template.loader_tags import BLOCK_CONTEXT_KEY, BlockContext, BlockNode
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

from ..shell import csrf_token
from .backoffice_menu import _key as menu_key

register = template.Library()

BELL_PERMISSION = "stores.view_storenotification"
SLOTS_FLAG = "_backoffice_frame_slots"  # set in the context while the frame is rendered with slots
CSRF_SLOT = "@@mdframe:csrf@@"
USER_SLOT = "@@mdframe:user@@"
_SLOT_RE = re.compile(r"@@mdframe:([\w:]+)@@")
MAX_FRAMES = 1000  # past it the store is emptied and fills again: a few kilobytes each

enabled = True  # tests turn it off to render the ordinary way
_frames = {}
_lock = threading.Lock()


def clear(**_kwargs):
    with _lock:
        _frames.clear()


setting_changed.connect(clear, dispatch_uid="core.backoffice_frame.clear")


def _user_html(context):
    user = getattr(context.get("request"), "user", None)
    return "" if user is None else conditional_escape(str(user))  # as {{ request.user }}: "" without one


@register.simple_tag(takes_context=True)
def backoffice_user(context):
    """The user's display name, as `{{ request.user }}` shows it (a slot while the frame is kept)."""
    if context.get(SLOTS_FLAG):
        return SafeString(USER_SLOT)
    return _user_html(context)


class FrameNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist
        self.blocks = {node.name: node for node in nodelist.get_nodes_by_type(BlockNode)}

    def _key(self, context):
        if settings.DEBUG or not enabled or context.get(SLOTS_FLAG):
            return None
        request = context.get("request")
        if request is None or context.get("messages"):
            return None
        if context.get("csrf_token") is None:  # rendered without the CSRF context processor
            return None
        menu = menu_key(context)
        if menu is None:  # anonymous
            return None
        user = request.user
        bell = str(context.get("store_unread_notifications") or 0) if user.has_perm(BELL_PERMISSION) else None
        return (self, menu, bool(user.is_active), bell)

    def _keep(self, context, key):
        """The frame rendered with slots, split: [text, slot, text, …, text]."""
        blocks = BlockContext()
        blocks.add_blocks({name: BlockNode(name, NodeList([TextNode(f"@@mdframe:block:{name}@@")]))
                           for name in self.blocks})
        with context.render_context.push_state(context.render_context.template, isolated_context=True):
            context.render_context[BLOCK_CONTEXT_KEY] = blocks
            with context.push({"csrf_token": CSRF_SLOT, "messages": (), SLOTS_FLAG: True}):
                html = self.nodelist.render(context)
        parts = _SLOT_RE.split(html)
        for slot in parts[1::2]:
            if slot not in ("csrf", "user") and slot.removeprefix("block:") not in self.blocks:
                raise ValueError(f"unknown slot {slot!r} in the back-office frame")
        with _lock:
            if len(_frames) >= MAX_FRAMES:
                _frames.clear()
            _frames[key] = parts
        return parts

    def render(self, context):
        key = self._key(context)
        if key is None:
            return self.nodelist.render(context)
        parts = _frames.get(key)
        if parts is None:
            parts = self._keep(context, key)
        token = csrf_token(request := context["request"])
        out = []
        for i, part in enumerate(parts):
            if not i % 2:
                out.append(part)
            elif part == "csrf":
                out.append(token)
            elif part == "user":
                out.append(conditional_escape(str(request.user)))
            else:  # a block: the page's own (or the frame's default), rendered as the ExtendsNode set it up
                out.append(self.blocks[part[6:]].render_annotated(context))
        return SafeString("".join(out))


@register.tag("backoffice_frame")
def backoffice_frame(parser, token):
    nodelist = parser.parse(("endbackoffice_frame",))
    parser.delete_first_token()
    return FrameNode(nodelist)
