"""Paying, cancelling, fulfilling and completing orders through the services."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Product
from marketing.models import MemberCoupon
from marketing.services import issue_coupon
from members.models import GrowthEntry, Member, MemberLevel, PointsEntry
from members.services import adjust_points
from orders import services, signals
from orders.errors import Code, OrderError
from orders.models import AfterSale, Order, OrderEvent, PaymentAttempt, PaymentEvent, Refund
from orders.payments import dev
from orders.payments.views import handle_dev_notice
from stores.models import Stock, StoreNotification
from tests.marketing.factories import make_coupon

from .factories import checkout, pay

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def received():
    """Signals orders sent: [(name, kwargs)]."""
    got = []
    handlers = {}
    for name in ("order_paid", "order_completed", "order_cancelled", "order_refunded"):
        def handler(sender, name=name, **kwargs):
            got.append((name, kwargs))
        handlers[name] = handler
        getattr(signals, name).connect(handler, weak=False)
    yield got
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def stock(store, sku):
    row = Stock.objects.get(store=store, sku=sku)
    return row.on_hand, row.reserved


def test_paying_marks_paid_once_however_many_times_the_notice_comes(
    store, shopper, tea, manager, received, django_capture_on_commit_callbacks, notices
):
    order = checkout(shopper, store, [(tea, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        attempt, answer = pay(order)
        body, signature = dev.make_notice(attempt)
        for _ in range(5):
            assert handle_dev_notice(body, signature)[1]["result"] == "duplicate"
    order.refresh_from_db()
    assert answer["result"] == "paid" and order.status == Order.Status.PAID
    assert order.paid_amount == D("51.00") and len(order.pickup_code) == 6
    assert [name for name, _kw in received] == ["order_paid"]
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED).count() == 1
    # staff learn of it from the back office's new-order banner (which reads paid orders), not from
    # a notice per order that would fill the bell
    assert not StoreNotification.objects.filter(user=manager).exists()
    assert any(kind == "order_paid" and "自提码" in body for _u, _s, body, kind in notices)



def test_the_payment_log_is_append_only(store, shopper, tea):
    from django.core.exceptions import ValidationError

    order = checkout(shopper, store, [(tea, 1)])
    attempt, _answer = pay(order)
    event = PaymentEvent.objects.get(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED)
    before = list(PaymentEvent.objects.filter(order=order).values_list("id", "kind", "amount_fen", "detail"))
    event.amount_fen = 1
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    assert list(PaymentEvent.objects.filter(order=order).values_list("id", "kind", "amount_fen", "detail")) == before

def test_a_forged_or_altered_notice_changes_nothing(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    from orders.payments.services import start_payment

    attempt = start_payment(order, user=shopper, channel="dev")
    body, signature = dev.make_notice(attempt)
    assert handle_dev_notice(body.replace(b"SUCCESS", b"SUCCESS "), signature)[0] == 401
    assert handle_dev_notice(body, "0" * 64)[0] == 401
    assert handle_dev_notice(body, "")[0] == 401
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and not PaymentEvent.objects.exclude(kind="created").exists()


def test_a_notice_with_another_amount_is_recorded_and_never_marks_paid(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 1)])
    _attempt, answer = pay(order, amount_fen=1)
    assert answer["result"] == "amount_mismatch" and order.status == Order.Status.PENDING_PAYMENT
    assert PaymentEvent.objects.filter(kind=PaymentEvent.Kind.AMOUNT_MISMATCH).count() == 1
    assert StoreNotification.objects.filter(user=manager, kind="payment_mismatch").exists()


def test_cancel_gives_back_stock_coupon_and_points_once(store, shopper, tea, received,
                                                        django_capture_on_commit_callbacks):
    copy = issue_coupon(shopper, make_coupon(amount="5.00", threshold="20.00"), source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 500, "测试", None)
    order = checkout(shopper, store, [(tea, 2)], use_points=True)
    assert stock(store, tea) == (10, 2) and Member.objects.get(user=shopper).points_balance == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_order(order, by=shopper)
        services.cancel_order(order, by=shopper)
    order.refresh_from_db()
    copy.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and stock(store, tea) == (10, 0)
    assert copy.status == MemberCoupon.Status.UNUSED
    assert Member.objects.get(user=shopper).points_balance == 500
    assert [name for name, _kw in received] == ["order_cancelled"]


def test_a_paid_order_cannot_be_cancelled_by_the_shopper(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    with pytest.raises(OrderError) as caught:
        services.cancel_order(order, by=shopper)
    assert caught.value.code == Code.INVALID_TRANSITION


def test_another_shoppers_order_cannot_be_cancelled(store, shopper, tea):
    from .factories import make_shopper

    order = checkout(shopper, store, [(tea, 1)])
    with pytest.raises(OrderError) as caught:
        services.cancel_order(order, by=make_shopper())
    assert caught.value.code == Code.NOT_FOUND
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_the_worker_cancels_unpaid_orders_at_their_deadline(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    keep = checkout(shopper, store, [(tea, 1)])
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    assert services.cancel_overdue_orders() == 1
    assert services.cancel_overdue_orders() == 0
    order.refresh_from_db()
    keep.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and keep.status == Order.Status.PENDING_PAYMENT
    assert stock(store, tea) == (10, 1)


def test_payment_after_the_order_was_cancelled_is_refunded_not_revived(
    store, shopper, tea, manager, django_capture_on_commit_callbacks
):
    order = checkout(shopper, store, [(tea, 1)])
    from orders.payments.services import start_payment

    attempt = start_payment(order, user=shopper, channel="dev")
    services.cancel_order(order, by=None)
    body, signature = dev.make_notice(attempt)
    with django_capture_on_commit_callbacks(execute=True):
        status, answer = handle_dev_notice(body, signature)
    order.refresh_from_db()
    assert status == 200 and answer["result"] == "refunded"
    assert order.status == Order.Status.CANCELLED and order.paid_amount == D("0")
    refund = Refund.objects.get(order=order)
    assert refund.state == Refund.State.SUCCEEDED and refund.amount == D("25.50") and not refund.counts_for_order
    assert stock(store, tea) == (10, 0)
    assert StoreNotification.objects.filter(user=manager, kind="late_payment").exists()


def test_pickup_verified_over_two_visits_completes_with_points_and_sales(
    store, shopper, tea, nuts, manager, received, django_capture_on_commit_callbacks
):
    level = MemberLevel.objects.create(name="测试卡", rank=7, growth_threshold=99997, points_multiplier=D("1.50"))
    Member.objects.filter(user=shopper).update(level=level)
    order = checkout(shopper, store, [(tea, 2), (nuts, 1)])
    pay(order)
    services.mark_ready_for_pickup(order, by=manager)
    tea_line = order.lines.get(sku=tea)
    with django_capture_on_commit_callbacks(execute=True):
        order, _record = services.verify_pickup(store=store, code=order.pickup_code, by=manager,
                                                quantities={tea_line.pk: 1})
        assert order.status == Order.Status.READY_FOR_PICKUP and stock(store, tea) == (9, 1)
        order, _record = services.verify_pickup(store=store, code=order.pickup_code, by=manager)
    assert order.status == Order.Status.COMPLETED
    assert stock(store, tea) == (8, 0) and stock(store, nuts) == (9, 0)
    entry = PointsEntry.objects.get(kind=PointsEntry.Kind.PURCHASE, reference=order.reference)
    assert entry.delta == 91  # floor(61.00 x 1.5)
    assert GrowthEntry.objects.get(reference=order.reference).delta == 61
    assert Product.objects.get(pk=tea.product_id).sales_count == 2
    assert [name for name, _kw in received][-1] == "order_completed"
    with pytest.raises(OrderError):
        services.verify_pickup(store=store, code=order.pickup_code, by=manager)


def test_a_clerk_of_another_store_cannot_verify_or_ship(store, shopper, tea, other_store, other_manager):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    with pytest.raises(OrderError):
        services.verify_pickup(store=store, code=order.pickup_code, by=other_manager)
    with pytest.raises(OrderError):
        services.verify_pickup(store=other_store, code=order.pickup_code, by=other_manager)
    with pytest.raises(OrderError):
        services.mark_ready_for_pickup(order, by=other_manager)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and stock(store, tea) == (10, 1)


def test_verifying_more_than_is_left_is_refused(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 2)])
    pay(order)
    line = order.lines.get()
    for bad in ({line.pk: 3}, {line.pk: -1}, {line.pk: "²"}, {999999: 1}, {}):
        with pytest.raises(OrderError):
            services.verify_pickup(store=store, code=order.pickup_code, by=manager, quantities=bad)
    assert stock(store, tea) == (10, 2)


def test_express_shipped_then_confirmed_automatically(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    pay(order)
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890"), ("yunda", "YD99887766")])
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED and order.shipments.count() == 2
    assert stock(store, tea) == (8, 0)
    assert services.confirm_overdue_receipts() == 0
    Order.objects.filter(pk=order.pk).update(auto_confirm_at=timezone.now() - timedelta(minutes=1))
    assert services.confirm_overdue_receipts() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert OrderEvent.objects.filter(order=order, to_status="completed", actor_label="系统").exists()


def test_bad_parcels_are_refused(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    pay(order)
    for parcels in ([], [("nope", "SF1234567890")], [("shunfeng", "12")], [("shunfeng", "SF\x00123456")],
                    [("shunfeng", "SF1234567890"), ("shunfeng", "SF1234567890")]):
        with pytest.raises(OrderError):
            services.ship_order(order, by=manager, parcels=parcels)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_same_city_delivery_dispatched_and_delivered(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 1)], fulfilment="delivery")
    pay(order)
    with pytest.raises(OrderError):
        services.dispatch_delivery(order, by=manager, courier_name="李师傅", courier_phone="12")
    services.dispatch_delivery(order, by=manager, courier_name="李师傅", courier_phone="13900001111")
    order = services.mark_delivered(order, by=manager)
    assert order.status == Order.Status.COMPLETED and stock(store, tea) == (9, 0)


def test_staff_change_the_price_before_payment_and_pay_the_new_amount(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 2)])
    from orders.payments.services import start_payment

    first = start_payment(order, user=shopper, channel="dev")
    services.change_price(order, by=manager, goods_adjustment="-1.00", reason="老顾客优惠")
    order.refresh_from_db()
    assert order.pay_amount == D("50.00") and sum(line.paid_amount for line in order.lines.all()) == D("50.00")
    second = start_payment(order, user=shopper, channel="dev")
    assert second.out_trade_no != first.out_trade_no and second.amount_fen == 5000
    first.refresh_from_db()
    assert first.close_requested or first.state == PaymentAttempt.State.CLOSED
    with pytest.raises(OrderError):
        services.change_price(order, by=manager, goods_adjustment="-51.00", reason="太多")
    with pytest.raises(OrderError):
        services.change_price(order, by=manager, goods_adjustment="-1.00", reason="")


def test_paying_the_old_amount_after_a_price_change_is_refunded(
    store, shopper, tea, manager, django_capture_on_commit_callbacks
):
    order = checkout(shopper, store, [(tea, 1)])
    from orders.payments.services import start_payment

    old = start_payment(order, user=shopper, channel="dev")
    services.change_price(order, by=manager, goods_adjustment="-0.50", reason="改价")
    with django_capture_on_commit_callbacks(execute=True):
        status, answer = handle_dev_notice(*dev.make_notice(old))
    assert Refund.objects.get(attempt=old).state == Refund.State.SUCCEEDED
    order.refresh_from_db()
    assert answer["result"] == "refunded" and order.status == Order.Status.PENDING_PAYMENT
    _attempt, answer = pay(order)
    assert answer["result"] == "paid" and order.paid_amount == D("25.00")


def test_the_buyer_cannot_confirm_a_pickup_the_store_has_not_handed_over(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    services.mark_ready_for_pickup(order, by=manager)
    with pytest.raises(OrderError):
        services.complete_order(order, by=shopper)
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP


def test_reorder_puts_the_lines_back_in_the_cart_and_names_what_is_gone(store, shopper, tea, nuts):
    from orders.models import Cart

    order = checkout(shopper, store, [(tea, 2), (nuts, 1)])
    nuts.product.status = "delisted"
    nuts.product.save()
    cart = Cart.objects.create(user=shopper)
    added, skipped = services.reorder(order, cart)
    assert added == ["龙井茶"] and skipped == ["每日坚果"]
    assert list(cart.lines.values_list("sku_id", "quantity")) == [(tea.pk, 2)]


def test_the_shopper_is_told_of_shipping_delivery_pickup_and_refunds(
    store, shopper, tea, manager, django_capture_on_commit_callbacks, notices
):
    def told(kind):
        return [body for _u, _s, body, k in notices if k == kind]

    shipped = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    delivered = checkout(shopper, store, [(tea, 1)], fulfilment="delivery")
    picked = checkout(shopper, store, [(tea, 1)])
    for order in (shipped, delivered, picked):
        pay(order)
    with django_capture_on_commit_callbacks(execute=True):
        services.ship_order(shipped, by=manager, parcels=[("shunfeng", "SF1234567890")])
        services.dispatch_delivery(delivered, by=manager, courier_name="李师傅", courier_phone="13900139000")
        services.mark_ready_for_pickup(picked, by=manager)
    picked.refresh_from_db()
    assert [body for body in told("order_shipped") if shipped.number in body and "SF1234567890" in body]
    assert [body for body in told("order_dispatched") if delivered.number in body and "李师傅" in body]
    assert [body for body in told("order_ready_for_pickup")
            if picked.number in body and picked.pickup_code in body and store.name in body]

    after_sale = services.request_after_sale(
        shipped, user=shopper, kind=AfterSale.Kind.RETURN_REFUND, reason=AfterSale.Reason.NOT_WANTED,
        request_id=uuid.uuid4().hex)
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_after_sale(after_sale, by=manager, reason="商品已拆封")
    assert [body for body in told("order_after_sale") if shipped.number in body and "商品已拆封" in body]

    refunded = checkout(shopper, store, [(tea, 1)])
    pay(refunded)
    after_sale = services.request_after_sale(
        refunded, user=shopper, kind=AfterSale.Kind.REFUND_ONLY, reason=AfterSale.Reason.NOT_WANTED,
        request_id=uuid.uuid4().hex)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_after_sale(after_sale, by=manager)
    assert [body for body in told("order_refunded") if refunded.number in body and "25.50" in body]


def test_order_refunded_is_sent_after_the_commit_with_the_amount_per_line(
    store, shopper, tea, nuts, manager, received, django_capture_on_commit_callbacks
):
    order = checkout(shopper, store, [(tea, 3), (nuts, 2)], fulfilment="express")
    pay(order)
    tea_line, nuts_line = order.lines.get(sku=tea), order.lines.get(sku=nuts)
    after_sale = services.request_after_sale(
        order, user=shopper, kind=AfterSale.Kind.REFUND_ONLY, reason=AfterSale.Reason.NOT_WANTED,
        quantities={tea_line.pk: 1, nuts_line.pk: 1}, request_id=uuid.uuid4().hex)
    received.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.approve_after_sale(after_sale, by=manager)
    assert received == []  # nothing before the commit
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    refunds = [kw for name, kw in received if name == "order_refunded"]
    assert len(refunds) == 1
    sent = refunds[0]
    tea_line.refresh_from_db()
    nuts_line.refresh_from_db()
    assert sent["order"].pk == order.pk and sent["refund"].state == Refund.State.SUCCEEDED
    assert sent["lines"] == {tea_line.pk: tea_line.refunded_amount, nuts_line.pk: nuts_line.refunded_amount}
    assert tea_line.refunded_amount > 0 and nuts_line.refunded_amount > 0
    assert sum(sent["lines"].values()) == sent["refund"].amount


def test_completion_earns_with_the_multiplier_of_the_time_of_payment(
    store, shopper, tea, manager, django_capture_on_commit_callbacks
):
    double = MemberLevel.objects.create(name="双倍卡", rank=7, growth_threshold=99997, points_multiplier=D("2.00"))
    triple = MemberLevel.objects.create(name="三倍卡", rank=8, growth_threshold=99998, points_multiplier=D("3.00"))
    Member.objects.filter(user=shopper).update(level=None)
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    Member.objects.filter(user=shopper).update(level=double)  # the level when the order is paid
    pay(order)
    assert order.points_multiplier == D("2.00")
    Member.objects.filter(user=shopper).update(level=triple)  # moved up between payment and receipt
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF2234567890")])
    with django_capture_on_commit_callbacks(execute=True):
        services.complete_order(order, by=shopper)
    assert PointsEntry.objects.get(kind=PointsEntry.Kind.PURCHASE, reference=order.reference).delta == 102  # 51 x 2


def test_the_pay_deadline_and_the_automatic_receipt_follow_their_settings(store, shopper, tea, manager, settings):
    assert (settings.ORDER_PAY_TIMEOUT_MINUTES, settings.ORDER_AUTO_CONFIRM_DAYS) == (30, 7)  # the defaults
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    assert abs(order.pay_deadline - order.created_at - timedelta(minutes=30)) < timedelta(seconds=5)
    pay(order)
    before = timezone.now()
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])
    order.refresh_from_db()
    assert before + timedelta(days=7) <= order.auto_confirm_at <= timezone.now() + timedelta(days=7)

    settings.ORDER_PAY_TIMEOUT_MINUTES, settings.ORDER_AUTO_CONFIRM_DAYS = 15, 10
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    assert abs(order.pay_deadline - order.created_at - timedelta(minutes=15)) < timedelta(seconds=5)
    pay(order)
    before = timezone.now()
    services.ship_order(order, by=manager, parcels=[("yunda", "YD99887766")])
    order.refresh_from_db()
    assert before + timedelta(days=10) <= order.auto_confirm_at <= timezone.now() + timedelta(days=10)
