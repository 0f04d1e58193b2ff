"""One locked row must not stop the site (issue 13): a second PostgreSQL connection holds a stock
row with SELECT ... FOR UPDATE, as one slow transaction would during a sale. A checkout or a
points exchange that needs that row gives up after DB_LOCK_TIMEOUT_MS (the connection's own
lock_timeout, from settings), rolls back and answers 503 "系统繁忙" with Retry-After, having spent
no points, used no coupon, reserved no stock and created no order; /healthz answers 200 at once
meanwhile; and once the row is free the same page submitted again goes through."""

import threading
import time
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from marketing.models import MemberCoupon, PointsExchange, PointsItem
from marketing.services import issue_coupon
from members.models import Member, PointsEntry
from members.services import adjust_points, ensure_default_levels
from orders.models import CartLine, Order
from stores.models import Stock, StockMovement, StockReservation
from tests.marketing.factories import make_coupon, make_product_item

from .factories import make_shopper, make_sku, make_store
from .test_views_checkout import open_checkout
from .test_views_common import fill_cart, shop_client

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOCK_TIMEOUT = settings.DB_LOCK_TIMEOUT_MS / 1000


@pytest.fixture(autouse=True)
def _levels():
    ensure_default_levels()  # an earlier transactional test flushed the data migration's levels


@contextmanager
def row_held(store, sku):
    """The store's stock row of the SKU, locked FOR UPDATE by another connection (in a thread)
    until the block ends."""
    locked, release, failed = threading.Event(), threading.Event(), []

    def hold():
        try:
            with transaction.atomic():
                list(Stock.objects.select_for_update().filter(store=store, sku=sku))
                locked.set()
                release.wait(timeout=120)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            failed.append(exc)
            locked.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=30) and not failed, failed
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=30)


def in_thread(work):
    """Run work() in a thread with its own connection; returns (thread, results list)."""
    results = []

    def run():
        try:
            started = time.monotonic()
            results.append((work(), time.monotonic() - started))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def test_the_configured_timeouts_are_on_every_connection():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        lock, statement = cursor.fetchone()
    assert lock == f"{settings.DB_LOCK_TIMEOUT_MS}ms" or lock == f"{settings.DB_LOCK_TIMEOUT_MS // 1000}s"
    assert statement == f"{settings.DB_STATEMENT_TIMEOUT_MS // 1000}s" or statement == f"{settings.DB_STATEMENT_TIMEOUT_MS}ms"
    assert 0 < settings.DB_LOCK_TIMEOUT_MS < settings.DB_STATEMENT_TIMEOUT_MS


def checkout_state(shopper, store, sku, copy):
    return {
        "orders": Order.objects.count(),
        "stock": Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").get(),
        "movements": StockMovement.objects.count(),
        "reservations": StockReservation.objects.count(),
        "points": Member.objects.get(user=shopper).points_balance,
        "points_entries": PointsEntry.objects.count(),
        "coupon": MemberCoupon.objects.get(pk=copy.pk).status,
        "cart_lines": CartLine.objects.count(),
    }


def test_checkout_meeting_a_held_stock_row_is_busy_changes_nothing_and_healthz_stays_up(caplog):
    store = make_store()
    sku = make_sku(price="50.00", stock=5, store=store)
    shopper = make_shopper()
    adjust_points(shopper, 1000, "测试", None)
    copy = issue_coupon(shopper, make_coupon(amount="10.00", threshold="30.00"), source=MemberCoupon.Source.GRANT)
    fill_cart(shopper, [sku], 2)
    buyer = shop_client(Client(), shopper, store)
    _page, data = open_checkout(buyer, use_points="1")
    assert data["coupon"] == [str(copy.pk)] and data["use_points"] == ["1"]
    before = checkout_state(shopper, store, sku, copy)

    with row_held(store, sku):
        thread, results = in_thread(lambda: buyer.post("/orders/checkout/", data,
                                                       HTTP_REFERER="http://testserver/orders/checkout/"))
        time.sleep(0.3)  # the checkout is now waiting for the row
        started = time.monotonic()
        health = Client().get("/healthz")
        health_took = time.monotonic() - started
        thread.join(timeout=LOCK_TIMEOUT + 30)
        assert not thread.is_alive()
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health_took < 1.5, health_took
        (response, took), = results
        assert response.status_code == 503, response.content.decode()[:300]
        # it waited for the row, then gave up on its own lock timeout: well before the proxy's 30 s
        assert LOCK_TIMEOUT * 0.9 <= took < LOCK_TIMEOUT + 5, took
        assert response["Retry-After"].isdigit()
        html = response.content.decode()
        assert "系统繁忙，请稍后再试" in html and 'href="/orders/checkout/"' in html
        assert checkout_state(shopper, store, sku, copy) == before
    lines = [r.getMessage() for r in caplog.records if r.name == "core.outages"]
    assert len(lines) == 1 and "LockNotAvailable" in lines[0] and "POST /orders/checkout/" in lines[0]
    assert not [r for r in caplog.records if r.exc_info]

    # the row is free again: the same page submitted again places the order, once
    response = buyer.post("/orders/checkout/", data)
    assert response.status_code == 302 and "/pay/" in response["Location"]
    order = Order.objects.get()
    assert order.points_used == 1000 and order.member_coupon_id == copy.pk
    assert Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").get() == (5, 2)
    assert Member.objects.get(user=shopper).points_balance == 0
    assert MemberCoupon.objects.get(pk=copy.pk).status != before["coupon"]


def exchange_state(shopper, store, sku, item):
    return {
        "exchanges": PointsExchange.objects.count(),
        "points": Member.objects.get(user=shopper).points_balance,
        "points_entries": PointsEntry.objects.count(),
        "exchanged": PointsItem.objects.get(pk=item.pk).exchanged_count,
        "stock": Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").get(),
        "movements": StockMovement.objects.count(),
        "reservations": StockReservation.objects.count(),
    }


def test_points_exchange_meeting_a_held_stock_row_is_busy_and_changes_nothing(caplog):
    from tests.members.factories import make_member

    store = make_store()
    sku = make_sku(stock=3, store=store)
    item = make_product_item(sku, points=300)
    shopper = make_member(points=1000, phone_verified=True).user
    client = Client()
    client.force_login(shopper)
    url = f"/marketing/points-mall/{item.pk}/exchange/"
    form = {"request_id": "rid-held", "store_id": store.pk, "points": "300"}
    before = exchange_state(shopper, store, sku, item)

    with row_held(store, sku):
        started = time.monotonic()
        response = client.post(url, form)
        took = time.monotonic() - started
        assert response.status_code == 503
        assert LOCK_TIMEOUT * 0.9 <= took < LOCK_TIMEOUT + 5, took
        assert "系统繁忙，请稍后再试" in response.content.decode()
        assert exchange_state(shopper, store, sku, item) == before
        assert Client().get("/healthz").status_code == 200
    assert [r.levelname for r in caplog.records if r.name == "core.outages"] == ["WARNING"]

    response = client.post(url, form)  # the same form again, now that the row is free
    assert response.status_code == 302
    assert PointsExchange.objects.get().status == PointsExchange.Status.AWAITING_PICKUP
    assert Member.objects.get(user=shopper).points_balance == 700
    assert Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").get() == (3, 1)
