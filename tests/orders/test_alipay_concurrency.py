"""Alipay notifications under real concurrency on PostgreSQL (threads with their own connections,
released together by a barrier): Alipay's retries arriving at once pay the order once; a notice
racing the auto-cancel ends paid or refunded through Alipay, never both and never neither."""

import random
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from members.services import ensure_default_levels
from orders import services
from orders.models import Order, PaymentEvent, Refund
from orders.payments.services import start_payment
from stores.models import Stock

from .alipay_support import (  # noqa: F401 - the *_fixture names are fixtures
    alipay_keys_fixture,
    alipay_on_fixture,
    fake_alipay_fixture,
    notice_fields,
    sign_notice,
)
from .factories import checkout, make_shopper, make_sku, make_store
from .test_concurrency import consistent, race, unexpected

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _levels():
    ensure_default_levels()


def post_notice(fields):
    response = Client().post("/payments/alipay/notify/", fields)
    return response.status_code, response.content.decode()


def alipay_attempt(fake_alipay):
    store = make_store()
    sku = make_sku(stock=5, store=store)
    shopper = make_shopper()
    order = checkout(shopper, store, [(sku, 1)])
    attempt = start_payment(order, user=shopper, channel="alipay_wap")
    fake_alipay.paid(attempt)
    return store, sku, order, attempt


def test_twenty_copies_of_one_notice_pay_once_with_one_event(fake_alipay):
    _store, _sku, order, attempt = alipay_attempt(fake_alipay)
    fields = sign_notice(fake_alipay.keys, notice_fields(attempt))
    results = race(20, lambda i: post_notice(fields))
    assert unexpected(results) == []
    assert results == [(200, "success")] * 20
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED).count() == 1
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.NOTIFIED).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.events.filter(to_status="paid").count() == 1
    assert Refund.objects.filter(order=order).count() == 0
    consistent()


@pytest.mark.parametrize("seed", range(4))
def test_a_notice_racing_the_auto_cancel_is_paid_or_refunded_never_both_nor_neither(fake_alipay, seed):
    store, sku, order, attempt = alipay_attempt(fake_alipay)
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    fields = sign_notice(fake_alipay.keys, notice_fields(attempt))
    work = [lambda: post_notice(fields), lambda: services.cancel_overdue_orders()]
    random.Random(seed).shuffle(work)
    results = race(2, lambda i: work[i]())
    assert unexpected(results) == []
    assert (200, "success") in results  # Alipay is told once the money is accounted for, either way
    order.refresh_from_db()
    refunds = list(Refund.objects.filter(order=order))
    if order.status == Order.Status.PAID:
        assert refunds == [] and fake_alipay.money_back == 0
        assert Stock.objects.get(store=store, sku=sku).reserved == 1
    else:
        assert order.status == Order.Status.CANCELLED
        assert len(refunds) == 1 and refunds[0].state == Refund.State.SUCCEEDED
        assert refunds[0].amount_fen == attempt.amount_fen == fake_alipay.money_back
        assert [biz["out_request_no"] for m, biz in fake_alipay.calls if m == "alipay.trade.refund"] == \
            [refunds[0].out_refund_no]
        assert Stock.objects.get(store=store, sku=sku).reserved == 0
    consistent()
