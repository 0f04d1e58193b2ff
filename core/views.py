import sys

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseServerError, JsonResponse
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token

from . import health, outages


@never_cache
def healthz(request):
    """Database, cache and broker reachability: 200 when all are up, 503 naming what is down."""
    results = health.run_checks()
    down = {name: reason for name, reason in results.items() if reason}
    body = {
        "status": "ok" if not down else "down",
        "checks": {name: ("ok" if not reason else "down") for name, reason in results.items()},
    }
    if down:
        body["down"] = sorted(down)
    return JsonResponse(body, status=503 if down else 200)


def bench_hello(request):
    """The benchmarks' baseline: the cheapest response Django can give through the full stack."""
    return HttpResponse(b"hello", content_type="text/plain")


@requires_csrf_token
def bad_request(request, exception=None):
    """A request no page can use (a NUL character, core.middleware; a malformed form; a redirect
    too long to follow): a clear page in the shop's look, never an error page."""
    try:
        html = loader.render_to_string("400.html", {}, request=request)
    except Exception:  # the page must not fail on the request it refuses
        html = loader.get_template("400.html").render({})
    return HttpResponseBadRequest(html)


def server_error(request):
    # An outage raised by a middleware rather than a view (a session saved to a Redis that is down):
    # 503 + Retry-After and one log line, like OutageMiddleware does for views.
    exc = sys.exc_info()[1]
    kind = outages.outage_kind(exc) if exc is not None else None
    if kind is not None:
        return outages.outage_response(request, exc, kind)
    # No request context: a failing context processor or database must not break the error page.
    try:
        html = loader.get_template("500.html").render({})
    except Exception:  # the error page itself must never fail
        html = "<h1>500</h1><p>系统繁忙，请稍后再试 / Please try again later.</p>"
    return HttpResponseServerError(html)
