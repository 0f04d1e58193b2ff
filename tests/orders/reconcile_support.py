"""Shared pieces of the reconciliation tests: two fake merchant accounts registered through
settings.PAYMENT_GATEWAYS — "WeChat Pay" serving wechat_jsapi and wechat_native (one bill for
both) and "Alipay" serving alipay_wap — whose bills are what a test puts in BILLS; orders paid
and refunded through them with their events on a chosen day; and bill rows that match them."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from core.money import fen_to_yuan
from orders.models import PaymentEvent, Refund
from orders.payments.gateways import BillRow, Gateway
from orders.payments.services import confirm_payment, create_refund, refund_succeeded, start_payment
from orders.services.base import lock_order

from .factories import checkout, make_sku

SHANGHAI = ZoneInfo("Asia/Shanghai")
BILLS = {}  # account -> {day: [BillRow] or an exception to raise}
DOWNLOADS = []  # (account, day) per download


def _answer(account, day):
    DOWNLOADS.append((account, day))
    answer = BILLS.get(account, {}).get(day, [])
    if isinstance(answer, Exception):
        raise answer
    return list(answer)


class FakeWeChatPay(Gateway):
    """One merchant account behind two channels: its bill is downloaded once for both."""

    label = "微信支付"

    @classmethod
    def is_available(cls):
        return True

    def download_bill(self, day):
        return _answer("wechat", day)


class FakeJsapi(FakeWeChatPay):
    channel = "wechat_jsapi"


class FakeNative(FakeWeChatPay):
    channel = "wechat_native"


class FakeAlipay(Gateway):
    channel = "alipay_wap"
    label = "支付宝"

    @classmethod
    def is_available(cls):
        return True

    def download_bill(self, day):
        return _answer("alipay", day)


WECHAT_KEY = f"{__name__}.FakeWeChatPay"
ALIPAY_KEY = f"{__name__}.FakeAlipay"


def use_fake_gateways(settings):
    """Register the fakes (the dev gateway too: it must be left out) and forget earlier bills."""
    settings.PAYMENT_GATEWAYS = {
        "dev": "orders.payments.dev.DevGateway",
        "wechat_jsapi": f"{__name__}.FakeJsapi",
        "wechat_native": f"{__name__}.FakeNative",
        "alipay_wap": f"{__name__}.FakeAlipay",
    }
    settings.PAYMENT_BILL_READY_HOUR = 10
    settings.PAYMENT_RECONCILE_DAYS = 3
    BILLS.clear()
    DOWNLOADS.clear()


# --- helpers ----------------------------------------------------------------------------------------
def local_today():
    return datetime.now(SHANGHAI).date()


DAY = local_today() - timedelta(days=5)  # a day long over: its bills are ready, for the command too


def at(day, hour=12, minute=0, second=0):
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI)


def after_ready(day):
    return at(day + timedelta(days=1), 11)


def paid_attempt(shopper, store, sku, channel, *, when, quantity=1):
    """An order paid through `channel`, its SUCCEEDED event recorded at `when`."""
    order = checkout(shopper, store, [(sku, quantity)])
    attempt = start_payment(order, user=shopper, channel=channel)
    outcome = confirm_payment(out_trade_no=attempt.out_trade_no, amount_fen=attempt.amount_fen,
                              gateway_reference=f"TX{attempt.out_trade_no}", channel=channel, source="query")
    assert outcome.result == "paid"
    PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED).update(created_at=when)
    attempt.refresh_from_db()
    return attempt


def pending_attempt(shopper, store, sku, channel):
    order = checkout(shopper, store, [(sku, 1)])
    return start_payment(order, user=shopper, channel=channel)


def refunded(attempt, fen, *, when):
    """`fen` of `attempt` sent back (money only) and confirmed; REFUND_SUCCEEDED recorded at `when`."""
    with transaction.atomic():
        order = lock_order(attempt.order_id)
        refund = create_refund(order, amount=fen_to_yuan(fen), cause=Refund.Cause.DUPLICATE_PAYMENT,
                               counts_for_order=False, attempt=attempt)
    refund_succeeded(refund.pk, gateway_refund_id=f"RF{refund.pk}")
    PaymentEvent.objects.filter(kind=PaymentEvent.Kind.REFUND_SUCCEEDED,
                                gateway_reference=refund.out_refund_no).update(created_at=when)
    return Refund.objects.select_related("attempt").get(pk=refund.pk)


def bill_payment(attempt, fen=None, *, when=None):
    return BillRow("payment", attempt.out_trade_no, f"TX{attempt.out_trade_no}",
                   attempt.amount_fen if fen is None else fen, occurred_at=when)


def bill_refund(refund, fen=None):
    return BillRow("refund", refund.attempt.out_trade_no, f"RF{refund.pk}",
                   refund.amount_fen if fen is None else fen, out_refund_no=refund.out_refund_no)


def tea_for(store):
    return make_sku("对账茶", price="19.90", stock=200, store=store)


def trade_of(shopper, store, sku):
    """DAY: two WeChat payments (JSAPI and Native), one Alipay payment and one refund of each kind."""
    jsapi = paid_attempt(shopper, store, sku, "wechat_jsapi", when=at(DAY, 9))
    native = paid_attempt(shopper, store, sku, "wechat_native", when=at(DAY, 13), quantity=2)
    alipay = paid_attempt(shopper, store, sku, "alipay_wap", when=at(DAY, 15), quantity=3)
    wechat_refund = refunded(native, 500, when=at(DAY, 16))
    alipay_refund = refunded(alipay, 1990, when=at(DAY, 17))
    return {"jsapi": jsapi, "native": native, "alipay": alipay, "wechat_refund": wechat_refund,
            "alipay_refund": alipay_refund}


def matching_bills(trade):
    BILLS["wechat"] = {DAY: [bill_payment(trade["jsapi"]), bill_payment(trade["native"]),
                             bill_refund(trade["wechat_refund"])]}
    BILLS["alipay"] = {DAY: [bill_payment(trade["alipay"]), bill_refund(trade["alipay_refund"])]}
