"""The timed jobs run by hand: each manage.py command calls the service its beat task calls, says
what it did, and a second run changes nothing."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from members.models import PointsEntry
from orders import services
from orders.models import AfterSale, Order, PaymentAttempt, Refund
from orders.payments.services import start_payment
from stores.models import Stock

from .factories import checkout, pay

pytestmark = pytest.mark.django_db


def run(name):
    out = StringIO()
    call_command(name, stdout=out)
    return out.getvalue()


def test_every_timed_job_has_a_beat_entry_and_a_command():
    tasks = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "orders.tasks.cancel_overdue_orders", "orders.tasks.confirm_overdue_receipts", "orders.tasks.retry_refunds",
        "orders.tasks.close_payment_attempts", "orders.tasks.poll_tracking",
    } <= tasks
    for command in ("cancel_overdue_orders", "confirm_received_orders", "retry_refunds", "close_payment_attempts",
                    "poll_tracking"):
        assert run(command)  # each says something even when there is nothing to do


def test_cancel_overdue_orders(store, shopper, tea):
    late = checkout(shopper, store, [(tea, 2)])
    on_time = checkout(shopper, store, [(tea, 1)])
    Order.objects.filter(pk=late.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    assert "已取消 1 个超时未付款的订单" in run("cancel_overdue_orders")
    assert "已取消 0 个超时未付款的订单" in run("cancel_overdue_orders")
    late.refresh_from_db()
    on_time.refresh_from_db()
    assert late.status == Order.Status.CANCELLED and on_time.status == Order.Status.PENDING_PAYMENT
    assert Stock.objects.get(store=store, sku=tea).reserved == 1


def test_confirm_received_orders(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    pay(order)
    services.ship_order(order, by=manager, parcels=[("yunda", "YD1234567890")])
    assert "已自动确认收货 0 个订单" in run("confirm_received_orders")  # not due yet
    Order.objects.filter(pk=order.pk).update(auto_confirm_at=timezone.now() - timedelta(minutes=1))
    assert "已自动确认收货 1 个订单" in run("confirm_received_orders")
    assert "已自动确认收货 0 个订单" in run("confirm_received_orders")
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert PointsEntry.objects.filter(reference=order.reference, kind=PointsEntry.Kind.PURCHASE).count() == 1


def test_retry_refunds(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 2)])
    pay(order)
    asked = services.request_after_sale(order, user=shopper, kind=AfterSale.Kind.REFUND_ONLY,
                                        reason=AfterSale.Reason.NOT_WANTED, request_id=uuid.uuid4().hex)
    services.approve_after_sale(asked, by=manager)  # the worker's task never ran (broker down, say)
    refund = Refund.objects.get(order=order)
    assert refund.state == Refund.State.PENDING
    assert "已重新处理 0 笔退款；仍在等待或处理中的退款 1 笔" in run("retry_refunds")  # not stuck long enough yet
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert "已重新处理 1 笔退款；仍在等待或处理中的退款 0 笔" in run("retry_refunds")
    assert "已重新处理 0 笔退款" in run("retry_refunds")
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert order.status == Order.Status.CLOSED and order.refunded_amount == order.paid_amount
    assert Stock.objects.get(store=store, sku=tea).reserved == 0


def test_close_payment_attempts(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    attempt = start_payment(order, user=shopper, channel="dev")
    services.cancel_order(order, by=shopper)
    assert "已关闭 1 个不再需要的支付单" in run("close_payment_attempts")
    assert "已关闭 0 个不再需要的支付单" in run("close_payment_attempts")
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.CLOSED


def test_poll_tracking_with_manual_tracking_says_so(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    pay(order)
    services.ship_order(order, by=manager, parcels=[("yunda", "YD1234567890")])
    assert "手工录入" in run("poll_tracking")


def test_a_trade_that_keeps_refusing_to_close_never_holds_up_the_others(store, shopper, tea, monkeypatch):
    from orders.payments import services as payment_services
    from orders.payments.gateways import GatewayError

    tea_stock = Stock.objects.get(store=store, sku=tea)
    Stock.objects.filter(pk=tea_stock.pk).update(on_hand=10)
    attempts = []
    for _n in range(3):
        order = checkout(shopper, store, [(tea, 1)])
        attempts.append(start_payment(order, user=shopper, channel="dev"))
    stuck = attempts[0]
    asked = []

    class Gateway:
        def close(self, attempt):
            asked.append(attempt.pk)
            if attempt.pk == stuck.pk:
                raise GatewayError("closed for now")
            return True

        def query(self, attempt):
            raise GatewayError("no answer")

    monkeypatch.setattr(payment_services, "get_gateway", lambda channel: Gateway())
    monkeypatch.setattr(payment_services, "CLOSE_BATCH", 1)
    PaymentAttempt.objects.filter(pk__in=[a.pk for a in attempts]).update(close_requested=True)
    PaymentAttempt.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    for _run in range(3):
        payment_services.close_payment_attempts()
    assert asked == [stuck.pk, attempts[1].pk, attempts[2].pk]  # the stuck one waits its turn again
    states = dict(PaymentAttempt.objects.filter(pk__in=[a.pk for a in attempts]).values_list("pk", "state"))
    assert states == {stuck.pk: "pending", attempts[1].pk: "closed", attempts[2].pk: "closed"}
