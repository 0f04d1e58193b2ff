"""WeChat Pay's gateways against WeChat Pay's HTTP API (faked with `responses` at the protocol level:
requests signed with the merchant key and verified, answers signed with WeChat Pay's key and verified
by wechatpayv3): placing trades for JSAPI, H5 and Native, asking, closing, refunding, the bill."""

import gzip
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.utils import timezone

from core.money import yuan_to_fen
from orders.models import PaymentAttempt, Refund
from orders.payments import wechatpay
from orders.payments.gateways import GatewayError, available_channels
from orders.payments.services import start_payment
from orders.payments.wechatpay import (
    WeChatH5Gateway,
    WeChatJsapiGateway,
    WeChatNativeGateway,
    bridge_parameters,
    parse_trade_bill,
)

from .factories import checkout
from .wechatpay_support import (  # noqa: F401 - the *_fixture names are fixtures
    API,
    APPID,
    BASE_URL,
    MCHID,
    fake_wechat_fixture,
    keys_fixture,
    old,
    rsa_verify,
    shanghai,
    trade_bill,
    wechat_fixture,
)

pytestmark = pytest.mark.django_db

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


def attempt_for(shopper, store, sku, channel="wechat_native", **where):
    order = checkout(shopper, store, [(sku, 1)])
    where = {"in_wechat": channel == "wechat_jsapi", "mobile": channel != "wechat_native", **where}
    return start_payment(order, user=shopper, channel=channel, **where)


def make_refund(attempt, amount_fen=None):
    return Refund.objects.create(
        order=attempt.order, attempt=attempt, cause=Refund.Cause.AFTER_SALE, out_refund_no=f"{attempt.order.number}R01",
        amount=Decimal(amount_fen or attempt.amount_fen) / 100, amount_fen=amount_fen or attempt.amount_fen,
        reason="不想要了",
    )


# --- configuration and the client --------------------------------------------------------------
def test_not_offered_until_every_setting_is_there(settings, wechat):
    assert WeChatNativeGateway.is_available()
    settings.WECHAT_PAY_APIV3_KEY = ""
    assert not WeChatNativeGateway.is_available()
    assert available_channels(in_wechat=False, mobile=False) == ["dev"]


def test_a_public_key_without_its_id_is_not_a_configuration(settings, wechat):
    settings.WECHAT_PAY_PUBLIC_KEY_ID = ""
    assert not WeChatNativeGateway.is_available()


def test_jsapi_needs_the_app_secret_for_the_openid_step(settings, wechat):
    settings.WECHAT_APP_SECRET = ""
    assert not WeChatJsapiGateway.is_available() and WeChatH5Gateway.is_available()


def test_one_wechat_channel_is_offered_where_the_shopper_is(wechat):
    assert available_channels(in_wechat=True, mobile=True) == ["dev", "wechat_jsapi"]
    assert available_channels(in_wechat=False, mobile=True) == ["dev", "wechat_h5"]
    assert available_channels(in_wechat=False, mobile=False) == ["dev", "wechat_native"]


def test_the_client_is_built_on_first_use_and_shared(wechat, monkeypatch):
    import wechatpayv3

    built = []
    original = wechatpayv3.WeChatPay.__init__

    def spy(self, *args, **kwargs):
        built.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(wechatpayv3.WeChatPay, "__init__", spy)
    assert WeChatNativeGateway.is_available() and built == []  # configured, offered, nothing built yet
    first = wechatpay.get_client()
    assert wechatpay.get_client() is first and len(built) == 1
    assert built[0]["public_key_id"] and built[0]["mchid"] == MCHID


def test_a_key_file_that_cannot_be_read_is_a_gateway_error(settings, wechat):
    settings.WECHAT_PAY_PRIVATE_KEY_PATH = str(wechat.directory / "missing.pem")
    with pytest.raises(GatewayError):
        wechatpay.get_client()


def test_certificate_mode_downloads_nothing_until_the_client_is_needed(settings, wechat):
    settings.WECHAT_PAY_PUBLIC_KEY_PATH = settings.WECHAT_PAY_PUBLIC_KEY_ID = ""
    with responses.RequestsMock() as rsps:  # no request registered: any call would fail the test
        assert WeChatNativeGateway.is_available()
        rsps.add(responses.GET, f"{API}/v3/certificates", status=500)
        with pytest.raises(GatewayError):
            wechatpay.get_client()  # the download fails: an error to retry, not a crash
        assert len(rsps.calls) == 1


def test_money_leaves_as_integer_fen_computed_from_decimal():
    assert yuan_to_fen(Decimal("19.90")) == 1990 and int(19.9 * 100) == 1989  # the float mistake


# --- placing trades --------------------------------------------------------------------------
def test_native_pay_sends_the_documented_request_and_shows_code_url(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    action = WeChatNativeGateway().start(attempt)
    assert action.kind == "qrcode" and action.url.startswith("weixin://wxpay/bizpayurl?pr=")
    method, path, body = fake_wechat.requests[-1]
    assert (method, path) == ("POST", "/v3/pay/transactions/native")
    assert body["out_trade_no"] == attempt.out_trade_no and body["amount"] == {"total": 2550, "currency": "CNY"}
    assert body["time_expire"] == timezone.localtime(attempt.expires_at).replace(microsecond=0).isoformat()
    assert body["time_expire"].endswith("+08:00") and body["appid"] == APPID and body["mchid"] == MCHID
    assert body["notify_url"] == f"{BASE_URL}/payments/wechatpay/notify/" and "payer" not in body


def test_h5_pay_sends_the_client_ip_and_comes_back_to_the_result_page(fake_wechat, rf, settings, store, shopper, tea):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    attempt = attempt_for(shopper, store, tea, channel="wechat_h5")
    request = rf.post("/", HTTP_USER_AGENT=PHONE, HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.0.0.2")
    action = WeChatH5Gateway().start(attempt, request=request)
    body = fake_wechat.requests[-1][2]
    assert body["scene_info"] == {"payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}}
    assert action.kind == "redirect" and action.url.startswith("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?")
    back = f"http%3A%2F%2Ftestserver%2Forders%2F{attempt.order.public_id}%2Fresult%2F"
    assert action.url.endswith(f"&redirect_url={back}")


def test_jsapi_pay_sends_the_openid_and_signs_the_bridge_parameters(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea, channel="wechat_jsapi")
    params = WeChatJsapiGateway().bridge_params(attempt, "oOPENID")
    body = fake_wechat.requests[-1][2]
    assert body["payer"] == {"openid": "oOPENID"}
    prepay_id = fake_wechat.trades[attempt.out_trade_no]["prepay_id"]
    assert params["package"] == f"prepay_id={prepay_id}" and params["signType"] == "RSA"
    assert params["appId"] == APPID and params["timeStamp"].isdigit() and len(params["nonceStr"]) == 32
    message = f"{APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    rsa_verify(fake_wechat.keys.merchant, message, params["paySign"])  # raises when it does not verify


def test_bridge_parameters_sign_the_four_values_with_the_merchant_key(wechat):
    params = bridge_parameters("wx201410272009395522657a690389285100", now=1414561699)
    assert params["timeStamp"] == "1414561699"
    rsa_verify(wechat.merchant, f"{APPID}\n1414561699\n{params['nonceStr']}\n{params['package']}\n", params["paySign"])


def test_the_same_trade_placed_again_gets_the_same_prepay_id(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea, channel="wechat_jsapi")
    first = WeChatJsapiGateway().bridge_params(attempt, "oOPENID")["package"]
    again = WeChatJsapiGateway().bridge_params(attempt, "oOPENID")["package"]
    assert first == again and len(fake_wechat.trades) == 1


def test_an_answer_whose_signature_fails_is_a_gateway_error(fake_wechat, store, shopper, tea):
    fake_wechat.broken_signature = True
    attempt = attempt_for(shopper, store, tea)
    with pytest.raises(GatewayError, match="signature"):
        WeChatNativeGateway().start(attempt)


def test_a_network_error_is_a_gateway_error(wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{API}/v3/pay/transactions/native", body=requests.ConnectionError("reset"))
        with pytest.raises(GatewayError):
            WeChatNativeGateway().start(attempt)


def test_a_refusal_to_place_the_trade_is_a_gateway_error(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    fake_wechat.trades[attempt.out_trade_no] = {"request": {"other": 1}}  # same out_trade_no, other parameters
    with pytest.raises(GatewayError, match="INVALID_REQUEST"):
        WeChatNativeGateway().start(attempt)


# --- query and close ---------------------------------------------------------------------------
def test_query_says_pending_then_paid_with_the_transaction_id_and_fen(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    gateway = WeChatNativeGateway()
    assert gateway.query(attempt).state == "pending"  # never placed at WeChat: ORDER_NOT_EXIST
    gateway.start(attempt)
    assert gateway.query(attempt).state == "pending"  # NOTPAY
    trade = fake_wechat.pay_trade(attempt.out_trade_no)
    result = gateway.query(attempt)
    assert (result.state, result.reference, result.amount_fen) == ("paid", trade["transaction_id"], 2550)
    assert fake_wechat.requests[-1][:2] == ("GET", f"/v3/pay/transactions/out-trade-no/{attempt.out_trade_no}"
                                                   f"?mchid={MCHID}")


@pytest.mark.parametrize(("trade_state", "state"), [
    ("CLOSED", "closed"), ("REVOKED", "closed"), ("PAYERROR", "failed"), ("USERPAYING", "pending"),
    ("REFUND", "paid"),
])
def test_query_maps_every_trade_state(fake_wechat, store, shopper, tea, trade_state, state):
    attempt = attempt_for(shopper, store, tea)
    WeChatNativeGateway().start(attempt)
    fake_wechat.pay_trade(attempt.out_trade_no)
    fake_wechat.trades[attempt.out_trade_no]["state"] = trade_state
    assert WeChatNativeGateway().query(attempt).state == state


def test_a_query_answer_about_another_trade_is_not_believed(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    WeChatNativeGateway().start(attempt)
    fake_wechat.pay_trade(attempt.out_trade_no)
    fake_wechat.query_changes = {"out_trade_no": "SOMEONE-ELSES-TRADE"}
    with pytest.raises(GatewayError, match="another trade"):
        WeChatNativeGateway().query(attempt)
    fake_wechat.query_changes = {"mchid": "1900000999"}
    with pytest.raises(GatewayError, match="another trade"):
        WeChatNativeGateway().query(attempt)


def test_close_waits_five_minutes_then_closes(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    WeChatNativeGateway().start(attempt)
    assert WeChatNativeGateway().close(attempt) is False and fake_wechat.requests[-1][1].endswith("/native")
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    attempt.refresh_from_db()
    old(fake_wechat, attempt.out_trade_no)
    assert WeChatNativeGateway().close(attempt) is True
    assert fake_wechat.requests[-1][:2] == ("POST", f"/v3/pay/transactions/out-trade-no/{attempt.out_trade_no}/close")
    assert fake_wechat.trades[attempt.out_trade_no]["state"] == "CLOSED"


def test_close_of_a_trade_never_placed_is_done_and_of_a_paid_one_is_not(fake_wechat, store, shopper, tea):
    attempt = attempt_for(shopper, store, tea)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    attempt.refresh_from_db()
    assert WeChatNativeGateway().close(attempt) is True  # nothing at WeChat could be paid
    WeChatNativeGateway().start(attempt)
    fake_wechat.pay_trade(attempt.out_trade_no)
    assert WeChatNativeGateway().close(attempt) is False  # paid: its notice or the query settles it


# --- refunds -----------------------------------------------------------------------------------
def paid_attempt(fake_wechat, shopper, store, sku):
    attempt = attempt_for(shopper, store, sku)
    WeChatNativeGateway().start(attempt)
    trade = fake_wechat.pay_trade(attempt.out_trade_no)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(state="succeeded", gateway_trade_no=trade["transaction_id"])
    attempt.refresh_from_db()
    return attempt


def test_refund_sends_fen_and_the_refund_notify_url_and_refunds_once(fake_wechat, store, shopper, tea):
    attempt = paid_attempt(fake_wechat, shopper, store, tea)
    refund = make_refund(attempt, amount_fen=1000)
    result = WeChatNativeGateway().refund(refund)
    assert result.state == "processing" and result.reference.startswith("5030")
    body = fake_wechat.requests[-1][2]
    assert body["amount"] == {"refund": 1000, "total": 2550, "currency": "CNY"}
    assert body["out_refund_no"] == refund.out_refund_no and body["out_trade_no"] == attempt.out_trade_no
    assert body["notify_url"] == f"{BASE_URL}/payments/wechatpay/refund-notify/"
    again = WeChatNativeGateway().refund(refund)  # a retry with the same out_refund_no
    assert again.reference == result.reference and len(fake_wechat.refunds) == 1


@pytest.mark.parametrize(("status", "state"), [
    ("SUCCESS", "succeeded"), ("PROCESSING", "processing"), ("ABNORMAL", "abnormal"), ("CLOSED", "failed"),
])
def test_refund_and_its_query_map_every_status(fake_wechat, store, shopper, tea, status, state):
    attempt = paid_attempt(fake_wechat, shopper, store, tea)
    refund = make_refund(attempt)
    fake_wechat.next_refund_status = status
    assert WeChatNativeGateway().refund(refund).state == state
    result = WeChatNativeGateway().query_refund(refund)
    assert result.state == state and result.amount_fen == attempt.amount_fen
    assert fake_wechat.requests[-1][:2] == ("GET", f"/v3/refund/domestic/refunds/{refund.out_refund_no}")


def test_a_refund_wechat_refuses_is_failed_with_its_reason(fake_wechat, store, shopper, tea):
    attempt = paid_attempt(fake_wechat, shopper, store, tea)
    first = make_refund(attempt, amount_fen=2000)
    assert WeChatNativeGateway().refund(first).state == "processing"
    second = Refund.objects.create(order=attempt.order, attempt=attempt, cause=Refund.Cause.AFTER_SALE,
                                   out_refund_no=f"{attempt.order.number}R02", amount=Decimal("10.00"), amount_fen=1000)
    result = WeChatNativeGateway().refund(second)  # 20 + 10 > 25.50
    assert result.state == "failed" and result.detail["code"] == "INVALID_REQUEST"


def test_a_refund_query_for_a_refund_wechat_never_saw_is_retried(fake_wechat, store, shopper, tea):
    attempt = paid_attempt(fake_wechat, shopper, store, tea)
    with pytest.raises(GatewayError):
        WeChatNativeGateway().query_refund(make_refund(attempt))


def test_a_busy_wechat_is_retried_later(fake_wechat, store, shopper, tea):
    attempt = paid_attempt(fake_wechat, shopper, store, tea)
    fake_wechat.rsps.replace(responses.POST, f"{API}/v3/refund/domestic/refunds", status=403,
                             json={"code": "NOT_ENOUGH", "message": "基本账户余额不足"})
    with pytest.raises(GatewayError, match="NOT_ENOUGH"):
        WeChatNativeGateway().refund(make_refund(attempt))



def test_a_refund_still_processing_is_asked_again_by_the_sweep_until_wechat_settles_it(fake_wechat, store, shopper,
                                                                                       tea):
    from django.db import transaction

    from orders.models import Order
    from orders.payments.services import confirm_payment, create_refund, execute_refund, retry_refunds
    from orders.services.base import lock_order

    attempt = attempt_for(shopper, store, tea)
    WeChatNativeGateway().start(attempt)
    trade = fake_wechat.pay_trade(attempt.out_trade_no)
    assert confirm_payment(out_trade_no=attempt.out_trade_no, amount_fen=attempt.amount_fen, source="query",
                           gateway_reference=trade["transaction_id"], channel=attempt.channel).result == "paid"
    with transaction.atomic():
        order = lock_order(attempt.order_id)
        line = order.lines.get()
        refund = create_refund(order, amount=Decimal("10.00"), cause=Refund.Cause.AFTER_SALE,
                               lines={line.pk: (1, Decimal("10.00"))})
    now = timezone.now()
    execute_refund(refund.pk, now=now)  # WeChat Pay accepts it: PROCESSING
    refund.refresh_from_db()
    assert refund.state == Refund.State.PROCESSING and refund.next_try_at == now + timedelta(minutes=5)
    asked = len(fake_wechat.requests)
    assert retry_refunds(now=now + timedelta(minutes=1)) == 0  # not due yet: WeChat Pay is not asked
    assert len(fake_wechat.requests) == asked
    assert retry_refunds(now=now + timedelta(minutes=6)) == 1  # still processing: asked, and asked again later
    assert fake_wechat.requests[-1][:2] == ("GET", f"/v3/refund/domestic/refunds/{refund.out_refund_no}")
    refund.refresh_from_db()
    assert refund.state == Refund.State.PROCESSING and refund.next_try_at == now + timedelta(minutes=11)
    fake_wechat.refunds[refund.out_refund_no]["status"] = "SUCCESS"  # the refund notice was lost
    assert retry_refunds(now=now + timedelta(minutes=12)) == 1
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED and len(fake_wechat.refunds) == 1
    assert Order.objects.get(pk=attempt.order_id).refunded_amount == Decimal("10.00")
    assert retry_refunds(now=now + timedelta(minutes=30)) == 0

# --- the daily bill ----------------------------------------------------------------------------
BILL = [
    {"transaction_id": "4200000001", "out_trade_no": "O1P01", "state": "SUCCESS", "settled": "25.50", "total": "25.50"},
    {"transaction_id": "4200000002", "out_trade_no": "O2P01", "state": "SUCCESS", "settled": "9.90", "total": "10.00"},
    {"transaction_id": "4200000001", "out_trade_no": "O1P01", "state": "REFUND", "settled": "25.50", "total": "25.50",
     "refund_id": "50300001", "out_refund_no": "O1R01", "refund": "5.00", "asked": "5.00"},
]


def test_the_bill_is_downloaded_checked_and_read_into_rows(fake_wechat):
    fake_wechat.bill = trade_bill(BILL)
    rows = WeChatNativeGateway().download_bill(date(2026, 11, 26))
    assert fake_wechat.requests[0][1] == "/v3/bill/tradebill?bill_date=2026-11-26&bill_type=ALL&tar_type=GZIP"
    assert [(r.kind, r.out_trade_no, r.gateway_reference, r.amount_fen, r.out_refund_no) for r in rows] == [
        ("payment", "O1P01", "4200000001", 2550, ""),
        ("payment", "O2P01", "4200000002", 1000, ""),  # the order amount (amount.total), not what was settled
        ("refund", "O1P01", "50300001", 500, "O1R01"),
    ]
    assert rows[0].occurred_at == shanghai("2026-11-26 10:00:00")


def test_a_day_without_trades_has_an_empty_bill(fake_wechat):
    assert WeChatNativeGateway().download_bill(date(2026, 11, 26)) == []


def test_a_bill_that_does_not_match_its_hash_is_refused(fake_wechat):
    fake_wechat.bill = trade_bill(BILL)
    fake_wechat.bill_file = gzip.compress(trade_bill(BILL[:1]))  # readable, but not the file WeChat hashed
    with pytest.raises(GatewayError, match="hash"):
        WeChatNativeGateway().download_bill(date(2026, 11, 26))
    fake_wechat.bill_file = b"\x1f\x8b" + b"truncated"
    with pytest.raises(GatewayError, match="gzip"):
        WeChatNativeGateway().download_bill(date(2026, 11, 26))


def test_bill_parsing_refuses_unreadable_amounts():
    text = trade_bill([{**BILL[0], "total": "25.5x"}]).decode()
    with pytest.raises(GatewayError):
        parse_trade_bill(text)


def test_bill_parsing_stops_at_the_summary():
    text = trade_bill(BILL[:1]).decode()
    assert len(parse_trade_bill(text)) == 1 and json.dumps(parse_trade_bill("")) == "[]"
