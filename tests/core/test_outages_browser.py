"""The busy pages (core.outages) on a phone inside WeChat: Chinese, WeUI, nothing wider than the
screen; an htmx tap that meets an outage shows the busy line as a tip."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.core.urls_outage")]


def test_the_shop_busy_page_at_phone_size(live_server, page, screenshot):
    response = page.goto(live_server.url + "/outage/redis/")
    assert response.status == 503 and response.headers["retry-after"] == "5"
    assert page.locator(".weui-msg__title").inner_text() == "系统繁忙，请稍后再试"
    assert page.locator(".weui-btn_primary").inner_text() == "重试"
    assert page.evaluate("() => getComputedStyle(document.querySelector('.weui-btn_primary')).backgroundColor") != \
        "rgba(0, 0, 0, 0)"  # WeUI's stylesheet is there
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot("outage-shop-busy")


def test_the_back_office_busy_page(live_server, page, screenshot):
    response = page.goto(live_server.url + "/backoffice/outage/redis/")
    assert response.status == 503
    assert "系统繁忙，请稍后再试" in page.locator(".bo-panel__title").inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot("outage-backoffice-busy")


def test_an_htmx_tap_during_an_outage_shows_a_tip(live_server, page, screenshot):
    page.goto(live_server.url + "/outage/htmx/")
    page.wait_for_function("() => window.htmx !== undefined")
    page.click("#busy")
    tip = page.locator(".shop-busy-tip")
    tip.wait_for(state="visible", timeout=5000)
    assert tip.inner_text() == "系统繁忙，请稍后再试"
    screenshot("outage-htmx-tip")
    tip.wait_for(state="detached", timeout=6000)  # and it goes away by itself
