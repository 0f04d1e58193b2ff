"""At a phone's width inside WeChat: 会员等级与权益, the sign-in calendar, the member centre's
figures after 签到 (no reload), and the WeUI dialog before deleting an address or exchanging points."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from marketing.models import PointsExchange
from members import services
from members.models import Address, MemberLevel, PointsEntry
from tests.marketing.factories import make_coupon_item

from .factories import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    host = live_server.url.split("://", 1)[1].split(":")[0]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "domain": host, "path": "/"}])


def _fits_the_phone(page):
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


def _silver_member(points=0):
    services.ensure_default_levels()  # an earlier transactional test may have flushed them
    member = make_member(points=points, nickname="演示会员")
    services.add_growth(member, 1500, "order:demo")
    MemberLevel.objects.filter(rank=3).update(free_delivery=True, birthday_points=500)
    MemberLevel.objects.filter(rank=2).update(birthday_points=200)
    return member


def _address(user, receiver):
    return services.save_address(
        user,
        Address(receiver=receiver, phone="13800138000", province="上海市", city="上海市", district="徐汇区", detail="漕溪北路 88 号"),
    )


def test_levels_page_and_sign_in_calendar(live_server, page, screenshot):
    member = _silver_member()
    yesterday = timezone.localdate() - timedelta(days=1)
    if yesterday.month == timezone.localdate().month:
        services.sign_in(member, today=yesterday)
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/me/")
    page.locator(".mc-level--link").click()
    page.wait_for_url("**/members/levels/")
    assert page.locator(".ml-level").count() == 4
    assert page.locator(".ml-level.is-current .ml-level__name").inner_text() == "银卡会员"
    assert "再获得 3500 成长值升级为金卡会员" in page.locator("#ml-progress").inner_text()
    assert "9.8折" in page.locator(".ml-level.is-current").inner_text()
    _fits_the_phone(page)
    screenshot("members-levels")

    page.goto(live_server.url + "/members/sign-in/")
    signed_before = page.locator("td[data-signed]").count()
    page.locator(".ms-today__btn").click()
    page.locator(".shop-toptip", has_text="签到成功").wait_for()
    assert page.locator("td[data-signed]").count() == signed_before + 1
    assert page.locator("td.is-today[data-signed]").count() == 1
    assert page.get_by_text("今日已签到").count() == 1
    _fits_the_phone(page)
    screenshot("members-sign-in-calendar")


def test_sign_in_refreshes_the_member_centre_without_a_reload(live_server, page, screenshot):
    member = _silver_member(points=100)
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/me/")
    worth_before = page.locator("#mc-points-worth").inner_text()
    page.evaluate("() => { window.__sameDocument = true; }")
    page.locator("#mc-sign-in").get_by_role("button", name="签到").click()
    page.locator(".mc-signin__gain").wait_for()
    gained = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.SIGN_IN).delta
    page.wait_for_function(
        f"() => document.querySelector('#mc-points').textContent.trim() === '{100 + gained}'"
    )
    assert page.evaluate("() => window.__sameDocument === true")  # no reload
    assert page.locator("#mc-points-worth").inner_text() == f"可抵扣 ¥{services.points_value(100 + gained)}"
    assert page.locator("#mc-points-worth").inner_text() != worth_before or gained < 100
    assert page.locator("#mc-recent .mc-ledger__row").first.inner_text().startswith("每日签到")
    _fits_the_phone(page)
    screenshot("members-centre-after-sign-in")


def test_deleting_an_address_asks_in_a_weui_dialog(live_server, page, screenshot):
    member = _silver_member()
    _address(member.user, "张三")
    _address(member.user, "李四")
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/addresses/")
    assert page.locator(".mc-address").count() == 2
    last = page.locator(".mc-address").last
    who = last.locator(".mc-address__who strong").inner_text()
    last.get_by_role("button", name="删除").click()
    dialog = page.locator(".shop-dialog")
    dialog.wait_for()
    assert who in dialog.locator(".weui-dialog__bd").inner_text()
    _fits_the_phone(page)
    screenshot("members-address-delete-dialog")
    # 取消 keeps it
    dialog.get_by_role("button", name="取消").click()
    assert page.locator(".shop-dialog").count() == 0
    assert Address.objects.filter(user=member.user).count() == 2
    assert page.locator(".mc-address").count() == 2
    # 删除 deletes it
    last.get_by_role("button", name="删除").click()
    page.locator(".shop-dialog").get_by_role("button", name="删除").click()
    page.locator(".shop-toptip", has_text="收货地址已删除").wait_for()
    assert page.locator(".mc-address").count() == 1
    assert list(Address.objects.filter(user=member.user).values_list("receiver", flat=True)) == [
        "张三" if who == "李四" else "李四"
    ]
    screenshot("members-address-deleted")


def test_exchanging_points_asks_first_and_a_reached_limit_shows_why(live_server, page, screenshot):
    member = _silver_member(points=1000)
    item = make_coupon_item(points=100, per_member_limit=1, title="满100减10券")
    member.user.phone_verified = True
    member.user.save(update_fields=["phone_verified"])
    _login(page, live_server, member.user)
    page.goto(f"{live_server.url}/marketing/points-mall/{item.pk}/")
    page.locator(".mk-bar__btn").click()
    dialog = page.locator(".shop-dialog")
    dialog.wait_for()
    assert "100 积分兑换“满100减10券”" in dialog.inner_text()
    _fits_the_phone(page)
    screenshot("marketing-exchange-dialog")
    dialog.get_by_role("button", name="再想想").click()
    assert not PointsExchange.objects.exists()
    page.locator(".mk-bar__btn").click()
    page.locator(".shop-dialog").get_by_role("button", name="确认兑换").click()
    page.locator(".shop-toptip", has_text="我的优惠券").wait_for()
    assert PointsExchange.objects.filter(user=member.user).count() == 1
    page.goto(f"{live_server.url}/marketing/points-mall/{item.pk}/")
    button = page.locator(".mk-bar__btn")
    assert button.is_disabled() and button.inner_text() == "已达兑换上限"
    assert page.locator("[data-reason=member_limit]").inner_text() == "每人限兑 1 次，您已兑换"
    _fits_the_phone(page)
    screenshot("marketing-exchange-limit-reached")


def test_the_dialog_guards_htmx_forms_and_hx_confirm_too(live_server, page):
    """confirm.js on an htmx form (data-confirm) and on htmx's own hx-confirm: cancel sends
    nothing, OK sends the request once through htmx (the page is not reloaded)."""
    member = _silver_member(points=100)
    _login(page, live_server, member.user)
    page.goto(live_server.url + "/members/me/")
    page.evaluate("() => { window.__sameDocument = true; }")
    # an htmx form marked data-confirm
    page.evaluate(
        "() => document.querySelector('#mc-sign-in form').setAttribute('data-confirm', '现在签到吗？')"
    )
    page.locator("#mc-sign-in").get_by_role("button", name="签到").click()
    dialog = page.locator(".shop-dialog")
    dialog.wait_for()
    assert dialog.locator(".weui-dialog__bd").inner_text() == "现在签到吗？"
    dialog.get_by_role("button", name="取消").click()
    page.wait_for_timeout(300)
    assert not PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.SIGN_IN).exists()
    page.locator("#mc-sign-in").get_by_role("button", name="签到").click()
    page.locator(".shop-dialog").get_by_role("button", name="确定").click()
    page.locator(".mc-signin__gain").wait_for()
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.SIGN_IN).count() == 1

    # an element with hx-confirm gets the WeUI dialog, not window.confirm
    page.on("dialog", lambda native: pytest.fail(f"window.confirm was used: {native.message}"))
    page.evaluate(
        """() => {
            const button = document.createElement('button');
            button.id = 'hx-probe';
            button.textContent = '刷新积分';
            button.setAttribute('hx-get', '/members/points/');
            button.setAttribute('hx-confirm', '刷新积分明细？');
            button.setAttribute('hx-target', '#mc-recent');
            button.setAttribute('hx-select', '#mc-ledger');
            document.querySelector('.mc-points').appendChild(button);
            htmx.process(button);
        }"""
    )
    page.locator("#hx-probe").click()
    dialog = page.locator(".shop-dialog")
    dialog.wait_for()
    assert dialog.locator(".weui-dialog__bd").inner_text() == "刷新积分明细？"
    dialog.get_by_role("button", name="取消").click()
    assert page.locator("#mc-recent #mc-ledger").count() == 0
    page.locator("#hx-probe").click()
    page.locator(".shop-dialog").get_by_role("button", name="确定").click()
    page.locator("#mc-recent #mc-ledger").wait_for()
    assert page.evaluate("() => window.__sameDocument === true")
