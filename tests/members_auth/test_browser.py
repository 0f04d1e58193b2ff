"""Phone login in a phone-size chromium with WeChat's user agent: code read from the SMS outbox."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
User = get_user_model()


def test_log_in_with_phone_and_sms_code(live_server, page, screenshot, sms_outbox, wechat_app, settings):
    user = User.objects.create_user("m13800138000", phone="+8613800138000", phone_verified=True)
    page.goto(live_server.url + "/accounts/login/?next=/")
    assert page.get_by_role("button", name="微信一键登录").is_visible()  # inside WeChat, configured
    assert not page.locator(".shop-tabbar").count()
    screenshot("auth-login-wechat")

    page.fill("input[name=phone]", "1380013800")  # one digit short
    dialog = page.locator("[data-consent-dialog] .weui-dialog")
    # the box unticked: consent is asked in a WeUI dialog first, for the phone and the WeChat path
    for button in ("微信一键登录", "获取验证码"):
        page.get_by_role("button", name=button).click()
        expect(dialog).to_be_visible()
        assert page.url.endswith("/accounts/login/?next=/")  # nothing was posted
        dialog.get_by_role("button", name="不同意").click()
        expect(dialog).to_be_hidden()
        assert not page.is_checked("input[name=agree]")
    page.get_by_role("button", name="获取验证码").click()
    expect(dialog.get_by_text("为保障您的权益，请阅读并同意")).to_be_visible()
    screenshot("auth-login-consent-dialog")
    dialog.get_by_role("button", name="同意并继续").click()
    page.wait_for_load_state()
    assert page.get_by_text("请输入正确的11位手机号码").is_visible()
    assert page.is_checked("input[name=agree]")  # agreed in the dialog, kept by the re-rendered form
    assert not sms_outbox
    screenshot("auth-login-bad-phone")

    page.fill("input[name=phone]", "138 0013 8000")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_selector("input[name=code]")
    assert page.get_by_text("138****8000").is_visible()
    resend = page.locator("button[value=resend]")
    expect(resend).to_be_disabled()  # the 60-second countdown (a deferred script: wait for it)
    expect(resend).to_contain_text("秒后可重新发送")
    screenshot("auth-confirm-code")
    # a newcomer under `make run` (DEBUG) reads the code from the development outbox page
    settings.DEBUG = True
    outbox_page = page.context.new_page()
    outbox_page.goto(live_server.url + "/accounts/dev/sms-outbox/")
    assert outbox_page.get_by_text(sms_outbox[-1].params["code"], exact=False).is_visible()
    screenshot("auth-dev-outbox", outbox_page)
    outbox_page.close()
    settings.DEBUG = False
    page.fill("input[name=code]", sms_outbox[-1].params["code"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")
    assert page.context.cookies()[0]["name"] in ("sessionid", "csrftoken")
    assert any(c["name"] == "sessionid" for c in page.context.cookies())
    assert User.objects.get(pk=user.pk).last_login is not None


def test_signup_staff_and_bind_pages_look_right(live_server, page, screenshot, sms_outbox):
    # a new number: the same page signs up (未注册的手机号验证后自动注册)
    page.goto(live_server.url + "/accounts/signup/")
    page.wait_for_url("**/accounts/login/")
    screenshot("auth-login")
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="《隐私政策》").click()
    legal = opened.value
    expect(legal.get_by_text("第 1 版")).to_be_visible()
    screenshot("auth-legal-privacy", legal)
    legal.close()
    page.fill("input[name=phone]", "13900139000")
    page.check("input[name=agree]")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_selector("input[name=code]")
    assert not User.objects.filter(phone="+8613900139000").exists()
    page.fill("input[name=code]", sms_outbox[-1].params["code"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/")
    assert User.objects.get(phone="+8613900139000").phone_verified

    # a WeChat-only user binding a phone
    page.context.clear_cookies()
    wx = User.objects.create_user("wx_abc", nickname="张小花")
    page.goto(live_server.url + "/accounts/staff-login/")
    screenshot("auth-staff-login")
    wx.set_password("wx-pass-2026x")
    wx.save()
    page.fill("input[name=login]", "wx_abc")
    page.fill("input[name=password]", "wx-pass-2026x")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/accounts/bind-phone/?next=/")
    screenshot("auth-bind-phone")
    page.fill("input[name=phone]", "13700137000")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_selector("input[name=code]")
    screenshot("auth-bind-phone-code")
    page.fill("input[name=code]", sms_outbox[-1].params["code"])
    page.get_by_role("button", name="确认绑定").click()
    page.wait_for_url(live_server.url + "/")
    wx.refresh_from_db()
    assert wx.phone == "+8613700137000" and wx.phone_verified
