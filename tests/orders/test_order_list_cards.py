"""The order list's speed parts stay exact: the tab counts (one grouped query, tabs decided in
Python) agree with the tabs' own filters for every status and delivery method, and a cached card
(keyed by everything it shows) never shows an old status, amount or after-sale state, nor an old
CSRF token."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from orders import list_cache, selectors
from orders.models import Order
from orders.views.orders import CSRF_MARK, card_cache_key

from .backoffice_support import ask_refund
from .factories import checkout, pay
from .test_views_common import paid_order, shop_client

pytestmark = pytest.mark.django_db
LIST = reverse("orders:list")


def test_tab_counts_agree_with_the_tab_filters_for_every_status_and_delivery_method(shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    for status in Order.Status.values:
        for fulfilment in Order.Fulfilment.values:
            Order.objects.filter(pk=order.pk).update(status=status, fulfilment=fulfilment)
            counts = selectors.tab_counts(shopper)
            for key in selectors.COUNTED_TABS:
                if key == "after_sale":
                    continue
                expected = Order.objects.filter(user=shopper).filter(selectors.TAB_FILTERS[key]).count()
                assert counts[key] == expected, (status, fulfilment, key)


def test_tab_counts_count_open_after_sales_and_only_mine(shopper, store, plenty_tea):
    asked = paid_order(shopper, store, [(plenty_tea, 2)])
    ask_refund(asked, quantities={asked.lines.get().pk: 1})
    assert selectors.tab_counts(shopper)["after_sale"] == 1
    from .factories import make_shopper

    assert selectors.tab_counts(make_shopper()) == dict.fromkeys(selectors.COUNTED_TABS, 0)


@pytest.fixture
def plenty_tea(store):
    from .factories import make_sku

    return make_sku("大红袍", price="20.00", stock=50, store=store)


def _card_of(html, order):
    match = re.search(rf'<article class="od-ocard" data-order="{order.number}">(.*?)</article>', html, re.S)
    assert match, order.number
    return match.group(1)


def test_a_cached_card_shows_what_the_order_is_now(client, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    shop_client(client, shopper, store)
    first = _card_of(client.get(LIST).content.decode(), order)
    assert "去支付" in first and "待付款" in first
    unmasked = re.compile(r'value="[^"]{64}"')  # the CSRF token is masked afresh on every page
    again = _card_of(client.get(LIST).content.decode(), order)
    assert unmasked.sub("", again) == unmasked.sub("", first)  # the cached card
    pay(order)  # a conditional UPDATE of the status through the transition function: no signal
    card = _card_of(client.get(LIST).content.decode(), order)
    assert "去支付" not in card and "待付款" not in card and "待备货" in card
    # a write outside the services says whose list changed, as every service does (orders.list_cache)
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("1.00"))
    list_cache.changed(order.user_id)
    assert "已退 ¥1.00" in _card_of(client.get(LIST).content.decode(), order)


def test_a_cached_card_follows_an_after_sale_opened_on_the_order(client, shopper, store, plenty_tea):
    order = paid_order(shopper, store, [(plenty_tea, 2)])
    shop_client(client, shopper, store)
    before = _card_of(client.get(LIST).content.decode(), order)
    assert "售后中" not in before
    ask_refund(order, quantities={order.lines.get().pk: 1})
    assert "售后中" in _card_of(client.get(LIST).content.decode(), order)


@pytest.mark.parametrize("change", [
    lambda card: setattr(card.order, "status", "completed"),
    lambda card: setattr(card.order, "fulfilment", "express"),
    lambda card: setattr(card.order, "pay_amount", card.order.pay_amount + 1),
    lambda card: setattr(card.order, "paid_amount", card.order.paid_amount + 1),
    lambda card: setattr(card.order, "refunded_amount", card.order.refunded_amount + 1),
    lambda card: setattr(card, "store_name", card.store_name + "二店"),
    lambda card: setattr(card, "has_open_after_sale", not card.has_open_after_sale),
    lambda card: setattr(card, "can_after_sale", not card.can_after_sale),
    lambda card: setattr(card, "quantity", card.quantity + 1),
    lambda card: setattr(card.lines[0], "product_name", "换了名字"),
    lambda card: setattr(card.lines[0], "spec_text", "大杯"),
    lambda card: setattr(card.lines[0], "image_url", "/media/x.jpg"),
])
def test_the_card_key_changes_with_everything_the_card_shows(shopper, store, tea, change):
    checkout(shopper, store, [(tea, 1)])
    [card], _more = selectors.order_page(shopper, "all", 1)
    key = card_cache_key(card, "zh-hans")
    change(card)
    assert card_cache_key(card, "zh-hans") != key
    assert card_cache_key(card, "en") != card_cache_key(card, "zh-hans")


def _tokens(html):
    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)


def test_a_cached_card_carries_the_current_requests_csrf_token(shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    reorder = reverse("orders:reorder", args=[order.public_id])
    tokens = []
    for _visit in range(2):  # a new browser gets a new CSRF secret; its card comes from the cache
        client = shop_client(Client(enforce_csrf_checks=True), shopper, store)
        html = client.get(LIST).content.decode()
        assert CSRF_MARK not in html
        [token] = _tokens(_card_of(html, order))
        assert client.post(reorder, {"csrfmiddlewaretoken": token}).status_code == 302
        tokens.append(token)
    # the first browser's token is no good in the second: a card cached with it would be refused
    assert client.post(reorder, {"csrfmiddlewaretoken": tokens[0]}).status_code == 403


def test_the_kept_layout_carries_this_requests_token_and_shows_flash_messages(shopper, store, tea):
    """The page's layout is rendered once per process (core.shell): each visit's htmx header
    token is its own and accepted, and a flash message (that page rendered the ordinary way) shows."""
    order = checkout(shopper, store, [(tea, 1)])
    reorder = reverse("orders:reorder", args=[order.public_id])
    headers = []
    for _visit in range(2):
        client = shop_client(Client(enforce_csrf_checks=True), shopper, store)
        html = client.get(LIST).content.decode()
        [header] = re.findall(r'"X-CSRFToken": "([^"]+)"', html)
        assert "shop-main--tabbar" not in html and order.number in html and "shop-messages" not in html
        assert client.post(reorder, HTTP_X_CSRFTOKEN=header).status_code == 302
        headers.append(header)
    # the message of 再来一单 waits for the next page: the order list shows it, with a working token
    html = client.get(LIST).content.decode()
    assert "shop-messages" in html and "加入购物车" in html
    [header] = re.findall(r'"X-CSRFToken": "([^"]+)"', html)
    assert client.post(reorder, HTTP_X_CSRFTOKEN=header).status_code == 302
    assert client.post(reorder, HTTP_X_CSRFTOKEN=headers[0]).status_code == 403
