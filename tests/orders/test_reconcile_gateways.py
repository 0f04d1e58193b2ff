"""Reconciliation with the real gateway modules, faked at the HTTP level (the fakes of WeChat Pay's
API v3 and Alipay's gateway that the gateway tests use): WeChat Pay's JSAPI, H5 and Native channels
are one bill downloaded once, Alipay's bill carries another app's trade, and the comparison sees
what the gateways' own files say."""

from datetime import date

import pytest
import responses
from django.db import transaction

from orders.models import PaymentEvent, ReconciliationDifference, ReconciliationRun, Refund
from orders.payments import wechatpay
from orders.payments.reconcile import configured_bills, reconcile_day
from orders.payments.services import confirm_payment, create_refund, refund_succeeded, start_payment
from orders.services.base import lock_order

from . import alipay_support, wechatpay_support
from .alipay_support import BILL_URL, FakeAlipay, alipay_keys_fixture, bill_line, bill_zip  # noqa: F401 - fixture
from .factories import checkout, make_sku
from .reconcile_support import after_ready, at
from .wechatpay_support import FakeWeChatPay, trade_bill

pytestmark = pytest.mark.django_db

DAY = date(2026, 10, 3)
WECHAT_BILL = "orders.payments.wechatpay.WeChatPayGateway"
ALIPAY_BILL = "orders.payments.alipay.AlipayWapGateway"


@pytest.fixture
def gateways(settings, tmp_path, alipay_keys):
    """WeChat Pay and Alipay both configured, their HTTP APIs faked by one responses mock."""
    wechat_keys = wechatpay_support.make_keys(tmp_path)
    wechatpay_support.configure(settings, wechat_keys)
    alipay_support.configure(settings, alipay_keys)
    settings.PAYMENT_GATEWAYS = {
        "dev": "orders.payments.dev.DevGateway",
        "wechat_jsapi": "orders.payments.wechatpay.WeChatJsapiGateway",
        "wechat_h5": "orders.payments.wechatpay.WeChatH5Gateway",
        "wechat_native": "orders.payments.wechatpay.WeChatNativeGateway",
        "alipay_wap": "orders.payments.alipay.AlipayWapGateway",
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeWeChatPay(mock, wechat_keys), FakeAlipay(mock, alipay_keys)
    wechatpay.forget_clients()


def paid(shopper, store, sku, channel, *, reference):
    order = checkout(shopper, store, [(sku, 1)])
    where = {"wechat_jsapi": {"in_wechat": True}, "wechat_native": {"mobile": False}}.get(channel, {})
    attempt = start_payment(order, user=shopper, channel=channel, **where)
    confirm_payment(out_trade_no=attempt.out_trade_no, amount_fen=attempt.amount_fen, gateway_reference=reference,
                    channel=channel, source="query")
    PaymentEvent.objects.filter(attempt=attempt).update(created_at=at(DAY, 10))
    return attempt


def refund_of(attempt, fen):
    with transaction.atomic():
        order = lock_order(attempt.order_id)
        refund = create_refund(order, amount=f"{fen / 100:.2f}", cause=Refund.Cause.DUPLICATE_PAYMENT,
                               counts_for_order=False, attempt=attempt)
    refund_succeeded(refund.pk)
    PaymentEvent.objects.filter(gateway_reference=refund.out_refund_no).update(created_at=at(DAY, 11))
    return refund


@pytest.fixture
def trade(gateways, shopper, store):
    sku = make_sku("对账茶", price="19.90", stock=20, store=store)
    return {
        "jsapi": paid(shopper, store, sku, "wechat_jsapi", reference="4200000001"),
        "native": paid(shopper, store, sku, "wechat_native", reference="4200000002"),
        "alipay": paid(shopper, store, sku, "alipay_wap", reference="2026100322001400000000000001"),
    }


def wechat_line(attempt, transaction_id, total="19.90"):
    return {"transaction_id": transaction_id, "out_trade_no": attempt.out_trade_no, "state": "SUCCESS",
            "settled": total, "total": total}


def test_the_bills_of_both_gateways_agree_with_our_events(gateways, trade):
    fake_wechat, fake_alipay = gateways
    assert [(b.key, b.channels) for b in configured_bills()] == [
        (WECHAT_BILL, ("wechat_jsapi", "wechat_h5", "wechat_native")), (ALIPAY_BILL, ("alipay_wap",))]
    refund = refund_of(trade["alipay"], 500)
    fake_wechat.bill = trade_bill([wechat_line(trade["jsapi"], "4200000001"), wechat_line(trade["native"], "4200000002")])
    fake_alipay.mock.add("GET", BILL_URL, content_type="application/zip", body=bill_zip([
        bill_line("2026100322001400000000000001", trade["alipay"].out_trade_no, "交易", "19.90"),
        bill_line("2026100322001400000000000001", trade["alipay"].out_trade_no, "退款", "-5.00",
                  request_no=refund.out_refund_no),
        bill_line("2026100322001400000000000077", "SOMEONE-ELSES-APP-42", "交易", "8.00"),
    ]))

    run = reconcile_day(DAY, now=after_ready(DAY))
    assert run.status == ReconciliationRun.Status.CLEAN, list(ReconciliationDifference.objects.values())
    assert run.not_ours == 1 and run.bills[ALIPAY_BILL]["not_ours_totals"]["payments"] == [1, 800]
    assert [path for _method, path, _body in fake_wechat.requests if path.startswith("/v3/bill/tradebill")] == [
        "/v3/bill/tradebill?bill_date=2026-10-03&bill_type=ALL&tar_type=GZIP"]  # one bill for three channels
    assert fake_alipay.methods().count("alipay.data.dataservice.bill.downloadurl.query") == 1
    assert run.bills[WECHAT_BILL]["totals"]["wechat_native"]["theirs"]["payments"] == [1, 1990]
    assert run.bills[ALIPAY_BILL]["totals"]["alipay_wap"]["theirs"]["refunds"] == [1, 500]


def test_what_the_gateways_files_say_differently_is_listed(gateways, trade):
    fake_wechat, fake_alipay = gateways
    fake_wechat.bill = trade_bill([wechat_line(trade["jsapi"], "4200000001", total="19.00")])  # Native missing
    fake_alipay.mock.add("GET", BILL_URL, content_type="application/zip", body=bill_zip([]))
    run = reconcile_day(DAY, now=after_ready(DAY))
    found = sorted((d.kind, d.out_trade_no) for d in ReconciliationDifference.objects.filter(day=DAY))
    assert found == sorted([
        ("amount_differs", trade["jsapi"].out_trade_no), ("missing_there", trade["native"].out_trade_no),
        ("missing_there", trade["alipay"].out_trade_no)])
    assert run.status == ReconciliationRun.Status.DIFFERENCES and run.differences == 3


def test_a_day_without_a_wechat_bill_and_an_alipay_error(gateways, trade):
    _fake_wechat, fake_alipay = gateways
    fake_alipay.answers["alipay.data.dataservice.bill.downloadurl.query"] = {
        "code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"}
    run = reconcile_day(DAY, now=after_ready(DAY))
    # NO_STATEMENT_EXIST: WeChat Pay has no trade that day, so both of ours are missing there
    assert run.bills[WECHAT_BILL]["status"] == ReconciliationRun.Status.DIFFERENCES
    assert run.bills[WECHAT_BILL]["differences"] == 2
    assert run.bills[ALIPAY_BILL]["status"] == ReconciliationRun.Status.FAILED
    assert "isp.unknow-error" in run.bills[ALIPAY_BILL]["error"]
