"""What the shopper pages share: htmx detection, WeChat detection, htmx triggers (badge, toast)
and the member's own order or a 404. `next` targets: core.navigation.safe_next."""

import json

from django.http import Http404
from django.utils.translation import gettext as _

from .. import selectors


def is_htmx(request):
    return request.headers.get("HX-Request") == "true"


def in_wechat(request):
    """Inside WeChat's browser (its user agent says MicroMessenger): WeChat Pay is offered there."""
    return "MicroMessenger" in request.headers.get("User-Agent", "")


def trigger(response, **events):
    """Add htmx events (HX-Trigger) to a response. JSON keeps non-ASCII text \\u-escaped, as an
    HTTP header must be."""
    response["HX-Trigger"] = json.dumps(events)
    return response


def toast(text, kind="success"):
    return {"text": str(text), "kind": kind}


def order_or_404(request, public_id):
    order = selectors.order_status(request.user, public_id)
    if order is None:
        raise Http404(_("订单不存在"))
    return order


def countdown_text(seconds):
    """mm:ss of a pay deadline (shop.js keeps it ticking)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
