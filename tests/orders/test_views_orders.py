"""Paying (cashier, dev simulate page, result), the order list with its tabs, one order's page
and its actions (cancel, confirm receipt, 再来一单). Only the buyer sees an order; every action
twice, on the wrong state or on another member's order changes nothing and says so."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from orders.models import CartLine, Order, PaymentAttempt
from orders.services import cancel_order, mark_ready_for_pickup, record_tracking, ship_order
from stores.models import Stock

from .factories import checkout, make_shopper, make_sku, pay
from .test_views_common import (
    BAD_NUMBERS,
    LOGGED_IN,
    WECHAT_UA,
    fill_cart,
    htmx,
    many_skus,
    messages_of,
    paid_order,
    shop_client,
)

pytestmark = pytest.mark.django_db


def url(name, order, **query):
    base = reverse(f"orders:{name}", args=[order.public_id])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def shipped_order(user, store, manager, lines):
    order = paid_order(user, store, lines, fulfilment="express")
    ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])
    order.refresh_from_db()
    return order


@pytest.fixture
def pending(shopper, store, tea):
    return checkout(shopper, store, [(tea, 2)])


# --- the cashier ------------------------------------------------------------------------------
def test_the_cashier_shows_amount_deadline_and_channels(client, shopper, store, pending):
    response = shop_client(client, shopper, store).get(url("pay", pending))
    page = response.content.decode()
    assert response.status_code == 200 and "51.00" in page and pending.number in page
    assert response.context["channels"] == [("dev", "模拟支付")]
    assert 29 * 60 < response.context["seconds_left"] <= 30 * 60 and "data-countdown=" in page


def test_paying_follows_the_gateway_to_the_dev_page_and_back_to_the_result(client, shopper, store, pending):
    shop_client(client, shopper, store)
    response = client.post(url("pay", pending), {"channel": "dev"})
    attempt = PaymentAttempt.objects.get(order=pending)
    assert response.status_code == 302 and response["Location"] == reverse("payments:dev_pay", args=[attempt.out_trade_no])
    page = client.get(response["Location"]).content.decode()
    assert "模拟支付" in page and pending.number in page and "51.00" in page
    assert 'name="action" value="pay"' in page and 'name="action" value="fail"' in page
    response = client.post(reverse("payments:dev_pay", args=[attempt.out_trade_no]), {"action": "pay"})
    assert response["Location"] == url("pay_result", pending)
    result = client.get(response["Location"])
    pending.refresh_from_db()
    assert pending.status == Order.Status.PAID and len(pending.pickup_code) == 6
    page = result.content.decode()
    assert "支付成功" in page and f'id="pickup-code">{pending.pickup_code}<' in page and "od-qr" in page
    assert not result.context["polling"]


def test_a_failed_simulated_payment_leaves_the_order_payable(client, shopper, store, pending):
    shop_client(client, shopper, store)
    client.post(url("pay", pending), {"channel": "dev"})
    attempt = PaymentAttempt.objects.get(order=pending)
    client.post(reverse("payments:dev_pay", args=[attempt.out_trade_no]), {"action": "fail"})
    pending.refresh_from_db()
    assert pending.status == Order.Status.PENDING_PAYMENT
    response = client.get(url("pay_result", pending))
    assert response.context["polling"] and "正在确认支付结果" in response.content.decode()
    assert client.post(url("pay", pending), {"channel": "dev"}).status_code == 302  # try again


def test_in_wechat_the_channels_are_asked_for_wechat(client, shopper, store, pending, monkeypatch):
    seen = []
    from orders.views import orders as views

    monkeypatch.setattr(views, "available_channels", lambda in_wechat, mobile=True: seen.append(in_wechat) or ["dev"])
    shop_client(client, shopper, store).get(url("pay", pending), HTTP_USER_AGENT=WECHAT_UA)
    client.get(url("pay", pending), HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Safari")
    assert seen == [True, False]


@pytest.mark.parametrize("channel", ["alipay_wap", "wechat_jsapi", "", "dev\x00", "x" * 100])
def test_a_channel_not_offered_is_refused(client, shopper, store, pending, channel):
    response = shop_client(client, shopper, store).post(url("pay", pending), {"channel": channel})
    assert response.status_code == 400
    if "\x00" not in channel:  # a NUL is refused before the view (core.middleware): no context
        assert response.context["error"] in ("该支付方式暂不可用", "请选择支付方式")
    assert not PaymentAttempt.objects.exists()


def test_paying_a_cancelled_order_is_refused(client, shopper, store, pending):
    cancel_order(pending, by=shopper)
    shop_client(client, shopper, store)
    response = client.get(url("pay", pending))
    assert response["Location"] == url("detail", pending) and messages_of(response) == ["订单已取消，无需支付"]
    response = client.post(url("pay", pending), {"channel": "dev"})
    assert response.status_code == 400 and "订单已取消，无需支付" in response.content.decode()
    assert not PaymentAttempt.objects.exists()


def test_paying_an_expired_order_is_refused(client, shopper, store, pending):
    Order.objects.filter(pk=pending.pk).update(pay_deadline=timezone.now() - timedelta(minutes=1))
    shop_client(client, shopper, store)
    page = client.get(url("pay", pending)).content.decode()
    assert "订单已超过支付时间，请重新下单" in page and 'name="channel"' not in page
    response = client.post(url("pay", pending), {"channel": "dev"})
    assert response.status_code == 400 and "订单已超过支付时间，请重新下单" in response.content.decode()
    assert not PaymentAttempt.objects.exists()


def test_a_paid_order_goes_to_its_result(client, shopper, store, pending):
    pay(pending)
    response = shop_client(client, shopper, store).get(url("pay", pending))
    assert response["Location"] == url("pay_result", pending)
    assert client.post(url("pay", pending), {"channel": "dev"}).status_code == 400
    assert PaymentAttempt.objects.count() == 1


def test_the_dev_page_is_only_the_buyers(client, store, pending):
    attempt = PaymentAttempt.objects.create(order=pending, channel="dev", out_trade_no="T1", amount_fen=5100,
                                            expires_at=pending.pay_deadline)
    client.force_login(make_shopper())
    assert client.get(reverse("payments:dev_pay", args=[attempt.out_trade_no])).status_code == 404


# --- the result -------------------------------------------------------------------------------
def test_the_result_polls_the_server_while_pending_then_stops(client, shopper, store, pending):
    shop_client(client, shopper, store)
    response = client.get(url("pay_result", pending), **htmx())
    body = response.content.decode()
    assert response.templates[0].name == "orders/partials/_result.html"
    assert f'hx-get="{url("pay_result", pending)}?poll=1"' in body and 'hx-trigger="load delay:2s"' in body
    late = client.get(url("pay_result", pending, poll=30), **htmx()).content.decode()
    assert "hx-trigger" not in late and "暂未查询到支付结果" in late
    assert "查询支付结果" in late and url("pay", pending) in late
    pay(pending)
    done = client.get(url("pay_result", pending, poll=3), **htmx()).content.decode()
    assert "支付成功" in done and "hx-trigger" not in done


@pytest.mark.parametrize("raw", BAD_NUMBERS + ["31", "100000"])
def test_a_bad_poll_count_is_harmless(client, shopper, store, pending, raw):
    response = shop_client(client, shopper, store).get(url("pay_result", pending) + "?poll=" + raw)
    assert response.status_code == 200


def test_the_result_never_trusts_the_page(client, shopper, store, pending):
    """Nothing the browser sends marks an order paid: only a verified gateway notice does."""
    shop_client(client, shopper, store)
    for query in ("?status=paid", "?trade_state=SUCCESS&out_trade_no=x", "?paid=1"):
        assert "支付成功" not in client.get(url("pay_result", pending) + query).content.decode()
    pending.refresh_from_db()
    assert pending.status == Order.Status.PENDING_PAYMENT


def test_pay_and_result_query_counts(client, django_assert_num_queries, shopper, store, pending):
    shop_client(client, shopper, store)
    with django_assert_num_queries(LOGGED_IN + 1):  # the order with its store
        client.get(url("pay", pending))
    with django_assert_num_queries(LOGGED_IN + 1):
        client.get(url("pay_result", pending), **htmx())


# --- the list ---------------------------------------------------------------------------------
def test_the_list_has_tabs_with_counts_and_cards(client, shopper, store, manager, tea, nuts):
    checkout(shopper, store, [(tea, 1), (nuts, 2)])  # 待付款
    paid_order(shopper, store, [(tea, 1)])  # 待自提
    shipped_order(shopper, store, manager, [(nuts, 1)])  # 待收货
    paid_order(shopper, store, [(nuts, 1)], fulfilment="express")  # 待发货
    shop_client(client, shopper, store)
    response = client.get(reverse("orders:list"))
    tabs = {key: count for key, _label, count in response.context["tabs"]}
    assert tabs == {"all": None, "pending_payment": 1, "to_ship": 1, "to_receive": 1, "to_pickup": 1,
                    "completed": None, "after_sale": 0}
    assert len(response.context["rows"]) == 4
    page = response.content.decode()
    for label in ("全部", "待付款", "待发货", "待收货", "待自提", "已完成", "售后"):
        assert f">{label}<" in page or f">{label}<span" in page
    assert "去支付" in page and "确认收货" in page and "查看自提码" in page and "共 3 件" in page
    pending_tab = client.get(reverse("orders:list") + "?tab=pending_payment").context["rows"]
    assert [card.order.status for card in pending_tab] == ["pending_payment"]
    assert len(client.get(reverse("orders:list") + "?tab=to_receive").context["rows"]) == 1


def test_the_list_is_paginated_with_htmx_load_more(client, shopper, store):
    sku = make_sku("常备款", stock=50, store=store)
    for _ in range(12):
        checkout(shopper, store, [(sku, 1)])
    shop_client(client, shopper, store)
    first = client.get(reverse("orders:list"))
    assert len(first.context["rows"]) == 10 and first.context["has_next"]
    assert 'hx-get="/orders/?tab=all&amp;page=2"' in first.content.decode()
    more = client.get(reverse("orders:list") + "?tab=all&page=2", **htmx())
    names = [t.name for t in more.templates]  # the cards themselves are rendered (or cached) one by one
    assert "orders/partials/_order_cards.html" in names and "orders/order_list.html" not in names
    assert len(more.context["rows"]) == 2
    assert not more.context["has_next"] and "加载更多" not in more.content.decode()


@pytest.mark.parametrize("raw", BAD_NUMBERS + ["10001", "999999999999999999999"])
def test_a_bad_or_huge_page_is_handled(client, shopper, store, tea, raw):
    checkout(shopper, store, [(tea, 1)])
    response = shop_client(client, shopper, store).get(reverse("orders:list") + "?page=" + raw)
    assert response.status_code == 200


@pytest.mark.parametrize("raw", ["nope", "\x00", "ALL", "after_sale\x00", "1"])
def test_an_unknown_tab_shows_all(client, shopper, store, raw):
    response = shop_client(client, shopper, store).get(reverse("orders:list"), {"tab": raw})
    if "\x00" in raw:  # a NUL is refused before the view (core.middleware)
        assert response.status_code == 400
    else:
        assert response.context["tab"] == "all"


def test_the_list_shows_only_my_orders(client, shopper, store, tea):
    checkout(make_shopper(), store, [(tea, 1)])
    assert shop_client(client, shopper, store).get(reverse("orders:list")).context["rows"] == []


@pytest.mark.parametrize("n", [1, 10])
def test_list_query_count_does_not_grow_with_orders(client, django_assert_num_queries, shopper, store, n):
    skus = many_skus(store, 3, stock=100)
    for _ in range(n):
        checkout(shopper, store, [(sku, 1) for sku in skus])
    shop_client(client, shopper, store)
    with django_assert_num_queries(LOGGED_IN + 3):  # tab counts, orders with store, their lines
        response = client.get(reverse("orders:list"))
    assert len(response.context["rows"]) == n
    for _ in range(10):
        checkout(shopper, store, [(skus[0], 1)])
    with django_assert_num_queries(LOGGED_IN + 2):  # 加载更多: no counts
        response = client.get(reverse("orders:list") + "?page=2", **htmx())
    assert len(response.context["rows"]) == n


# --- one order --------------------------------------------------------------------------------
def test_another_members_order_is_a_404_everywhere(client, store, pending):
    client.force_login(make_shopper())
    for name in ("detail", "pay", "pay_result", "after_sale_request"):
        assert client.get(url(name, pending)).status_code == 404
    for name in ("cancel", "confirm", "reorder", "pay", "after_sale_request"):
        assert client.post(url(name, pending), {"channel": "dev"}).status_code == 404
    pending.refresh_from_db()
    assert pending.status == Order.Status.PENDING_PAYMENT and not PaymentAttempt.objects.exists()


def test_unknown_or_malformed_public_ids_are_404(client, shopper):
    client.force_login(shopper)
    assert client.get("/orders/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/orders/not-a-uuid/").status_code == 404
    assert client.get("/orders/%00/").status_code == 400  # a NUL in the path: core.middleware


def test_a_pending_order_page_offers_pay_and_cancel(client, shopper, store, pending):
    response = shop_client(client, shopper, store).get(url("detail", pending))
    page = response.content.decode()
    step = response.context["step"]
    assert step.can_pay and step.can_cancel and not step.can_confirm
    assert "去支付" in page and "data-confirm=" in page and "剩余支付时间" in page
    assert "提交订单" in page  # the timeline


def test_a_pickup_order_shows_its_code_and_qr(client, shopper, store, manager, tea):
    order = paid_order(shopper, store, [(tea, 1)])
    mark_ready_for_pickup(order, by=manager)
    page = shop_client(client, shopper, store).get(url("detail", order)).content.decode()
    assert f'id="pickup-code">{order.pickup_code}<' in page and '<svg class="od-qr"' in page
    assert "待自提" in page and store.name in page and "已备货，待自提" in page


def test_a_shipped_order_shows_its_parcel_route_and_confirms_receipt(client, shopper, store, manager, tea):
    order = shipped_order(shopper, store, manager, [(tea, 1)])
    parcel = order.shipments.get()
    now = timezone.now()
    record_tracking(parcel, [(now - timedelta(hours=2), "快件已揽收", "1", "上海"),
                             (now - timedelta(hours=1), "快件到达转运中心", "0", "杭州")])
    shop_client(client, shopper, store)
    page = client.get(url("detail", order)).content.decode()
    assert "SF1234567890" in page and "快件到达转运中心" in page and page.index("转运中心") < page.index("已揽收")
    response = client.post(url("confirm", order))
    assert messages_of(response) == ["已确认收货，交易完成"]
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    again = client.post(url("confirm", order))
    assert messages_of(again)[-1] == "订单已确认收货"
    assert order.events.filter(to_status="completed").count() == 1


def test_the_timeline_names_the_store_never_a_staff_member(client, shopper, store, manager, tea):
    order = shipped_order(shopper, store, manager, [(tea, 1)])
    response = shop_client(client, shopper, store).get(url("detail", order))
    page = response.content.decode()
    assert manager.username not in page and manager.staff_label not in page
    assert [event.who for event in response.context["timeline"]] == ["门店", "系统", "买家"]


def test_confirming_an_order_not_shipped_is_refused(client, shopper, store, tea):
    order = paid_order(shopper, store, [(tea, 1)], fulfilment="express")
    response = shop_client(client, shopper, store).post(url("confirm", order))
    assert messages_of(response) == ["订单当前状态不能确认收货"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_cancel_gives_everything_back_and_twice_changes_nothing(client, shopper, store, pending, tea):
    shop_client(client, shopper, store)
    response = client.post(url("cancel", pending))
    assert messages_of(response) == ["订单已取消，库存、优惠券和积分已退回"]
    pending.refresh_from_db()
    assert pending.status == Order.Status.CANCELLED and Stock.objects.get(sku=tea).reserved == 0
    events = pending.events.count()
    again = client.post(url("cancel", pending))
    assert messages_of(again)[-1] == "订单已取消" and pending.events.count() == events


def test_a_paid_order_cannot_be_cancelled_here(client, shopper, store, tea):
    order = paid_order(shopper, store, [(tea, 1)])
    response = shop_client(client, shopper, store).post(url("cancel", order))
    assert messages_of(response) == ["订单已付款，不能直接取消，请申请退款"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_reorder_puts_the_lines_in_the_cart_skipping_delisted_ones(client, shopper, store, tea, nuts):
    order = checkout(shopper, store, [(tea, 2), (nuts, 1)])
    cancel_order(order, by=shopper)
    Product.objects.filter(pk=nuts.product_id).update(status=Product.Status.DELISTED)
    fill_cart(shopper, [tea], 1)
    response = shop_client(client, shopper, store).post(url("reorder", order))
    assert response["Location"] == reverse("orders:cart")
    assert messages_of(response) == ["已将 1 件商品加入购物车", "以下商品已下架或暂不可售，未加入：每日坚果"]
    assert {line.sku_id: line.quantity for line in CartLine.objects.filter(cart__user=shopper)} == {tea.pk: 3}


def test_detail_of_a_completed_order_offers_after_sale_and_reorder(client, shopper, store, manager, tea):
    order = shipped_order(shopper, store, manager, [(tea, 1)])
    shop_client(client, shopper, store).post(url("confirm", order))
    step = client.get(url("detail", order)).context["step"]
    assert step.can_after_sale and step.can_reorder and not step.can_cancel


@pytest.mark.parametrize("n", [1, 10])
def test_detail_query_count_does_not_grow_with_lines(client, django_assert_num_queries, shopper, store, manager, n):
    order = shipped_order(shopper, store, manager, [(sku, 1) for sku in many_skus(store, n)])
    record_tracking(order.shipments.get(), [(timezone.now(), f"轨迹{i}", "0", "") for i in range(n)])
    shop_client(client, shopper, store)
    # the order with its store, lines, timeline, parcels, their route, after-sales
    with django_assert_num_queries(LOGGED_IN + 6):
        response = client.get(url("detail", order))
    assert len(response.context["lines"]) == n


def test_order_actions_refuse_get(client, shopper, store, pending):
    shop_client(client, shopper, store)
    for name in ("cancel", "confirm", "reorder"):
        assert client.get(url(name, pending)).status_code == 405


def test_a_delisted_product_does_not_hide_the_order(client, shopper, store, tea):
    order = paid_order(shopper, store, [(tea, 1)])
    Product.objects.filter(pk=tea.product_id).update(status=Product.Status.DELISTED)
    page = shop_client(client, shopper, store).get(url("detail", order)).content.decode()
    assert "龙井茶" in page


def test_pages_fit_the_wechat_user_agent(client, shopper, store, pending):
    """Nothing differs for the WeChat browser but the channels it is offered."""
    assert shop_client(client, shopper, store).get(url("detail", pending), HTTP_USER_AGENT=WECHAT_UA).status_code == 200


def test_a_sku_gone_from_the_catalogue_still_lists(client, shopper, store):
    sku = make_sku("限量款", stock=3, store=store)
    order = paid_order(shopper, store, [(sku, 1)])
    Product.objects.filter(pk=sku.product_id).update(status=Product.Status.DELISTED)
    rows = shop_client(client, shopper, store).get(reverse("orders:list")).context["rows"]
    assert rows[0].order == order and rows[0].lines[0].product_name == "限量款"
