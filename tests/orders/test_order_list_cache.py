"""我的订单 is cached whole per member (orders.list_cache): a second visit runs no query of its own,
every writer of a member's orders drops the member's pages (place, pay, cancel, the worker's
sweep, ready for pickup, ship, complete, after-sales, staff price change and remark), one member
never sees another's page, a page is kept no longer than its first 申请售后 window, and with
Redis down the page still answers, built from the database."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from core.cache import cache_recovered
from orders import list_cache, services
from orders.models import AfterSale, Order

from .backoffice_support import ask_refund
from .factories import checkout, make_shopper, pay
from .test_views_common import LOGGED_IN, htmx, paid_order, shop_client

pytestmark = pytest.mark.django_db
LIST = reverse("orders:list")


def _statuses(client, tab="all"):
    """{order number: status label} as the list shows them."""
    html = client.get(LIST, {"tab": tab}).content.decode()
    return dict(re.findall(
        r'data-order="(\d+)">.*?<span class="od-status[^"]*">([^<]+)</span>', html, re.S))


def test_a_second_visit_is_served_whole_from_the_cache(client, django_assert_num_queries, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    shop_client(client, shopper, store)
    first = client.get(LIST).content.decode()
    with django_assert_num_queries(LOGGED_IN):  # no counts, no orders, no lines
        again = client.get(LIST).content.decode()
    csrf = re.compile(r'value="[^"]{64}"|"X-CSRFToken": "[^"]+"')  # masked afresh on every page
    assert csrf.sub("", again) == csrf.sub("", first) and order.number in again
    assert list_cache.CSRF_MARK not in again and 'name="csrfmiddlewaretoken" value="' in again


def test_load_more_is_cached_apart_from_the_first_page(client, django_assert_num_queries, shopper, store):
    from .factories import make_sku

    plenty = make_sku("大红袍", price="20.00", stock=50, store=store)
    orders = [checkout(shopper, store, [(plenty, 1)]) for _ in range(11)]
    shop_client(client, shopper, store)
    client.get(LIST)
    more = client.get(LIST, {"page": "2"}, **htmx()).content.decode()
    assert orders[0].number in more and "od-tabs" not in more
    with django_assert_num_queries(LOGGED_IN):
        assert client.get(LIST, {"page": "2"}, **htmx()).content.decode().count("od-ocard") == more.count("od-ocard")


def test_another_member_never_gets_my_page(client, shopper, store, tea):
    mine = checkout(shopper, store, [(tea, 1)])
    shop_client(client, shopper, store)
    assert mine.number in client.get(LIST).content.decode()
    other = make_shopper()
    theirs = checkout(other, store, [(tea, 1)])
    page = shop_client(client, other, store).get(LIST).content.decode()
    assert theirs.number in page and mine.number not in page


@pytest.fixture
def seen(client, shopper, store):
    """A client that has the shopper's list cached (call it with the tab to look at)."""
    shop_client(client, shopper, store)

    def look(tab="all"):
        return _statuses(client, tab)
    return look


def test_placing_an_order_shows_it(seen, shopper, store, tea, django_capture_on_commit_callbacks):
    assert seen() == {}
    # a new order moves the version when it commits (list_cache.created): commit it
    with django_capture_on_commit_callbacks(execute=True):
        order = checkout(shopper, store, [(tea, 1)])
    assert seen() == {order.number: "待付款"}


def test_paying_shows_it(seen, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    assert seen() == {order.number: "待付款"}
    pay(order)  # the payment confirmation locks on its own, then moves the order (transition)
    assert seen()[order.number] != "待付款"


def test_cancelling_shows_it(seen, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    assert seen() == {order.number: "待付款"}
    services.cancel_order(order, by=shopper, reason="不要了")
    assert seen() == {order.number: "已取消"}


def test_the_workers_sweep_shows_it(seen, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    assert seen() == {order.number: "待付款"}
    assert services.cancel_overdue_orders(now=timezone.now() + timedelta(hours=2)) == 1
    assert seen() == {order.number: "已取消"}


def test_staff_moves_show_them(seen, shopper, store, manager, tea, nuts):
    pickup = paid_order(shopper, store, [(tea, 1)])
    express = paid_order(shopper, store, [(nuts, 1)], fulfilment="express")
    before = seen()
    services.mark_ready_for_pickup(pickup, by=manager)
    services.ship_order(express, by=manager, parcels=[("shunfeng", "SF1234567890")])
    after = seen()
    assert after[pickup.number] != before[pickup.number] and after[express.number] == "待收货"
    services.complete_order(Order.objects.get(pk=express.pk), by=shopper)
    assert seen()[express.number] == "已完成"


def test_a_staff_price_change_shows_it(client, seen, shopper, store, manager, tea):
    order = checkout(shopper, store, [(tea, 1)])
    seen()
    services.change_price(order, by=manager, goods_adjustment=Decimal("-1.00"), reason="老顾客")
    order.refresh_from_db()
    html = client.get(LIST).content.decode()
    assert f"<small>¥</small>{order.pay_amount}" in html


def test_after_sales_show_on_the_cards_and_their_tab(client, seen, shopper, store, manager, tea):
    order = paid_order(shopper, store, [(tea, 1)])
    seen(), seen("after_sale")
    after_sale = ask_refund(order)
    assert "售后中" in client.get(LIST).content.decode()
    assert after_sale.number in client.get(LIST, {"tab": "after_sale"}).content.decode()
    services.reject_after_sale(after_sale, by=manager, reason="不符合条件")
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSale.Status.REJECTED
    assert "售后中" not in client.get(LIST).content.decode()


def test_a_page_is_kept_no_longer_than_its_first_after_sale_window(client, shopper, store, manager, tea, settings):
    order = paid_order(shopper, store, [(tea, 1)], fulfilment="express")
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])
    services.complete_order(Order.objects.get(pk=order.pk), by=shopper)
    closes = timezone.now() + timedelta(seconds=90)
    Order.objects.filter(pk=order.pk).update(
        completed_at=closes - timedelta(days=int(getattr(settings, "ORDER_AFTER_SALE_DAYS", 7))))
    list_cache.changed(shopper.pk)
    shop_client(client, shopper, store)
    assert "申请售后" in client.get(LIST).content.decode()
    [stored] = [k for k in cache.keys("*orders:list:*:page:*")]
    assert 0 < cache.ttl(stored) <= 90


def test_redis_down_still_answers_from_the_database(client, shopper, store, tea, settings):
    from core.cache import reset_breakers

    order = checkout(shopper, store, [(tea, 1)])
    shop_client(client, shopper, store)
    assert order.number in client.get(LIST).content.decode()
    settings.CACHES = {**settings.CACHES, "default": {
        **settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {**settings.CACHES["default"].get("OPTIONS", {}), "SOCKET_CONNECT_TIMEOUT": 0.2}}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    try:
        shop_client(client, shopper, store)
        services.cancel_order(order, by=shopper, reason="不要了")
        response = client.get(LIST)
        assert response.status_code == 200 and "已取消" in response.content.decode()
    finally:
        reset_breakers()


def test_when_redis_comes_back_pages_cached_before_are_dropped(seen, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    assert seen() == {order.number: "待付款"}
    # a cancel during an outage could not set the member's version
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    assert seen() == {order.number: "待付款"}  # what the stale page would say
    cache_recovered.send(sender="test")
    assert seen() == {order.number: "已取消"}
