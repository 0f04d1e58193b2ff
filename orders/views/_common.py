"""What the shopper pages share: htmx detection, WeChat detection, safe `next` targets, htmx
triggers (badge, toast) and the member's own order or a 404."""

import json

from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from .. import selectors


def is_htmx(request):
    return request.headers.get("HX-Request") == "true"


def in_wechat(request):
    """Inside WeChat's browser (its user agent says MicroMessenger): WeChat Pay is offered there."""
    return "MicroMessenger" in request.headers.get("User-Agent", "")


def safe_next(request, default, *, field="next"):
    """`next` from the form or query string when it is a path on this site, else `default`
    (an absolute URL, another host, `//evil`, a scheme or a control character is never followed)."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and target.isprintable()
        and "\\" not in target
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                            require_https=request.is_secure())
    ):
        return target
    return default


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
