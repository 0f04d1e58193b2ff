"""A real Celery worker (Redis broker) runs the payment sweeps against WeChat Pay's API (faked at the
HTTP level): a payment whose notice was lost is found by the query and the order is paid; a cancelled
order's trade, which WeChat Pay refuses to close in its first 5 minutes, is closed by a later run."""

import time
from datetime import timedelta

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from members.services import ensure_default_levels
from orders.models import Order, PaymentAttempt, PaymentEvent
from orders.payments.services import start_payment
from orders.payments.wechatpay import WeChatNativeGateway
from orders.services import cancel_order

from .factories import checkout, make_shopper, make_sku, make_store
from .wechatpay_support import fake_wechat_fixture, keys_fixture, wechat_fixture  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_app():
    # not the current app: what the code under test enqueues by itself still runs inline (eager)
    app = Celery("mendian-wechatpay-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = settings.REDIS_URL
    app.conf.task_always_eager = False
    app.autodiscover_tasks()
    return app


def wait_until(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def placed_attempt(fake_wechat, store, sku):
    shopper = make_shopper()
    order = checkout(shopper, store, [(sku, 1)])
    attempt = start_payment(order, user=shopper, channel="wechat_native", mobile=False)
    WeChatNativeGateway().start(attempt)
    return attempt


def test_the_worker_queries_lost_payments_and_closes_cancelled_trades(wechat, fake_wechat, worker_app):
    ensure_default_levels()
    store = make_store()
    sku = make_sku(stock=10, store=store)
    lost = placed_attempt(fake_wechat, store, sku)
    fake_wechat.pay_trade(lost.out_trade_no)  # paid at WeChat Pay; the notice never came
    PaymentAttempt.objects.filter(pk=lost.pk).update(next_query_at=timezone.now() - timedelta(seconds=1))

    cancelled = placed_attempt(fake_wechat, store, sku)
    before = len(fake_wechat.requests)
    cancel_order(Order.objects.get(pk=cancelled.order_id), by=None)  # its close runs at once (inline)...
    cancelled.refresh_from_db()
    assert cancelled.close_requested and cancelled.state == PaymentAttempt.State.PENDING  # ...too young to close
    first_run = [(method, path) for method, path, _b in fake_wechat.requests[before:]]
    assert not any(path.endswith("/close") for _m, path in first_run)  # refused before asking WeChat Pay
    assert ("GET", f"/v3/pay/transactions/out-trade-no/{cancelled.out_trade_no}?mchid={settings.WECHAT_PAY_MCHID}") \
        in first_run  # not closed: asked whether it was paid meanwhile (it was not)
    assert fake_wechat.trades[cancelled.out_trade_no]["state"] == "NOTPAY"
    PaymentAttempt.objects.filter(pk=cancelled.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    fake_wechat.trades[cancelled.out_trade_no]["old"] = True
    before = len(fake_wechat.requests)

    with start_worker(worker_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        worker_app.send_task("orders.tasks.query_pending_payments")
        worker_app.send_task("orders.tasks.close_payment_attempts")
        paid = wait_until(lambda: Order.objects.filter(pk=lost.order_id, status=Order.Status.PAID).exists())
        closed = wait_until(lambda: PaymentAttempt.objects.filter(pk=cancelled.pk, state="closed").exists())
    assert paid, "the worker did not find the lost payment within 30 s"
    assert closed, "the worker did not close the cancelled order's trade within 30 s"
    assert PaymentEvent.objects.filter(attempt=lost, kind=PaymentEvent.Kind.QUERIED).count() == 1
    assert fake_wechat.trades[cancelled.out_trade_no]["state"] == "CLOSED"
    during = [(method, path) for method, path, _body in fake_wechat.requests[before:]]
    assert ("GET", f"/v3/pay/transactions/out-trade-no/{lost.out_trade_no}?mchid={settings.WECHAT_PAY_MCHID}") in during
    assert ("POST", f"/v3/pay/transactions/out-trade-no/{cancelled.out_trade_no}/close") in during
