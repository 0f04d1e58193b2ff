"""The back-office frame kept per process (core.templatetags.backoffice_frame): the same HTML as
rendering it each time, and what is per request (the user's name, the bell, messages, the token,
the page's blocks) shown at once."""

import re

import pytest
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages.storage.fallback import FallbackStorage
from django.middleware.csrf import _check_token_format, _unmask_cipher_token
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from core.templatetags import backoffice_frame
from stores.models import StoreNotification, StoreStaff
from tests.orders.factories import make_store

pytestmark = [pytest.mark.django_db]
User = get_user_model()
QUEUE = reverse("orders_bo:queue")
DASHBOARD = reverse("backoffice:dashboard")
TOKEN = re.compile(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")([A-Za-z0-9]{64})')


def _perm(label):
    app, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def _clerk(*labels, name="clerk"):
    user = User.objects.create_user(name, password="pw-12345678", is_staff=True)
    user.user_permissions.add(*[_perm(label) for label in labels])
    StoreStaff.objects.create(user=user, store=make_store(), role=StoreStaff.Role.CLERK)
    return user


def _same(html):
    return TOKEN.sub(lambda m: m.group(1) + "TOKEN", html)


@pytest.fixture(autouse=True)
def _fresh():
    backoffice_frame.clear()
    yield
    backoffice_frame.enabled = True
    backoffice_frame.clear()


def _page(client, url, *, kept):
    backoffice_frame.enabled = kept
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("url", [QUEUE, DASHBOARD, reverse("stores_bo:notifications")])
def test_a_page_through_the_kept_frame_is_the_page_rendered_the_ordinary_way(client, url):
    user = _clerk("orders.view_order", "stores.view_storenotification", "stores.view_lowstockalert",
                  name="王<小>二")
    StoreNotification.objects.create(user=user, store=StoreStaff.objects.get(user=user).store, title="库存不足")
    client.force_login(user)
    ordinary = _page(client, url, kept=False)
    first = _page(client, url, kept=True)  # renders the frame with its slots and keeps it
    again = _page(client, url, kept=True)  # from the kept copy
    assert len(backoffice_frame._frames) == 1
    assert _same(first) == _same(ordinary) and _same(again) == _same(ordinary)
    assert "王&lt;小&gt;二" in again and 'data-testid="bell-count">1<' in again
    assert "@@mdframe" not in again


def test_the_token_in_the_frame_is_one_the_csrf_middleware_accepts(client):
    client.force_login(_clerk("orders.view_order"))
    client.get(QUEUE)
    page = _page(client, QUEUE, kept=True)
    tokens = {m.group(2) for m in TOKEN.finditer(page)}
    assert len(tokens) == 1
    token = tokens.pop()
    _check_token_format(token)
    secret = client.cookies["csrftoken"].value
    assert _unmask_cipher_token(token) == secret


def test_a_renamed_user_and_a_new_notice_show_at_once(client):
    user = _clerk("orders.view_order", "stores.view_storenotification")
    client.force_login(user)
    page = _page(client, QUEUE, kept=True)
    assert "<span>clerk</span>" in page and "bell-count" not in page
    user.username = "clerk-renamed"
    user.save()
    page = _page(client, QUEUE, kept=True)
    assert "<span>clerk-renamed</span>" in page and "<span>clerk</span>" not in page
    StoreNotification.objects.create(user=user, store=StoreStaff.objects.get(user=user).store, title="库存不足")
    page = _page(client, QUEUE, kept=True)
    assert 'data-testid="bell-count">1<' in page
    StoreNotification.objects.update(read_at="2026-01-01T00:00:00Z")
    assert "bell-count" not in _page(client, QUEUE, kept=True)



def test_a_page_with_messages_shows_them(client):
    user = _clerk("orders.view_order")
    client.force_login(user)
    _page(client, QUEUE, kept=True)  # the frame is kept
    request = RequestFactory().get(QUEUE)
    request.session, request.user = client.session, user
    request._messages = FallbackStorage(request)
    quiet = render_to_string("orders/backoffice/no_store.html", {}, request=request)
    backoffice_frame.enabled = False
    assert _same(render_to_string("orders/backoffice/no_store.html", {}, request=request)) == _same(quiet)
    backoffice_frame.enabled = True
    messages.success(request, "已保存")
    shown = render_to_string("orders/backoffice/no_store.html", {}, request=request)
    assert "bo-messages" not in quiet
    assert '<li class="bo-message bo-message--success">已保存</li>' in shown


def test_another_user_or_language_has_its_own_frame(client):
    client.force_login(_clerk("orders.view_order", name="first"))
    assert "<span>first</span>" in _page(client, QUEUE, kept=True)
    client.force_login(_clerk("orders.view_order", name="second"))
    page = _page(client, QUEUE, kept=True)
    assert "<span>second</span>" in page and "first" not in page
    client.cookies["django_language"] = "en"
    english = _page(client, QUEUE, kept=True)
    assert english != page and 'lang="en"' in english
