"""WeChat Pay notices under real concurrency on PostgreSQL (threads with their own connections,
released together by a barrier): twenty copies of one signed notice pay the order once with one
event; a notice racing the auto-cancel ends paid, or cancelled with the money refunded through
WeChat Pay, never both and never neither."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from members.services import ensure_default_levels
from orders import services
from orders.models import Order, PaymentAttempt, PaymentEvent, Refund
from orders.payments.services import start_payment
from orders.payments.wechat_views import handle_pay_notice
from orders.payments.wechatpay import WeChatNativeGateway
from stores.models import Stock

from .factories import checkout, make_shopper, make_sku, make_store
from .test_concurrency import consistent, race, unexpected
from .wechatpay_support import (  # noqa: F401 - the *_fixture names are fixtures
    fake_wechat_fixture,
    keys_fixture,
    notice,
    transaction_resource,
    wechat_fixture,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _levels():
    ensure_default_levels()


def native_attempt(fake_wechat):
    store = make_store()
    sku = make_sku(stock=5, store=store)
    shopper = make_shopper()
    order = checkout(shopper, store, [(sku, 1)])
    attempt = start_payment(order, user=shopper, channel="wechat_native", mobile=False)
    WeChatNativeGateway().start(attempt)  # the trade exists at WeChat Pay
    trade = fake_wechat.pay_trade(attempt.out_trade_no)
    return store, sku, order, attempt, trade


def test_twenty_copies_of_one_notice_pay_once_with_one_event(wechat, fake_wechat):
    _store, _sku, order, attempt, trade = native_attempt(fake_wechat)
    headers, body = notice(wechat, transaction_resource(attempt, transaction_id=trade["transaction_id"]))
    results = race(20, lambda i: handle_pay_notice(headers, body))
    assert unexpected(results) == []
    assert results == [(204, None)] * 20  # the duplicates are acknowledged too
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED).count() == 1
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.NOTIFIED).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.events.filter(to_status="paid").count() == 1
    assert PaymentAttempt.objects.filter(order=order, is_order_payment=True).count() == 1
    consistent()


@pytest.mark.parametrize("seed", range(4))
def test_a_notice_racing_the_auto_cancel_is_paid_or_refunded_never_both_nor_neither(wechat, fake_wechat, seed):
    store, sku, order, attempt, trade = native_attempt(fake_wechat)
    fake_wechat.next_refund_status = "SUCCESS"
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    headers, body = notice(wechat, transaction_resource(attempt, transaction_id=trade["transaction_id"]))
    work = [lambda: handle_pay_notice(headers, body), lambda: services.cancel_overdue_orders()]
    random.Random(seed).shuffle(work)
    results = race(2, lambda i: work[i]())
    assert unexpected(results) == []
    assert (204, None) in results
    order.refresh_from_db()
    refunds = list(Refund.objects.filter(order=order))
    if order.status == Order.Status.PAID:
        assert refunds == [] and Stock.objects.get(store=store, sku=sku).reserved == 1
        assert fake_wechat.refunds == {}
    else:
        assert order.status == Order.Status.CANCELLED
        assert len(refunds) == 1 and refunds[0].state == Refund.State.SUCCEEDED
        assert refunds[0].amount_fen == attempt.amount_fen
        assert [r["amount"] for r in fake_wechat.refunds.values()] == [attempt.amount_fen]  # once, at WeChat Pay
        assert Stock.objects.get(store=store, sku=sku).reserved == 0
    consistent()
