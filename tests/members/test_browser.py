"""The member centre on a phone inside WeChat: level card, daily sign-in, adding an address."""

import pytest
from django.conf import settings
from django.test import Client

from members import services
from members.models import Address, PointsEntry

from .factories import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    host = live_server.url.split("://", 1)[1].split(":")[0]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "domain": host, "path": "/"}])


def _member_with_history():
    services.ensure_default_levels()  # an earlier transactional test may have flushed them
    member = make_member(points=0, nickname="演示会员")
    services.add_growth(member, 1500, "order:demo")
    for i in range(8):
        services.earn_points(member, 10 + i, PointsEntry.Kind.REVIEW, f"r{i}")
    return member


def test_member_centre_sign_in_and_add_address(live_server, page, screenshot):
    member = _member_with_history()
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/me/")
    assert page.locator(".mc-head__name").inner_text() == "演示会员"
    assert page.locator(".mc-level__name").inner_text() == "银卡会员"
    # nothing wider than the phone: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("members-centre")

    page.get_by_role("button", name="签到").click()
    page.wait_for_selector(".mc-signin__gain")
    assert page.locator("#mc-sign-in .mc-stat__num").inner_text() == "1"
    result_points = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.SIGN_IN).delta
    # the balance above updates in the same swap (out-of-band)
    page.wait_for_function(
        f"() => document.querySelector('#mc-points').textContent.trim() === '{108 + result_points}'"
    )
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.SIGN_IN).count() == 1
    screenshot("members-centre-signed-in")

    page.goto(live_server.url + "/members/addresses/new/")
    page.fill("input[name=receiver]", "张三")
    page.fill("input[name=phone]", "138 0013 8000")
    page.select_option("select[name=province]", "河南省")
    page.wait_for_function("() => document.querySelector('select[name=city]').options.length > 1")
    page.select_option("select[name=city]", "郑州市")
    page.wait_for_function("() => document.querySelector('select[name=district]').options.length > 1")
    page.select_option("select[name=district]", "金水区")
    page.fill("input[name=detail]", "花园路 100 号")
    screenshot("members-address-form")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/members/addresses/")
    assert page.locator(".mc-address").count() == 1
    address = Address.objects.get(user=member.user)
    assert (address.province, address.city, address.district, address.phone) == (
        "河南省",
        "郑州市",
        "金水区",
        "13800138000",
    )
    screenshot("members-addresses")


def test_points_history_loads_more(live_server, page, screenshot):
    member = make_member()
    for i in range(25):
        services.earn_points(member, 1 + i, PointsEntry.Kind.REVIEW, f"r{i}")
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/points/")
    assert page.locator(".mc-ledger__row").count() == 20
    page.get_by_text("加载更多").click()
    page.wait_for_function("() => document.querySelectorAll('.mc-ledger__row').length === 25")
    assert page.locator("#mc-more").count() == 0
    screenshot("members-points")


def test_lone_city_or_district_is_picked_for_the_shopper(live_server, page, screenshot):
    member = make_member()
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/addresses/new/")
    page.select_option("select[name=province]", "重庆市")  # a municipality: one city, named alike
    page.wait_for_function("() => document.querySelector('select[name=district]').options.length > 1")
    assert page.locator("select[name=city]").input_value() == "重庆市"
    assert page.locator("select[name=district] option[value=城口县]").count() == 1  # counties too
    page.select_option("select[name=province]", "河南省")
    page.wait_for_function("() => document.querySelector('select[name=city]').options.length > 1")
    page.select_option("select[name=city]", "济源市")  # governed by the province directly
    page.wait_for_function("() => document.querySelector('select[name=district]').value === '济源市'")
    screenshot("members-address-form-jiyuan")


def test_bad_phone_shows_a_clear_message(live_server, page, screenshot):
    member = make_member()
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/addresses/new/")
    page.fill("input[name=receiver]", "李四")
    page.fill("input[name=phone]", "12345")
    page.select_option("select[name=province]", "上海市")
    page.wait_for_function("() => document.querySelector('select[name=district]').options.length > 1")
    page.select_option("select[name=district]", "徐汇区")
    page.fill("input[name=detail]", "x 路 1 号")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".mc-field-error")
    assert not Address.objects.filter(user=member.user).exists()
    screenshot("members-address-bad-phone")


def test_profile_page_and_back_office_member_pages(live_server, page, screenshot):
    from django.contrib.auth import get_user_model

    member = _member_with_history()
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/profile/")
    page.fill("input[name=nickname]", "新昵称")
    page.select_option("select[name=gender]", "female")
    screenshot("members-profile")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/members/me/")
    assert page.locator(".mc-head__name").inner_text() == "新昵称"

    staff = get_user_model().objects.create_user("hq-bo", is_staff=True, is_superuser=True)
    page.context.clear_cookies()
    _login(page, live_server, staff)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/backoffice/members/")
    assert page.locator(".bo-table tbody tr").count() >= 1
    screenshot("members-backoffice-list")
    page.goto(live_server.url + f"/backoffice/members/{member.pk}/")
    page.fill("input[name=delta]", "-99999")
    page.fill("form[action$='adjust-points/'] input[name=reason]", "测试扣减")
    page.locator("form[action$='adjust-points/'] button").click()
    page.wait_for_selector(".bo-errors")
    screenshot("members-backoffice-detail-refused")


def test_avatar_upload_on_a_phone_refuses_a_non_image_and_keeps_a_photo_as_its_real_format(
    live_server, page, screenshot, tmp_path
):
    import io

    from PIL import Image

    member = make_member(nickname="小林")
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/profile/")
    avatar = page.locator("input[name=avatar]")
    assert avatar.get_attribute("accept") == "image/jpeg,image/png,image/webp,image/gif"

    fake = tmp_path / "合同.pdf"
    fake.write_bytes(b"%PDF-1.4 not a picture")
    avatar.set_input_files(str(fake))
    page.locator("form.mc-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".mc-field-error").inner_text() == "只能上传 JPEG、PNG、WebP 或 GIF 图片"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("members-avatar-refused")

    photo = tmp_path / "IMG_0001.pdf"  # a JPEG under a wrong name
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (40, 160, 90)).save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())
    page.locator("input[name=avatar]").set_input_files(str(photo))
    page.locator("form.mc-form button[type=submit]").click()
    page.wait_for_url(live_server.url + "/members/me/")
    member.user.refresh_from_db()
    assert member.user.avatar.name.endswith("/IMG_0001.jpg")
    assert page.locator("img.mc-avatar").get_attribute("src").endswith("/IMG_0001.jpg")
    screenshot("members-avatar-saved")
