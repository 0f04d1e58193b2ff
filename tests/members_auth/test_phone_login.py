"""Shoppers sign up and log in with a phone number and an SMS code (allauth login by code)."""

import time

import pytest
from django.contrib.auth import get_user_model

from members.models import Member

from .conftest import last_code

pytestmark = pytest.mark.django_db
User = get_user_model()
PHONE = "+8613800138000"


def make_shopper(phone=PHONE, **extra):
    return User.objects.create_user(f"m{phone[3:]}", phone=phone, phone_verified=True, **extra)


def request_code(client, phone, **extra):
    return client.post("/accounts/login/", {"phone": phone, "agree": "on", "action": "send", **extra})


def enter_code(client, code, **extra):
    return client.post("/accounts/login/", {"action": "verify", "code": code, **extra})


def change_number(client):
    return client.post("/accounts/login/", {"action": "restart"})


def is_logged_in(client):
    return "_auth_user_id" in client.session


# --- one step: a new number signs up, a known one logs in ----------------------------------
def test_a_new_number_signs_up_once_its_code_is_entered(client, sms_outbox):
    response = request_code(client, "138 0013 8000")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert not User.objects.exists()  # nothing before the code
    assert sms_outbox[-1].phone == PHONE and sms_outbox[-1].template == "verification_code"

    response = enter_code(client, last_code(sms_outbox))
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get()
    assert (user.phone, user.phone_verified, user.username) == (PHONE, True, "m13800138000")
    assert not user.has_usable_password()
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.member.source == Member.Source.PHONE


def test_the_code_page_shows_the_masked_number(client, sms_outbox):
    request_code(client, PHONE)
    html = client.get("/accounts/login/").content.decode()
    assert "138****8000" in html and 'autocomplete="one-time-code"' in html
    assert 'data-countdown="60"' in html or 'data-countdown="59"' in html


def test_login_page_requires_a_phone(client, sms_outbox):
    response = client.post("/accounts/login/", {"phone": "", "agree": "on", "action": "send"})
    assert response.status_code == 200
    assert "请输入手机号" in response.content.decode()
    assert not User.objects.exists() and not sms_outbox


@pytest.mark.parametrize(
    "typed",
    [
        "1380013800",  # ten digits
        "１３８００１３８０００",  # full-width digits
        "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits
        "13800138000\x00",
        "1" * 5000,
        "<script>",
    ],
)
def test_a_malformed_phone_changes_nothing(client, sms_outbox, typed):
    response = request_code(client, typed)
    if "\x00" in typed:  # a NUL anywhere: 400 before the view (core.middleware)
        assert response.status_code == 400 and not sms_outbox and not is_logged_in(client)
        return
    assert response.status_code == 200
    assert not User.objects.exists() and not sms_outbox


def test_an_unknown_number_gets_the_same_code_text_never_not_registered(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    change_number(client)
    request_code(client, "13900139000")
    assert [m.template for m in sms_outbox] == ["verification_code", "verification_code"]
    assert all("尚未注册" not in m.text for m in sms_outbox)


# --- login by code -------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["13800138000", "+86 138 0013 8000", "+8613800138000"])
def test_login_by_code_in_any_usual_spelling(client, sms_outbox, typed):
    user = make_shopper()
    response = request_code(client, typed)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert sms_outbox[-1].phone == PHONE
    code = last_code(sms_outbox)
    assert len(code) == 6 and code.isdigit()
    response = enter_code(client, code)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert User.objects.count() == 1


def test_a_number_typed_at_an_old_signup_but_never_proven_logs_into_that_account(client, sms_outbox):
    user = User.objects.create_user("m13800138000", phone=PHONE, phone_verified=False)
    request_code(client, PHONE)
    enter_code(client, last_code(sms_outbox))
    assert client.session["_auth_user_id"] == str(user.pk)
    user.refresh_from_db()
    assert user.phone_verified and User.objects.count() == 1


def test_wrong_code_is_refused_with_a_clear_message(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    wrong = "000000" if last_code(sms_outbox) != "000000" else "111111"
    response = enter_code(client, wrong)
    assert response.status_code == 200
    assert "验证码错误或已过期" in response.content.decode()
    assert not is_logged_in(client)


@pytest.mark.parametrize("bad", ["", "１２３４５６", "12345\x00", "9" * 10000, "12 34 56 78"])
def test_malformed_codes_are_refused(client, sms_outbox, bad):
    request_code(client, PHONE)
    response = enter_code(client, bad)
    assert response.status_code == (400 if "\x00" in bad else 200)  # a NUL: core.middleware
    assert not is_logged_in(client) and not User.objects.exists()


def test_expired_code_is_refused(client, sms_outbox, monkeypatch):
    make_shopper()
    request_code(client, PHONE)
    code = last_code(sms_outbox)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    response = enter_code(client, code)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert not is_logged_in(client)
    assert "phone_code_login" not in client.session


def test_a_code_sent_to_another_phone_does_not_log_in(client, sms_outbox):
    make_shopper(PHONE)
    make_shopper("+8613900139000")
    request_code(client, "13900139000")
    code_for_other = last_code(sms_outbox)
    change_number(client)
    request_code(client, PHONE)
    code_for_phone = last_code(sms_outbox)
    if code_for_other == code_for_phone:
        pytest.skip("both random codes are equal")
    response = enter_code(client, code_for_other)
    assert response.status_code == 200
    assert not is_logged_in(client)


def test_three_wrong_codes_end_the_attempt(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    code = last_code(sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    enter_code(client, wrong)
    enter_code(client, wrong)
    response = enter_code(client, wrong)
    assert response.status_code == 302
    # the right code no longer works: the pending login is gone
    response = enter_code(client, code)
    assert not is_logged_in(client)


def test_a_second_submit_of_the_right_code_does_not_make_a_second_account(client, sms_outbox):
    request_code(client, PHONE)
    code = last_code(sms_outbox)
    enter_code(client, code)
    response = enter_code(client, code)  # the double tap: already logged in
    assert response.status_code == 302
    assert User.objects.count() == 1 and is_logged_in(client)


def test_the_code_proven_twice_at_once_makes_one_account(client, sms_outbox):
    from members.auth.code_login import user_for_phone

    first, created = user_for_phone(PHONE)
    again, created_again = user_for_phone(PHONE)
    assert (created, created_again) == (True, False) and first.pk == again.pk


# --- consent --------------------------------------------------------------------------------
def test_no_code_is_sent_without_consent(client, sms_outbox):
    response = client.post("/accounts/login/", {"phone": PHONE, "action": "send"})
    assert response.status_code == 200
    assert "请先阅读并同意用户协议和隐私政策" in response.content.decode()
    assert not sms_outbox and "phone_code_login" not in client.session


def test_consent_is_recorded_with_its_version_and_time(client, sms_outbox):
    from members.models import Consent, LegalDocument

    LegalDocument.objects.create(kind="privacy", version=2, title="隐私政策", body="第二版")
    request_code(client, PHONE)
    enter_code(client, last_code(sms_outbox))
    rows = {(c.kind, c.version, c.channel) for c in Consent.objects.filter(user__phone=PHONE)}
    assert rows == {("terms", 1, "phone"), ("privacy", 2, "phone")}
    assert all(c.agreed_at is not None for c in Consent.objects.all())


def test_the_legal_pages_show_the_newest_version(client):
    from members.models import LegalDocument

    LegalDocument.objects.create(kind="terms", version=7, title="用户协议", body="第七版正文\n\n第二段")
    html = client.get("/accounts/legal/terms/").content.decode()
    assert "第七版正文" in html and "<p>第二段</p>" in html
    assert client.get("/accounts/legal/privacy/").status_code == 200
    assert client.get("/accounts/legal/other/").status_code == 404


# --- resend ---------------------------------------------------------------------------------
def test_resend_waits_sixty_seconds(client, sms_outbox, monkeypatch):
    request_code(client, PHONE)
    response = client.post("/accounts/login/", {"action": "resend"}, follow=True)
    assert len(sms_outbox) == 1
    assert "验证码发送过于频繁，请" in response.content.decode()
    clock = [time.time() + 61]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    client.post("/accounts/login/", {"action": "resend"})
    assert len(sms_outbox) == 2
    first, second = sms_outbox[0].params["code"], sms_outbox[1].params["code"]
    enter_code(client, second)
    assert is_logged_in(client)
    del first


# --- rate limits ---------------------------------------------------------------------------
def test_codes_per_phone_are_limited_with_the_wait_time(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    assert len(sms_outbox) == 1
    change_number(client)  # "换个手机号", then the same number again within the minute
    response = request_code(client, PHONE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "验证码发送过于频繁，请" in html and "秒后再试" in html
    assert len(sms_outbox) == 1


def test_codes_per_ip_are_limited(client, sms_outbox, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "request_login_code": "3/m/ip,1/m/key"}
    for n in range(3):
        request_code(client, f"+861380013800{n}")
        change_number(client)
    assert len(sms_outbox) == 3
    response = request_code(client, "+8613800138009")
    assert response.status_code in (200, 429)
    assert len(sms_outbox) == 3


# --- next -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "evil",
    ["https://evil.example/", "//evil.example/", "https:evil.example", "/\\evil.example", "javascript:alert(1)",
     "/\x00x", "\t//evil.example", "/" + "a" * 5000],
)
def test_login_ignores_a_next_that_is_not_a_local_path(client, sms_outbox, evil):
    make_shopper()
    response = request_code(client, PHONE, next=evil)
    if "\x00" in evil:  # a NUL anywhere: 400 before the view (core.middleware), nothing sent
        assert response.status_code == 400 and not sms_outbox
        return
    assert response.status_code == 302
    response = enter_code(client, last_code(sms_outbox), next=evil)
    assert response.status_code == 302 and response["Location"] == "/"
    assert is_logged_in(client)


def test_login_follows_a_local_next(client, sms_outbox):
    make_shopper()
    html = client.get("/accounts/login/?next=/members/me/").content.decode()
    assert 'name="next" value="/members/me/"' in html
    request_code(client, PHONE, next="/members/me/")
    response = enter_code(client, last_code(sms_outbox))
    assert response["Location"] == "/members/me/"


def test_signup_and_allauths_code_pages_lead_to_the_one_step_login(client):
    response = client.get("/accounts/signup/?next=/members/me/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=%2Fmembers%2Fme%2F"
    assert client.get("/accounts/signup/?next=https://evil.example/")["Location"] == "/accounts/login/"
    assert client.get("/accounts/login/code/")["Location"] == "/accounts/login/"
    assert client.get("/accounts/login/code/confirm/")["Location"] == "/accounts/login/"


# --- pages ----------------------------------------------------------------------------------
def test_login_page_is_phone_first_without_tab_bar(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'type="tel"' in html and "获取验证码" in html and "未注册的手机号验证后自动注册" in html
    assert "用户协议" in html and "隐私政策" in html and 'name="agree"' in html
    assert "shop-tabbar" not in html
    assert "<script>" not in html  # scripts are files (CSP without inline scripts)
    assert "微信一键登录" not in html  # no WeChat app configured and not inside WeChat


def test_code_page_queries(client, sms_outbox, django_assert_max_num_queries):
    make_shopper()
    request_code(client, PHONE)
    with django_assert_max_num_queries(3):
        response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'autocomplete="one-time-code"' in response.content.decode()


def test_too_many_login_posts_from_one_ip_get_a_429_page(client, settings, sms_outbox):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    for _ in range(2):
        request_code(client, "12345")
    response = request_code(client, "12345")
    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试" in response.content.decode()
    assert not sms_outbox


def test_codes_per_phone_are_capped_per_day(client, sms_outbox, monkeypatch):
    make_shopper()
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    for _ in range(10):
        request_code(client, PHONE)
        change_number(client)
        clock[0] += 61  # past the one-a-minute limit
    assert len(sms_outbox) == 10
    response = request_code(client, PHONE)
    html = response.content.decode()
    assert "验证码发送过于频繁，请" in html and "小时后再试" in html
    assert len(sms_outbox) == 10


def test_a_deactivated_shopper_is_not_logged_in(client, sms_outbox):
    make_shopper(is_active=False)
    request_code(client, PHONE)
    response = enter_code(client, last_code(sms_outbox))
    assert response.status_code == 302 and response["Location"] == "/accounts/inactive/"
    assert not is_logged_in(client) and User.objects.count() == 1


def test_the_code_page_links_the_dev_outbox_only_with_debug(client, sms_outbox, settings):
    request_code(client, PHONE)
    assert "/accounts/dev/sms-outbox/" not in client.get("/accounts/login/").content.decode()
    settings.DEBUG = True
    assert "/accounts/dev/sms-outbox/" in client.get("/accounts/login/").content.decode()
