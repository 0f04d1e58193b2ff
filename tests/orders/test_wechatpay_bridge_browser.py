"""The JSAPI page in Chromium with a stand-in WeixinJSBridge (headless Chromium has none; WeChat's own
is injected before the page's scripts, as here): static/orders/wechatpay.js hands the parameters our
server signed to getBrandWCPayRequest once the bridge is ready, stays on the page with a message when
the shopper cancels, and on "ok" only opens the result page, which does not claim success: our server
has not heard from WeChat Pay."""

import json

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from members.models import WechatOpenId
from orders.models import Order
from orders.payments.services import start_payment

from .factories import checkout, make_shopper, make_sku, make_store
from .wechatpay_support import (  # noqa: F401 - the *_fixture names are fixtures
    APPID,
    fake_wechat_fixture,
    keys_fixture,
    rsa_verify,
    wechat_fixture,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# WeChat injects WeixinJSBridge after the page starts and announces it with WeixinJSBridgeReady; the
# stand-in records each call and answers what window.__answer says
BRIDGE = """
window.__calls = [];
window.__answer = "get_brand_wcpay_request:cancel";
setTimeout(function () {
  window.WeixinJSBridge = {invoke: function (name, params, callback) {
    window.__calls.push([name, JSON.parse(JSON.stringify(params))]);
    setTimeout(function () { callback({err_msg: window.__answer}); }, 20);
  }};
  document.dispatchEvent(new Event("WeixinJSBridgeReady"));
}, 300);
"""


def login(context, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def test_the_bridge_gets_the_signed_parameters_and_its_ok_only_opens_the_result_page(
    live_server, page, wechat, fake_wechat
):
    store = make_store()
    shopper = make_shopper()
    order = checkout(shopper, store, [(make_sku(stock=5, store=store), 1)])
    WechatOpenId.objects.create(user=shopper, appid=APPID, openid="oBRIDGE")
    attempt = start_payment(order, user=shopper, channel="wechat_jsapi", in_wechat=True)
    login(page.context, live_server, shopper)
    page.add_init_script(BRIDGE)
    page.goto(live_server.url + reverse("payments:wechat_jsapi", args=[attempt.out_trade_no]))

    expect(page.locator("[data-wechatpay-message]")).to_contain_text("已取消支付")  # the bridge answered
    assert page.evaluate("window.__calls.length") == 1
    name, params = page.evaluate("window.__calls[0]")
    signed = json.loads(page.locator("#wechatpay-params").text_content())
    assert name == "getBrandWCPayRequest" and params == signed and params["signType"] == "RSA"
    assert params["appId"] == APPID and params["package"].startswith("prepay_id=")
    rsa_verify(wechat.merchant, f"{APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n",
               params["paySign"])
    assert fake_wechat.requests[-1][2]["payer"] == {"openid": "oBRIDGE"}
    assert page.url.endswith(reverse("payments:wechat_jsapi", args=[attempt.out_trade_no]))  # cancelled: stays

    page.evaluate("window.__answer = 'get_brand_wcpay_request:ok'")
    result = reverse("orders:pay_result", args=[order.public_id])
    with page.expect_navigation():
        page.locator("[data-wechatpay-retry]").click()
    assert page.url == live_server.url + result  # 继续支付 asked the bridge again, which said ok
    assert "支付成功" not in page.locator("#pay-result").inner_text()  # the bridge's "ok" proves nothing
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT
