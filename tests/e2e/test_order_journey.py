"""The whole pickup sale, as the two people who make it: a shopper on a phone inside WeChat browses,
puts a product in the cart, checks out for store pickup, pays on the development gateway's page and
gets a pickup code; a clerk of that store, in another browser, finds the code on the shared
verification screen and hands the goods over; the shopper's order page then reads 已完成, the
stock left the store and the points arrived. Screenshots of both sides at phone size."""

import re

import pytest
from django.conf import settings
from django.test import Client

from members.models import PointsEntry
from orders.models import Order
from stores.context_processors import CHOSEN_COOKIE
from stores.models import Stock
from tests.conftest import PHONE_VIEWPORT
from tests.orders.factories import make_order_staff, make_shopper, make_sku, make_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _session(context, live_server, user, **cookies):
    client = Client()
    client.force_login(user)
    host = live_server.url.split("://", 1)[1].split(":")[0]
    jar = [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "domain": host, "path": "/"}]
    jar += [{"name": name, "value": value, "domain": host, "path": "/"} for name, value in cookies.items()]
    context.add_cookies(jar)


def test_browse_cart_checkout_pay_and_the_clerk_hands_it_over(live_server, page, browser, screenshot, settings):
    settings.PAYMENT_DEV_GATEWAY = True
    store = make_store("静安寺店")
    tea = make_sku("西湖龙井 明前特级 250g", price="128.00", stock=10, store=store)
    shopper = make_shopper(phone="+8613800138000")
    clerk = make_order_staff(store, role="clerk", username="journey_clerk")
    _session(page.context, live_server, shopper, **{CHOSEN_COOKIE: str(store.pk)})
    base = live_server.url

    # the shopper: product page → SKU sheet → 加入购物车 → cart → checkout (pickup) → pay
    page.goto(f"{base}/products/{tea.product_id}/")
    page.locator(".catalog-actionbar").get_by_role("button", name="加入购物车").click()
    page.locator("#sku-sheet").get_by_role("button", name="加入购物车").click()
    page.locator(".od-toast", has_text="已加入购物车").wait_for()
    page.goto(f"{base}/orders/cart/")
    page.get_by_role("link", name=re.compile("结算")).click()
    page.wait_for_url("**/orders/checkout/")
    assert page.locator(".od-segment.is-on").inner_text().startswith("到店自提")
    screenshot("journey-1-checkout")
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url(re.compile(r".*/orders/[0-9a-f-]{36}/pay/$"))
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/payments/dev/**")
    page.get_by_role("button", name="支付成功").click()
    page.locator(".weui-msg__title", has_text="支付成功").wait_for()
    order = Order.objects.get(user=shopper)
    code = page.locator("#pickup-code").inner_text()
    assert order.status == Order.Status.PAID and code == order.pickup_code
    screenshot("journey-2-paid")
    row = Stock.objects.get(store=store, sku=tea)
    assert (row.on_hand, row.reserved) == (10, 1)

    # the clerk, in another browser: the shared screen finds the code and hands everything over
    staff = browser.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, locale="zh-CN",
                                timezone_id="Asia/Shanghai")
    _session(staff, live_server, clerk)
    counter = staff.new_page()
    counter.goto(f"{base}/backoffice/orders/pickups/")
    counter.locator("input[name=code]").fill(code)
    counter.locator("input[name=code]").press("Enter")
    found = counter.locator("[data-testid=pickup-order]")
    found.wait_for()
    assert order.number in found.inner_text() or "西湖龙井" in found.inner_text()
    screenshot("journey-3-counter", target=counter)
    found.locator("[data-testid=pickup-order-confirm]").click()
    counter.locator(".obo-dialog").wait_for()  # the confirmation in front of a hand-over
    counter.locator("[data-dialog-ok]").click()
    counter.locator(".bo-message--success").wait_for()
    assert "交易完成" in counter.locator(".bo-message--success").inner_text()
    screenshot("journey-4-handed-over", target=counter)
    staff.close()

    # the shopper's order page: completed; the stock left the store; points arrived
    page.goto(f"{base}/orders/{order.public_id}/")
    assert page.locator("#order-status").inner_text() == "已完成"
    screenshot("journey-5-completed")
    order.refresh_from_db()
    row.refresh_from_db()
    assert order.status == Order.Status.COMPLETED and (row.on_hand, row.reserved) == (9, 0)
    assert PointsEntry.objects.get(kind=PointsEntry.Kind.PURCHASE, reference=order.reference).delta == 128
