"""Outages: the database or Redis cannot answer right now. The shopper gets "busy, try again" with
HTTP 503 and `Retry-After`, never a 500, and the log gets one WARNING line per failing request, never
a traceback each (a sale's lock pile-up or a Redis restart would otherwise bury the log).

What counts as an outage (`outage_kind`): a database OperationalError or InterfaceError (connection
refused or lost, too many connections, a lock_timeout or statement_timeout set in settings, a
deadlock, a serialization failure) and a Redis ConnectionError or TimeoutError (raw, or wrapped by
django-redis). Every write use case is one transaction (services.py), so an outage raised out of a
view has rolled its change back: the request changed nothing and may simply be sent again.

Who answers: `OutageMiddleware` for exceptions raised out of a view (also with DEBUG on), and
core.views.server_error for those raised by a middleware (a session saved to a Redis that is down).
The answer takes the caller's form:
- a view decorated with `outage_answer(body, content_type=…)` gets exactly that body (the payment
  gateways' notifications: WeChat Pay wants {"code": "FAIL", …}, Alipay anything but "success");
- an htmx request gets one line of plain text (shop.js and backoffice.js show it as a tip);
- a request that asks for JSON gets {"code": "busy", "message": …};
- /backoffice/ and /admin/ get a page in the back office's look; anything else the shop's.
The pages use no request context (no session, no user, no query), so they render while the
database and Redis are both down.
"""

import logging
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from .navigation import is_safe_path

log = logging.getLogger("core.outages")

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
BACKOFFICE_PREFIXES = ("/backoffice/", "/admin/")


def outage_kind(exc):
    """"database" or "cache" when `exc` means that service cannot answer now (try again later),
    else None (a bug, which stays a 500 with its traceback)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "database"
    if isinstance(exc, REDIS_ERRORS):
        return "cache"
    # django-redis wraps the client's errors (ConnectionInterrupted, raised from the redis error)
    if type(exc).__name__ == "ConnectionInterrupted" and isinstance(exc.__cause__, (*REDIS_ERRORS, OSError)):
        return "cache"
    return None


def outage_answer(body, *, content_type):
    """Decorator for endpoints whose callers are machines with a protocol of their own (payment
    notifications): on an outage they get `body` with 503 and Retry-After instead of a page."""

    def decorate(view):
        view.outage_answer = (body, content_type)
        return view

    return decorate


def _reason(exc):
    """One line: the driver's error class and the first line of its message (PostgreSQL adds
    CONTEXT lines; a message never carries the query's parameters)."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(cause).__name__}: {first_line}"


def log_outage(request, exc, kind):
    log.warning("outage (%s) answered 503: %s %s: %s", kind, request.method, request.path, _reason(exc))


def _wants_json(request):
    accept = request.headers.get("Accept", "")
    return request.content_type == "application/json" or ("application/json" in accept and "text/html" not in accept)


def _retry_target(request):
    """Where the page's 重试 button goes: the same address for a GET, the page the form was sent
    from for anything else (when it is one of ours), else the home page."""
    try:
        if request.method in ("GET", "HEAD"):
            target = request.get_full_path()
        else:
            referer = urlsplit(request.headers.get("Referer", ""))
            same_host = referer.netloc == request.get_host()
            target = referer.path + (f"?{referer.query}" if referer.query else "") if same_host else ""
        return target if is_safe_path(target, request) else "/"
    except (ValueError, DisallowedHost):  # a Referer urlsplit cannot read ("http://["), a forged Host
        return "/"


def _page(request, template):
    context = {"SITE_NAME": settings.SITE_NAME, "retry_url": _retry_target(request)}
    try:
        return loader.render_to_string(template, context)
    except Exception:  # noqa: BLE001 - the busy page itself must never fail
        return "<h1>503</h1><p>系统繁忙，请稍后再试 / The service is busy, please try again shortly.</p>"


def outage_response(request, exc, kind):
    """The 503 answer for `request` (see the module's docstring), logged as one WARNING line."""
    log_outage(request, exc, kind)
    message = _("系统繁忙，请稍后再试")
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    answer = getattr(view, "outage_answer", None)
    if answer is not None:
        body, content_type = answer
        response = HttpResponse(body, content_type=content_type)
    elif request.headers.get("HX-Request") == "true":
        response = HttpResponse(message, content_type="text/plain; charset=utf-8")
    elif _wants_json(request):
        response = JsonResponse({"code": "busy", "message": message})
    elif request.path.startswith(BACKOFFICE_PREFIXES):
        response = HttpResponse(_page(request, "backoffice/503.html"))
    else:
        response = HttpResponse(_page(request, "503.html"))
    response.status_code = 503
    response["Retry-After"] = str(settings.OUTAGE_RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    response._has_been_logged = True  # our line is the log entry: Django's own would add a traceback
    return response


class OutageMiddleware:
    """Turns an outage raised out of a view into the 503 answer (outage_response)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        kind = outage_kind(exception)
        if kind is None:
            return None
        return outage_response(request, exception, kind)
