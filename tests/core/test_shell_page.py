"""core.shell.render_page: a kept layout with this request's token, badge and body put into the
response's text, without a template render per request. What a page showed through a render must
still show: the badge exact on every request (asked only where the layout has the tab bar), the
token the CSRF middleware accepts, flash messages, and the view's context for the test client."""

import re

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest
from django.middleware.csrf import _unmask_cipher_token

from core import shell
from orders.services.cart import add_for_member
from tests.marketing.factories import make_coupon_item
from tests.members.factories import make_member
from tests.stores.conftest import make_sku

pytestmark = pytest.mark.django_db
MALL = "/marketing/points-mall/"
ORDERS = "/orders/"


def _member(points=50):
    return make_member(points=points, phone_verified=True).user


def _no_badge_asked(request):
    raise AssertionError("a page without the tab bar asked for the cart's count")


def test_the_page_is_put_together_from_the_kept_layout(client):
    make_coupon_item(title="十元券")
    user = _member()
    add_for_member(user, make_sku("壳页徽标").pk, 4)
    client.force_login(user)
    first = client.get(MALL)
    again = client.get(MALL)
    for response in (first, again):
        page = response.content.decode()
        assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
        assert "十元券" in page and 'id="mk-balance">50<' in page
        assert re.search(r"data-cart-badge[^>]*>4<", page)
        assert shell.CSRF_MARKER not in page and shell.BADGE_MARKER not in page and shell.BODY_MARKER not in page
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        assert _unmask_cipher_token(token) == client.cookies["csrftoken"].value
    # the view's context still reaches the test client, as the page template's
    assert again.context["balance"] == 50 and again.context["active_tab"] == "me"
    assert again.templates[0].name == "marketing/mall.html"


def test_a_page_without_the_tab_bar_never_counts_the_cart(client, settings):
    settings.SHELL_CART_COUNT = "tests.core.test_shell_page._no_badge_asked"
    client.force_login(_member())
    client.get(ORDERS)
    page = client.get(ORDERS).content.decode()
    assert "data-cart-badge" not in page and "shop-tabbar" not in page


def test_flash_messages_are_shown(client):
    client.force_login(_member())
    client.get(MALL)  # the layout kept
    storage = CookieStorage(HttpRequest())
    client.cookies["messages"] = storage._encode([Message(constants.SUCCESS, "兑换成功，请到店自提")])
    page = client.get(MALL).content.decode()
    assert "兑换成功，请到店自提" in page and 'id="mk-balance">50<' in page
    assert "兑换成功，请到店自提" not in client.get(MALL).content.decode()  # shown once
