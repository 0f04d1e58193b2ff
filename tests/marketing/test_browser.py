"""The points mall and coupons on a phone inside WeChat: exchange a coupon and a product for points,
see the pickup code and QR, claim a coupon in the coupon centre."""

import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, ImageDraw

from marketing.models import MemberCoupon, PointsExchange
from members import services as member_services
from members.models import Member
from stores.services import receive_stock
from tests.members.factories import make_member
from tests.stores.conftest import make_sku, make_store

from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


def _login(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    host = live_server.url.split("://", 1)[1].split(":")[0]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "domain": host, "path": "/"}])


def _picture(color):
    buf = io.BytesIO()
    image = Image.new("RGB", (400, 400), color)
    ImageDraw.Draw(image).ellipse((100, 100, 300, 300), fill="white")
    image.save(buf, "PNG")
    return SimpleUploadedFile("gift.png", buf.getvalue(), content_type="image/png")


def _gift_sku():
    from catalog.models import ProductImage

    sku = make_sku("保温杯 500ml")
    cover = ProductImage.objects.create(product=sku.product, image=_picture("#4a90d9"))
    sku.product.cover = cover
    sku.product.save(update_fields=["cover"])
    return sku


def _fits_the_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def _mall(points=2000):
    member_services.ensure_default_levels()  # an earlier transactional test may have flushed them
    shopper = make_member(points=points, nickname="积分达人", phone_verified=True).user
    coupon_item = make_coupon_item(
        make_coupon("满100减20", amount="20.00", threshold="100.00"), points=200, quantity=50, title="20元优惠券"
    )
    make_coupon_item(make_coupon("全场85折", kind="discount", discount_percent="85"), points=500, title="85折券")
    sku = _gift_sku()
    near = make_store("人民广场店", street="南京东路100号", phone="021-63500000")
    make_store("徐家汇店", street="漕溪北路1号")  # no stock: shown disabled
    receive_stock(near, sku, 5)
    product_item = make_product_item(sku, points=800, quantity=10, title="品牌保温杯")
    claimable = make_coupon("新人无门槛5元", kind="no_threshold", amount="5.00", claimable=True, total=100)
    make_coupon("满200减30", amount="30.00", threshold="200.00", claimable=True, total=100)
    return shopper, coupon_item, product_item, near, claimable


def test_shopper_exchanges_a_coupon_and_a_product_and_claims_a_coupon(live_server, page, screenshot):
    shopper, coupon_item, product_item, store, claimable = _mall()
    _login(page, live_server, shopper)

    # member centre -> 积分商城
    page.goto(live_server.url + "/members/me/")
    page.get_by_role("link", name="积分商城").scroll_into_view_if_needed()
    screenshot("marketing-member-centre-entries")
    page.get_by_role("link", name="积分商城").click()
    page.wait_for_url("**/marketing/points-mall/")
    assert page.locator("#mk-balance").inner_text() == "2000"
    assert page.locator(".mk-card").count() == 3
    _fits_the_phone(page)
    screenshot("marketing-mall")

    # a coupon: exchanged at once, then in 我的优惠券
    page.locator(".mk-card", has_text="20元优惠券").click()
    page.wait_for_url(f"**/marketing/points-mall/{coupon_item.pk}/")
    _fits_the_phone(page)
    screenshot("marketing-mall-coupon-item")
    page.locator(".mk-bar__btn").click()  # asks first, in a WeUI dialog
    page.locator(".shop-dialog").get_by_role("button", name="确认兑换", exact=True).click()
    page.wait_for_url("**/marketing/points-mall/records/*/")
    assert "兑换成功" in page.locator(".shop-toptip").inner_text()
    screenshot("marketing-exchange-coupon-done")
    page.get_by_role("link", name="查看我的优惠券").click()
    page.wait_for_url("**/marketing/coupons/")
    assert page.locator(".mk-coupon").count() == 1
    assert page.locator(".mk-coupon__value").inner_text() == "¥20"
    _fits_the_phone(page)
    screenshot("marketing-coupon-wallet")

    # a product: pick the store, get a pickup code and its QR
    page.goto(live_server.url + "/marketing/points-mall/?kind=product")
    page.locator(".mk-card", has_text="品牌保温杯").click()
    page.wait_for_url(f"**/marketing/points-mall/{product_item.pk}/")
    assert page.locator("input[name=store_id]:disabled").count() == 1  # 徐家汇店 has none
    page.locator("label", has_text="人民广场店").click()
    assert page.locator(f"#store-{store.pk}").is_checked()
    _fits_the_phone(page)
    screenshot("marketing-mall-product-item")
    page.locator(".mk-bar__btn").click()  # asks first, in a WeUI dialog
    page.locator(".shop-dialog").get_by_role("button", name="确认兑换", exact=True).click()
    page.wait_for_url("**/marketing/points-mall/records/*/")
    exchange = PointsExchange.objects.get(user=shopper, kind="product")
    assert page.locator("#mk-pickup-code").inner_text() == exchange.pickup_code
    assert page.locator("svg.mk-qr").is_visible()
    assert "人民广场店" in page.content()
    _fits_the_phone(page)
    screenshot("marketing-exchange-pickup")
    page.locator(".mk-cancel summary").click()  # the cancel step opens, nothing is cancelled yet
    assert page.get_by_role("button", name="确认取消兑换").is_visible()
    screenshot("marketing-exchange-cancel-step")
    page.get_by_role("button", name="确认取消兑换").click()  # and once more, in a WeUI dialog
    page.locator(".shop-dialog").get_by_role("button", name="再想想").click()
    assert page.locator(".shop-dialog").count() == 0
    assert PointsExchange.objects.get(user=shopper, kind="product").status == "awaiting_pickup"
    assert Member.objects.get(user=shopper).points_balance == 2000 - 200 - 800

    page.goto(live_server.url + "/marketing/points-mall/records/")
    assert page.locator(".mk-record").count() == 2
    _fits_the_phone(page)
    screenshot("marketing-exchange-records")

    # 领券中心: the card swaps in place (htmx)
    page.goto(live_server.url + "/marketing/coupons/centre/")
    card = page.locator(f"#claim-{claimable.pk}")
    card.get_by_role("button", name="领取").click()
    page.wait_for_selector(f"#claim-{claimable.pk} .mk-claim__ok")
    assert page.locator(f"#claim-{claimable.pk} .mk-claim__btn").inner_text() == "已领取"
    assert page.url.endswith("/marketing/coupons/centre/")  # swapped, not reloaded
    assert MemberCoupon.objects.filter(user=shopper, coupon=claimable).count() == 1
    _fits_the_phone(page)
    screenshot("marketing-coupon-centre")


def test_short_of_points_and_store_errors_are_shown_on_the_item_page(live_server, page, screenshot):
    shopper, _coupon_item, product_item, _store, _claimable = _mall(points=100)
    _login(page, live_server, shopper)
    page.goto(live_server.url + f"/marketing/points-mall/{product_item.pk}/")
    assert page.locator(".mk-bar__warn").inner_text() == "还差 700 积分"
    assert page.get_by_role("button", name="积分不足").is_disabled()
    _fits_the_phone(page)
    screenshot("marketing-mall-short-of-points")


def test_home_page_and_anonymous_mall(live_server, page, screenshot):
    _mall()
    page.goto(live_server.url + "/")
    assert page.locator(".mk-home__item").count() == 2
    _fits_the_phone(page)
    screenshot("marketing-home-strip")
    page.locator(".mk-home__item", has_text="积分商城").click()
    page.wait_for_url("**/marketing/points-mall/")
    assert page.get_by_role("link", name="登录后兑换").is_visible()
    screenshot("marketing-mall-anonymous")
