"""The one pickup verification screen, shared by pickup orders and the points mall: a code looked
up by POST at the clerk's store only, an order handed over whole or over several visits, a mall
item handed over, double submits and other stores' codes refused with nothing changed."""

import re
import threading
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from marketing import services as mall
from marketing.models import PointsExchange
from orders import services
from orders.models import Order, OrderLine, PickupRecord
from stores.models import Stock, StockMovement
from tests.marketing.conftest import make_shopper as make_mall_shopper
from tests.marketing.factories import make_product_item

from .backoffice_support import count_queries, make_clerk, make_plain_staff, paid, snapshot, texts
from .factories import make_shopper, make_sku

pytestmark = pytest.mark.django_db
SCREEN = reverse("orders_bo:pickups")
VERIFY = reverse("orders_bo:pickup_verify")
S = Order.Status


def stock(store, sku):
    row = Stock.objects.get(store=store, sku=sku)
    return row.on_hand, row.reserved


def grant_mall(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="marketing", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def plenty(store):
    return make_sku("手工月饼", price="12.00", stock=100, store=store)


@pytest.fixture
def clerk(store):
    return grant_mall(make_clerk(store), "view_pointsexchange", "change_pointsexchange")


@pytest.fixture
def ready(store, shopper, plenty, tea, manager):
    order = paid(shopper, store, [(plenty, 3), (tea, 1)])
    return services.mark_ready_for_pickup(order, by=manager)


def exchange_at(store, sku, points=100):
    item = make_product_item(sku, points=points, title=f"{sku.product.name}兑换")
    member = make_mall_shopper(points=1000, nickname="积分会员")
    return mall.exchange_points(member, item.pk, request_id=uuid.uuid4().hex, store_id=store.pk)


def order_form(order, store, code=None, **quantities):
    """The confirm form as the screen renders it: every line's quantity left, and what to hand over."""
    form = {"kind": "order", "store": store.pk, "code": code or order.pickup_code, "order": order.pk}
    for line in OrderLine.objects.filter(order=order):
        form[f"left_{line.pk}"] = line.held_quantity
        form[f"qty_{line.pk}"] = quantities.get(line.product_name, line.held_quantity)
    return form


# --- lookup ---------------------------------------------------------------------------------------
def test_the_lookup_is_a_post_and_shows_each_line_with_what_is_left(client, clerk, store, ready):
    client.force_login(clerk)
    page = client.get(SCREEN, {"code": ready.pickup_code})  # a code in the URL is not looked up
    assert "found_orders" not in page.context
    assert not re.search(rf"(?<!\d){ready.pickup_code}(?!\d)", page.content.decode())
    response = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    assert response.status_code == 200
    [found] = response.context["found_orders"]
    assert found.pk == ready.pk and found.left == 4
    html = response.content.decode()
    for line in ready.lines.all():
        assert f'name="qty_{line.pk}" value="{line.quantity}"' in html
        assert f'name="left_{line.pk}" value="{line.quantity}"' in html
    assert 'data-step="-1"' in html and 'data-testid="pickup-order-confirm"' in html
    assert ready.user.staff_label in html


@pytest.mark.parametrize("typed", ["{c}", " {c} ", "{c3} {c3b}", "{c3}-{c3b}", "{fw}"])
def test_scanned_spaced_or_full_width_codes_are_read_as_six_digits(client, clerk, store, ready, typed):
    code = ready.pickup_code
    value = typed.format(c=code, c3=code[:3], c3b=code[3:],
                         fw=code.translate(str.maketrans("0123456789", "０１２３４５６７８９")))
    client.force_login(clerk)
    response = client.post(SCREEN, {"store": store.pk, "code": value})
    assert [o.pk for o in response.context["found_orders"]] == [ready.pk]


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", "12 34 5x", "\x00" * 6, "²³⁴⁵⁶⁷", "١٢٣٤٥٦"])
def test_malformed_codes_get_a_clear_message(client, clerk, store, ready, code):
    client.force_login(clerk)
    response = client.post(SCREEN, {"store": store.pk, "code": code})
    if "\x00" in code:  # refused before the view (core.middleware)
        assert response.status_code == 400
        return
    assert response.status_code == 200
    if code:
        assert response.context["lookup_error"] == "请输入 6 位数字自提码"
    assert not response.context.get("found_orders")


def test_a_code_of_another_store_is_not_found_here(client, store, other_store, shopper, other_manager):
    theirs_sku = make_sku("外店商品", stock=5, store=other_store)
    theirs = services.mark_ready_for_pickup(paid(shopper, other_store, [(theirs_sku, 1)]), by=other_manager)
    clerk = make_clerk(store)
    client.force_login(clerk)
    response = client.post(SCREEN, {"store": store.pk, "code": theirs.pickup_code})
    assert response.context["lookup_error"] == "自提码无效、已核销或不属于本门店"
    assert client.post(SCREEN, {"store": other_store.pk, "code": theirs.pickup_code}).status_code == 404
    before = snapshot(theirs)
    # the other store's order id in a tampered form: 404, whichever store the form names
    assert client.post(VERIFY, order_form(theirs, store)).status_code == 404
    assert client.post(VERIFY, order_form(theirs, other_store)).status_code == 404
    assert snapshot(theirs) == before


# --- hand-over --------------------------------------------------------------------------------------
def test_partial_hand_over_then_the_rest_completes_the_order(client, clerk, store, ready, plenty, tea):
    client.force_login(clerk)
    first = client.post(VERIFY, order_form(ready, store, **{"手工月饼": 1, "龙井茶": 0}))
    assert first.status_code == 302 and first["Location"] == f"{SCREEN}?store={store.pk}"
    assert texts(first) == [f"核销成功：订单 {ready.number} 本次交付 1 件，还有 3 件待提"]
    order = Order.objects.get(pk=ready.pk)
    assert order.status == S.READY_FOR_PICKUP
    assert stock(store, plenty) == (99, 2) and stock(store, tea) == (10, 1)
    again = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    [found] = again.context["found_orders"]
    assert found.left == 3  # the screen shows what is left after the first visit
    rest = client.post(VERIFY, order_form(ready, store))
    assert texts(rest) == [f"核销成功：订单 {ready.number} 本次交付 3 件，已全部提货，交易完成"]
    order.refresh_from_db()
    assert order.status == S.COMPLETED
    assert stock(store, plenty) == (97, 0) and stock(store, tea) == (9, 0)
    assert PickupRecord.objects.filter(order=order).count() == 2
    done = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    assert done.context["done_order"].pk == order.pk and "已于" in done.content.decode()


def test_a_double_submit_says_already_handed_over_and_hands_out_nothing_more(client, clerk, store, ready, plenty):
    client.force_login(clerk)
    form = order_form(ready, store, **{"手工月饼": 1, "龙井茶": 0})
    client.post(VERIFY, form)
    before = snapshot(ready)
    again = client.post(VERIFY, form)
    assert again.status_code == 302
    assert texts(again) == [f"订单 {ready.number} 刚刚已核销过，请勿重复交付；如需继续提货请重新查询"]
    assert snapshot(ready) == before and PickupRecord.objects.filter(order=ready).count() == 1


@pytest.mark.parametrize("quantity", ["4", "-1", "1.5", "²", "", "9" * 30, "\x00"])
def test_impossible_quantities_are_refused_and_the_order_shown_again(client, clerk, store, ready, quantity):
    client.force_login(clerk)
    before = snapshot(ready)
    response = client.post(VERIFY, order_form(ready, store, **{"手工月饼": quantity}))
    if "\x00" in quantity:  # refused before the view (core.middleware)
        assert response.status_code == 400 and snapshot(ready) == before
        return
    assert response.status_code == 200
    assert len(texts(response)) == 1 and response.context["found_orders"][0].pk == ready.pk
    assert snapshot(ready) == before


def test_nothing_to_hand_over_is_refused(client, clerk, store, ready):
    client.force_login(clerk)
    before = snapshot(ready)
    response = client.post(VERIFY, order_form(ready, store, **{"手工月饼": 0, "龙井茶": 0}))
    assert texts(response) == ["请填写本次提货数量"] and snapshot(ready) == before


def test_a_paid_pickup_order_not_yet_marked_ready_can_be_handed_over(client, clerk, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 2)])
    client.force_login(clerk)
    response = client.post(VERIFY, order_form(order, store))
    assert texts(response)[0].startswith("核销成功") and Order.objects.get(pk=order.pk).status == S.COMPLETED


# --- the points mall on the same screen -------------------------------------------------------------
def test_a_mall_exchange_is_found_and_handed_over_on_the_same_screen(client, clerk, store, plenty):
    exchange = exchange_at(store, plenty)
    assert stock(store, plenty) == (100, 1)
    client.force_login(clerk)
    found = client.post(SCREEN, {"store": store.pk, "code": exchange.pickup_code})
    assert found.context["exchange"].pk == exchange.pk and not found.context["found_orders"]
    form = {"kind": "exchange", "store": store.pk, "code": exchange.pickup_code, "exchange": exchange.pk}
    response = client.post(VERIFY, form)
    assert texts(response) == [f"核销成功：{exchange.title} × 1，请将商品交给会员 {exchange.user.staff_label}"]
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.DONE and exchange.picked_up_by == clerk
    assert stock(store, plenty) == (99, 0)
    again = client.post(VERIFY, form)
    assert "已核销" in texts(again)[0] and "请勿重复发货" in texts(again)[0]
    assert StockMovement.objects.filter(reference=exchange.reference, reason=StockMovement.Reason.SALE).count() == 1


def test_an_order_and_an_exchange_with_the_same_code_are_both_shown(client, clerk, store, ready, plenty):
    exchange = exchange_at(store, plenty)
    PointsExchange.objects.filter(pk=exchange.pk).update(pickup_code=ready.pickup_code)
    client.force_login(clerk)
    response = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    assert [o.pk for o in response.context["found_orders"]] == [ready.pk]
    assert response.context["exchange"].pk == exchange.pk


def test_an_overdue_exchange_cannot_be_handed_over(client, clerk, store, plenty):
    from datetime import timedelta

    from django.utils import timezone

    exchange = exchange_at(store, plenty)
    PointsExchange.objects.filter(pk=exchange.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    client.force_login(clerk)
    lookup = client.post(SCREEN, {"store": store.pk, "code": exchange.pickup_code})
    assert lookup.context["exchange"].is_overdue and 'data-testid="pickup-confirm"' not in lookup.content.decode()
    response = client.post(VERIFY, {"kind": "exchange", "store": store.pk, "code": exchange.pickup_code,
                                    "exchange": exchange.pk})
    assert texts(response) == ["该兑换已超过自提期限"]
    assert PointsExchange.objects.get(pk=exchange.pk).status == PointsExchange.Status.AWAITING_PICKUP


def test_each_kind_of_staff_sees_and_verifies_only_their_kind(client, store, ready, plenty):
    exchange = exchange_at(store, plenty)
    PointsExchange.objects.filter(pk=exchange.pk).update(pickup_code=ready.pickup_code)
    mall_clerk = grant_mall(make_plain_staff(store), "view_pointsexchange", "change_pointsexchange")
    client.force_login(mall_clerk)
    lookup = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    assert lookup.context["exchange"].pk == exchange.pk and not lookup.context.get("found_orders")
    assert "waiting_orders" not in lookup.context
    before = snapshot(ready)
    assert client.post(VERIFY, order_form(ready, store)).status_code == 403
    assert snapshot(ready) == before

    order_clerk = make_clerk(store)  # orders permissions, none of the mall's
    client.force_login(order_clerk)
    lookup = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    assert lookup.context["found_orders"] and lookup.context["exchange"] is None
    assert client.post(VERIFY, {"kind": "exchange", "store": store.pk, "code": ready.pickup_code,
                                "exchange": exchange.pk}).status_code == 403
    assert PointsExchange.objects.get(pk=exchange.pk).status == PointsExchange.Status.AWAITING_PICKUP

    viewer = make_plain_staff(store, "view_order")  # sees orders, may not hand them over
    client.force_login(viewer)
    lookup = client.post(SCREEN, {"store": store.pk, "code": ready.pickup_code})
    assert lookup.context["found_orders"] and 'data-testid="pickup-order-confirm"' not in lookup.content.decode()
    assert client.post(VERIFY, order_form(ready, store)).status_code == 403
    assert snapshot(ready) == before

    nobody = make_plain_staff(store)
    client.force_login(nobody)
    assert client.get(SCREEN).status_code == 403 and client.post(VERIFY, order_form(ready, store)).status_code == 403


@pytest.mark.parametrize("field, value", [
    ("order", "999999999999999999999999"), ("order", "²"), ("order", ""), ("order", "\x00"), ("order", "-3"),
    ("store", "999999999999999999999"), ("store", "abc"), ("store", ""), ("kind", "refund"), ("kind", ""),
])
def test_tampered_confirm_forms_answer_404_and_change_nothing(client, clerk, store, ready, field, value):
    client.force_login(clerk)
    before = snapshot(ready)
    form = order_form(ready, store)
    form[field] = value
    assert client.post(VERIFY, form).status_code == (400 if "\x00" in value else 404)  # NUL: core.middleware
    assert snapshot(ready) == before


def test_the_lists_show_this_store_only_and_never_a_code(client, clerk, store, other_store, ready, plenty,
                                                         shopper, other_manager):
    exchange = exchange_at(store, plenty)
    theirs_sku = make_sku("外店商品", stock=5, store=other_store)
    theirs = services.mark_ready_for_pickup(paid(shopper, other_store, [(theirs_sku, 1)]), by=other_manager)
    theirs_exchange = exchange_at(other_store, theirs_sku)
    client.force_login(clerk)
    page = client.get(SCREEN)
    assert [o.pk for o in page.context["waiting_orders"]] == [ready.pk]
    assert [e.pk for e in page.context["waiting_exchanges"]] == [exchange.pk]
    html = page.content.decode()
    for code in (ready.pickup_code, exchange.pickup_code, theirs.pickup_code, theirs_exchange.pickup_code):
        assert not re.search(rf"(?<!\d){code}(?!\d)", html), code  # not shown (an order number may contain it)
    assert theirs.number not in html


def test_the_old_points_mall_page_sends_clerks_to_the_shared_screen(client, clerk, store, other_store):
    client.force_login(clerk)
    response = client.get(reverse("marketing_bo:pickups"), {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == f"{SCREEN}?store={store.pk}"
    assert client.get(reverse("marketing_bo:pickups"), {"store": other_store.pk}).status_code == 404
    menu = client.get(reverse("backoffice:dashboard")).content.decode()
    assert SCREEN in menu and reverse("marketing_bo:pickups") not in menu


def test_screen_queries_do_not_grow_with_what_waits_and_what_was_handed_over(
    client, clerk, store, shopper, plenty, manager
):
    def waiting_order():
        return services.mark_ready_for_pickup(paid(make_shopper(), store, [(plenty, 2)]), by=manager)

    first = waiting_order()
    done = waiting_order()
    services.verify_pickup(store=store, code=done.pickup_code, by=manager)
    exchange_at(store, plenty)
    client.force_login(clerk)
    client.get(SCREEN)
    one_get, _r = count_queries(client, SCREEN)
    one_post, _r = count_queries(client, SCREEN, "post", {"store": store.pk, "code": first.pickup_code})
    for _ in range(9):
        waiting_order()
        exchange_at(store, plenty)
        more = waiting_order()
        services.verify_pickup(store=store, code=more.pickup_code, by=manager, quantities={
            more.lines.get().pk: 1})
    ten_get, page = count_queries(client, SCREEN)
    assert len(page.context["waiting_orders"]) == 19 and len(page.context["waiting_exchanges"]) == 10
    assert len(page.context["recent_records"]) == 10
    ten_post, _r = count_queries(client, SCREEN, "post", {"store": store.pk, "code": first.pickup_code})
    assert (one_get, one_post) == (ten_get, ten_post)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tills_confirming_the_same_order_at_once_hand_it_over_once():
    from django.test import Client

    from .factories import make_order_staff, make_store

    store = make_store("并发店")
    sku = make_sku("并发月饼", stock=10, store=store)
    manager = make_order_staff(store)
    order = services.mark_ready_for_pickup(paid(make_shopper(), store, [(sku, 3)]), by=manager)
    tills = [make_clerk(store), make_clerk(store)]
    form = order_form(order, store)
    barrier = threading.Barrier(2)
    said = []

    def confirm(user):
        try:
            till = Client()
            till.force_login(user)
            barrier.wait(timeout=10)
            response = till.post(VERIFY, form)
            said.append((response.status_code, texts(response)))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(user,)) for user in tills]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(code for code, _m in said) == [302, 302]
    messages = [m for _c, ms in said for m in ms]
    assert sum(m.startswith("核销成功") for m in messages) == 1
    assert sum("刚刚已核销过" in m for m in messages) == 1
    assert PickupRecord.objects.filter(order=order).count() == 1
    assert stock(store, sku) == (7, 0)
