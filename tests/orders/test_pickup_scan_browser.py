"""Scanning a pickup code with the phone (issue 11, items 3 and 8), at 390 px in Chromium: the clerk
takes a photo of the shopper's QR code (拍照识别, the path when the live camera cannot be had), the
app's own decoder (barcode-detector on zxing-wasm, served from static/vendor/) reads it, the lookup is
sent as if typed, and the order and then a points-mall exchange are handed over. The live camera
path with Chromium's fake camera showing a QR code, and a refused camera that leaves typing.
Screenshots under var/test-artifacts/screenshots/scan-pickup-*.png."""

import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from marketing import services as mall_services
from marketing.models import PointsExchange
from members import services as member_services
from orders.models import ExpressFeeRule, Order
from tests.codes import qr_image, qr_png, y4m_of
from tests.conftest import CHROMIUM, PHONE_VIEWPORT
from tests.marketing.factories import make_product_item

from .backoffice_support import make_clerk, paid
from .factories import make_shopper, make_sku, make_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


def login(context, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide"


def qr_file(text):
    return {"name": "pickup.png", "mimeType": "image/png", "buffer": qr_png(text)}


@pytest.fixture
def counter():
    ExpressFeeRule.objects.get_or_create(store=None, defaults={"base_fee": Decimal("10.00"),
                                                               "free_over": Decimal("99.00")})
    member_services.ensure_default_levels()
    store = make_store("静安寺店")
    mooncake = make_sku("手工鲜肉月饼", price="12.00", stock=50, store=store)
    tea = make_sku("明前龙井 250g", price="168.00", stock=20, store=store)
    clerk = make_clerk(store)
    clerk.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="marketing", codename__in=["view_pointsexchange", "change_pointsexchange"]))
    shopper = make_shopper(phone="+8613912345678")
    order = paid(shopper, store, [(mooncake, 2)])
    member_services.adjust_points(shopper, 1000, "测试积分", None)
    item = make_product_item(tea, points=300)
    exchange = mall_services.exchange_points(shopper, item.pk, request_id=uuid.uuid4().hex, store_id=store.pk)
    return {"store": store, "clerk": clerk, "order": order, "exchange": exchange}


def test_clerk_scans_pickup_qr_codes_from_photos_and_hands_over(live_server, page, screenshot, counter):
    order, exchange = counter["order"], counter["exchange"]
    assert order.pickup_code and exchange.pickup_code and order.pickup_code != exchange.pickup_code
    login(page.context, live_server, counter["clerk"])
    page.goto(f"{live_server.url}/backoffice/orders/pickups/")
    photo = page.locator("[data-scan-photo]")
    photo.wait_for()  # shown once the script knows the browser can decode
    fits_the_phone(page)
    screenshot("scan-pickup-1-screen")

    # the order: a photo of its QR code is read and looked up as if the code had been typed
    page.locator("[data-testid=scan-photo]").set_input_files(files=[qr_file(order.pickup_code)])
    found = page.locator("[data-testid=pickup-order]")
    found.wait_for()
    assert order.number in found.inner_text()
    fits_the_phone(page)
    screenshot("scan-pickup-2-order-found")
    found.locator("[data-testid=pickup-order-confirm]").click()
    page.locator(".obo-dialog").wait_for()
    page.locator("[data-dialog-ok]").click()
    page.locator(".bo-message--success").wait_for()
    assert "已全部提货，交易完成" in page.locator(".bo-message--success").inner_text()
    assert Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED

    # the points-mall exchange, the same way; its hand-over asks first too
    page.locator("[data-testid=scan-photo]").set_input_files(files=[qr_file(exchange.pickup_code)])
    mall = page.locator("[data-testid=pickup-exchange]")
    mall.wait_for()
    assert "明前龙井" in mall.inner_text()
    fits_the_phone(page)
    screenshot("scan-pickup-3-exchange-found")
    mall.locator("[data-testid=pickup-confirm]").click()
    page.locator(".obo-dialog").wait_for()
    assert "明前龙井" in page.locator(".obo-dialog__bd").inner_text()
    page.locator("[data-dialog-ok]").click()
    page.locator(".bo-message--success").wait_for()
    assert "核销成功" in page.locator(".bo-message--success").inner_text()
    assert PointsExchange.objects.get(pk=exchange.pk).status == PointsExchange.Status.DONE
    fits_the_phone(page)
    screenshot("scan-pickup-4-done")


def test_a_photo_with_no_code_says_so_and_typing_stays(live_server, page, counter):
    from PIL import Image

    from tests.codes import _png

    login(page.context, live_server, counter["clerk"])
    page.goto(f"{live_server.url}/backoffice/orders/pickups/")
    page.locator("[data-scan-photo]").wait_for()
    blank = {"name": "blank.png", "mimeType": "image/png", "buffer": _png(Image.new("L", (300, 300), 255))}
    page.locator("[data-testid=scan-photo]").set_input_files(files=[blank])
    message = page.locator("[data-testid=scan-message]")
    message.filter(has_text="未识别到").wait_for()
    assert page.locator("[data-testid=pickup-order]").count() == 0
    page.locator("input[name=code]").fill(counter["order"].pickup_code)
    page.locator("input[name=code]").press("Enter")
    page.locator("[data-testid=pickup-order]").wait_for()


def test_a_camera_that_cannot_be_opened_gives_a_clear_message(live_server, page, counter):
    """Headless Chromium without a camera: getUserMedia fails; the overlay closes, the message says
    what to do instead, and the typed field is still there."""
    login(page.context, live_server, counter["clerk"])
    page.goto(f"{live_server.url}/backoffice/orders/pickups/")
    camera = page.locator("[data-testid=scan-camera]")
    camera.wait_for()
    camera.click()
    message = page.locator("[data-testid=scan-message]")
    message.wait_for()
    assert "拍照识别或手动输入" in message.inner_text()
    assert page.locator("[data-testid=scanner]").count() == 0
    assert page.locator("input[name=code]").is_editable()
    fits_the_phone(page)


def fake_camera(playwright, video):
    """Chromium whose camera plays `video` (a Y4M file), the permission already given."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])


def test_the_live_camera_reads_a_pickup_qr_code(live_server, playwright, tmp_path, screenshot, counter):
    """Chromium's fake camera plays a video of the order's QR code; 扫码 opens the camera, the code is
    read from the video and looked up."""
    order = counter["order"]
    video = tmp_path / "qr.y4m"
    video.write_bytes(y4m_of(qr_image(order.pickup_code, box=6)))
    browser = fake_camera(playwright, video)
    try:
        context = browser.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True,
                                      locale="zh-CN", permissions=["camera"])
        page = context.new_page()
        refused = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        login(context, live_server, counter["clerk"])
        page.goto(f"{live_server.url}/backoffice/orders/pickups/")
        page.locator("[data-testid=scan-camera]").click()
        found = page.locator("[data-testid=pickup-order]")
        found.wait_for(timeout=20000)
        assert order.number in found.inner_text()
        assert page.locator("[data-testid=scanner]").count() == 0  # closed, the camera stopped
        fits_the_phone(page)
        screenshot("scan-pickup-5-live-camera", target=page)
        assert not refused, refused
    finally:
        browser.close()


def test_the_camera_view_closes_with_its_button_and_stops_the_camera(live_server, playwright, tmp_path, screenshot,
                                                                     counter):
    """A camera that sees no code: the full-screen view waits with its hint; 关闭 closes it, stops the
    camera and leaves the typed field as it was."""
    from PIL import Image

    video = tmp_path / "blank.y4m"
    video.write_bytes(y4m_of(Image.new("L", (200, 200), 255)))
    browser = fake_camera(playwright, video)
    try:
        context = browser.new_context(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True,
                                      locale="zh-CN", permissions=["camera"])
        page = context.new_page()
        # count the camera tracks the page opens and stops
        page.add_init_script("""(() => {
          window.liveTracks = 0;
          const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
          navigator.mediaDevices.getUserMedia = async (constraints) => {
            const stream = await open(constraints);
            stream.getTracks().forEach((track) => {
              window.liveTracks += 1;
              const stop = track.stop.bind(track);
              track.stop = () => { window.liveTracks -= 1; stop(); };
            });
            return stream;
          };
        })()""")
        login(context, live_server, counter["clerk"])
        page.goto(f"{live_server.url}/backoffice/orders/pickups/")
        page.locator("input[name=code]").fill("12")
        page.locator("[data-testid=scan-camera]").click()
        scanner = page.locator("[data-testid=scanner]")
        scanner.wait_for()
        for _tick in range(50):  # wait_for_function would evaluate a string, which the CSP refuses
            if page.evaluate("window.liveTracks") == 1:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.liveTracks") == 1
        assert "将二维码或条码置于框内" in scanner.inner_text()
        fits_the_phone(page)
        screenshot("scan-pickup-6-camera-open", target=page)
        scanner.get_by_role("button", name="关闭").click()
        assert scanner.count() == 0
        assert page.evaluate("window.liveTracks") == 0
        assert page.locator("input[name=code]").input_value() == "12"
    finally:
        browser.close()


def test_inside_wechat_the_scan_button_uses_wechats_scanner_for_a_pickup_code(live_server, page, settings, counter):
    """With the JS-SDK configured, 扫码 inside WeChat asks WeChat's scanner (a stub here: headless Chromium
    has no WeixinJSBridge), and the code it returns is looked up as if typed."""
    from django.core.cache import cache

    from stores.views import JSAPI_TICKET_CACHE_KEY

    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-test-app", "secret"
    cache.set(JSAPI_TICKET_CACHE_KEY, "test-jsapi-ticket", 600)
    code = counter["order"].pickup_code
    page.add_init_script(script="""(() => {
      const stub = {
        config(cfg) { sessionStorage.setItem("jsApiList", JSON.stringify(cfg.jsApiList)); },
        ready(callback) { setTimeout(callback, 0); },
        error() {},
        scanQRCode(options) {
          sessionStorage.setItem("asked", JSON.stringify(options.scanType));  // the lookup then loads a new page
          options.success({ resultStr: "%s" });
        },
      };
      Object.defineProperty(window, "wx", { get: () => stub, set: () => {}, configurable: false });
    })()""" % code)  # noqa: UP031 - a JavaScript body with braces
    login(page.context, live_server, counter["clerk"])
    page.goto(f"{live_server.url}/backoffice/orders/pickups/")
    page.locator("[data-testid=scan-camera]").click()
    page.locator("[data-testid=pickup-order]").wait_for()
    assert counter["order"].number in page.locator("[data-testid=pickup-order]").inner_text()
    assert page.evaluate("JSON.parse(sessionStorage.getItem('asked'))") == ["barCode", "qrCode"]
    assert "scanQRCode" in page.evaluate("JSON.parse(sessionStorage.getItem('jsApiList'))")
