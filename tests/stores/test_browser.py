"""A shopper on a phone finds the nearest store, picks it and sees it on the home page; a store
manager looks at the back-office stock page (with screenshots)."""

import re

import pytest

from stores import demo
from stores.models import Store

from .conftest import make_sku

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JINGAN = {"latitude": 31.2240, "longitude": 121.4460}


@pytest.fixture
def stores_demo():
    for i in range(3):
        make_sku(f"龙井茶{i}")
    demo.seed(lambda line: None)


def test_nearest_store_chosen_and_shown_on_home(live_server, context, page, screenshot, stores_demo):
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation(JINGAN)
    page.goto(live_server.url + "/stores/")
    # the script asks for the location and htmx reloads the list nearest first
    page.locator(".stores-card__distance").first.wait_for()
    first = page.locator(".stores-card").first
    assert "静安寺店" in first.locator(".stores-card__name").inner_text()
    assert re.match(r"^\d+m$|^\d+\.\dkm$", first.locator(".stores-card__distance").inner_text())
    assert first.locator("a[href^='tel:']").count() == 1
    page.wait_for_load_state("networkidle")
    screenshot("stores-list-located")

    first.get_by_role("button", name="选择").click()
    page.wait_for_url(live_server.url + "/")
    assert "静安寺店" in page.locator("[data-testid=home-store]").inner_text()
    page.wait_for_load_state("networkidle")
    screenshot("stores-home-chosen")

    store = Store.objects.get(code="sh-jingan")
    page.goto(f"{live_server.url}/stores/{store.pk}/")
    assert page.locator(".stores-hours tr").count() == 7
    assert "uri.amap.com/marker" in page.locator("a", has_text="地图导航").get_attribute("href")
    assert page.locator(".stores-stock li").count() >= 1
    screenshot("stores-detail")


def test_location_denied_falls_back_to_the_city_picker(live_server, page, screenshot, stores_demo):
    page.goto(live_server.url + "/stores/")
    page.locator("[data-stores-hint]").wait_for(state="visible")
    page.select_option("#stores-city", "杭州市")
    page.wait_for_url("**city=**")
    page.locator(".stores-card").first.wait_for()
    names = page.locator(".stores-card__name").all_inner_texts()
    assert names and all(any(n in name for n in ("武林", "西溪", "滨江")) for name in names)
    screenshot("stores-list-city")


def test_manager_sees_stock_page_with_low_rows(live_server, page, screenshot, stores_demo):
    page.set_viewport_size({"width": 1280, "height": 900})
    from django.conf import settings as dj_settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=demo.DEMO_MANAGER["username"]))
    cookie = client.cookies[dj_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": dj_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page.goto(live_server.url + "/backoffice/stores/")
    assert page.locator(".bo-table tbody tr").count() == 3
    screenshot("stores-backoffice-stock")
    page.goto(live_server.url + "/backoffice/stores/transfers/")
    assert page.locator(".bo-menu__item.is-active").inner_text().startswith("门店调拨")


def test_inside_wechat_the_page_signs_the_js_sdk_then_locates(live_server, context, page, settings, stores_demo):
    import hashlib

    from django.core.cache import cache

    from stores.views import JSAPI_TICKET_CACHE_KEY

    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-test-app", "secret"
    cache.set(JSAPI_TICKET_CACHE_KEY, "test-jsapi-ticket", 600)
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation(JINGAN)
    with page.expect_response(lambda r: "jssdk" in r.url) as signed:
        page.goto(live_server.url + "/stores/")
    config = signed.value.json()
    # WeChat's JS-SDK is served by us and publishes window.wx
    assert page.evaluate("typeof window.wx.config") == "function"
    assert page.evaluate("typeof window.wx.getLocation") == "function"
    expected = hashlib.sha1(
        f"jsapi_ticket=test-jsapi-ticket&noncestr={config['nonceStr']}&timestamp={config['timestamp']}"
        f"&url={live_server.url}/stores/".encode()
    ).hexdigest()
    assert config["appId"] == "wx-test-app"
    assert config["signature"] == expected
    # headless chromium has no WeixinJSBridge: the page falls back to the browser's location
    page.locator(".stores-card__distance").first.wait_for(timeout=15000)
    assert "静安寺店" in page.locator(".stores-card").first.inner_text()


def test_a_manager_edits_opening_hours_on_a_phone(live_server, page, screenshot, stores_demo):
    """门店设置 at 390 px: the page fits the phone, a closed Sunday and a later Saturday are saved."""
    from django.conf import settings as dj_settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=demo.DEMO_MANAGER["username"]))
    cookie = client.cookies[dj_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": dj_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page.goto(live_server.url + "/backoffice/stores/settings/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot("stores-backoffice-settings")
    rows = page.locator(".store-hours__row")
    sunday = [i for i in range(rows.count()) if rows.nth(i).locator("select").input_value() == "6"][0]
    rows.nth(sunday).locator("input[type=checkbox]").check()
    page.fill("input[name=phone]", "021-5555 0000")
    page.get_by_role("button", name="保存设置").click()
    page.get_by_text("门店设置已保存").wait_for()
    store = Store.objects.get(staff__user__username=demo.DEMO_MANAGER["username"])
    assert store.phone == "021-5555 0000" and not store.hours.filter(weekday=6).exists()
    screenshot("stores-backoffice-settings-saved")


def test_product_page_stock_in_the_chosen_store_and_switching_from_nearby(live_server, context, page, screenshot):
    """390 px: pick a SKU, see the chosen store's state and the stepper stop at its stock, switch
    to a nearby store that has it, come back to the same product with the SKU still chosen."""
    from stores import services
    from tests.catalog.factories import product

    from .conftest import make_store

    item = product("明前龙井礼盒", options={"规格": ["小盒", "大盒"]}, price="88.00")
    small, large = item.skus.order_by("sort_order", "id")
    mine = make_store("人民广场店", lat=31.2304, lng=121.4737)
    nearby = make_store("南京西路店", lat=31.2290, lng=121.4590)
    services.receive_stock(mine, small, 3)  # low: 仅剩 3 件; no 大盒 here
    services.receive_stock(nearby, small, 20)
    services.receive_stock(nearby, large, 20)
    context.add_cookies([{"name": "md_loc", "value": "31.23040,121.47370", "url": live_server.url}])

    page.goto(f"{live_server.url}/stores/{mine.pk}/?next=/products/{item.pk}/")
    page.get_by_role("button", name="选择此门店").click()
    page.wait_for_url(f"**/products/{item.pk}/")
    panel = page.locator("#store-panel")
    assert "人民广场店" in panel.locator("[data-testid=chosen-store]").inner_text()

    page.locator(".catalog-actionbar").get_by_role("button", name="加入购物车").click()
    sheet = page.locator("#sku-sheet")
    value = sheet.locator(".catalog-picker__value", has_text="小盒")
    assert sheet.locator(".catalog-picker__value", has_text="大盒").is_disabled()  # none in this store
    with page.expect_response(lambda r: f"/products/{item.pk}/stores/?sku={small.pk}" in r.url):
        value.click()
    assert sheet.locator("[data-sku-stock]").inner_text() == "仅剩 3 件"
    plus = sheet.get_by_role("button", name="增加")
    for _ in range(5):
        plus.click()
    assert sheet.locator("input[name=quantity]").input_value() == "3"  # stops at the store's stock
    assert sheet.locator("input[name=quantity]").get_attribute("max") == "3"
    page.screenshot(path=str(screenshot("product-stock-sheet").with_name("product-stock-sheet-phone.png")))

    sheet.locator("[data-sheet-close]").last.click()
    panel.locator("[data-nearby-store]").first.wait_for()
    assert "仅剩 3 件" in panel.locator("[data-store-state]").inner_text()
    row = panel.locator(f"[data-nearby-store='{nearby.pk}']")
    assert "南京西路店" in row.inner_text() and "km" in row.inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    panel.scroll_into_view_if_needed()
    screenshot("product-stock-panel")
    page.screenshot(path=str(screenshot("product-stock-panel").with_name("product-stock-panel-phone.png")))

    row.get_by_role("button", name="切换到该店").click()
    page.wait_for_url(f"**/products/{item.pk}/?sku={small.pk}")
    panel = page.locator("#store-panel")
    assert "南京西路店" in panel.locator("[data-testid=chosen-store]").inner_text()
    assert panel.locator("[data-store-state]").inner_text() == "有货"
    page.locator(".catalog-actionbar").get_by_role("button", name="立即购买").click()
    # the SKU is still chosen, and the stepper now stops at this store's 20
    assert sheet.locator(".catalog-picker__value", has_text="小盒").get_attribute("aria-checked") == "true"
    assert sheet.locator("input[name=quantity]").get_attribute("max") == "20"
    assert not sheet.locator(".catalog-picker__value", has_text="大盒").is_disabled()
    screenshot("product-stock-switched")


def test_store_stock_list_loads_more_and_opens_products_and_sold_out_page(live_server, page, screenshot):
    """390 px: a store's stock list pages with 加载更多 and its rows open the product with the SKU
    selected; with no store chosen the product page asks for one; a sold-out product says 已售罄."""
    from stores import services
    from stores.selectors import STORE_STOCK_PAGE_SIZE

    from .conftest import make_store

    store = make_store("淮海中路店")
    skus = [make_sku(f"茶叶{i:02d}") for i in range(STORE_STOCK_PAGE_SIZE + 3)]
    for index, sku in enumerate(skus):
        services.receive_stock(store, sku, 2 if index % 4 == 0 else 30)
    gone = make_sku("已卖完的茶")
    services.receive_stock(store, gone, 1)
    services.reserve_lines(store, [(gone, 1)], reference="order:B1")

    page.goto(f"{live_server.url}/stores/{store.pk}/")
    rows = page.locator(".stores-stock__row")
    assert rows.count() == STORE_STOCK_PAGE_SIZE
    page.get_by_role("link", name="加载更多").click()
    page.wait_for_function(f"() => document.querySelectorAll('.stores-stock__row').length === {len(skus)}")
    assert page.locator(".stores-stock__end").inner_text() == "没有更多了"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    screenshot("store-stock-list")

    rows.filter(has_text="茶叶21").click()
    page.wait_for_url(f"**/products/{skus[21].product_id}/?sku={skus[21].pk}")
    state = page.locator("#store-panel [data-store-state]")
    assert state.inner_text() == "请选择门店，查看是否有货"  # no store chosen: never 有货
    assert "淮海中路店" in page.locator("#store-panel [data-nearby-store]").first.inner_text()
    page.locator("#store-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot("product-no-store").with_name("product-no-store-phone.png")))

    page.goto(f"{live_server.url}/products/{gone.product_id}/")
    assert page.locator("[data-sold-out]").inner_text() == "已售罄"
    assert page.locator("#store-panel [data-store-state]").inner_text() == "已售罄"
    page.goto(live_server.url + "/")
    assert page.locator(".shop-card", has_text="已卖完的茶").count() == 0
    assert page.locator(".shop-card", has_text="茶叶22").count() == 1  # the newest that is in stock
    page.goto(f"{live_server.url}/products/{gone.product_id}/")
    page.screenshot(path=str(screenshot("product-sold-out").with_name("product-sold-out-phone.png")))


def test_the_workbench_fits_a_phone(live_server, page, screenshot, stores_demo):
    """The back-office home of a store manager at 390 px: the workbench cards, 补货 (a receipt into their
    store) one tap away."""
    from django.conf import settings as dj_settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from stores import services
    from stores.models import Stock

    manager = get_user_model().objects.get(username=demo.DEMO_MANAGER["username"])
    stock = Stock.objects.filter(store__staff__user=manager).select_related("sku").first()
    services.adjust_stock(stock, -(stock.on_hand - 1), reason="报损", reference="staff:wb-browser")
    services.sweep_low_stock()
    client = Client()
    client.force_login(manager)
    cookie = client.cookies[dj_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": dj_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page.goto(live_server.url + "/backoffice/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.get_by_text("需要补货").wait_for()
    screenshot("stores-backoffice-workbench")
    # a one-store manager cannot send into their own store: 补货 starts a receipt (入库) for it
    page.get_by_role("link", name="补货").first.click()
    page.wait_for_url("**/documents/new/receipt/**")
    assert page.locator("select[name=store]").input_value() == str(stock.store_id)
