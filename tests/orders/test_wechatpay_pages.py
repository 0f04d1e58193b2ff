"""Paying with WeChat Pay from the cashier: JSAPI inside WeChat (with the silent snsapi_base step for
members who logged in by phone), H5 in a phone's browser, Native on a desktop; the QR page's poll
and 查询支付结果. The cashier shows one "微信支付" wherever the shopper is."""

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from members.auth.wechat_openid import SESSION_KEY, TOKEN_URL
from members.models import WechatOpenId
from orders.models import Order, PaymentAttempt, PaymentEvent

from .factories import checkout, make_shopper
from .wechatpay_support import (  # noqa: F401 - the *_fixture names are fixtures
    APP_SECRET,
    APPID,
    fake_wechat_fixture,
    keys_fixture,
    notice,
    post_notice,
    rsa_verify,
    transaction_resource,
    wechat_fixture,
)

pytestmark = pytest.mark.django_db

WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN")
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Mobile Safari/537.36"
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537.36"


@pytest.fixture
def pending(shopper, store, tea):
    return checkout(shopper, store, [(tea, 1)])


@pytest.fixture
def login_app(settings):
    """The WeChat login runs under the same official account as WeChat Pay (WECHAT_APP_ID)."""
    settings.SOCIALACCOUNT_PROVIDERS = {"weixin": {"APP": {"client_id": APPID, "secret": APP_SECRET}}}


def pay_url(order):
    return reverse("orders:pay", args=[order.public_id])


def choices(response):
    """The cashier's channel choices: (value, label)."""
    html = response.content.decode()
    return re.findall(r'<p>([^<]+)</p></div>\s*<div class="weui-cell__ft"><input type="radio" class="weui-check" '
                      r'name="channel" value="([^"]+)"', html)


def bridge_params(response):
    match = re.search(r'<script id="wechatpay-params" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    assert match, "no bridge parameters on the page"
    return json.loads(match.group(1))


# --- one choice, the right channel -------------------------------------------------------------
@pytest.mark.parametrize(("agent", "channel"), [(WECHAT_UA, "wechat_jsapi"), (PHONE_UA, "wechat_h5"),
                                                 (DESKTOP_UA, "wechat_native")])
def test_the_cashier_shows_one_wechat_pay_choice_for_where_the_shopper_is(wechat, client, shopper, pending, agent,
                                                                          channel):
    client.force_login(shopper)
    offered = choices(client.get(pay_url(pending), HTTP_USER_AGENT=agent))
    assert [c for c in offered if c[0] == "微信支付"] == [("微信支付", channel)]


@pytest.mark.parametrize(("agent", "other"), [(WECHAT_UA, "wechat_native"), (DESKTOP_UA, "wechat_h5"),
                                               (PHONE_UA, "wechat_jsapi")])
def test_a_wechat_channel_not_offered_here_is_refused(wechat, client, shopper, pending, agent, other):
    client.force_login(shopper)
    response = client.post(pay_url(pending), {"channel": other}, HTTP_USER_AGENT=agent)
    assert response.status_code == 400 and not PaymentAttempt.objects.exists()


# --- JSAPI ---------------------------------------------------------------------------------------
def test_a_wechat_login_pays_at_once_with_the_bridge(wechat, fake_wechat, login_app, client, shopper, pending):
    SocialAccount.objects.create(user=shopper, provider="weixin", uid="oWECHATLOGIN")
    client.force_login(shopper)
    response = client.post(pay_url(pending), {"channel": "wechat_jsapi"}, HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 200
    html = response.content.decode()
    assert "orders/wechatpay.js" in html and "data-wechatpay-bridge" in html
    assert f'data-result-url="{reverse("orders:pay_result", args=[pending.public_id])}"' in html
    params = bridge_params(response)
    assert fake_wechat.requests[-1][2]["payer"] == {"openid": "oWECHATLOGIN"}
    rsa_verify(wechat.merchant, f"{APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n",
               params["paySign"])
    assert Order.objects.get(pk=pending.pk).status == Order.Status.PENDING_PAYMENT  # the bridge proves nothing


def test_a_wechat_login_under_another_app_is_not_used(wechat, fake_wechat, settings, client, shopper, pending):
    settings.SOCIALACCOUNT_PROVIDERS = {"weixin": {"APP": {"client_id": "wxOTHERWEBSITEAPP", "secret": "s"}}}
    SocialAccount.objects.create(user=shopper, provider="weixin", uid="oOTHERAPP")
    client.force_login(shopper)
    response = client.post(pay_url(pending), {"channel": "wechat_jsapi"}, HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 302 and response["Location"].startswith("https://open.weixin.qq.com/")


def authorise(client, shopper, pending):
    """The cashier sends a phone-login member to the silent authorisation; returns its URL's query."""
    client.force_login(shopper)
    response = client.post(pay_url(pending), {"channel": "wechat_jsapi"}, HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?")
    assert location.endswith("#wechat_redirect")
    return parse_qs(urlsplit(location.split("#")[0]).query)


def test_a_phone_login_gets_its_openid_silently_then_pays(wechat, fake_wechat, client, shopper, pending):
    query = authorise(client, shopper, pending)
    assert query["appid"] == [APPID] and query["scope"] == ["snsapi_base"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/accounts/weixin/base/callback/"]
    state = query["state"][0]
    assert re.fullmatch(r"[0-9a-f]{32}", state)  # WeChat takes [a-zA-Z0-9] only
    attempt = PaymentAttempt.objects.get()
    assert attempt.out_trade_no not in str(query) and "next" not in query  # next stays on the server
    fake_wechat.rsps.add(responses.GET, TOKEN_URL, json={
        "access_token": "ACCESS", "expires_in": 7200, "refresh_token": "REFRESH", "openid": "oSILENT", "scope": "snsapi_base",
    })
    response = client.get("/accounts/weixin/base/callback/", {"code": "CODE123", "state": state},
                          HTTP_USER_AGENT=WECHAT_UA)
    jsapi_page = reverse("payments:wechat_jsapi", args=[attempt.out_trade_no])
    assert response.status_code == 302 and response["Location"] == jsapi_page
    exchange = [c for c in fake_wechat.rsps.calls if c.request.url.startswith(TOKEN_URL)][0]
    assert parse_qs(urlsplit(exchange.request.url).query) == {
        "appid": [APPID], "secret": [APP_SECRET], "code": ["CODE123"], "grant_type": ["authorization_code"]}
    assert WechatOpenId.objects.get(user=shopper).openid == "oSILENT"
    page = client.get(jsapi_page, HTTP_USER_AGENT=WECHAT_UA)
    assert page.status_code == 200 and bridge_params(page)["signType"] == "RSA"
    assert fake_wechat.requests[-1][2]["payer"] == {"openid": "oSILENT"}
    again = client.post(pay_url(pending), {"channel": "wechat_jsapi"}, HTTP_USER_AGENT=WECHAT_UA)
    assert again.status_code == 200 and bridge_params(again)  # known now: no second trip


def callback(client, state, code="CODE123"):
    return client.get("/accounts/weixin/base/callback/", {"code": code, "state": state}, HTTP_USER_AGENT=WECHAT_UA)


def test_a_foreign_state_is_refused_and_uses_up_the_pending_one(wechat, fake_wechat, client, shopper, pending):
    state = authorise(client, shopper, pending)["state"][0]
    assert callback(client, "0" * 32).status_code == 302
    assert callback(client, state).status_code == 302  # the real one is gone too
    assert not WechatOpenId.objects.exists()
    assert not [c for c in fake_wechat.rsps.calls if c.request.url.startswith(TOKEN_URL)]


def test_a_state_is_used_once(wechat, fake_wechat, client, shopper, pending):
    state = authorise(client, shopper, pending)["state"][0]
    fake_wechat.rsps.add(responses.GET, TOKEN_URL, json={"access_token": "A", "openid": "oONCE", "expires_in": 7200,
                                                         "refresh_token": "R", "scope": "snsapi_base"})
    callback(client, state)
    WechatOpenId.objects.all().delete()
    callback(client, state, code="CODE456")
    assert not WechatOpenId.objects.exists()


def test_a_stale_state_is_refused(wechat, fake_wechat, client, shopper, pending):
    state = authorise(client, shopper, pending)["state"][0]
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "at": int(time.time()) - 601}
    session.save()
    callback(client, state)
    assert not WechatOpenId.objects.exists()


def test_a_callback_without_a_pending_authorisation_goes_home(wechat, client, shopper):
    client.force_login(shopper)
    response = callback(client, "a" * 32)
    assert response.status_code == 302 and response["Location"] == "/"


def test_another_members_session_cannot_take_the_authorisation(wechat, fake_wechat, client, shopper, pending):
    state = authorise(client, shopper, pending)["state"][0]
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "user": make_shopper().pk}
    session.save()
    callback(client, state)
    assert not WechatOpenId.objects.exists()


def test_a_refused_code_exchange_shows_the_error_without_looping(wechat, fake_wechat, client, shopper, pending):
    state = authorise(client, shopper, pending)["state"][0]
    fake_wechat.rsps.add(responses.GET, TOKEN_URL, json={"errcode": 40029, "errmsg": "invalid code"})
    response = callback(client, state)
    assert not WechatOpenId.objects.exists()
    page = client.get(response["Location"], HTTP_USER_AGENT=WECHAT_UA)
    assert page.status_code == 503 and "未能获取微信授权" in page.content.decode()
    assert "open.weixin.qq.com" not in page.content.decode()


def test_the_jsapi_page_is_only_the_buyers_and_only_while_payable(wechat, fake_wechat, client, shopper, pending):
    authorise(client, shopper, pending)
    attempt = PaymentAttempt.objects.get()
    page = reverse("payments:wechat_jsapi", args=[attempt.out_trade_no])
    client.force_login(make_shopper())
    assert client.get(page).status_code == 404
    client.force_login(shopper)
    Order.objects.filter(pk=pending.pk).update(status=Order.Status.CANCELLED)
    response = client.get(page)
    assert response.status_code == 302 and response["Location"] == reverse("orders:pay_result", args=[pending.public_id])


def test_a_superseded_attempt_is_not_signed_for_the_bridge_nor_polled(wechat, fake_wechat, client, shopper,
                                                                       pending):
    # a price change gives the order a new attempt and asks the worker to close this one: its page,
    # reloaded or reached late from the authorisation, must not let the shopper pay the old amount
    WechatOpenId.objects.create(user=shopper, appid=APPID, openid="oSILENT")
    client.force_login(shopper)
    client.post(pay_url(pending), {"channel": "wechat_jsapi"}, HTTP_USER_AGENT=WECHAT_UA)
    attempt = PaymentAttempt.objects.get()
    placed = len(fake_wechat.requests)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(close_requested=True)
    result = reverse("orders:pay_result", args=[pending.public_id])
    page = client.get(reverse("payments:wechat_jsapi", args=[attempt.out_trade_no]), HTTP_USER_AGENT=WECHAT_UA)
    assert page.status_code == 302 and page["Location"] == result
    assert len(fake_wechat.requests) == placed  # nothing placed or signed again
    poll = client.get(reverse("payments:wechat_status", args=[attempt.out_trade_no]))
    assert poll.status_code == 200 and poll["HX-Redirect"] == result


# --- H5 -----------------------------------------------------------------------------------------
def test_h5_sends_the_phone_to_wechats_page_and_back_to_the_result(wechat, fake_wechat, client, shopper, pending):
    client.force_login(shopper)
    response = client.post(pay_url(pending), {"channel": "wechat_h5"}, HTTP_USER_AGENT=PHONE_UA,
                           REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=")
    back = parse_qs(urlsplit(location).query)["redirect_url"][0]
    assert back == f"http://testserver{reverse('orders:pay_result', args=[pending.public_id])}"
    assert fake_wechat.requests[-1][2]["scene_info"]["payer_client_ip"] == "198.51.100.7"
    result = client.get(back, HTTP_USER_AGENT=PHONE_UA).content.decode()
    assert "查询支付结果" in result and "支付成功" not in result  # never assumed



def test_after_a_minute_the_h5_return_pages_button_asks_wechat_pay(wechat, fake_wechat, client, shopper, pending):
    client.force_login(shopper)
    client.post(pay_url(pending), {"channel": "wechat_h5"}, HTTP_USER_AGENT=PHONE_UA, REMOTE_ADDR="198.51.100.7")
    attempt = PaymentAttempt.objects.get()
    fake_wechat.pay_trade(attempt.out_trade_no)  # paid in the WeChat app; the notice is slow or lost
    query_url = reverse("payments:wechat_query", args=[attempt.out_trade_no])
    result = reverse("orders:pay_result", args=[pending.public_id])
    waiting = client.get(result, {"poll": 0}, HTTP_USER_AGENT=PHONE_UA).content.decode()
    assert "查询支付结果" in waiting and query_url not in waiting  # still waiting for the notice
    late = client.get(result, {"poll": 30}, HTTP_HX_REQUEST="true").content.decode()
    assert f'action="{query_url}"' in late and "csrfmiddlewaretoken" in late and "支付成功" not in late
    response = client.post(query_url)
    assert response.status_code == 302 and response["Location"] == result
    assert Order.objects.get(pk=pending.pk).status == Order.Status.PAID
    assert PaymentEvent.objects.filter(attempt=attempt, kind="queried").count() == 1

# --- Native -------------------------------------------------------------------------------------
def test_native_shows_a_qr_code_that_polls_our_server(wechat, fake_wechat, client, shopper, pending):
    client.force_login(shopper)
    response = client.post(pay_url(pending), {"channel": "wechat_native"}, HTTP_USER_AGENT=DESKTOP_UA)
    html = response.content.decode()
    attempt = PaymentAttempt.objects.get()
    status_url = reverse("payments:wechat_status", args=[attempt.out_trade_no])
    assert response.status_code == 200 and 'aria-label="微信支付二维码"' in html and "<svg" in html
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 3s"' in html
    assert client.get(status_url).status_code == 204
    headers, body = notice(wechat, transaction_resource(attempt, trade_type="NATIVE"))
    assert post_notice(client, headers, body).status_code == 204
    answer = client.get(status_url)
    assert answer.status_code == 200 and answer["HX-Redirect"] == reverse("orders:pay_result", args=[pending.public_id])


def test_query_button_asks_wechat_and_confirms_what_it_says(wechat, fake_wechat, client, shopper, pending):
    client.force_login(shopper)
    client.post(pay_url(pending), {"channel": "wechat_native"}, HTTP_USER_AGENT=DESKTOP_UA)
    attempt = PaymentAttempt.objects.get()
    query_url = reverse("payments:wechat_query", args=[attempt.out_trade_no])
    response = client.post(query_url)
    assert response.status_code == 302 and Order.objects.get(pk=pending.pk).status == Order.Status.PENDING_PAYMENT
    fake_wechat.pay_trade(attempt.out_trade_no)
    client.post(query_url)  # within 5 seconds: not asked again
    assert Order.objects.get(pk=pending.pk).status == Order.Status.PENDING_PAYMENT
    from django.core.cache import cache

    cache.delete(f"wechatpay:query:{attempt.pk}")
    client.post(query_url)
    assert Order.objects.get(pk=pending.pk).status == Order.Status.PAID
    assert PaymentEvent.objects.filter(attempt=attempt, kind="queried").count() == 1
    asked = [r for r in fake_wechat.requests if r[0] == "GET"]
    assert len(asked) == 2


@pytest.mark.parametrize("name", ["payments:wechat_status", "payments:wechat_query"])
def test_another_members_attempt_is_not_found(wechat, fake_wechat, client, shopper, pending, name):
    client.force_login(shopper)
    client.post(pay_url(pending), {"channel": "wechat_native"}, HTTP_USER_AGENT=DESKTOP_UA)
    attempt = PaymentAttempt.objects.get()
    client.force_login(make_shopper())
    url = reverse(name, args=[attempt.out_trade_no])
    response = client.post(url) if name.endswith("query") else client.get(url)
    assert response.status_code == 404


def test_a_gateway_error_at_the_cashier_is_a_message_not_a_500(wechat, client, shopper, pending):
    client.force_login(shopper)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, "https://api.mch.weixin.qq.com/v3/pay/transactions/native", status=500)
        response = client.post(pay_url(pending), {"channel": "wechat_native"}, HTTP_USER_AGENT=DESKTOP_UA)
    assert response.status_code == 400 and "支付渠道暂时不可用" in response.content.decode()
