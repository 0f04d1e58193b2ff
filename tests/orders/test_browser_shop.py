"""A shopper on a phone inside WeChat buys: product page → SKU sheet → 加入购物车 (htmx, badge and
toast, no reload) → cart → checkout with store pickup → cashier → the dev gateway's simulate page
→ result with the pickup code → order page; then 立即购买 with express delivery, paid, shipped by
the store (through the service), receipt confirmed in a WeUI dialog; then a refund request from
the order page. Every page is screenshotted at 390 px and must not be wider than the screen."""

import io
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import clear_url_caches
from django.utils import timezone
from PIL import Image, ImageDraw

from catalog.models import ProductImage
from orders import selectors
from orders.models import AfterSale, ExpressFeeRule, Order
from orders.services import ship_order
from stores.context_processors import CHOSEN_COOKIE

from .factories import checkout, make_order_staff, make_shopper, make_sku, make_store, pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


@pytest.fixture(autouse=True)
def _media_urls(settings):
    settings.ROOT_URLCONF = "tests.catalog.urls_with_media"
    clear_url_caches()
    yield
    clear_url_caches()


def _picture(color, name):
    buf = io.BytesIO()
    image = Image.new("RGB", (400, 400), color)
    ImageDraw.Draw(image).ellipse((90, 90, 310, 310), fill="white")
    image.save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def _with_cover(sku, color):
    cover = ProductImage.objects.create(product=sku.product, image=_picture(color, f"{sku.pk}.png"))
    sku.product.cover = cover
    sku.product.save(update_fields=["cover"])
    return sku


def _login(page, live_server, user, store):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    host = live_server.url.split("://", 1)[1].split(":")[0]
    page.context.add_cookies([
        {"name": cookie.key, "value": cookie.value, "domain": host, "path": "/"},
        {"name": CHOSEN_COOKIE, "value": str(store.pk), "domain": host, "path": "/"},
    ])


def _fits_the_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def _shop():
    # HQ's express rule (a data migration, gone once a transactional test flushed): ¥10, never free
    ExpressFeeRule.objects.update_or_create(store=None, defaults={"base_fee": Decimal("10.00"), "free_over": None})
    store = make_store("静安寺店")
    tea = _with_cover(make_sku("西湖龙井 明前特级 250g", price="128.00", stock=20, store=store), "#6a9f4a")
    nuts = _with_cover(make_sku("每日坚果 混合装 30 包", price="59.90", stock=20, store=store), "#c8893a")
    shopper = make_shopper(phone="+8613800138000")
    manager = make_order_staff(store)
    return store, tea, nuts, shopper, manager


def test_pickup_order_from_product_to_pickup_code(live_server, page, screenshot):
    store, tea, nuts, shopper, _manager = _shop()
    _login(page, live_server, shopper, store)

    # an empty cart shows no badge on the tab bar (not a "0")
    page.goto(f"{live_server.url}/")
    assert page.locator("[data-cart-badge]").is_hidden()
    # the product page: 加入购物车 from the SKU sheet, by htmx (no reload), badge and toast
    page.goto(f"{live_server.url}/products/{tea.product_id}/")
    page.evaluate("window.__stayed = true")
    page.locator(".catalog-actionbar").get_by_role("button", name="加入购物车").click()
    sheet = page.locator("#sku-sheet")
    sheet.get_by_role("button", name="增加").click()
    sheet.get_by_role("button", name="加入购物车").click()
    page.locator(".od-toast", has_text="已加入购物车").wait_for()
    assert page.evaluate("window.__stayed") is True  # the page was not reloaded
    assert page.locator(".catalog-actionbar__icon[href='/orders/cart/']").get_attribute("data-count") == "2"
    assert sheet.is_hidden()
    screenshot("orders-product-added")

    page.goto(f"{live_server.url}/products/{nuts.product_id}/")
    page.locator(".catalog-actionbar").get_by_role("button", name="加入购物车").click()
    page.locator("#sku-sheet").get_by_role("button", name="加入购物车").click()
    page.locator(".od-toast", has_text="已加入购物车").wait_for()

    # the cart: lines, total, the stepper through htmx, the badge on the tab bar
    page.goto(f"{live_server.url}/orders/cart/")
    assert page.locator(".od-line").count() == 2
    assert page.locator("#cart-total").inner_text() == "¥315.90"
    assert page.locator("[data-cart-badge]").inner_text() == "3"
    nuts_line = page.locator(".od-line", has_text="每日坚果")
    nuts_line.get_by_role("button", name="增加").click()
    page.wait_for_function("() => document.querySelector('#cart-total').innerText === '¥375.80'")
    assert page.locator("[data-cart-badge]").inner_text() == "4"
    nuts_line = page.locator(".od-line", has_text="每日坚果")
    nuts_line.get_by_role("checkbox").click()  # untick: out of the total
    page.wait_for_function("() => document.querySelector('#cart-total').innerText === '¥256.00'")
    _fits_the_phone(page)
    screenshot("orders-cart")
    page.locator(".od-line", has_text="每日坚果").get_by_role("checkbox").click()
    page.wait_for_function("() => document.querySelector('#cart-total').innerText === '¥375.80'")

    # checkout: store pickup with a time slot
    page.get_by_role("link", name=re.compile("结算")).click()
    page.wait_for_url("**/orders/checkout/")
    assert page.locator(".od-segment.is-on").inner_text().startswith("到店自提")
    slot = page.locator("select[name=slot]")
    second = slot.locator("option").nth(1).get_attribute("value")
    slot.select_option(second)
    page.wait_for_function(f"() => document.querySelector('select[name=slot]').value === '{second}'")
    page.locator(".od-segment", has_text="快递").click()  # htmx re-prices with the fee…
    page.wait_for_function("() => document.querySelector('#checkout-pay').innerText.includes('385.80')")
    page.locator(".od-segment", has_text="到店自提").click()  # …and back
    page.wait_for_function("() => document.querySelector('.od-segment.is-on').innerText.includes('到店自提')")
    _fits_the_phone(page)
    screenshot("orders-checkout-pickup")
    page.get_by_role("button", name="提交订单").click()

    # the cashier, then the dev gateway's simulate page
    page.wait_for_url(re.compile(r".*/orders/[0-9a-f-]{36}/pay/$"))
    order = Order.objects.get(user=shopper)
    assert order.fulfilment == "pickup" and page.locator("#pay-amount").inner_text() == "¥375.80"
    # the slot chosen before switching to express and back is the one kept
    assert timezone.localtime(order.pickup_slot_start).strftime("%Y-%m-%dT%H:%M") == second
    assert "模拟支付" in page.locator(".od-channels").inner_text()
    _fits_the_phone(page)
    screenshot("orders-pay")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/payments/dev/**")
    assert page.locator("#dev-amount").inner_text() == "¥375.80"
    _fits_the_phone(page)
    screenshot("orders-dev-pay")
    page.get_by_role("button", name="支付成功").click()

    # the result asks our server: paid, with the pickup code and its QR
    page.wait_for_url(f"**/orders/{order.public_id}/result/")
    page.locator(".weui-msg__title", has_text="支付成功").wait_for()
    order.refresh_from_db()
    assert order.status == "paid" and page.locator("#pickup-code").inner_text() == order.pickup_code
    assert page.locator("svg.od-qr").is_visible()
    _fits_the_phone(page)
    screenshot("orders-result-paid")

    page.get_by_role("link", name="查看订单").click()
    page.wait_for_url(f"**/orders/{order.public_id}/")
    assert page.locator("#pickup-code").inner_text() == order.pickup_code
    assert page.locator("#order-status").inner_text() == "待备货"
    _fits_the_phone(page)
    screenshot("orders-detail-pickup")
    assert page.locator("[data-cart-badge]").count() == 0  # no tab bar on order pages


def test_express_order_confirmed_in_the_browser_then_a_refund_request(live_server, page, screenshot):
    store, tea, nuts, shopper, manager = _shop()
    _login(page, live_server, shopper, store)

    # 立即购买 goes straight to checkout with that one line; express delivery
    page.goto(f"{live_server.url}/products/{nuts.product_id}/")
    page.locator(".catalog-actionbar").get_by_role("button", name="立即购买").click()
    page.locator("#sku-sheet").get_by_role("button", name="立即购买").click()
    page.wait_for_url("**/orders/checkout/?source=buy_now")
    page.locator(".od-segment", has_text="快递").click()
    page.wait_for_function("() => document.querySelector('.od-segment.is-on').innerText.includes('快递')")
    assert "张三" in page.locator(".od-address").first.inner_text()
    assert page.locator("#checkout-pay").inner_text() == "¥69.90"  # 59.90 + ¥10 express
    _fits_the_phone(page)
    screenshot("orders-checkout-express")
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url("**/pay/")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/payments/dev/**")
    page.get_by_role("button", name="支付成功").click()
    page.locator(".weui-msg__title", has_text="支付成功").wait_for()
    order = Order.objects.get(user=shopper)
    assert order.fulfilment == "express" and order.status == "paid"

    # the store ships it (through the service); the shopper confirms receipt in a WeUI dialog
    ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])
    page.goto(f"{live_server.url}/orders/{order.public_id}/")
    assert page.locator("#order-status").inner_text() == "待收货"
    assert "SF1234567890" in page.locator("#logistics").inner_text()
    page.locator(".od-actionbar").get_by_role("button", name="确认收货").click()
    dialog = page.locator(".shop-dialog")
    dialog.wait_for()
    _fits_the_phone(page)
    screenshot("orders-confirm-dialog")
    dialog.get_by_role("button", name="确认收货").click()
    page.locator(".shop-toptip", has_text="已确认收货，交易完成").wait_for()
    assert page.locator("#order-status").inner_text() == "已完成"
    order.refresh_from_db()
    assert order.status == "completed"
    _fits_the_phone(page)
    screenshot("orders-detail-completed")

    # the list, with its tabs
    page.goto(f"{live_server.url}/orders/")
    assert page.locator(".od-ocard").count() == 1
    _fits_the_phone(page)
    screenshot("orders-list")

    # a refund request from the order page: quantity, reason, the refund shown, submitted
    page.goto(f"{live_server.url}/orders/{order.public_id}/")
    page.locator(".od-actionbar").get_by_role("link", name="申请售后").click()
    page.wait_for_url(f"**/orders/{order.public_id}/after-sale/")
    assert page.locator("#refund-amount strong").inner_text() == "¥59.90"
    page.locator(".od-segment", has_text="仅退款").click()
    page.locator("select[name=reason]").select_option("damaged")
    page.locator("textarea[name=description]").fill("包装破损，坚果受潮")
    page.locator("input[type=file][name=photos]").set_input_files(
        [{"name": "broken.png", "mimeType": "image/png", "buffer": _picture("#999", "b.png").read()}])
    _fits_the_phone(page)
    screenshot("orders-after-sale-form")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url("**/orders/after-sales/**")
    after_sale = AfterSale.objects.get(order=order)
    assert after_sale.amount == order.paid_amount - order.delivery_fee and after_sale.photos.count() == 1
    assert page.locator("#after-sale-status").inner_text() == "待审核"
    _fits_the_phone(page)
    screenshot("orders-after-sale-progress")

    page.goto(f"{live_server.url}/orders/?tab=after_sale")
    assert page.locator(".od-ascard").count() == 1
    assert page.locator(".od-tabs a.is-on").inner_text().startswith("售后")
    _fits_the_phone(page)
    screenshot("orders-list-after-sales")


def test_cart_marks_lines_that_cannot_be_bought_at_the_chosen_store(live_server, page, screenshot):
    from catalog.models import Product
    from stores.models import Stock

    from .test_views_common import fill_cart

    store, tea, nuts, shopper, _manager = _shop()
    gone = _with_cover(make_sku("限定礼盒 已下架", price="199.00", stock=5, store=store), "#8e6bb8")
    short = _with_cover(make_sku("手冲咖啡豆 500g 中深烘焙 埃塞俄比亚耶加雪菲", price="88.00", stock=5, store=store),
                        "#5a3b2e")
    fill_cart(shopper, [tea, gone], 1)
    fill_cart(shopper, [short], 3)
    fill_cart(shopper, [nuts], 1)
    Product.objects.filter(pk=gone.product_id).update(status=Product.Status.DELISTED)
    Stock.objects.filter(store=store, sku=short).update(on_hand=2)
    Stock.objects.filter(store=store, sku=nuts).update(on_hand=0)
    _login(page, live_server, shopper, store)
    page.goto(f"{live_server.url}/orders/cart/")
    assert page.locator(".od-line[data-state=delisted] .od-line__stamp").inner_text() == "已下架"
    assert page.locator(".od-line[data-state=out] .od-line__state").inner_text() == "该门店缺货"
    assert page.locator(".od-line[data-state=short] .od-line__state").inner_text() == "仅剩 2 件"
    assert page.locator(".od-line:not([data-state=ok]) .od-check:disabled").count() == 3
    assert page.locator("#cart-total").inner_text() == "¥128.00"
    _fits_the_phone(page)
    screenshot("orders-cart-states")
    page.get_by_role("button", name="清除 3 件失效商品").click()
    page.wait_for_function("() => document.querySelectorAll('.od-line').length === 1")
    assert page.locator("[data-cart-badge]").inner_text() == "1"


def test_the_order_tabs_in_english_do_not_overlap(live_server, page, screenshot):
    """All the tabs on a 390 px phone: the English labels are longer than the Chinese ones; each tab
    keeps its whole label and badge (the row scrolls sideways), none runs into the next."""
    store, tea, nuts, shopper, manager = _shop()
    for sku in (tea, nuts, tea):
        checkout(shopper, store, [(sku, 1)], fulfilment="pickup")
    pay(checkout(shopper, store, [(nuts, 1)], fulfilment="pickup"))
    _login(page, live_server, shopper, store)
    host = live_server.url.split("://", 1)[1].split(":")[0]
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "domain": host, "path": "/"}])
    page.goto(f"{live_server.url}/orders/")
    tabs = page.locator(".od-tabs a")
    assert tabs.count() == len(selectors.TABS) and tabs.first.inner_text().startswith("All")
    boxes = page.evaluate("""() => [...document.querySelectorAll('.od-tabs a')].map(a => {
        const text = document.createRange(); text.selectNodeContents(a.firstChild);
        const label = text.getBoundingClientRect(), tab = a.getBoundingClientRect();
        const badge = a.querySelector('.od-tabs__count');
        return {tab: [tab.left, tab.right], label: [label.left, label.right],
                badge: badge ? [badge.getBoundingClientRect().left, badge.getBoundingClientRect().right] : null};
    })""")
    for box in boxes:
        assert box["tab"][0] <= box["label"][0] and box["label"][1] <= box["tab"][1], box  # the label within its tab
        if box["badge"]:
            assert box["label"][1] <= box["badge"][0] + 1 and box["badge"][1] <= box["tab"][1], box
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left["tab"][1] <= right["tab"][0] + 0.5, (left, right)
    _fits_the_phone(page)
    screenshot("orders-list-tabs-en")
    # the row scrolls sideways: the current tab, the last one, is brought into view
    page.goto(f"{live_server.url}/orders/?tab=after_sale")
    current = page.locator(".od-tabs a.is-on").bounding_box()
    assert current["x"] >= 0 and current["x"] + current["width"] <= PHONE_WIDTH + 0.5
    screenshot("orders-list-tabs-en-after-sales")
    # Chinese still fills the row
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "zh-hans", "domain": host, "path": "/"}])
    page.goto(f"{live_server.url}/orders/")
    _fits_the_phone(page)
    row = page.locator(".od-tabs")
    assert row.evaluate("r => r.scrollWidth <= r.clientWidth")  # every Chinese tab on screen, no scrolling
    screenshot("orders-list-tabs-zh")
