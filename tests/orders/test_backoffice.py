"""The orders back office: the queue (tabs and their counts, search, filters, scope, CSV) and the
order page with every action its state allows, each through its service; refusals change nothing."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Order, OrderEvent, Refund, Shipment

from .backoffice_support import (
    ask_refund,
    count_queries,
    make_clerk,
    make_hq,
    make_plain_staff,
    paid,
    snapshot,
    texts,
)
from .factories import checkout, make_order_staff, make_shopper, make_sku

pytestmark = pytest.mark.django_db
D = Decimal
QUEUE = reverse("orders_bo:queue")
S = Order.Status


def detail(order):
    return reverse("orders_bo:detail", args=[order.pk])


def act(name, order):
    return reverse(f"orders_bo:{name}", args=[order.pk])


@pytest.fixture
def plenty(store):
    return make_sku("每日坚果礼盒", price="20.00", stock=500, store=store)


@pytest.fixture
def clerk(store):
    return make_clerk(store)


@pytest.fixture
def every_state(store, shopper, plenty, manager, django_capture_on_commit_callbacks):
    """One order in each tab: {tab key: order}."""
    made = {}
    made["pending"] = checkout(shopper, store, [(plenty, 1)])
    made["to_fulfil"] = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    ready = paid(shopper, store, [(plenty, 1)])
    made["pickup"] = services.mark_ready_for_pickup(ready, by=manager)
    going = paid(shopper, store, [(plenty, 1)], fulfilment="delivery")
    made["on_the_way"] = services.dispatch_delivery(going, by=manager, courier_name="李师傅",
                                                    courier_phone="13900001111")
    done = paid(shopper, store, [(plenty, 1)], fulfilment="delivery")
    services.dispatch_delivery(done, by=manager, courier_name="李师傅", courier_phone="13900001111")
    made["completed"] = services.mark_delivered(done, by=manager)
    made["closed"] = services.cancel_order(checkout(shopper, store, [(plenty, 1)]), by=shopper)
    asked = paid(shopper, store, [(plenty, 2)])
    ask_refund(asked, quantities={asked.lines.get().pk: 1})
    made["after_sale"] = asked
    with django_capture_on_commit_callbacks(execute=True):
        refunded = paid(shopper, store, [(plenty, 1)])
        services.staff_cancel_paid_order(refunded, by=manager, reason="门店缺货")
    made["closed_refunded"] = Order.objects.get(pk=refunded.pk)
    return made


# --- the queue ----------------------------------------------------------------------------------
def test_tabs_count_every_state_and_list_what_they_count(client, clerk, every_state):
    assert every_state["closed_refunded"].status == S.CLOSED
    client.force_login(clerk)
    page = client.get(QUEUE)
    counts = {t["key"]: t["count"] for t in page.context["tabs"]}
    assert counts == {"all": 8, "pending": 1, "to_fulfil": 2, "pickup": 1, "on_the_way": 1, "completed": 1,
                      "closed": 2, "after_sale": 1}
    for key in ("pending", "pickup", "on_the_way", "completed", "after_sale"):
        listed = client.get(QUEUE, {"tab": key}).context["rows"]
        assert [o.pk for o in listed] == [every_state[key].pk], key
    to_fulfil = {o.pk for o in client.get(QUEUE, {"tab": "to_fulfil"}).context["rows"]}
    assert to_fulfil == {every_state["to_fulfil"].pk, every_state["after_sale"].pk}  # paid, with a request open
    html = client.get(QUEUE, {"tab": "to_fulfil"}).content.decode()
    assert "待发货" in html and "待备货" in html


def test_counts_are_one_aggregate_query_and_pages_never_count_again(client, clerk, store, shopper, plenty):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    paid(shopper, store, [(plenty, 1)])
    client.force_login(clerk)
    with CaptureQueriesContext(connection) as ctx:
        client.get(QUEUE)
    counting = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper() and "orders_order" in q["sql"]]
    assert len(counting) == 1


def test_counts_stop_at_the_cap_and_the_queue_says_so(client, clerk, store, shopper, plenty, monkeypatch):
    from orders.backoffice import queue

    monkeypatch.setattr(queue, "COUNT_CAP", 4)
    made = [paid(shopper, store, [(plenty, 1)]) for _ in range(6)]
    client.force_login(clerk)
    page = client.get(QUEUE)
    tabs = {t["key"]: t for t in page.context["tabs"]}
    assert tabs["all"]["shown"] == "4+" and tabs["to_fulfil"]["shown"] == "4+" and tabs["pending"]["shown"] == "0"
    assert [o.pk for o in page.context["rows"]] == [o.pk for o in reversed(made)][:4]
    assert page.context["capped"] and 'data-testid="capped"' in page.content.decode()
    searched = client.get(QUEUE, {"q": "13800138000"})  # a phone: counted exactly, in one pass
    assert not searched.context["capped"]


def test_queue_query_count_is_the_same_for_one_and_ten_orders(client, clerk, store, shopper, plenty):
    paid(shopper, store, [(plenty, 1)])
    client.force_login(clerk)
    client.get(QUEUE)  # warm the session
    one, _r = count_queries(client, QUEUE)
    for i in range(9):
        paid(make_shopper(), store, [(plenty, 1 + i % 3)], fulfilment=("pickup", "express", "delivery")[i % 3])
    ten, response = count_queries(client, QUEUE)
    assert len(response.context["rows"]) == 10
    assert one == ten
    assert count_queries(client, QUEUE, data={"tab": "to_fulfil"})[0] == ten


def test_search_by_order_number_buyer_phone_in_any_spelling_and_receiver_name(client, clerk, store, plenty):
    ada = make_shopper(phone="+8613911112222")
    bob = make_shopper(phone="+8613833334444")
    first = paid(ada, store, [(plenty, 1)], fulfilment="express")
    second = paid(bob, store, [(plenty, 1)])
    Order.objects.filter(pk=first.pk).update(receiver_name="欧阳娜娜")
    client.force_login(clerk)

    def found(q):
        return [o.pk for o in client.get(QUEUE, {"q": q}).context["rows"]]

    assert found(first.number) == [first.pk]
    assert found(first.number[:12]) == [first.pk] or first.pk in found(first.number[:12])
    for spelling in ("13911112222", "+86 139 1111 2222", "+86-139-1111-2222", "１３９１１１１２２２２", " 139 1111 2222 "):
        assert found(spelling) == [first.pk], spelling
    assert found("13800138000") == [first.pk]  # the express receiver's phone (address book)
    assert found("欧阳") == [first.pk]
    assert found("13833334444") == [second.pk]
    counts = {t["key"]: t["count"] for t in client.get(QUEUE, {"q": "13833334444"}).context["tabs"]}
    assert counts["all"] == 1 and counts["to_fulfil"] == 1 and counts["completed"] == 0
    assert found("没有这个人") == []
    # a pickup order has no receiver: its buyer is found by nickname
    type(bob).objects.filter(pk=bob.pk).update(nickname="司马光")
    assert found("司马") == [second.pk] and second.fulfilment == "pickup"
    export = _csv(client.get(reverse("orders_bo:export"), {"q": "司马"}))
    assert len(export) == 2 and any(second.number in cell for cell in export[1])  # the header and its row


def test_the_queue_shows_buyers_masked_never_their_phone(client, clerk, store, plenty):
    buyer = make_shopper(phone="+8613955556666")
    paid(buyer, store, [(plenty, 1)])
    client.force_login(clerk)
    html = client.get(QUEUE).content.decode()
    assert "139****6666" in html and "13955556666" not in html


def test_filters_by_date_range_and_fulfilment(client, clerk, store, shopper, plenty):
    old = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    new = paid(shopper, store, [(plenty, 1)])
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    client.force_login(clerk)
    today = timezone.localdate()
    rows = client.get(QUEUE, {"date_from": (today - timedelta(days=1)).isoformat()}).context["rows"]
    assert [o.pk for o in rows] == [new.pk]
    rows = client.get(QUEUE, {"date_to": (today - timedelta(days=5)).isoformat()}).context["rows"]
    assert [o.pk for o in rows] == [old.pk]
    assert [o.pk for o in client.get(QUEUE, {"fulfilment": "express"}).context["rows"]] == [old.pk]
    page = client.get(QUEUE, {"fulfilment": "express"})
    assert {t["key"]: t["count"] for t in page.context["tabs"]}["all"] == 1  # the counts follow the filters
    bad = client.get(QUEUE, {"date_from": today.isoformat(), "date_to": (today - timedelta(days=3)).isoformat()})
    assert bad.status_code == 200 and "开始日期不能晚于结束日期" in bad.content.decode()
    assert len(bad.context["rows"]) == 2  # an invalid filter filters nothing


def test_a_clerk_sees_only_their_store_and_hq_chooses_any_or_all(client, store, other_store, shopper, plenty):
    other_sku = make_sku("外店商品", stock=10, store=other_store)
    ours = paid(shopper, store, [(plenty, 1)])
    theirs = paid(shopper, other_store, [(other_sku, 1)])
    clerk = make_clerk(store)
    client.force_login(clerk)
    assert [o.pk for o in client.get(QUEUE).context["rows"]] == [ours.pk]
    assert client.get(QUEUE, {"store": other_store.pk}).status_code == 404
    assert client.get(QUEUE, {"store": "all"}).status_code == 404
    assert list(client.get(QUEUE, {"q": theirs.number}).context["rows"]) == []
    hq = make_hq()
    client.force_login(hq)
    everything = client.get(QUEUE)
    assert everything.context["choice"].all and {o.pk for o in everything.context["rows"]} == {ours.pk, theirs.pk}
    assert "全部门店" in everything.content.decode()
    assert [o.pk for o in client.get(QUEUE, {"store": other_store.pk}).context["rows"]] == [theirs.pk]


def test_staff_without_a_store_see_a_hint_and_shoppers_and_anonymous_are_kept_out(client, shopper):
    client.force_login(make_order_staff(None))
    response = client.get(QUEUE)
    assert response.status_code == 200 and "还没有被分配到任何门店" in response.content.decode()
    client.force_login(shopper)
    assert client.get(QUEUE).status_code == 403
    client.logout()
    response = client.get(QUEUE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_absurd_pages_give_the_last_page(client, clerk, store, shopper, plenty):
    for _ in range(3):
        paid(shopper, store, [(plenty, 1)])
    client.force_login(clerk)
    for page in ("999999999999999999999", "-1", "0", "²", "abc", "1e9"):
        response = client.get(QUEUE, {"page": page})
        assert response.status_code == 200, page
        assert len(response.context["rows"]) == 3
    assert client.get(QUEUE, {"page": "\x00"}).status_code == 400  # a NUL: core.middleware


# --- CSV ----------------------------------------------------------------------------------------
def _csv(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_export_streams_the_filtered_queue_formula_safe_with_numbers_and_phones_as_text(
    client, clerk, store, other_store, shopper, plenty
):
    express = paid(shopper, store, [(plenty, 2)], fulfilment="express")
    Order.objects.filter(pk=express.pk).update(receiver_name="=HYPERLINK(\"http://x\")", buyer_remark="+1 好评")
    pickup = paid(shopper, store, [(plenty, 1)])
    other_sku = make_sku("外店", stock=5, store=other_store)
    paid(shopper, other_store, [(other_sku, 1)])
    client.force_login(clerk)
    response = client.get(reverse("orders_bo:export"), {"fulfilment": "express"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = _csv(response)
    assert header[0] == "订单号" and len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["订单号"] == express.number + "\t"
    assert row["收货电话"] == "13800138000\t"
    assert row["收货人"] == "'=HYPERLINK(\"http://x\")" and row["买家留言"] == "'+1 好评"
    assert row["件数"] == "2" and row["实付金额"] == str(express.paid_amount)
    assert "137****" in row["买家"]
    everything = _csv(client.get(reverse("orders_bo:export")))
    assert {r[0].strip() for r in everything[1:]} == {express.number, pickup.number}  # never the other store's


def test_export_queries_do_not_grow_with_orders(client, clerk, store, shopper, plenty, tea):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    paid(shopper, store, [(plenty, 1)])
    client.force_login(clerk)

    def export_queries():
        with CaptureQueriesContext(connection) as ctx:
            rows = _csv(client.get(reverse("orders_bo:export")))
        return len(ctx.captured_queries), len(rows) - 1

    export_queries()  # the session's first page reads the clerk's permissions (cached after)
    one, n = export_queries()
    for _ in range(9):
        paid(make_shopper(), store, [(plenty, 1), (tea, 1)], fulfilment="express")
    ten, m = export_queries()
    assert (n, m) == (1, 10) and one == ten


# --- the order page -----------------------------------------------------------------------------
def test_the_order_page_shows_lines_amounts_payments_refunds_and_the_staff_timeline(
    client, manager, store, shopper, plenty, tea, django_capture_on_commit_callbacks
):
    order = paid(shopper, store, [(plenty, 2), (tea, 1)], fulfilment="express")
    services.set_merchant_remark(order, by=manager, remark="顾客要求用礼盒装")
    with django_capture_on_commit_callbacks(execute=True):
        after_sale = ask_refund(order, quantities={order.lines.get(sku=tea).pk: 1})
        services.approve_after_sale(after_sale, by=manager)
    client.force_login(manager)
    response = client.get(detail(order))
    html = response.content.decode()
    assert response.status_code == 200
    assert "每日坚果礼盒" in html and "龙井茶" in html and "¥" in html
    assert "顾客要求用礼盒装" in html and "仅员工可见" in html  # the remark event is staff-only
    refund = Refund.objects.get(order=order)
    assert refund.out_refund_no in html and "退款成功" in html  # the refund with its events
    assert response.context["attempts"][0].is_order_payment
    assert [r.pk for r in response.context["refunds"]] == [refund.pk]
    assert response.context["refunds"][0].event_rows  # requested, succeeded
    assert "138 0013 8000" in html  # the receiver's phone, to deliver, as people read it
    assert shopper.phone.removeprefix("+86") not in html  # the buyer's account phone stays masked
    assert "ship" in response.context["actions"]


def test_order_page_query_count_is_the_same_for_one_and_ten_lines(client, manager, store, shopper):
    skus = [make_sku(f"商品{i}", stock=20, store=store) for i in range(10)]
    one = paid(shopper, store, [(skus[0], 1)], fulfilment="express")
    ten = paid(shopper, store, [(s, 2) for s in skus], fulfilment="express")
    for order in (one, ten):
        services.set_merchant_remark(order, by=manager, remark="备注")
    services.ship_order(ten, by=manager, parcels=[(c, f"SF{i:010d}") for i, c in enumerate(["shunfeng", "yunda"])])
    services.ship_order(one, by=manager, parcels=[("shunfeng", "SF9999999999")])
    client.force_login(manager)
    client.get(detail(one))
    a, _r = count_queries(client, detail(one))
    b, _r = count_queries(client, detail(ten))
    assert a == b
    ticket_one, _r = count_queries(client, reverse("orders_bo:ticket", args=[one.pk]))
    ticket_ten, response = count_queries(client, reverse("orders_bo:ticket", args=[ten.pk]))
    assert ticket_one == ticket_ten
    assert "<svg" in response.content.decode() and ten.number in response.content.decode()


def test_the_ticket_is_80mm_with_the_number_its_qr_the_lines_and_where_it_goes(client, clerk, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 3)], fulfilment="express", remark="请按门铃")
    client.force_login(clerk)
    html = client.get(reverse("orders_bo:ticket", args=[order.pk])).content.decode()
    assert "orders/ticket.css" in html and 'class="obo-qr"' in html
    for text in (store.name, order.number, "每日坚果礼盒", "×3", "人民大道100号", "请按门铃", str(order.paid_amount)):
        assert text in html, text
    from pathlib import Path

    sheet = (Path(__file__).resolve().parents[2] / "static" / "orders" / "ticket.css").read_text()
    assert "size: 80mm auto" in sheet and "@media print" in sheet


# --- actions ------------------------------------------------------------------------------------
def test_clerk_marks_a_pickup_order_ready(client, clerk, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 1)])
    client.force_login(clerk)
    page = client.get(detail(order)).content.decode()
    assert 'data-testid="action-ready"' in page and "data-confirm=" in page
    response = client.post(act("ready", order))
    assert response.status_code == 302 and response["Location"] == detail(order)
    assert texts(response) == ["已备货，已通知买家到店自提"]
    assert Order.objects.get(pk=order.pk).status == S.READY_FOR_PICKUP
    again = client.post(act("ready", order))
    assert texts(again) == ["订单当前状态（待自提）不能备货"]


def test_manager_ships_in_several_parcels_then_adds_one(client, manager, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 2)], fulfilment="express")
    client.force_login(manager)
    response = client.post(act("ship", order), {"carrier": ["shunfeng", "", "yunda"],
                                                 "tracking_no": ["sf1234567890", "", "YD99887766"]})
    assert texts(response) == ["已发货（2 个包裹），已通知买家"]
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert list(Shipment.objects.filter(order=order).values_list("tracking_no", flat=True)) == [
        "SF1234567890", "YD99887766"]
    more = client.post(act("add_parcel", order), {"carrier": "jd", "tracking_no": "JD0001112223"})
    assert texts(more) == ["已补充包裹"] and order.shipments.count() == 3


def test_manager_types_route_lines_of_a_parcel_that_the_shopper_sees(client, manager, store, shopper, plenty):
    from orders.models import TrackingEvent

    order = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    client.force_login(manager)
    assert 'data-testid="action-route"' not in client.get(detail(order)).content.decode()  # not shipped yet
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])
    parcel = order.shipments.get()
    page = client.get(detail(order)).content.decode()
    assert 'data-testid="action-route"' in page and f'name="shipment" value="{parcel.pk}"' in page
    when = timezone.localtime() - timedelta(hours=1)
    form = {"shipment": parcel.pk, "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
            "context": "已到达上海转运中心", "location": "上海"}
    assert texts(client.post(act("add_route", order), form)) == ["已添加物流轨迹"]
    assert texts(client.post(act("add_route", order), form)) == ["已添加物流轨迹"]  # the same line twice: once
    event = TrackingEvent.objects.get(shipment=parcel)
    assert (event.context, event.location) == ("已到达上海转运中心", "上海")
    assert timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M") == when.strftime("%Y-%m-%d %H:%M")
    assert "已到达上海转运中心" in client.get(detail(order)).content.decode()
    client.force_login(shopper)
    assert "已到达上海转运中心" in client.get(f"/orders/{order.public_id}/").content.decode()


def test_bad_route_lines_become_a_message_and_change_nothing(client, manager, store, other_store, shopper, plenty):
    from orders.models import TrackingEvent

    order = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])
    other = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    services.ship_order(other, by=manager, parcels=[("yunda", "YD99887766")])
    parcel, others_parcel = order.shipments.get(), other.shipments.get()
    now = timezone.localtime()
    good = {"shipment": parcel.pk, "occurred_at": now.strftime("%Y-%m-%dT%H:%M"), "context": "已揽收"}
    client.force_login(manager)
    for change, message in [
        ({"shipment": others_parcel.pk}, "包裹不存在"),  # a parcel of another order
        ({"shipment": "abc"}, None),
        ({"shipment": "99999999999999999999999"}, None),
        ({"occurred_at": "tomorrow"}, None),
        ({"occurred_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")}, "物流时间不能晚于现在"),
        ({"context": ""}, None),
        ({"context": "长" * 256}, None),
        ({"location": "地" * 65}, None),
    ]:
        response = client.post(act("add_route", order), {**good, **change})
        assert response.status_code == 302 and len(texts(response)) == 1, change
        if message:
            assert texts(response) == [message]
    assert client.get(act("add_route", order)).status_code == 405
    assert not TrackingEvent.objects.exists()
    # another store's manager, a shopper: refused
    other_manager = make_order_staff(other_store)
    client.force_login(other_manager)
    assert client.post(act("add_route", order), good).status_code == 404
    client.force_login(shopper)
    assert client.post(act("add_route", order), good).status_code in (302, 403, 404)
    assert not TrackingEvent.objects.exists()

@pytest.mark.parametrize("form, message", [
    ({}, "请填写至少一个快递单号"),
    ({"carrier": "shunfeng", "tracking_no": "12"}, "快递单号应为 6-40 位字母或数字"),
    ({"carrier": "nope", "tracking_no": "SF1234567890"}, "请选择快递公司"),
    ({"carrier": ["shunfeng", "shunfeng"], "tracking_no": ["SF1234567890", "sf1234567890"]}, "快递单号重复"),
    ({"carrier": "shunfeng\x00", "tracking_no": "SF1234567890"}, None),  # a NUL: 400 (core.middleware)
    ({"carrier": "shunfeng", "tracking_no": "SF12345\x0067890"}, None),
    ({"carrier": ["shunfeng"] * 11, "tracking_no": [f"SF{i:010d}" for i in range(11)]}, "一次最多 10 个包裹"),
])
def test_bad_parcels_become_a_message_and_change_nothing(client, manager, store, shopper, plenty, form, message):
    order = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    before = snapshot(order)
    client.force_login(manager)
    response = client.post(act("ship", order), form)
    if message is None:  # a NUL: refused before the view, no message (core.middleware)
        assert response.status_code == 400
    else:
        assert response.status_code == 302 and texts(response) == [message]
    assert snapshot(order) == before


def test_a_tracking_number_used_by_another_order_is_refused(client, manager, store, shopper, plenty):
    first = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    second = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    services.ship_order(first, by=manager, parcels=[("shunfeng", "SF1234567890")])
    before = snapshot(second)
    client.force_login(manager)
    response = client.post(act("ship", second), {"carrier": "shunfeng", "tracking_no": "SF1234567890"})
    assert texts(response) == ["快递单号 SF1234567890 已被使用"]
    assert snapshot(second) == before


def test_same_city_delivery_dispatched_then_delivered(client, clerk, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 1)], fulfilment="delivery")
    client.force_login(clerk)
    before = snapshot(order)
    bad = client.post(act("dispatch", order), {"courier_name": "李师傅", "courier_phone": "12345"})
    assert texts(bad) == ["请填写配送员的 11 位手机号"] and snapshot(order) == before
    ok = client.post(act("dispatch", order), {"courier_name": "李师傅", "courier_phone": "+86 139-0000-1111"})
    assert texts(ok) == ["配送员已出发，已通知买家"]
    order.refresh_from_db()
    assert (order.status, order.courier_name, order.courier_phone) == (S.DELIVERING, "李师傅", "13900001111")
    done = client.post(act("delivered", order))
    assert texts(done) == ["已确认送达，订单完成"] and Order.objects.get(pk=order.pk).status == S.COMPLETED


def test_cancel_an_unpaid_order_needs_a_reason_and_gives_everything_back(client, manager, store, shopper, plenty):
    order = checkout(shopper, store, [(plenty, 3)])
    client.force_login(manager)
    before = snapshot(order)
    refused = client.post(act("cancel", order), {"reason": "   "})
    assert texts(refused) == ["这个字段是必填项。"] or "必填" in texts(refused)[0]
    assert snapshot(order) == before
    response = client.post(act("cancel", order), {"reason": "买家电话要求取消"})
    assert texts(response) == ["订单已取消，库存、优惠券和积分已退回"]
    order.refresh_from_db()
    assert order.status == S.CANCELLED and order.cancel_reason == "买家电话要求取消"
    assert plenty.store_stock.get(store=store).reserved == 0


def test_cancel_a_paid_order_with_a_full_refund(client, manager, store, shopper, plenty,
                                                django_capture_on_commit_callbacks):
    order = paid(shopper, store, [(plenty, 2)], fulfilment="delivery")
    client.force_login(manager)
    assert "cancel_refund" in client.get(detail(order)).context["actions"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(act("cancel_refund", order), {"reason": "门店缺货"})
    assert texts(response) == ["已取消订单并发起全额退款，退款成功后订单关闭"]
    order.refresh_from_db()
    assert order.status == S.CLOSED and order.refunded_amount == order.paid_amount == D("45.00")
    again = client.post(act("cancel_refund", order), {"reason": "门店缺货"})
    assert texts(again) == ["只有待发货或待自提的订单可以取消并退款"]
    assert Refund.objects.filter(order=order).count() == 1


def test_change_the_price_before_payment(client, manager, store, shopper, plenty):
    order = checkout(shopper, store, [(plenty, 2)], fulfilment="delivery")
    client.force_login(manager)
    page = client.get(detail(order))
    assert {"price", "cancel"} <= page.context["actions"]
    response = client.post(act("change_price", order),
                           {"goods_adjustment": "-5.50", "delivery_fee": "0", "reason": "老顾客"})
    assert texts(response) == ["已改价，买家需按新价格付款"]
    order.refresh_from_db()
    assert (order.adjustment, order.delivery_fee, order.pay_amount) == (D("-5.50"), D("0.00"), D("34.50"))
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.PRICE).count() == 1


@pytest.mark.parametrize("form", [
    {"goods_adjustment": "-40.00", "delivery_fee": "", "reason": "太便宜"},  # goods would be free and the fee 0
    {"goods_adjustment": "abc", "reason": "x"},
    {"goods_adjustment": "NaN", "reason": "x"},
    {"goods_adjustment": "1e400", "reason": "x"},
    {"goods_adjustment": "-1.005", "reason": "x"},
    {"goods_adjustment": "²", "reason": "x"},
    {"goods_adjustment": "-1", "delivery_fee": "-3", "reason": "x"},
    {"goods_adjustment": "-1", "reason": ""},
    {"goods_adjustment": "-1", "reason": "x\x00"},
    {"goods_adjustment": "9999999999999", "reason": "x"},
])
def test_bad_price_changes_are_refused_with_a_message(client, manager, store, shopper, plenty, form):
    order = checkout(shopper, store, [(plenty, 2)])
    before = snapshot(order)
    client.force_login(manager)
    response = client.post(act("change_price", order), form)
    if any("\x00" in value for value in form.values()):  # refused before the view (core.middleware)
        assert response.status_code == 400
    else:
        assert response.status_code == 302 and len(texts(response)) == 1
    assert snapshot(order) == before


def test_a_paid_order_cannot_be_repriced_or_cancelled_as_unpaid(client, manager, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 1)])
    client.force_login(manager)
    before = snapshot(order)
    assert texts(client.post(act("change_price", order), {"goods_adjustment": "-1", "reason": "x"})) == [
        "只有待付款订单可以改价"]
    assert texts(client.post(act("cancel", order), {"reason": "x"})) == ["订单已付款，不能直接取消，请申请退款"]
    assert snapshot(order) == before


def test_merchant_remark_is_saved_and_staff_only(client, clerk, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 1)])
    client.force_login(clerk)
    response = client.post(act("remark", order), {"remark": "放冰袋"})
    assert texts(response) == ["商家备注已保存"]
    assert Order.objects.get(pk=order.pk).merchant_remark == "放冰袋"
    event = OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.REMARK).get()
    assert not event.visible_to_shopper
    too_long = client.post(act("remark", order), {"remark": "长" * 501})
    assert len(texts(too_long)) == 1 and Order.objects.get(pk=order.pk).merchant_remark == "放冰袋"


def test_fulfilment_is_refused_while_an_after_sale_is_open(client, manager, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 2)], fulfilment="express")
    ask_refund(order, quantities={order.lines.get().pk: 1})
    client.force_login(manager)
    page = client.get(detail(order))
    assert "ship" not in page.context["actions"] and page.context["open_after_sale"] is not None
    before = snapshot(order)
    response = client.post(act("ship", order), {"carrier": "shunfeng", "tracking_no": "SF1234567890"})
    assert texts(response) == ["该订单有进行中的售后，请先处理售后"]
    assert snapshot(order) == before


def test_every_action_needs_its_permission(client, store, shopper, plenty):
    """A member of the store's staff holding only orders.view_order: 403 on every action, nothing changed."""
    viewer = make_plain_staff(store, "view_order")
    pending = checkout(shopper, store, [(plenty, 1)])
    ready = paid(shopper, store, [(plenty, 1)])
    client.force_login(viewer)
    page = client.get(detail(ready))
    assert page.status_code == 200 and page.context["actions"] == set()
    posts = [("ready", ready, {}), ("ship", ready, {"carrier": "shunfeng", "tracking_no": "SF1234567890"}),
             ("add_parcel", ready, {}), ("add_route", ready, {}), ("dispatch", ready, {}), ("delivered", ready, {}),
             ("cancel_refund", ready, {"reason": "x"}), ("remark", ready, {"remark": "x"}),
             ("cancel", pending, {"reason": "x"}), ("change_price", pending, {"goods_adjustment": "-1", "reason": "x"})]
    for name, order, form in posts:
        before = snapshot(order)
        assert client.post(act(name, order), form).status_code == 403, name
        assert snapshot(order) == before, name
    assert client.get(act("ready", ready)).status_code == 403  # and never a GET


def test_actions_answer_only_post(client, manager, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 1)])
    client.force_login(manager)
    for name in ("ready", "ship", "add_parcel", "add_route", "dispatch", "delivered", "cancel", "cancel_refund", "change_price",
                 "remark"):
        assert client.get(act(name, order)).status_code == 405, name
    assert Order.objects.get(pk=order.pk).status == S.PAID
