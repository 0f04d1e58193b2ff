"""Paying with Alipay from the cashier: outside WeChat straight to Alipay's cashier; inside WeChat
(where Alipay's pages are blocked) a guide page whose signed, 10-minute link opens Alipay in the
phone's browser without our session, for that attempt only, while the order is still payable at that
amount. A tampered, expired or used-up link gets a page that says so (never a 500)."""

import json
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, PaymentAttempt
from orders.payments import alipay
from orders.payments.alipay_views import RETURN_POLLS, handle_notice
from orders.payments.services import start_payment
from orders.services import cancel_order

from .alipay_support import (  # noqa: F401 - the *_fixture names are fixtures
    BASE_URL,
    alipay_keys_fixture,
    alipay_on_fixture,
    fake_alipay_fixture,
    notice_fields,
    sign_notice,
)
from .factories import checkout

pytestmark = pytest.mark.django_db
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN")
SAFARI_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture
def order(fake_alipay, store, shopper, tea):
    return checkout(shopper, store, [(tea, 1)])


def shopper_client(user, agent):
    client = Client(HTTP_USER_AGENT=agent)
    client.force_login(user)
    return client


def phone_browser():
    """The phone's own browser: no cookie of ours."""
    return Client(HTTP_USER_AGENT=SAFARI_UA)


def alipay_params(url):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == alipay.GATEWAY_URL
    params = dict(parse_qsl(parts.query))
    return params, json.loads(params["biz_content"])


def guide_link(order):
    """Choose 支付宝 at the cashier inside WeChat: the cashier sends the shopper to the guide."""
    response = shopper_client(order.user, WECHAT_UA).post(reverse("orders:pay", args=[order.public_id]),
                                                          {"channel": "alipay_wap"})
    assert response.status_code == 302 and response.url.startswith("/payments/alipay/pay/")
    return response.url


def page_state(response):
    marker = 'data-state="'
    text = response.content.decode()
    return text[text.index(marker) + len(marker):].split('"', 1)[0]


def test_outside_wechat_the_cashier_goes_straight_to_alipay(order):
    response = shopper_client(order.user, SAFARI_UA).post(reverse("orders:pay", args=[order.public_id]),
                                                          {"channel": "alipay_wap"})
    assert response.status_code == 302
    params, biz = alipay_params(response.url)
    attempt = PaymentAttempt.objects.get(order=order)
    assert attempt.channel == "alipay_wap" and biz["out_trade_no"] == attempt.out_trade_no
    assert params["return_url"] == BASE_URL + reverse("orders:pay_result", args=[order.public_id])


def test_the_cashier_offers_alipay_inside_wechat_too(order):
    page = shopper_client(order.user, WECHAT_UA).get(reverse("orders:pay", args=[order.public_id]))
    assert 'value="alipay_wap"' in page.content.decode()


def test_inside_wechat_the_guide_says_to_open_the_browser(order):
    link = guide_link(order)
    page = shopper_client(order.user, WECHAT_UA).get(link)
    assert page.status_code == 200
    text = page.content.decode()
    assert "在浏览器打开" in text and "右上角" in text and order.number in text and "25.50" in text
    assert f'value="http://testserver{link}"' in text  # the link to copy, whole


def test_the_phone_browser_goes_to_alipay_with_the_link_alone(order):
    link = guide_link(order)
    response = phone_browser().get(link)
    assert response.status_code == 302
    params, biz = alipay_params(response.url)
    attempt = PaymentAttempt.objects.get(order=order)
    assert biz["out_trade_no"] == attempt.out_trade_no and biz["total_amount"] == "25.50"
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert params["return_url"] == BASE_URL + reverse("payments:alipay_return", args=[token])
    assert biz["quit_url"] == params["return_url"]
    assert params["notify_url"] == BASE_URL + "/payments/alipay/notify/"


def test_opening_the_link_twice_uses_the_same_attempt(order):
    link = guide_link(order)
    first = alipay_params(phone_browser().get(link).url)[1]
    second = alipay_params(phone_browser().get(guide_link(order)).url)[1]
    assert first["out_trade_no"] == second["out_trade_no"] and PaymentAttempt.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
    lambda t: "x" + t,  # the payload
    lambda t: t.split(":")[0],  # no signature at all
    lambda t: "..%2F..%2Fadmin",
    lambda t: "支付" * 50,
    lambda t: "a" * 4000,
])
def test_a_tampered_link_gets_a_clear_page(order, mangle):
    token = guide_link(order).rstrip("/").rsplit("/", 1)[1]
    response = phone_browser().get(reverse("payments:alipay_pay_link", args=[mangle(token)]))
    assert response.status_code == 400 and page_state(response) == "invalid"
    assert "支付链接无效" in response.content.decode()


def test_a_link_signed_for_something_else_is_refused(order):
    attempt = start_payment(order, user=order.user, channel="alipay_wap")
    other_salt = signing.dumps({"t": attempt.out_trade_no, "f": attempt.amount_fen}, salt="another.purpose")
    other_amount = signing.dumps({"t": attempt.out_trade_no, "f": 1}, salt=alipay.PAY_TOKEN_SALT)
    for token in (other_salt, other_amount):
        response = phone_browser().get(reverse("payments:alipay_pay_link", args=[token]))
        assert response.status_code == 400 and page_state(response) == "invalid"


def test_an_expired_link_gets_a_clear_page(order, monkeypatch):
    attempt = start_payment(order, user=order.user, channel="alipay_wap")
    eleven_minutes_ago = time.time() - 11 * 60
    monkeypatch.setattr(signing.time, "time", lambda: eleven_minutes_ago)
    token = alipay.pay_token(attempt)
    monkeypatch.undo()
    response = phone_browser().get(reverse("payments:alipay_pay_link", args=[token]))
    assert response.status_code == 410 and page_state(response) == "expired"
    assert "支付链接已过期" in response.content.decode()


def test_after_payment_the_link_says_paid_and_goes_nowhere(order, fake_alipay):
    link = guide_link(order)
    attempt = PaymentAttempt.objects.get(order=order)
    assert handle_notice(sign_notice(fake_alipay.keys, notice_fields(attempt))) == (200, "success")
    response = phone_browser().get(link)
    assert response.status_code == 200 and page_state(response) == "paid"
    assert "订单已支付" in response.content.decode()


def test_a_cancelled_order_cannot_be_paid_through_its_link(order):
    link = guide_link(order)
    cancel_order(Order.objects.get(pk=order.pk), reason="不要了")
    response = phone_browser().get(link)
    assert response.status_code == 409 and page_state(response) == "closed"


def test_a_link_to_an_attempt_whose_amount_no_longer_matches_does_not_pay(order):
    link = guide_link(order)
    Order.objects.filter(pk=order.pk).update(pay_amount=Decimal("20.00"))  # staff changed the price
    response = phone_browser().get(link)
    assert response.status_code == 409 and page_state(response) == "closed"


def test_a_link_past_the_orders_deadline_does_not_pay(order):
    link = guide_link(order)
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    response = phone_browser().get(link)
    assert response.status_code == 409 and page_state(response) == "closed"


def test_the_return_page_asks_our_server_and_reloads_while_pending(order, fake_alipay):
    link = guide_link(order)
    back = link.replace("/pay/", "/return/")
    waiting = phone_browser().get(back)
    assert waiting.status_code == 200 and page_state(waiting) == "pending"
    assert 'http-equiv="refresh"' in waiting.content.decode()
    tired = phone_browser().get(back, {"poll": RETURN_POLLS})
    assert page_state(tired) == "pending" and 'http-equiv="refresh"' not in tired.content.decode()
    assert phone_browser().get(back, {"poll": "１２"}).status_code == 200  # not a number we read: a first poll
    attempt = PaymentAttempt.objects.get(order=order)
    handle_notice(sign_notice(fake_alipay.keys, notice_fields(attempt)))
    assert page_state(phone_browser().get(back)) == "paid"


def test_the_return_page_refuses_a_tampered_token(order):
    response = phone_browser().get(reverse("payments:alipay_return", args=["not-a-token"]))
    assert response.status_code == 400 and page_state(response) == "invalid"


def test_the_link_page_when_alipay_was_switched_off_meanwhile(order, settings):
    link = guide_link(order)
    settings.ALIPAY_SELLER_ID = ""
    response = phone_browser().get(link)
    assert response.status_code == 503 and page_state(response) == "unavailable"


def test_the_link_pages_cost_one_query(order, django_assert_num_queries):
    link = guide_link(order)
    browser = phone_browser()
    with django_assert_num_queries(1):
        assert browser.get(link).status_code == 302
    with django_assert_num_queries(1):
        assert page_state(browser.get(link.replace("/pay/", "/return/"))) == "pending"
    with django_assert_num_queries(0):
        assert browser.get(reverse("payments:alipay_pay_link", args=["tampered"])).status_code == 400
