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
