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
    return client.post("/accounts/login/", {"login": phone, **extra})


def is_logged_in(client):
    return "_auth_user_id" in client.session


# --- signup --------------------------------------------------------------------------------
def test_signup_with_a_bare_mainland_number_verifies_it_by_code(client, sms_outbox):
    response = client.post("/accounts/signup/", {"phone": "138 0013 8000"})
    assert response.status_code == 302 and response["Location"] == "/accounts/phone/verify/"
    user = User.objects.get()
    assert (user.phone, user.phone_verified, user.username) == (PHONE, False, "m13800138000")
    assert sms_outbox[-1].phone == PHONE and sms_outbox[-1].template == "verification_code"
    assert not user.has_usable_password()

    response = client.post("/accounts/phone/verify/", {"action": "verify", "code": last_code(sms_outbox)})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone_verified
    assert is_logged_in(client)
    assert user.member.source == Member.Source.PHONE


def test_signup_page_requires_a_phone(client, sms_outbox):
    response = client.post("/accounts/signup/", {"phone": ""})
    assert response.status_code == 200
    assert "请输入手机号" in response.content.decode()
    assert not User.objects.exists() and not sms_outbox


def test_signup_with_a_malformed_phone_changes_nothing(client, sms_outbox):
    response = client.post("/accounts/signup/", {"phone": "1380013800"})
    assert response.status_code == 200
    assert "请输入正确的11位手机号码" in response.content.decode()
    assert not User.objects.exists() and not sms_outbox


def test_signup_with_a_registered_phone_creates_no_second_account(client, sms_outbox):
    make_shopper()
    client.post("/accounts/signup/", {"phone": "13800138000"})
    assert User.objects.count() == 1
    assert [m.template for m in sms_outbox] == ["account_exists"]


# --- login by code -------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["13800138000", "+86 138 0013 8000", "+8613800138000"])
def test_login_by_code_in_any_usual_spelling(client, sms_outbox, typed):
    user = make_shopper()
    response = request_code(client, typed)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/confirm/"
    assert sms_outbox[-1].phone == PHONE
    code = last_code(sms_outbox)
    assert len(code) == 6 and code.isdigit()
    response = client.post("/accounts/login/code/confirm/", {"code": code})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_with_a_malformed_phone_sends_nothing(client, sms_outbox):
    make_shopper()
    response = request_code(client, "12345")
    assert response.status_code == 200
    assert "请输入正确的11位手机号码" in response.content.decode()
    assert not sms_outbox


def test_unknown_phone_gets_a_text_saying_so_and_no_account(client, sms_outbox):
    response = request_code(client, "13900139000")
    # same answer as for a known phone: the page does not reveal who is registered
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/confirm/"
    assert [m.template for m in sms_outbox] == ["unknown_account"]
    response = client.post("/accounts/login/code/confirm/", {"code": "000000"})
    assert not is_logged_in(client)
    assert not User.objects.exists()


def test_wrong_code_is_refused_with_a_clear_message(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    wrong = "000000" if last_code(sms_outbox) != "000000" else "111111"
    response = client.post("/accounts/login/code/confirm/", {"code": wrong})
    assert response.status_code == 200
    assert "验证码错误或已过期" in response.content.decode()
    assert not is_logged_in(client)


def test_expired_code_is_refused(client, sms_outbox, monkeypatch):
    make_shopper()
    request_code(client, PHONE)
    code = last_code(sms_outbox)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post("/accounts/login/code/confirm/", {"code": code})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    assert not is_logged_in(client)


def test_a_code_sent_to_another_phone_does_not_log_in(client, sms_outbox):
    make_shopper(PHONE)
    make_shopper("+8613900139000")
    request_code(client, "13900139000")
    code_for_other = last_code(sms_outbox)
    client.post("/accounts/logout/")  # "换个手机号" drops the pending login
    request_code(client, PHONE)
    code_for_phone = last_code(sms_outbox)
    if code_for_other == code_for_phone:
        pytest.skip("both random codes are equal")
    response = client.post("/accounts/login/code/confirm/", {"code": code_for_other})
    assert response.status_code == 200
    assert not is_logged_in(client)


def test_three_wrong_codes_end_the_attempt(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    code = last_code(sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    client.post("/accounts/login/code/confirm/", {"code": wrong})
    client.post("/accounts/login/code/confirm/", {"code": wrong})
    response = client.post("/accounts/login/code/confirm/", {"code": wrong})
    assert response.status_code == 302
    # the right code no longer works: the pending login is gone
    response = client.post("/accounts/login/code/confirm/", {"code": code})
    assert response.status_code == 302 and not is_logged_in(client)


# --- rate limits ---------------------------------------------------------------------------
def test_codes_per_phone_are_limited(client, sms_outbox):
    make_shopper()
    request_code(client, PHONE)
    assert len(sms_outbox) == 1
    client.post("/accounts/logout/")  # "换个手机号", then the same number again within the minute
    response = request_code(client, PHONE)
    assert response.status_code == 200
    assert "尝试次数过多，请稍后再试" in response.content.decode()
    assert len(sms_outbox) == 1


def test_codes_per_ip_are_limited(client, sms_outbox, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "request_login_code": "3/m/ip,1/m/key"}
    for n in range(3):
        make_shopper(f"+861380013800{n}")
        request_code(client, f"+861380013800{n}")
        client.post("/accounts/logout/")
    assert len(sms_outbox) == 3
    make_shopper("+8613800138009")
    response = request_code(client, "+8613800138009")
    assert response.status_code in (200, 429)
    assert len(sms_outbox) == 3


# --- next -----------------------------------------------------------------------------------
@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/", "https:evil.example"])
def test_login_ignores_an_offsite_next(client, sms_outbox, evil):
    make_shopper()
    response = request_code(client, PHONE, next=evil)
    assert response.status_code == 302
    response = client.post(response["Location"], {"code": last_code(sms_outbox), "next": evil})
    assert response.status_code == 302 and response["Location"] == "/"
    assert is_logged_in(client)


def test_login_follows_a_local_next(client, sms_outbox):
    make_shopper()
    response = request_code(client, PHONE, next="/members/me/")
    response = client.post(response["Location"], {"code": last_code(sms_outbox)})
    assert response["Location"] == "/members/me/"


# --- pages ----------------------------------------------------------------------------------
def test_login_page_is_phone_first_without_tab_bar(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'type="tel"' in html and "获取验证码" in html
    assert "shop-tabbar" not in html
    assert "微信一键登录" not in html  # no WeChat app configured and not inside WeChat


def test_confirm_code_page_queries(client, sms_outbox, django_assert_max_num_queries):
    make_shopper()
    request_code(client, PHONE)
    with django_assert_max_num_queries(6):
        response = client.get("/accounts/login/code/confirm/")
    assert response.status_code == 200
    assert 'autocomplete="one-time-code"' in response.content.decode()


def test_signup_page_queries(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/accounts/signup/")
    assert response.status_code == 200


def test_too_many_login_posts_from_one_ip_get_a_429_page(client, settings, sms_outbox):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    for _ in range(2):
        client.post("/accounts/login/", {"login": "12345"})
    response = client.post("/accounts/login/", {"login": "12345"})
    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试" in response.content.decode()
    assert not sms_outbox


def test_codes_per_phone_are_capped_per_day(client, sms_outbox, monkeypatch):
    make_shopper()
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    for _ in range(10):
        request_code(client, PHONE)
        client.post("/accounts/logout/")
        clock[0] += 61  # past the one-a-minute limit
    assert len(sms_outbox) == 10
    response = request_code(client, PHONE)
    assert "尝试次数过多，请稍后再试" in response.content.decode()
    assert len(sms_outbox) == 10
