"""The orders back office on a phone (390 px, Chromium): a clerk sees a paid pickup order in the
queue, marks it ready, hands it over on the shared verification screen in two visits and the order
completes; the manager ships an express order in two parcels; the new-order banner appears; the
after-sales queue, the ticket and the dashboard fit the phone. Screenshots under
var/test-artifacts/screenshots/orders-bo-*.png."""

import io
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from members import services as member_services
from orders import services
from orders.models import AfterSale, ExpressFeeRule, Order, Shipment

from .backoffice_support import make_clerk, paid
from .factories import make_order_staff, make_shopper, make_sku, make_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


def login(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.clear_cookies()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide"


def confirm(page):
    """The WeUI-like dialog in front of an irreversible action: read it, then press its OK."""
    page.locator(".obo-dialog").wait_for()
    text = page.locator(".obo-dialog__bd").inner_text()
    page.locator("[data-dialog-ok]").click()
    return text


def photo():
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), "#d9534f").save(buf, "PNG")
    return SimpleUploadedFile("damaged.png", buf.getvalue(), content_type="image/png")


@pytest.fixture
def shop():
    # an earlier transactional test may have flushed the data migrations' rows
    ExpressFeeRule.objects.get_or_create(store=None, defaults={"base_fee": Decimal("10.00"),
                                                               "free_over": Decimal("99.00")})
    member_services.ensure_default_levels()
    store = make_store("静安寺店")
    mooncake = make_sku("手工鲜肉月饼", price="12.00", stock=50, store=store)
    tea = make_sku("明前龙井 250g", price="168.00", stock=20, store=store)
    clerk = make_clerk(store)
    manager = make_order_staff(store)
    shopper = make_shopper(phone="+8613912345678")
    pickup = paid(shopper, store, [(mooncake, 3), (tea, 1)], remark="少放糖")
    express = paid(make_shopper(), store, [(tea, 2)], fulfilment="express")
    return {"store": store, "mooncake": mooncake, "tea": tea, "clerk": clerk, "manager": manager,
            "pickup": pickup, "express": express}


def test_clerk_verifies_a_pickup_in_two_visits_and_the_manager_ships_express(live_server, page, screenshot, shop):
    base = live_server.url
    order = shop["pickup"]
    login(page, live_server, shop["clerk"])

    # the queue: the paid pickup order waits under 待发货/待备货
    page.goto(base + "/backoffice/orders/?tab=to_fulfil")
    row = page.locator(f"tr[data-order='{order.number}']")
    row.wait_for()
    assert "待备货" in row.inner_text() and "139****5678" in row.inner_text()
    assert page.locator(".obo-tab.is-active").inner_text().startswith("待发货/待备货")
    fits_the_phone(page)
    screenshot("orders-bo-queue")

    # its page: mark it ready, after the confirmation dialog
    row.get_by_role("link", name="处理").click()
    page.wait_for_url(f"**/backoffice/orders/{order.pk}/")
    fits_the_phone(page)
    screenshot("orders-bo-detail-paid")
    page.locator("[data-testid=action-ready] button[type=submit]").click()
    assert "买家将收到到店取货通知" in confirm(page)
    page.locator(".bo-message--success").wait_for()
    assert page.locator("[data-testid=order-status]").inner_text() == "待自提"
    fits_the_phone(page)
    screenshot("orders-bo-detail-ready")

    # the shared verification screen: the first visit takes 1 mooncake, the tea waits
    page.get_by_role("link", name="去核销台").click()
    page.locator("input[name=code]").fill(order.pickup_code)
    page.locator("input[name=code]").press("Enter")
    found = page.locator("[data-testid=pickup-order]")
    found.wait_for()
    lines = found.locator("[data-testid=pickup-line]")
    assert lines.count() == 2
    mooncake_line = lines.filter(has_text="手工鲜肉月饼")
    mooncake_line.locator("[data-step='-1']").click()
    mooncake_line.locator("[data-step='-1']").click()
    lines.filter(has_text="明前龙井").locator("[data-step='-1']").click()
    assert mooncake_line.locator("input[type=number]").input_value() == "1"
    fits_the_phone(page)
    screenshot("orders-bo-pickup-partial")
    found.locator("[data-testid=pickup-order-confirm]").click()
    confirm(page)
    page.locator(".bo-message--success").wait_for()
    assert "还有 3 件待提" in page.locator(".bo-message--success").inner_text()
    assert Order.objects.get(pk=order.pk).status == Order.Status.READY_FOR_PICKUP

    # the second visit: the rest
    page.locator("input[name=code]").fill(order.pickup_code)
    page.locator("input[name=code]").press("Enter")
    found.wait_for()
    assert "已提 1" in found.inner_text()
    fits_the_phone(page)
    screenshot("orders-bo-pickup-rest")
    found.locator("[data-testid=pickup-order-confirm]").click()
    confirm(page)
    page.locator(".bo-message--success").wait_for()
    assert "已全部提货，交易完成" in page.locator(".bo-message--success").inner_text()
    assert Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED
    assert page.locator("[data-testid=done-order]").count() == 2
    fits_the_phone(page)
    screenshot("orders-bo-pickups")

    # the manager ships the express order in two parcels
    express = shop["express"]
    login(page, live_server, shop["manager"])
    page.goto(f"{base}/backoffice/orders/{express.pk}/")
    ship = page.locator("[data-testid=action-ship]")
    ship.locator("select[name=carrier]").select_option("shunfeng")
    ship.locator("input[name=tracking_no]").fill("SF1400000001")
    ship.locator("[data-add-parcel]").click()
    ship.locator("select[name=carrier]").nth(1).select_option("yunda")
    ship.locator("input[name=tracking_no]").nth(1).fill("YD5200000002")
    fits_the_phone(page)
    screenshot("orders-bo-ship-form")
    ship.locator("button[type=submit]").click()
    confirm(page)
    page.locator(".bo-message--success").wait_for()
    assert "2 个包裹" in page.locator(".bo-message--success").inner_text()
    assert Order.objects.get(pk=express.pk).status == Order.Status.SHIPPED
    assert Shipment.objects.filter(order=express).count() == 2
    assert page.locator("[data-testid=order-shipments] .obo-action").count() == 2
    fits_the_phone(page)
    screenshot("orders-bo-detail-shipped")


def test_after_sales_ticket_dashboard_and_the_new_order_banner_fit_the_phone(live_server, page, screenshot, shop):
    base = live_server.url
    manager = shop["manager"]
    order = shop["pickup"]
    services.request_after_sale(order, user=order.user, kind=AfterSale.Kind.REFUND_ONLY,
                                reason=AfterSale.Reason.DAMAGED, description="月饼压碎了一个",
                                quantities={order.lines.get(sku=shop["mooncake"]).pk: 1},
                                request_id=uuid.uuid4().hex, photos=[photo()])
    login(page, live_server, manager)

    page.goto(base + "/backoffice/orders/after-sales/")
    assert page.locator("[data-testid=after-sale-rows] tbody tr").count() == 1
    fits_the_phone(page)
    screenshot("orders-bo-after-sales")
    page.locator("[data-testid=after-sale-rows]").get_by_role("link", name="处理", exact=True).click()
    page.locator("[data-testid=after-sale-photos] img").wait_for()
    fits_the_phone(page)
    screenshot("orders-bo-after-sale")
    page.locator("[data-testid=action-reject] input[name=reason]").fill("外包装完好，月饼完整")
    page.locator("[data-testid=action-reject] button[type=submit]").click()
    confirm(page)
    page.locator(".bo-message--success").wait_for()
    assert page.locator("[data-testid=after-sale-status]").inner_text() == "已拒绝"

    page.goto(f"{base}/backoffice/orders/{shop['express'].pk}/ticket/")
    page.locator("[data-testid=ticket] svg").wait_for()
    fits_the_phone(page)
    screenshot("orders-bo-ticket")
    paper = page.locator("[data-testid=ticket]").bounding_box()
    assert 290 <= paper["width"] <= 310  # 80 mm at 96 dpi

    page.goto(base + "/backoffice/orders/dashboard/?period=7d")
    page.locator(".bo-chart canvas").first.wait_for()
    assert page.locator(".bo-chart canvas").count() == 2
    assert page.locator("[data-testid=orders]").inner_text() == "2"
    page.wait_for_timeout(300)
    fits_the_phone(page)
    screenshot("orders-bo-dashboard")

    # the banner: the first poll sets the cursor; an order paid after it is announced on the next
    page.goto(base + "/backoffice/orders/")
    page.wait_for_function("() => Object.keys(localStorage).some(k => k.startsWith('obo.cursor.'))")
    # the earlier pages' polls left a cursor already: wait for this page's first poll to show the button
    page.locator(".obo-sound").wait_for()
    assert page.locator(".obo-sound").is_visible()  # 开启提醒音, until a click allows sound
    new = paid(make_shopper(), shop["store"], [(shop["mooncake"], 2)])
    page.reload()
    banner = page.locator("[data-testid=new-order-alert]")
    banner.wait_for()
    assert new.number in banner.inner_text()
    fits_the_phone(page)
    screenshot("orders-bo-new-order-banner")
    banner.get_by_role("link", name="查看").click()
    page.wait_for_url(f"**/backoffice/orders/{new.pk}/")
    assert page.locator("[data-testid=new-order-alert]").count() == 0  # seen: the banner is gone

    # a refund-only request approved on the phone: the money goes back through the dev gateway
    express = shop["express"]
    refund_asked = services.request_after_sale(express, user=express.user, kind=AfterSale.Kind.REFUND_ONLY,
                                               reason=AfterSale.Reason.NOT_WANTED, request_id=uuid.uuid4().hex)
    page.goto(f"{base}/backoffice/orders/after-sales/{refund_asked.pk}/")
    page.locator("[data-testid=action-approve] button[type=submit]").click()
    assert str(refund_asked.amount) in confirm(page)
    page.locator(".bo-message--success").wait_for()
    assert page.locator("[data-testid=after-sale-status]").inner_text() == "已退款"
    fits_the_phone(page)
    screenshot("orders-bo-after-sale-refunded")
    express.refresh_from_db()
    assert express.refunded_amount == express.paid_amount == refund_asked.amount
