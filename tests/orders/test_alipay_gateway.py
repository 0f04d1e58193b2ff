"""The Alipay gateway against a fake of Alipay's HTTP gateway (tests/orders/alipay_support.py):
requests signed with the app key (PKCS#8 or PKCS#1) and checked by the fake, answers signed with
"Alipay's" key and verified by the SDK, code 10000 checked on every answer, amounts as two-place
yuan strings out and integer fen in; pay, query, close, refund once per out_request_no, refund
query and the daily bill."""

import json
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, PaymentAttempt, PaymentEvent, Refund
from orders.payments import alipay
from orders.payments.alipay_views import handle_notice
from orders.payments.gateways import GatewayError, available_channels, gateway_classes
from orders.payments.services import (
    close_payment_attempts,
    create_refund,
    execute_refund,
    query_pending_payments,
    start_payment,
)
from orders.services import lock_order

from .alipay_support import (  # noqa: F401 - the *_fixture names are fixtures
    BASE_URL,
    BILL_URL,
    alipay_keys_fixture,
    alipay_on_fixture,
    bill_line,
    bill_zip,
    configure,
    fake_alipay_fixture,
    notice_fields,
    rsa2_verify,
    sign_notice,
    signing_string,
)
from .factories import checkout, make_sku

pytestmark = pytest.mark.django_db
WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI"


def alipay_attempt(store, shopper, sku, quantity=1):
    order = checkout(shopper, store, [(sku, quantity)])
    return start_payment(order, user=shopper, channel="alipay_wap")


def paid_by_notice(attempt, keys, trade_no="2026100322001400000000000001"):
    assert handle_notice(sign_notice(keys, notice_fields(attempt, trade_no=trade_no))) == (200, "success")
    return Order.objects.get(pk=attempt.order_id)


def pay_url_params(url):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == alipay.GATEWAY_URL
    return dict(parse_qsl(parts.query, keep_blank_values=True))


# --- the client ---------------------------------------------------------------------------------------
def test_the_client_is_built_on_first_use_and_then_reused(fake_alipay, store, shopper, tea):
    alipay._clients.clear()
    assert "alipay_wap" in gateway_classes() and alipay._clients == {}  # importing and listing build nothing
    attempt = alipay_attempt(store, shopper, tea)
    assert alipay._clients == {}  # starting an attempt calls no gateway either
    first = alipay.client()
    alipay.AlipayWapGateway().start(attempt)
    assert alipay.client() is first and len(alipay._clients) == 1


@pytest.mark.parametrize("app_key", ["app_pkcs8", "app_pkcs1"])
@pytest.mark.parametrize("alipay_key", ["alipay_public", "alipay_public_pkcs1"])
def test_pkcs8_and_pkcs1_keys_sign_requests_alipay_accepts(fake_alipay, settings, store, shopper, tea,
                                                          app_key, alipay_key):
    configure(settings, fake_alipay.keys, app_key=app_key, alipay_key=alipay_key)
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt)
    assert alipay.AlipayWapGateway().query(attempt).state == "paid"
    assert fake_alipay.bad_signatures == []


def test_a_bare_base64_key_is_a_gateway_error_not_a_crash(fake_alipay, settings, store, shopper, tea, tmp_path):
    pem = open(fake_alipay.keys.paths["app_pkcs8"]).read()
    bare = tmp_path / "bare.txt"
    bare.write_text("".join(line for line in pem.splitlines() if not line.startswith("-----")))
    settings.ALIPAY_APP_PRIVATE_KEY_PATH = str(bare)
    attempt = alipay_attempt(store, shopper, tea)
    with pytest.raises(GatewayError, match="cannot be built"):
        alipay.AlipayWapGateway().start(attempt)
    settings.ALIPAY_APP_PRIVATE_KEY_PATH = str(tmp_path / "missing.pem")
    with pytest.raises(GatewayError, match="cannot be built"):
        alipay.AlipayWapGateway().query(attempt)
    assert fake_alipay.calls == []


def test_alipay_is_offered_everywhere_only_when_configured(alipay_on, settings):
    for in_wechat in (True, False):
        for mobile in (True, False):
            assert "alipay_wap" in available_channels(in_wechat=in_wechat, mobile=mobile)
    for name in ("ALIPAY_SELLER_ID", "PAYMENT_NOTIFY_BASE_URL", "ALIPAY_PUBLIC_KEY_PATH"):
        value = getattr(settings, name)
        setattr(settings, name, "")
        assert "alipay_wap" not in available_channels(in_wechat=False)
        setattr(settings, name, value)


# --- paying ----------------------------------------------------------------------------------------------
def test_the_wap_pay_url_is_signed_and_carries_the_attempt_without_any_network_call(fake_alipay, store, shopper):
    sku = make_sku(price="19.90", stock=5, store=store)
    attempt = alipay_attempt(store, shopper, sku, quantity=3)
    action = alipay.AlipayWapGateway().start(attempt, request=RequestFactory().get("/", HTTP_USER_AGENT="Safari"))
    assert action.kind == "redirect"
    params = pay_url_params(action.url)
    assert rsa2_verify(fake_alipay.keys.app, signing_string(params, request=True), params["sign"])
    biz = json.loads(params["biz_content"])
    order = attempt.order
    assert params["method"] == "alipay.trade.wap.pay" and params["app_id"] == "2021000000000001"
    assert params["sign_type"] == "RSA2" and params["charset"] == "utf-8"
    assert params["notify_url"] == f"{BASE_URL}/payments/alipay/notify/"
    assert params["return_url"] == BASE_URL + reverse("orders:pay_result", args=[order.public_id])
    assert biz["out_trade_no"] == attempt.out_trade_no and biz["product_code"] == "QUICK_WAP_PAY"
    assert biz["total_amount"] == "59.70" and attempt.amount_fen == 5970  # 19.90 x 3 as a string, never a float
    assert biz["time_expire"] == timezone.localtime(attempt.expires_at, alipay.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert biz["quit_url"] == BASE_URL + reverse("orders:pay", args=[order.public_id])
    assert order.number in biz["subject"]
    assert fake_alipay.calls == []


@pytest.mark.parametrize(("price", "expected"), [("0.10", "0.10"), ("100.00", "100.00"), ("25.50", "25.50")])
def test_total_amount_is_a_two_place_yuan_string(fake_alipay, store, shopper, price, expected):
    attempt = alipay_attempt(store, shopper, make_sku(price=price, stock=5, store=store))
    biz = json.loads(pay_url_params(alipay.AlipayWapGateway().start(attempt).url)["biz_content"])
    assert biz["total_amount"] == expected


def test_inside_wechat_start_answers_a_guide_to_a_signed_link(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    request = RequestFactory().get("/", HTTP_USER_AGENT=WECHAT_UA)
    action = alipay.AlipayWapGateway().start(attempt, request=request)
    assert action.kind == "guide" and action.url.startswith("/payments/alipay/pay/")
    token = action.url.rstrip("/").rsplit("/", 1)[1]
    assert alipay.read_pay_token(token) == (attempt.out_trade_no, attempt.amount_fen)


# --- query -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "state"), [("TRADE_SUCCESS", "paid"), ("TRADE_FINISHED", "paid"),
                                               ("WAIT_BUYER_PAY", "pending"), ("TRADE_CLOSED", "closed")])
def test_query_maps_alipays_trade_status(fake_alipay, store, shopper, tea, status, state):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt, status=status, trade_no="2026100322001400000000000009")
    result = alipay.AlipayWapGateway().query(attempt)
    assert result.state == state and result.reference == "2026100322001400000000000009"
    if state == "paid":
        assert result.amount_fen == 2550
    assert fake_alipay.calls == [("alipay.trade.query", {"out_trade_no": attempt.out_trade_no})]


def test_a_trade_alipay_does_not_know_yet_is_pending(fake_alipay, store, shopper, tea):
    assert alipay.AlipayWapGateway().query(alipay_attempt(store, shopper, tea)).state == "pending"


@pytest.mark.parametrize("answer", [
    {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR", "sub_msg": "系统错误"},
    {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
    {"code": "10000", "msg": "Success", "out_trade_no": "someone-else", "trade_status": "TRADE_SUCCESS"},
    {"code": "10000", "msg": "Success", "trade_status": "SOMETHING_NEW"},
])
def test_any_other_query_answer_is_a_gateway_error(fake_alipay, store, shopper, tea, answer):
    fake_alipay.answers["alipay.trade.query"] = answer
    with pytest.raises(GatewayError):
        alipay.AlipayWapGateway().query(alipay_attempt(store, shopper, tea))


def test_an_answer_whose_signature_does_not_hold_is_refused(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt)
    fake_alipay.tamper_answers = True
    with pytest.raises(GatewayError, match="signature"):
        alipay.AlipayWapGateway().query(attempt)


def test_unreachable_or_failing_http_is_a_gateway_error(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.fail_next["alipay.trade.query"] = requests.ConnectionError("connection reset")
    with pytest.raises(GatewayError, match="connection reset"):
        alipay.AlipayWapGateway().query(attempt)
    fake_alipay.answers["alipay.trade.query"] = lambda biz: {"code": "10000"}
    fake_alipay.mock.replace("POST", fake_alipay.mock.registered()[0].url, body="<html>502 Bad Gateway</html>",
                             status=502)
    with pytest.raises(GatewayError):
        alipay.AlipayWapGateway().query(attempt)


def test_a_lost_notice_is_found_by_the_workers_query(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(next_query_at=timezone.now() - timedelta(seconds=1))
    fake_alipay.paid(attempt, trade_no="2026100322001400000000000042")
    assert query_pending_payments() == {"asked": 1, "paid": 1, "closed": 0}
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.SUCCEEDED and attempt.gateway_trade_no == "2026100322001400000000000042"
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PAID


def test_a_query_reporting_another_amount_never_pays(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(next_query_at=timezone.now() - timedelta(seconds=1))
    fake_alipay.paid(attempt, amount_fen=25)
    assert query_pending_payments()["paid"] == 0
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PENDING_PAYMENT
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.AMOUNT_MISMATCH).exists()


# --- close -------------------------------------------------------------------------------------------------
def test_close_an_open_trade_or_one_alipay_never_created(fake_alipay, store, shopper, tea):
    gateway = alipay.AlipayWapGateway()
    attempt = alipay_attempt(store, shopper, tea)
    assert gateway.close(attempt) is True  # ACQ.TRADE_NOT_EXIST: the shopper never reached the cashier
    fake_alipay.paid(attempt, status="WAIT_BUYER_PAY")
    assert gateway.close(attempt) is True
    assert fake_alipay.trades[attempt.out_trade_no]["status"] == "TRADE_CLOSED"


def test_a_paid_trade_is_never_reported_closed(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt)
    assert alipay.AlipayWapGateway().close(attempt) is False
    assert fake_alipay.methods() == ["alipay.trade.close", "alipay.trade.query"]
    fake_alipay.answers["alipay.trade.close"] = {"code": "40004", "msg": "Business Failed",
                                                 "sub_code": "ACQ.SYSTEM_ERROR"}
    with pytest.raises(GatewayError):
        alipay.AlipayWapGateway().close(attempt)


def test_an_expired_attempt_is_closed_at_alipay_by_the_worker(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt, status="WAIT_BUYER_PAY")
    later = attempt.expires_at + timedelta(minutes=16)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(next_query_at=later - timedelta(seconds=1))
    assert query_pending_payments(now=later)["closed"] == 1
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.CLOSED
    assert fake_alipay.trades[attempt.out_trade_no]["status"] == "TRADE_CLOSED"
    assert close_payment_attempts() == 0


# --- refunds -----------------------------------------------------------------------------------------------
def refund_of(order, amount):
    return create_refund(lock_order(order), amount=amount, cause=Refund.Cause.AFTER_SALE)


def test_a_refund_is_asked_once_with_our_refund_number_as_out_request_no(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea, quantity=2)
    fake_alipay.paid(attempt)
    order = paid_by_notice(attempt, fake_alipay.keys)
    refund = refund_of(order, "20.00")
    execute_refund(refund.pk)
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED and refund.gateway_refund_id == "2026100322001400000000000001"
    method, biz = fake_alipay.calls[-1]
    assert method == "alipay.trade.refund"
    assert biz == {"out_trade_no": attempt.out_trade_no, "refund_amount": "20.00", "out_request_no": refund.out_refund_no,
                   "refund_reason": refund.get_cause_display()}
    assert fake_alipay.money_back == 2000
    execute_refund(refund.pk)  # a settled refund is not asked again
    assert fake_alipay.methods().count("alipay.trade.refund") == 1


def test_a_refund_whose_answer_was_lost_is_retried_and_refunds_once(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt)
    order = paid_by_notice(attempt, fake_alipay.keys)

    def refunded_but_lost(biz):
        fake_alipay._alipay_trade_refund(biz)
        raise requests.ReadTimeout("read timed out")

    fake_alipay.answers["alipay.trade.refund"] = refunded_but_lost
    refund = refund_of(order, "25.50")
    execute_refund(refund.pk)
    refund.refresh_from_db()
    assert refund.state == Refund.State.PENDING and refund.next_try_at is not None
    del fake_alipay.answers["alipay.trade.refund"]
    execute_refund(refund.pk)  # the same out_request_no: fund_change "N", and the refund query says it succeeded
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert fake_alipay.money_back == 2550
    assert fake_alipay.methods()[-2:] == ["alipay.trade.refund", "alipay.trade.fastpay.refund.query"]
    assert {biz["out_request_no"] for m, biz in fake_alipay.calls if m == "alipay.trade.refund"} == {refund.out_refund_no}


def test_partial_refunds_each_have_their_own_request_number(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea, quantity=2)
    fake_alipay.paid(attempt)
    order = paid_by_notice(attempt, fake_alipay.keys)
    first = refund_of(order, "10.00")
    execute_refund(first.pk)
    second = refund_of(Order.objects.get(pk=order.pk), "15.00")
    execute_refund(second.pk)
    assert Refund.objects.filter(order=order, state=Refund.State.SUCCEEDED).count() == 2
    assert first.out_refund_no != second.out_refund_no and fake_alipay.money_back == 2500


@pytest.mark.parametrize(("sub_code", "state"), [
    ("ACQ.TRADE_HAS_FINISHED", Refund.State.FAILED), ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", Refund.State.FAILED),
    ("ACQ.REASON_TRADE_BEEN_FREEZEN", Refund.State.ABNORMAL), ("ACQ.DISCORDANT_REPEAT_REQUEST", Refund.State.ABNORMAL),
    ("ACQ.SOMETHING_NOT_DOCUMENTED", Refund.State.ABNORMAL),
    ("ACQ.SYSTEM_ERROR", Refund.State.PENDING), ("ACQ.SELLER_BALANCE_NOT_ENOUGH", Refund.State.PENDING),
])
def test_refund_business_failures_follow_the_documented_codes(fake_alipay, store, shopper, tea, sub_code, state):
    attempt = alipay_attempt(store, shopper, tea)
    order = paid_by_notice(attempt, fake_alipay.keys)
    fake_alipay.answers["alipay.trade.refund"] = {"code": "40004", "msg": "Business Failed", "sub_code": sub_code}
    refund = refund_of(order, "5.00")
    execute_refund(refund.pk)
    refund.refresh_from_db()
    assert refund.state == state
    attempt.refresh_from_db()
    assert attempt.refund_committed_fen == (0 if state == Refund.State.FAILED else 500)
    assert Order.objects.get(pk=order.pk).refunded_amount == 0


def test_a_refund_in_progress_is_settled_by_the_refund_query(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt)
    order = paid_by_notice(attempt, fake_alipay.keys)
    refund = refund_of(order, "5.00")
    Refund.objects.filter(pk=refund.pk).update(state=Refund.State.PROCESSING)
    execute_refund(refund.pk)  # Alipay has no such refund: asked again with the same out_request_no
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED and fake_alipay.money_back == 500
    assert fake_alipay.methods() == ["alipay.trade.fastpay.refund.query", "alipay.trade.refund"]


def test_a_refund_query_reporting_another_amount_needs_staff(fake_alipay, store, shopper, tea):
    attempt = alipay_attempt(store, shopper, tea)
    fake_alipay.paid(attempt)
    order = paid_by_notice(attempt, fake_alipay.keys)
    refund = refund_of(order, "5.00")
    Refund.objects.filter(pk=refund.pk).update(state=Refund.State.PROCESSING)
    fake_alipay.refunds[refund.out_refund_no] = 400
    execute_refund(refund.pk)
    refund.refresh_from_db()
    assert refund.state == Refund.State.ABNORMAL


# --- the bill ----------------------------------------------------------------------------------------------
def test_the_days_bill_becomes_payment_and_refund_rows_in_fen(fake_alipay):
    lines = [
        bill_line("2026100322001400000000000001", "202610031234567890P01", "交易", "35.80"),
        bill_line("2026100322001400000000000001", "202610031234567890P01", "退款", "-5.80",
                  request_no="202610031234567890R01", finished="2026-10-03 23:59:59"),
        bill_line("2026100322001400000000000002", "202610030000000001P02", "交易", "0.01"),
    ]
    fake_alipay.mock.add("GET", BILL_URL, body=bill_zip(lines), content_type="application/zip")
    rows = alipay.AlipayWapGateway().download_bill(date(2026, 10, 3))
    assert fake_alipay.calls == [("alipay.data.dataservice.bill.downloadurl.query",
                                  {"bill_type": "trade", "bill_date": "2026-10-03"})]
    assert [(r.kind, r.out_trade_no, r.gateway_reference, r.amount_fen, r.out_refund_no) for r in rows] == [
        ("payment", "202610031234567890P01", "2026100322001400000000000001", 3580, ""),
        ("refund", "202610031234567890P01", "2026100322001400000000000001", 580, "202610031234567890R01"),
        ("payment", "202610030000000001P02", "2026100322001400000000000002", 1, ""),
    ]
    assert rows[1].occurred_at == datetime(2026, 10, 3, 23, 59, 59, tzinfo=alipay.SHANGHAI)
    assert timezone.localdate(rows[1].occurred_at, alipay.SHANGHAI) == date(2026, 10, 3)


def test_a_day_without_trades_is_an_empty_bill(fake_alipay):
    fake_alipay.answers["alipay.data.dataservice.bill.downloadurl.query"] = {
        "code": "40004", "msg": "Business Failed", "sub_code": "isp.bill_not_exist", "sub_msg": "账单不存在"}
    assert alipay.AlipayWapGateway().download_bill(date(2026, 10, 3)) == []


@pytest.mark.parametrize("archive", [
    bill_zip([bill_line("1", "A", "交易", "1.00")], payments=2),  # the summary counts a line that is not there
    bill_zip([bill_line("1", "A", "交易", "1.0")]),  # not an amount
    bill_zip([bill_line("1", "A", "冻结", "1.00")], payments=0),  # a business type we do not know
    b"<html>not a zip</html>",
])
def test_a_bill_that_cannot_be_trusted_is_a_gateway_error(fake_alipay, archive):
    fake_alipay.mock.add("GET", BILL_URL, body=archive)
    with pytest.raises(GatewayError):
        alipay.AlipayWapGateway().download_bill(date(2026, 10, 3))


def test_a_bill_that_cannot_be_downloaded_is_a_gateway_error(fake_alipay):
    fake_alipay.mock.add("GET", BILL_URL, status=404, body="下载超时，请重新下载")
    with pytest.raises(GatewayError):
        alipay.AlipayWapGateway().download_bill(date(2026, 10, 3))


def test_bill_archives_with_utf8_file_names_read_the_same(fake_alipay):
    lines = [bill_line("2026100322001400000000000001", "X1", "交易", "2.00")]
    assert alipay.parse_trade_bill(bill_zip(lines, gbk_names=False)) == alipay.parse_trade_bill(bill_zip(lines))


def test_commas_in_a_product_name_or_a_remark_do_not_shift_the_columns(fake_alipay):
    lines = [
        bill_line("2026100322001400000000000001", "A1", "交易", "12.30", subject="洗衣订单, 含加急,两件"),
        bill_line("2026100322001400000000000002", "A2", "退款", "-1.00", request_no="A2R01", remark="顾客要求, 部分退"),
        bill_line("2026100322001400000000000003", "A3", "交易", "2.00", subject="a,b", remark="c,d"),
    ]
    rows = alipay.parse_trade_bill(bill_zip(lines))
    assert [(r.kind, r.out_trade_no, r.amount_fen, r.out_refund_no) for r in rows] == [
        ("payment", "A1", 1230, ""), ("refund", "A2", 100, "A2R01"), ("payment", "A3", 200, "")]
    assert rows[0].occurred_at == datetime(2026, 10, 3, 10, 0, 30, tzinfo=alipay.SHANGHAI)


def test_amounts_from_alipay_are_read_strictly():
    assert alipay.fen_of("25.50") == 2550 and alipay.fen_of("0.01") == 1 and alipay.fen_of("100.00") == 10000
    for text in ("25.5", "2550", "25.50元", "-1.00", " 25.50", "1e3", "", None, 25.5, "025.50"):
        assert alipay.fen_of(text) is None, text
