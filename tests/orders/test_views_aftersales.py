"""After-sales pages: asking for a refund (kind, reason, quantities per line, photos, the refund
shown as the quantities change), its progress, withdrawing it, sending the return tracking, and
the 售后 tab. Only the buyer's own requests are found; bad input creates nothing."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from orders.models import AfterSale, AfterSalePhoto, Order
from orders.services import approve_after_sale, ship_order
from tests.forms import form_data

from .factories import make_shopper
from .test_views_common import BAD_NUMBERS, LOGGED_IN, htmx, many_skus, messages_of, paid_order, shop_client

pytestmark = pytest.mark.django_db


def request_url(order):
    return reverse("orders:after_sale_request", args=[order.public_id])


def progress_url(after_sale):
    return reverse("orders:after_sale", args=[after_sale.number])


def png(name="photo.png", color="red"):
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), color).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def open_form(client, order):
    response = client.get(request_url(order))
    assert response.status_code == 200, response.content.decode()[:300]
    data = form_data(response.content.decode())
    data.pop("photos", None)
    return response, data


@pytest.fixture
def paid(shopper, store, tea, nuts):
    return paid_order(shopper, store, [(tea, 2), (nuts, 1)])


@pytest.fixture
def shipped(shopper, store, manager, tea):
    order = paid_order(shopper, store, [(tea, 2)], fulfilment="express")
    ship_order(order, by=manager, parcels=[("zhongtong", "ZT100200300")])
    order.refresh_from_db()
    return order


# --- asking -----------------------------------------------------------------------------------
def test_the_form_offers_refund_only_before_anything_left_the_store(client, shopper, store, paid):
    response, data = open_form(shop_client(client, shopper, store), paid)
    page = response.content.decode()
    assert 'value="return_refund" disabled' in page and "只能申请仅退款" in page
    assert data["kind"] == ["refund_only"]
    lines = {line.product_name: line.pk for line in paid.lines.all()}
    assert data[f"qty_{lines['龙井茶']}"] == ["2"] and data[f"qty_{lines['每日坚果']}"] == ["1"]
    # everything, before anything left the store: the whole payment comes back
    assert response.context["amount"] == paid.paid_amount and "61.00" in page
    assert 'accept="image/jpeg,image/png,image/webp" multiple' in page


def test_the_refund_shown_follows_the_quantities(client, shopper, store, paid):
    shop_client(client, shopper, store)
    tea_line = paid.lines.get(product_name="龙井茶")
    nuts_line = paid.lines.get(product_name="每日坚果")
    response = client.get(request_url(paid), {f"qty_{tea_line.pk}": "1", f"qty_{nuts_line.pk}": "0"}, **htmx())
    assert response.templates[0].name == "orders/partials/_refund_amount.html"
    assert response.context["amount"] == tea_line.paid_amount / 2
    nothing = client.get(request_url(paid), {f"qty_{tea_line.pk}": "0", f"qty_{nuts_line.pk}": "0"}, **htmx())
    assert "请选择要退款的商品和数量" in nothing.content.decode()


def test_asking_creates_the_request_and_shows_its_progress(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["not_wanted"], description=["不想要了"])
    response = client.post(request_url(paid), {**data, "photos": [png("a.png"), png("b.png", "blue")]})
    after_sale = AfterSale.objects.get()
    assert response.status_code == 302 and response["Location"] == progress_url(after_sale)
    assert (after_sale.kind, after_sale.amount, after_sale.user) == ("refund_only", paid.paid_amount, shopper)
    assert AfterSalePhoto.objects.filter(after_sale=after_sale).count() == 2
    page = client.get(response["Location"]).content.decode()
    assert "待审核" in page and "门店正在审核您的申请" in page and "撤销申请" in page and "不想要了" in page
    assert after_sale.number in page and page.count("<img") >= 2


def test_the_same_form_twice_is_one_request(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["damaged"])
    first = client.post(request_url(paid), data)
    second = client.post(request_url(paid), data)
    assert AfterSale.objects.count() == 1 and first["Location"] == second["Location"]


def test_one_open_request_per_order(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["damaged"])
    client.post(request_url(paid), data)
    response = client.get(request_url(paid))
    assert response["Location"] == progress_url(AfterSale.objects.get())
    assert messages_of(response)[-1] == "该订单已有进行中的售后申请"
    step = client.get(reverse("orders:detail", args=[paid.public_id])).context["step"]
    assert not step.can_after_sale and step.open_after_sale is not None


@pytest.mark.parametrize("raw", [v for v in BAD_NUMBERS if v != "0"] + ["3", "1000"])
def test_bad_quantities_create_nothing(client, shopper, store, paid, raw):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    tea_line = paid.lines.get(product_name="龙井茶")
    data.update(reason=["damaged"], **{f"qty_{tea_line.pk}": [raw]})
    response = client.post(request_url(paid), data)
    assert response.status_code == 400 and "龙井茶 的数量应为 0 到 2 之间的整数" in response.content.decode()
    assert not AfterSale.objects.exists()


def test_nothing_chosen_creates_nothing(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["damaged"], **{key: ["0"] for key in data if key.startswith("qty_")})
    response = client.post(request_url(paid), data)
    assert response.status_code == 400 and "请选择要退款的商品和数量" in response.content.decode()
    assert not AfterSale.objects.exists()


@pytest.mark.parametrize("field,value,message", [
    ("kind", "refund_everything", "请选择售后类型"),
    ("kind", "", "请选择售后类型"),
    ("kind", "return_refund", "尚未发货或提货"),
    ("reason", "", "请选择售后原因"),
    ("reason", "because\x00", "请选择售后原因"),
    ("description", "x" * 501, "500"),
    ("description", "bad\x00text", "包含无效字符"),
    ("request_id", "", "页面已过期"),
    ("request_id", "not-a-uuid", "页面已过期"),
    ("request_id", "\x00", "页面已过期"),
])
def test_bad_fields_create_nothing(client, shopper, store, paid, field, value, message):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data["reason"] = ["damaged"]
    data[field] = [value]
    response = client.post(request_url(paid), data)
    assert response.status_code == 400 and not AfterSale.objects.exists()
    if "\x00" not in value:  # a NUL is refused before the view (core.middleware): no form
        assert message in response.context["error"]


def test_more_than_six_photos_or_a_fake_one_are_refused(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["damaged"])
    response = client.post(request_url(paid), {**data, "photos": [png(f"{i}.png") for i in range(7)]})
    assert response.status_code == 400 and "最多上传 6 张图片" in response.content.decode()
    fake = SimpleUploadedFile("x.png", b"MZ\x90\x00 not an image", content_type="image/png")
    response = client.post(request_url(paid), {**data, "photos": [fake]})
    assert response.status_code == 400 and "凭证图片无效" in response.content.decode()
    assert not AfterSale.objects.exists() and not AfterSalePhoto.objects.exists()


def test_a_pending_order_cannot_ask(client, shopper, store, tea):
    from .factories import checkout

    order = checkout(shopper, store, [(tea, 1)])
    response = shop_client(client, shopper, store).get(request_url(order))
    assert response["Location"] == reverse("orders:detail", args=[order.public_id])
    assert messages_of(response) == ["该订单不能申请售后"]


def test_after_the_window_closes_the_shopper_is_told(client, shopper, store, manager, shipped, settings):
    from orders.services import complete_order

    complete_order(shipped, by=shopper)
    Order.objects.filter(pk=shipped.pk).update(completed_at=timezone.now() - timedelta(days=8))
    response = shop_client(client, shopper, store).get(request_url(shipped))
    assert messages_of(response) == ["已超过售后期限（确认收货后 7 天）"]
    page = client.get(reverse("orders:detail", args=[shipped.public_id])).content.decode()
    assert "已超过售后期限" in page and "申请售后" not in page


# --- after the request ------------------------------------------------------------------------
def test_return_and_refund_asks_for_the_tracking_then_refunds(client, shopper, store, manager, shipped):
    _response, data = open_form(shop_client(client, shopper, store), shipped)
    data.update(kind=["return_refund"], reason=["damaged"])
    client.post(request_url(shipped), data)
    after_sale = AfterSale.objects.get()
    approve_after_sale(after_sale, by=manager)
    page = client.get(progress_url(after_sale)).content.decode()
    assert "请寄回商品" in page and 'name="carrier"' in page and "顺丰速运" in page
    response = client.post(reverse("orders:after_sale_return", args=[after_sale.number]),
                           {"carrier": "shunfeng", "tracking_no": "sf9876543210"})
    assert messages_of(response)[-1] == "退货物流已提交，门店收到商品后为您退款"
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.return_carrier, after_sale.return_tracking_no) == (
        "returned", "顺丰速运", "SF9876543210")
    page = client.get(progress_url(after_sale)).content.decode()
    assert "买家已寄回：顺丰速运 SF9876543210" in page and 'name="carrier"' not in page


@pytest.mark.parametrize("carrier,tracking,message", [
    ("", "SF123456", "请选择快递公司"),
    ("dhl", "SF123456", "请选择快递公司"),
    ("shunfeng", "", "请填写快递单号"),
    ("shunfeng", "12", "快递单号应为 6-40 位字母或数字"),
    ("shunfeng", "SF12345\x00", "包含无效字符"),
    ("shunfeng", "顺丰单号123456", "快递单号应为 6-40 位字母或数字"),
])
def test_bad_return_tracking_changes_nothing(client, shopper, store, manager, shipped, carrier, tracking, message):
    _response, data = open_form(shop_client(client, shopper, store), shipped)
    data.update(kind=["return_refund"], reason=["damaged"])
    client.post(request_url(shipped), data)
    after_sale = AfterSale.objects.get()
    approve_after_sale(after_sale, by=manager)
    response = client.post(reverse("orders:after_sale_return", args=[after_sale.number]),
                           {"carrier": carrier, "tracking_no": tracking})
    if "\x00" in tracking:  # a NUL anywhere: 400 before the view (core.middleware)
        assert response.status_code == 400
    else:
        assert response.status_code == 302 and message in messages_of(response)[-1]
    after_sale.refresh_from_db()
    assert after_sale.status == "awaiting_return" and after_sale.return_tracking_no == ""


def test_withdraw_and_withdraw_again(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["not_wanted"])
    client.post(request_url(paid), data)
    after_sale = AfterSale.objects.get()
    response = client.post(reverse("orders:after_sale_withdraw", args=[after_sale.number]))
    assert messages_of(response)[-1] == "已撤销售后申请"
    after_sale.refresh_from_db()
    assert after_sale.status == "withdrawn"
    events = paid.events.count()
    again = client.post(reverse("orders:after_sale_withdraw", args=[after_sale.number]))
    assert messages_of(again)[-1] == "售后申请已撤销" and paid.events.count() == events
    # withdrawn: the order may ask again
    assert client.get(request_url(paid)).status_code == 200


def test_an_approved_refund_shows_refunded(client, shopper, store, manager, paid,
                                          django_capture_on_commit_callbacks):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["not_wanted"])
    client.post(request_url(paid), data)
    after_sale = AfterSale.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        approve_after_sale(after_sale, by=manager)  # the dev gateway refunds at once (eager worker)
    page = client.get(progress_url(after_sale)).content.decode()
    assert "已退款" in page and "¥61.00 已原路退回" in page and "撤销申请" not in page
    paid.refresh_from_db()
    assert paid.status == Order.Status.CLOSED


def test_another_members_request_is_a_404(client, shopper, store, paid):
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["not_wanted"])
    client.post(request_url(paid), data)
    after_sale = AfterSale.objects.get()
    client.force_login(make_shopper())
    assert client.get(progress_url(after_sale)).status_code == 404
    assert client.post(reverse("orders:after_sale_withdraw", args=[after_sale.number])).status_code == 404
    assert client.post(reverse("orders:after_sale_return", args=[after_sale.number]),
                       {"carrier": "shunfeng", "tracking_no": "SF123456"}).status_code == 404
    after_sale.refresh_from_db()
    assert after_sale.status == "requested"


@pytest.mark.parametrize("number", ["AS%00", "%00", "A" * 40, "AS-1", "AS 1", "..", "AS%E2%91%A0"])
def test_malformed_numbers_are_404(client, shopper, number):
    client.force_login(shopper)
    expected = 400 if "%00" in number else 404  # a NUL in the path: core.middleware
    assert client.get(f"/orders/after-sales/{number}/").status_code == expected
    assert client.post(f"/orders/after-sales/{number}/withdraw/").status_code == expected


# --- the 售后 tab --------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 10])
def test_the_after_sale_tab_lists_requests_in_constant_queries(client, django_assert_num_queries, shopper, store,
                                                                 manager, n):
    from orders.services import request_after_sale, withdraw_after_sale

    skus = many_skus(store, 2)
    for i in range(n):
        order = paid_order(shopper, store, [(sku, 1) for sku in skus])
        after_sale = request_after_sale(order, user=shopper, kind="refund_only", reason="other", request_id=f"r{i}")
        if i:
            withdraw_after_sale(after_sale, user=shopper)
    shop_client(client, shopper, store)
    with django_assert_num_queries(LOGGED_IN + 3):  # tab counts, requests with orders, their lines
        response = client.get(reverse("orders:list"), {"tab": "after_sale"})
    assert len(response.context["rows"]) == n
    tabs = {key: count for key, _label, count in response.context["tabs"]}
    assert tabs["after_sale"] == 1  # open ones only
    page = response.content.decode()
    assert "仅退款" in page and "退款金额" in page and ("已撤销" in page or n == 1)


def test_progress_page_query_count(client, django_assert_num_queries, shopper, store, paid):
    from orders.services import request_after_sale

    after_sale = request_after_sale(paid, user=shopper, kind="refund_only", reason="other", request_id="r1",
                                    photos=[png()])
    shop_client(client, shopper, store)
    # the request with its order and store, its lines, its photos, the events
    with django_assert_num_queries(LOGGED_IN + 4):
        assert client.get(progress_url(after_sale)).status_code == 200


@pytest.mark.parametrize("n", [1, 10])
def test_request_form_query_count_does_not_grow_with_lines(client, django_assert_num_queries, shopper, store, n):
    order = paid_order(shopper, store, [(sku, 1) for sku in many_skus(store, n)])
    shop_client(client, shopper, store)
    with django_assert_num_queries(LOGGED_IN + 3):  # the order with its store, its lines, its after-sales
        response = client.get(request_url(order))
    assert len(response.context["rows"]) == n and response.context["amount"] == order.paid_amount
    one_each = {f"qty_{line.pk}": "1" for line in order.lines.all()}
    with django_assert_num_queries(LOGGED_IN + 3):  # the refund shown as quantities change
        client.get(request_url(order), one_each, **htmx())


def test_a_photo_is_stored_as_its_real_format_without_its_exif(client, shopper, store, paid):
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 45.0), 3: "E", 4: (121.0, 28.0, 12.0)}
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "JPEG", exif=exif)
    _response, data = open_form(shop_client(client, shopper, store), paid)
    data.update(reason=["damaged"])
    response = client.post(request_url(paid), {**data, "photos": [SimpleUploadedFile("scan.pdf", buf.getvalue())]})
    assert response.status_code == 302
    photo = AfterSalePhoto.objects.get()
    assert photo.image.name.startswith("aftersales/") and photo.image.name.endswith("/scan.jpg")
    with Image.open(photo.image.path) as stored:
        assert stored.format == "JPEG" and not stored.getexif()
