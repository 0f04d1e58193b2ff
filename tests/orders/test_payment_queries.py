"""Lost notifications: the worker asks the gateway about attempts still pending, backing off, and
closes them after they expired. Faked gateway (the real ones come with the payments issue)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from orders.models import Order, PaymentAttempt, PaymentEvent
from orders.payments.gateways import Gateway, GatewayError, GatewayResult, PaymentAction
from orders.payments.services import query_pending_payments, start_payment

from .factories import checkout

pytestmark = pytest.mark.django_db


class FakeGateway(Gateway):
    """Answers what the test put in `answers` {out_trade_no: GatewayResult or an exception}."""

    channel = "wechat_native"
    answers = {}
    closed = []

    @classmethod
    def is_available(cls):
        return True

    def start(self, attempt, *, request=None):
        return PaymentAction("qrcode", url=f"weixin://wxpay/bizpayurl?pr={attempt.out_trade_no}")

    def query(self, attempt):
        answer = self.answers.get(attempt.out_trade_no, GatewayResult("pending"))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self, attempt):
        self.closed.append(attempt.out_trade_no)
        return True


@pytest.fixture(autouse=True)
def fake_gateway(settings):
    settings.PAYMENT_GATEWAYS = {"wechat_native": "tests.orders.test_payment_queries.FakeGateway"}
    FakeGateway.answers, FakeGateway.closed = {}, []
    return FakeGateway


def attempt_for(store, shopper, sku):
    order = checkout(shopper, store, [(sku, 1)])
    return start_payment(order, user=shopper, channel="wechat_native")


def due(attempt, when):
    PaymentAttempt.objects.filter(pk=attempt.pk).update(next_query_at=when)


def test_a_payment_whose_notice_was_lost_is_found_by_the_query(store, shopper, tea):
    attempt = attempt_for(store, shopper, tea)
    assert query_pending_payments()["asked"] == 0  # not yet: the first question comes after 2 minutes
    due(attempt, timezone.now() - timedelta(seconds=1))
    FakeGateway.answers[attempt.out_trade_no] = GatewayResult("paid", reference="4200001", amount_fen=attempt.amount_fen)
    assert query_pending_payments() == {"asked": 1, "paid": 1, "closed": 0}
    order = Order.objects.get(pk=attempt.order_id)
    assert order.status == Order.Status.PAID
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.QUERIED).count() == 1


def test_still_pending_backs_off_and_a_gateway_error_is_retried(store, shopper, tea):
    attempt = attempt_for(store, shopper, tea)
    now = timezone.now()
    due(attempt, now - timedelta(seconds=1))
    query_pending_payments(now=now)
    attempt.refresh_from_db()
    assert attempt.query_count == 1 and attempt.next_query_at >= now + timedelta(minutes=4)
    FakeGateway.answers[attempt.out_trade_no] = GatewayError("timeout")
    later = attempt.next_query_at + timedelta(seconds=1)
    query_pending_payments(now=later)
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.PENDING and attempt.next_query_at > later


def test_an_amount_the_gateway_reports_differently_is_never_paid(store, shopper, tea):
    attempt = attempt_for(store, shopper, tea)
    due(attempt, timezone.now() - timedelta(seconds=1))
    FakeGateway.answers[attempt.out_trade_no] = GatewayResult("paid", reference="4200002", amount_fen=1)
    assert query_pending_payments()["paid"] == 0
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PENDING_PAYMENT


def test_an_expired_attempt_is_closed_at_its_gateway(store, shopper, tea):
    attempt = attempt_for(store, shopper, tea)
    later = attempt.expires_at + timedelta(minutes=16)
    due(attempt, later - timedelta(seconds=1))
    out = StringIO()
    assert query_pending_payments(now=later)["closed"] == 1
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.CLOSED and FakeGateway.closed == [attempt.out_trade_no]
    call_command("query_pending_payments", stdout=out)
    assert "0 个已支付" in out.getvalue()


def test_a_trade_that_cannot_be_closed_because_it_was_paid_is_confirmed_and_refunded(
    store, shopper, tea, django_capture_on_commit_callbacks
):
    from orders.models import Refund
    from orders.services import cancel_order

    class PaidGateway(FakeGateway):
        def close(self, attempt):
            raise GatewayError("ORDERPAID")

        def refund(self, refund):
            return GatewayResult("succeeded", reference="R1", amount_fen=refund.amount_fen)

    from orders.payments.services import close_payment_attempts

    attempt = attempt_for(store, shopper, tea)
    cancel_order(attempt.order, by=shopper)
    FakeGateway.answers[attempt.out_trade_no] = GatewayResult("paid", reference="4200009", amount_fen=attempt.amount_fen)
    from django.test import override_settings

    with override_settings(PAYMENT_GATEWAYS={"wechat_native": "tests.orders.test_payment_queries.PaidGatewayHolder"}):
        PaidGatewayHolder.cls = PaidGateway
        with django_capture_on_commit_callbacks(execute=True):
            assert close_payment_attempts() == 0
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.SUCCEEDED
    refund = Refund.objects.get(attempt=attempt)
    assert refund.state == Refund.State.SUCCEEDED and not refund.counts_for_order
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.CANCELLED


class PaidGatewayHolder:
    """Lets a test swap the class that settings.PAYMENT_GATEWAYS names."""

    cls = None

    def __new__(cls, *args, **kwargs):
        return cls.cls(*args, **kwargs)

    @classmethod
    def is_available(cls):
        return True

    @classmethod
    def offered(cls, **kwargs):
        return True


def test_a_trade_number_longer_than_ours_never_matches_by_its_prefix(store, shopper, tea):
    from orders.errors import OrderError
    from orders.payments.services import confirm_payment

    attempt = attempt_for(store, shopper, tea)
    PaymentAttempt.objects.filter(pk=attempt.pk).update(out_trade_no="A" * 32)
    with pytest.raises(OrderError):
        confirm_payment(out_trade_no="A" * 32 + "B", amount_fen=attempt.amount_fen, gateway_reference="x",
                        channel="wechat_native")
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PENDING_PAYMENT
