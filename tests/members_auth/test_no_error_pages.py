"""Sign-up and the allauth pages this shop does not use never answer an error page (issue 12, item 9).

Before: a second sign-up for a number that had just got a code, or one past the SMS limit, raised
allauth's RateLimited (HTTP 500) after the account with the unverified phone was saved; allauth's
e-mail and password pages tried to send mail; /accounts/weixin/login/ without an app raised
SocialApp.DoesNotExist.
"""

import pytest
from django.contrib.auth import get_user_model

from .conftest import WECHAT_UA, last_code

pytestmark = pytest.mark.django_db
User = get_user_model()
PHONE = "+8613800138000"


def sign_up(client, phone="13800138000"):
    return client.post("/accounts/signup/", {"phone": phone}, follow=True)


def request_code(client, phone="13800138000"):
    return client.post("/accounts/login/", {"phone": phone, "agree": "on", "action": "send"})


def test_the_signup_url_leads_to_the_one_step_login_and_saves_nothing(client, sms_outbox):
    response = sign_up(client)
    assert response.status_code == 200 and response.redirect_chain == [("/accounts/login/", 302)]
    assert not User.objects.exists() and not sms_outbox


def test_a_second_signup_for_a_number_that_just_got_a_code(client, sms_outbox):
    request_code(client)
    other = type(client)()
    response = request_code(other)
    assert response.status_code == 200
    assert "验证码发送过于频繁，请60秒后再试" in response.content.decode()
    assert not User.objects.exists() and len(sms_outbox) == 1
    # the first browser's code still signs up, once
    client.post("/accounts/login/", {"action": "verify", "code": last_code(sms_outbox)})
    assert User.objects.get().phone_verified


def test_a_signup_past_the_daily_sms_limit_says_how_long_to_wait(client, sms_outbox, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "request_login_code": "1/d/key"}
    request_code(client)
    client.post("/accounts/login/", {"action": "restart"})
    response = request_code(client)
    assert response.status_code == 200
    assert "验证码发送过于频繁，请24小时后再试" in response.content.decode()
    assert not User.objects.exists() and len(sms_outbox) == 1


def test_an_abandoned_signup_leaves_nothing(client, sms_outbox):
    request_code(client)
    wrong = "000000" if last_code(sms_outbox) != "000000" else "111111"
    for _ in range(3):
        client.post("/accounts/login/", {"action": "verify", "code": wrong})
    assert not User.objects.exists()


def test_an_sms_provider_failure_is_a_message_not_an_error_page(client, sms_outbox, monkeypatch):
    from core import sms

    def refuse(*args, **kwargs):
        raise sms.SmsError("短信发送失败，请稍后再试", code="provider")

    monkeypatch.setattr("members.auth.adapter.send_sms", refuse)
    response = request_code(client)
    assert response.status_code == 302
    assert not User.objects.exists()


NOT_USED = [
    "/accounts/email/", "/accounts/confirm-email/", "/accounts/confirm-email/abc-def:1/",
    "/accounts/password/change/", "/accounts/password/set/", "/accounts/password/reset/",
    "/accounts/password/reset/done/", "/accounts/password/reset/key/1-abc-def/",
    "/accounts/password/reset/key/done/", "/accounts/reauthenticate/",
]


@pytest.mark.parametrize("url", NOT_USED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_email_and_password_pages_are_not_reachable(client, url, method, mailoutbox):
    User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True, email="a@example.com")
    response = getattr(client, method)(url, {"email": "a@example.com"})
    assert response.status_code == 404
    assert not mailoutbox


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_logged_in_shopper_is_never_asked_for_a_password(client, method):
    client.force_login(User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True))
    response = getattr(client, method)("/accounts/reauthenticate/", {"password": "guess"})
    assert response.status_code == 404 and "密码" not in response.content.decode()


def allauth_urls():
    """Every URL allauth.urls defines (with sample arguments), as the site resolves it."""
    import allauth.urls
    from django.urls import URLPattern, URLResolver

    samples = {"key": "abc-def:1", "uidb36": "1", "provider_id": "weixin"}
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = str(p.pattern).lstrip("^").rstrip("$")
                for name, value in samples.items():
                    route = route.replace(f"(?P<{name}>[-:\\w]+)", value).replace(f"(?P<{name}>[0-9A-Za-z]+)", value)
                route = route.replace("(?P<key>.+)", "abc-def").replace("<str:provider_id>", "weixin")
                found.append("/accounts/" + prefix + route)

    walk(allauth.urls.urlpatterns, "")
    return sorted(set(found))


def test_the_list_of_allauth_urls_is_complete():
    urls = allauth_urls()
    assert "/accounts/password/reset/key/1-abc-def/" in urls and "/accounts/weixin/login/callback/" in urls
    assert all("(?P" not in u and "<" not in u for u in urls), urls


@pytest.mark.parametrize("url", allauth_urls())
@pytest.mark.parametrize("who", ["anonymous", "shopper", "wechat_browser"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_allauth_url_answers_without_a_server_error(client, sms_outbox, url, who, method):
    if who == "shopper":
        client.force_login(User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True))
    client.raise_request_exception = False
    data = {"email": "a@example.com", "password": "x", "code": "123456", "phone": "13800138000", "process": "login"}
    headers = {"HTTP_USER_AGENT": WECHAT_UA} if who == "wechat_browser" else {}
    response = getattr(client, method)(url, data, **headers)
    assert response.status_code < 500, response.status_code


@pytest.mark.parametrize("url", ["/accounts/weixin/login/", "/accounts/weixin/login/callback/?code=x&state=y"])
def test_wechat_login_without_an_app_says_so(client, url):
    response = client.post(url.split("?")[0], {"process": "login", "agree": "on"}, HTTP_USER_AGENT=WECHAT_UA, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "微信登录暂未开通，请使用手机号验证码登录" in response.content.decode()
    response = client.get(url, HTTP_USER_AGENT=WECHAT_UA, follow=True)
    assert "微信登录暂未开通" in response.content.decode()


def test_wechat_login_needs_consent_first(client, wechat_app):
    response = client.post("/accounts/weixin/login/", {"process": "login"}, HTTP_USER_AGENT=WECHAT_UA, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "请先阅读并同意用户协议和隐私政策" in response.content.decode()


def test_allauth_never_texts_not_registered(sms_outbox, rf):
    from members.auth.adapter import AccountAdapter

    adapter = AccountAdapter(rf.get("/"))
    adapter.send_unknown_account_sms("+8613900139000")
    adapter.send_account_already_exists_sms("+8613900139000")
    assert not sms_outbox
