""" "使用当前位置" on the address form in a phone browser inside WeChat (plain geolocation)."""

import pytest

from members import services
from members.models import Address

from .factories import make_member
from .test_browser import _login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_use_current_location_fills_the_position_and_a_region_change_forgets_it(
    live_server, page, screenshot
):
    services.ensure_default_levels()
    user = make_member().user
    address = services.save_address(
        user,
        Address(
            receiver="张三",
            phone="13800138000",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            detail="文三路 100 号",
        ),
    )
    _login(page, live_server, user)
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation({"latitude": 30.2740841, "longitude": 120.1550702})

    page.goto(f"{live_server.url}/members/addresses/{address.pk}/edit/")
    status = page.locator("[data-locate-status]")
    assert "未定位" in status.inner_text()
    page.get_by_role("button", name="使用当前位置").click()
    page.wait_for_function("() => document.querySelector('[data-locate-status]').textContent === '已定位'")
    assert page.input_value("input[name=latitude]") == "30.274084"
    assert page.input_value("input[name=longitude]") == "120.155070"
    assert page.locator("[data-locate-clear]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("members-address-located")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/members/addresses/")
    assert page.locator(".mc-tag--located").inner_text() == "已定位"
    address.refresh_from_db()
    assert (address.latitude, address.longitude) == (30.274084, 120.15507)

    # a saved position belongs to its region: choosing another one forgets it at once
    page.goto(f"{live_server.url}/members/addresses/{address.pk}/edit/")
    assert status.inner_text() == "已定位"
    page.select_option("select[name=district]", "滨江区")
    assert status.inner_text() == "地区已修改，请重新定位"
    assert page.input_value("input[name=latitude]") == ""
