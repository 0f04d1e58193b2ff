"""The shell every page lives in, seen through Debian's chromium at a phone's size."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_on_a_phone_in_wechat(live_server, page, screenshot):
    page.goto(live_server.url + "/")
    tabbar = page.locator(".shop-tabbar")
    assert tabbar.is_visible()
    assert tabbar.locator(".weui-tabbar__label").all_inner_texts() == ["首页", "分类", "购物车", "我的"]
    # the tab bar sits at the bottom of the phone screen, full width
    box = tabbar.bounding_box()
    assert box["width"] == 390
    assert abs((box["y"] + box["height"]) - 844) <= 1
    # WeUI's stylesheet is really loaded from our own static files
    assert page.evaluate("getComputedStyle(document.querySelector('.weui-tabbar')).display") == "flex"
    screenshot("shell-home-zh")

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator(".shop-tabbar .weui-tabbar__label").all_inner_texts() == ["Home", "Categories", "Cart", "Me"]
    screenshot("shell-home-en")


def test_back_office_after_login(live_server, page, screenshot):
    from django.contrib.auth.models import Permission

    hq = get_user_model().objects.create_user("hq", password="hq-pass-2026x", is_staff=True)
    hq.user_permissions.add(Permission.objects.get(codename="view_user", content_type__app_label="members"))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/backoffice/")
    assert "/accounts/staff-login/" in page.url
    page.fill("input[name=login]", "hq")
    page.fill("input[name=password]", "hq-pass-2026x")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/backoffice/")
    assert page.locator(".bo-menu").is_visible()
    # ECharts drew the chart into a canvas
    page.wait_for_selector(".bo-chart canvas")
    assert page.evaluate("typeof window.echarts") == "object"
    screenshot("shell-backoffice")


def test_not_found_page_in_the_shop_look(live_server, page, screenshot):
    response = page.goto(live_server.url + "/missing-page/")
    assert response.status == 404
    assert page.get_by_text("返回首页").is_visible()
    screenshot("shell-404")
