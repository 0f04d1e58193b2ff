"""After-sales in the back office: the queue by state with its counts, one request with photos,
lines and amounts, approve / reject / confirm the return / retry a refused refund, refunds that
need a person; scoped to the user's stores, every action behind orders.refund_order."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from orders import services
from orders.models import AfterSale, Order, Refund
from orders.payments.services import refund_failed
from stores.models import Stock

from .backoffice_support import ask_refund, count_queries, make_clerk, make_hq, make_plain_staff, paid, texts
from .factories import make_shopper, make_sku

pytestmark = pytest.mark.django_db
QUEUE = reverse("orders_bo:after_sales")
A = AfterSale.Status


def page(after_sale):
    return reverse("orders_bo:after_sale", args=[after_sale.pk])


def act(name, after_sale):
    return reverse(f"orders_bo:after_sale_{name}", args=[after_sale.pk])


def stock(store, sku):
    row = Stock.objects.get(store=store, sku=sku)
    return row.on_hand, row.reserved


def photo(color="red"):
    buf = io.BytesIO()
    Image.new("RGB", (60, 60), color).save(buf, "PNG")
    return SimpleUploadedFile("broken.png", buf.getvalue(), content_type="image/png")


@pytest.fixture
def plenty(store):
    return make_sku("有机牛奶", price="15.00", stock=200, store=store)


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def shipped(shopper, store, lines, manager):
    order = paid(shopper, store, lines, fulfilment="express")
    services.ship_order(order, by=manager, parcels=[("shunfeng", f"SF{order.pk:010d}")])
    return Order.objects.get(pk=order.pk)


def test_tabs_count_each_state_in_one_query(client, manager, store, shopper, plenty, worker):
    requested = ask_refund(paid(shopper, store, [(plenty, 1)]))
    awaiting = ask_refund(shipped(shopper, store, [(plenty, 1)], manager), kind=AfterSale.Kind.RETURN_REFUND)
    services.approve_after_sale(awaiting, by=manager)
    rejected = ask_refund(paid(shopper, store, [(plenty, 1)]))
    services.reject_after_sale(rejected, by=manager, reason="已发货")
    refunding = ask_refund(paid(shopper, store, [(plenty, 1)]))
    services.approve_after_sale(refunding, by=manager)  # the refund task is not run: still refunding
    with worker():
        done = ask_refund(paid(shopper, store, [(plenty, 1)]))
        services.approve_after_sale(done, by=manager)
    client.force_login(manager)
    response = client.get(QUEUE)
    counts = {t["key"]: t["count"] for t in response.context["tabs"]}
    assert counts == {"requested": 1, "awaiting_return": 1, "returned": 0, "refunding": 1, "refunded": 1,
                      "rejected": 1}
    assert [a.pk for a in response.context["rows"]] == [requested.pk]  # 待审核 first
    for key, expected in (("awaiting_return", awaiting), ("refunding", refunding), ("refunded", done),
                          ("rejected", rejected)):
        assert [a.pk for a in client.get(QUEUE, {"tab": key}).context["rows"]] == [expected.pk], key


def test_approving_a_refund_only_request_refunds_it(client, manager, store, shopper, plenty, worker):
    order = paid(shopper, store, [(plenty, 3)])
    after_sale = ask_refund(order, quantities={order.lines.get().pk: 1})
    client.force_login(manager)
    detail = client.get(page(after_sale))
    assert detail.context["actions"] == {"approve", "reject"}
    assert "¥15.00" in detail.content.decode()
    with worker():
        response = client.post(act("approve", after_sale), {"note": "同意"})
    assert texts(response) == ["已同意退款，退款处理中"]
    after_sale.refresh_from_db()
    order.refresh_from_db()
    assert after_sale.status == A.REFUNDED and after_sale.handled_by == manager
    assert order.refunded_amount == after_sale.amount and stock(store, plenty) == (200, 2)
    html = client.get(page(after_sale)).content.decode()
    assert 'class="bo-tag bo-tag--ok" data-testid="after-sale-status">已退款<' in html  # done: not a warning
    again = client.post(act("approve", after_sale), {"note": "同意"})
    assert again.status_code == 302 and Refund.objects.filter(order=order).count() == 1


def test_return_and_refund_waits_for_the_goods_then_restocks(client, manager, store, shopper, plenty, worker):
    order = shipped(shopper, store, [(plenty, 2)], manager)
    after_sale = ask_refund(order, kind=AfterSale.Kind.RETURN_REFUND)
    client.force_login(manager)
    assert texts(client.post(act("approve", after_sale), {"note": ""})) == ["已同意退货，等待买家寄回"]
    assert AfterSale.objects.get(pk=after_sale.pk).status == A.AWAITING_RETURN
    assert client.get(page(after_sale)).context["actions"] == {"reject"}  # nothing to receive yet
    services.submit_return(after_sale, user=shopper, carrier_code="yunda", tracking_no="YD12345678")
    detail = client.get(page(after_sale))
    assert detail.context["actions"] == {"receive", "reject"} and "YD12345678" in detail.content.decode()
    assert stock(store, plenty) == (198, 0)
    with worker():
        response = client.post(act("receive", after_sale), {"note": "包装完好"})
    assert texts(response) == ["已确认收到退货，商品已入库，退款处理中"]
    after_sale.refresh_from_db()
    assert after_sale.status == A.REFUNDED and stock(store, plenty) == (200, 0)
    order.refresh_from_db()
    assert order.refunded_amount == order.paid_amount - order.delivery_fee  # the fee stays: the goods had left


def test_rejecting_needs_a_reason(client, manager, store, shopper, plenty):
    after_sale = ask_refund(paid(shopper, store, [(plenty, 1)]))
    client.force_login(manager)
    for reason in ("", "   ", "\x00", "长" * 256):
        response = client.post(act("reject", after_sale), {"reason": reason})
        if reason == "\x00":  # refused before the view (core.middleware)
            assert response.status_code == 400
        else:
            assert response.status_code == 302 and len(texts(response)) == 1, reason
        assert AfterSale.objects.get(pk=after_sale.pk).status == A.REQUESTED
    response = client.post(act("reject", after_sale), {"reason": "商品已拆封影响二次销售"})
    assert texts(response) == ["已拒绝售后申请，已通知买家"]
    after_sale.refresh_from_db()
    assert after_sale.status == A.REJECTED and after_sale.reject_reason == "商品已拆封影响二次销售"
    assert texts(client.post(act("approve", after_sale), {})) == ["售后单当前状态（已拒绝）不能执行此操作"]


def test_a_refused_refund_is_listed_and_retried(client, manager, store, shopper, plenty, worker):
    after_sale = ask_refund(paid(shopper, store, [(plenty, 1)]))
    services.approve_after_sale(after_sale, by=manager)
    first = Refund.objects.get(after_sale=after_sale)
    refund_failed(first.pk)
    client.force_login(manager)
    queue = client.get(QUEUE)
    assert [a.pk for a in queue.context["retry"]] == [after_sale.pk]
    assert client.get(page(after_sale)).context["actions"] == {"retry"}
    with worker():
        response = client.post(act("retry", after_sale))
    assert texts(response) == ["已重新发起退款"]
    assert AfterSale.objects.get(pk=after_sale.pk).status == A.REFUNDED
    assert Refund.objects.filter(after_sale=after_sale).count() == 2
    assert texts(client.post(act("retry", after_sale))) == ["只有退款中的售后单可以重新退款"]
    assert client.get(QUEUE).context["retry"] == []


def test_abnormal_refunds_are_listed_for_staff_of_their_store_only(client, manager, store, other_store, shopper,
                                                                   plenty, other_manager):
    after_sale = ask_refund(paid(shopper, store, [(plenty, 1)]))
    services.approve_after_sale(after_sale, by=manager)
    refund = Refund.objects.get(after_sale=after_sale)
    refund_failed(refund.pk, abnormal=True)
    client.force_login(manager)
    response = client.get(QUEUE)
    assert [r.pk for r in response.context["abnormal"]] == [refund.pk]
    assert refund.out_refund_no in response.content.decode()
    client.force_login(other_manager)
    assert client.get(QUEUE).context["abnormal"] == []


def test_the_request_page_shows_photos_lines_and_amounts(client, manager, store, shopper, plenty, tea):
    order = paid(shopper, store, [(plenty, 2), (tea, 1)])
    after_sale = ask_refund(order, quantities={order.lines.get(sku=tea).pk: 1}, description="外包装破损",
                            photos=[photo("red"), photo("blue")])
    client.force_login(manager)
    html = client.get(page(after_sale)).content.decode()
    assert html.count("<img ") == 2 and "外包装破损" in html
    assert "龙井茶" in html and f"¥{after_sale.amount}" in html and order.number in html


def test_other_stores_requests_answer_404_and_actions_need_refund_permission(
    client, store, other_store, shopper, plenty, manager
):
    after_sale = ask_refund(paid(shopper, store, [(plenty, 1)]))
    stranger = make_clerk(other_store)
    client.force_login(stranger)
    assert client.get(page(after_sale)).status_code == 404
    for name in ("approve", "reject", "receive", "retry"):
        assert client.post(act(name, after_sale), {"reason": "x"}).status_code == 404, name
    assert after_sale.order.number not in client.get(QUEUE).content.decode()
    viewer = make_plain_staff(store, "view_order")
    client.force_login(viewer)
    assert client.get(page(after_sale)).context["actions"] == set()
    for name in ("approve", "reject", "receive", "retry"):
        assert client.post(act(name, after_sale), {"reason": "x"}).status_code == 403, name
    assert AfterSale.objects.get(pk=after_sale.pk).status == A.REQUESTED
    hq = make_hq()
    client.force_login(hq)
    assert [a.pk for a in client.get(QUEUE).context["rows"]] == [after_sale.pk]
    assert client.get(QUEUE, {"store": other_store.pk}).context["rows"] == []


@pytest.mark.parametrize("pk", ["0", "99999999999999999999999", "１"])
def test_absurd_ids_answer_404(client, manager, pk):
    client.force_login(manager)
    url = QUEUE + pk + "/"
    assert client.get(url).status_code == 404
    assert client.post(url + "approve/").status_code == 404


def test_queue_and_request_page_queries_do_not_grow(client, manager, store, shopper, plenty, tea):
    def asked():
        order = paid(make_shopper(), store, [(plenty, 1), (tea, 1)])
        return ask_refund(order, photos=[photo()])

    first = asked()
    client.force_login(manager)
    client.get(QUEUE)
    one, _r = count_queries(client, QUEUE)
    one_page, _r = count_queries(client, page(first))
    for _ in range(9):
        asked()
    ten, response = count_queries(client, QUEUE)
    assert len(response.context["rows"]) == 10
    assert one == ten
    big = paid(shopper, store, [(make_sku(f"多件{i}", stock=5, store=store), 1) for i in range(10)])
    many = ask_refund(big, photos=[photo(), photo(), photo()])
    assert count_queries(client, page(many))[0] == one_page
