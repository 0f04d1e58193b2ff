"""The project's URLs plus views that meet each kind of outage for real (a refused database or
Redis connection, a statement timeout), to see what a shopper, a clerk, htmx and the log get."""

import redis
from django.db import OperationalError, connection, connections, transaction
from django.http import HttpResponse
from django.urls import path

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


def database_refused(request):
    """A connection to a port nothing listens on: PostgreSQL down (the driver's own error)."""
    default = connections["default"]
    if default.vendor != "postgresql":
        raise OperationalError("connection refused")
    down = type(default)({**default.settings_dict, "HOST": "127.0.0.1", "PORT": 1}, alias="down")
    down.ensure_connection()
    return HttpResponse("unreachable")


def statement_timeout(request):
    """A statement that runs past statement_timeout (set short for this transaction only)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', '100', true)")
        cursor.execute("SELECT pg_sleep(2)")
    return HttpResponse("slept")


def redis_refused(request):
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)).ping()
    return HttpResponse("pong")


def django_redis_refused(request):
    from django_redis.cache import RedisCache

    RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1}}).get("key")
    return HttpResponse("got")


def bug(request):
    raise RuntimeError("a bug, not an outage")


class RedisDownOnTheWayOut:
    """A middleware whose response phase meets Redis down (as a session saved to it would)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path == "/outage/on-the-way-out/":
            raise redis.exceptions.ConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        return response


def fine(request):
    return HttpResponse("fine")


def htmx_button(request):
    """A shop page with a button whose htmx request meets the outage (for the browser test)."""
    from django.template import RequestContext, Template

    page = Template(
        '{% extends "shop/base.html" %}{% block content %}<div class="weui-btn-area">'
        '<button id="busy" class="weui-btn weui-btn_primary" hx-post="/outage/redis/" hx-swap="none">加入购物车'
        "</button></div>{% endblock %}"
    )
    return HttpResponse(page.render(RequestContext(request, {"hide_tabbar": True})))


urlpatterns = [
    path("outage/database/", database_refused),
    path("outage/statement-timeout/", statement_timeout),
    path("outage/redis/", redis_refused),
    path("outage/django-redis/", django_redis_refused),
    path("outage/bug/", bug),
    path("outage/on-the-way-out/", fine),
    path("outage/htmx/", htmx_button),
    path("backoffice/outage/redis/", redis_refused),
    path("backoffice/outage/database/", database_refused),
    *project_urlpatterns,
]
