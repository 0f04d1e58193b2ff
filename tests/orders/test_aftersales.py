"""After-sales and refunds: amounts from the stored lines, stock, points and coupons follow the
written rules (orders/services/aftersales.py), and refunded never exceeds paid."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from catalog.models import Product
from marketing.models import MemberCoupon
from marketing.services import issue_coupon
from members.models import Member, PointsEntry
from members.services import adjust_points, spend_points
from orders import services
from orders.errors import Code, OrderError
from orders.models import AfterSale, Order, OrderLine, PaymentAttempt, Refund
from orders.payments.services import create_refund, refund_failed
from stores.models import Stock
from tests.marketing.factories import make_coupon

from .factories import checkout, make_sku, pay

pytestmark = pytest.mark.django_db
D = Decimal


def stock(store, sku):
    row = Stock.objects.get(store=store, sku=sku)
    return row.on_hand, row.reserved


def ask(order, user, *, kind=AfterSale.Kind.REFUND_ONLY, quantities=None, **extra):
    return services.request_after_sale(order, user=user, kind=kind, reason=AfterSale.Reason.NOT_WANTED,
                                       quantities=quantities, request_id=uuid.uuid4().hex, **extra)


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    """`with worker():` runs what would be handed to the worker on commit (the refund task) when the
    block ends, as a committed transaction would (tasks run eagerly in tests)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_refund_only_before_shipping_releases_stock_points_and_coupon_and_closes(
    store, shopper, tea, manager, worker
):
    copy = issue_coupon(shopper, make_coupon(amount="5.00", threshold="20.00"), source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 800, "测试", None)
    order = checkout(shopper, store, [(tea, 2)], use_points=True)
    pay(order)
    after_sale = ask(order, shopper)
    assert after_sale.amount == order.paid_amount
    with worker():
        services.approve_after_sale(after_sale, by=manager)
    order.refresh_from_db()
    after_sale.refresh_from_db()
    copy.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED
    assert order.status == Order.Status.CLOSED and order.refunded_amount == order.paid_amount
    assert stock(store, tea) == (10, 0)
    assert Member.objects.get(user=shopper).points_balance == 800
    assert copy.status == MemberCoupon.Status.UNUSED  # whole order back before anything left the store


def test_partial_refund_keeps_every_total_right(store, shopper, tea, nuts, manager, worker):
    order = checkout(shopper, store, [(tea, 3), (nuts, 2)], fulfilment="express")
    pay(order)
    tea_line = order.lines.get(sku=tea)
    after_sale = ask(order, shopper, quantities={tea_line.pk: 1})
    assert after_sale.amount == D("25.50") and not after_sale.includes_delivery_fee
    with worker():
        services.approve_after_sale(after_sale, by=manager)
    order.refresh_from_db()
    tea_line.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == D("25.50")
    assert (tea_line.refunded_quantity, tea_line.released_quantity, tea_line.held_quantity) == (1, 1, 2)
    assert stock(store, tea) == (10, 2)
    services.ship_order(order, by=manager, parcels=[("zhongtong", "ZT123456789")])
    assert stock(store, tea) == (8, 0) and stock(store, nuts) == (8, 0)
    lines = OrderLine.objects.filter(order=order)
    assert sum((line.paid_amount - line.refunded_amount for line in lines), D(0)) + order.delivery_fee \
        == order.paid_amount - order.refunded_amount


def test_return_after_completion_claws_back_points_and_restocks(store, shopper, tea, manager, worker):
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    pay(order)
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF0000111122")])
    with worker():
        services.complete_order(order, by=shopper)
    earned = PointsEntry.objects.get(kind=PointsEntry.Kind.PURCHASE, reference=order.reference).delta
    assert earned == 51 and Product.objects.get(pk=tea.product_id).sales_count == 2
    spend_points(shopper.member, 51, PointsEntry.Kind.EXCHANGE, "mall:test")  # spent already
    line = order.lines.get()
    after_sale = ask(order, shopper, kind=AfterSale.Kind.RETURN_REFUND, quantities={line.pk: 1})
    services.approve_after_sale(after_sale, by=manager)
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.AWAITING_RETURN
    services.submit_return(after_sale, user=shopper, carrier_code="yunda", tracking_no="YD1234567")
    with worker():
        services.confirm_return(after_sale, by=manager)
    order.refresh_from_db()
    assert order.refunded_amount == D("25.50") and order.status == Order.Status.COMPLETED
    assert stock(store, tea) == (9, 0)  # the returned unit is back on the shelf
    member = Member.objects.get(user=shopper)
    assert member.points_balance == -25  # floor(51 x 25.50 / 51.00) clawed back, after spending
    assert Product.objects.get(pk=tea.product_id).sales_count == 1


@pytest.mark.parametrize("completed", [False, True])
def test_every_unit_returned_closes_the_order_though_the_delivery_fee_is_kept(
    store, shopper, tea, manager, worker, completed
):
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    pay(order)
    assert order.delivery_fee > 0
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF0000111144")])
    if completed:
        with worker():
            services.complete_order(order, by=shopper)
    line = order.lines.get()
    after_sale = ask(order, shopper, kind=AfterSale.Kind.RETURN_REFUND, quantities={line.pk: 2})
    assert not after_sale.includes_delivery_fee  # the goods left the store: the fee stays
    services.approve_after_sale(after_sale, by=manager)
    services.submit_return(after_sale, user=shopper, carrier_code="yunda", tracking_no="YD7654321")
    with worker():
        services.confirm_return(after_sale, by=manager)
    order.refresh_from_db()
    assert order.refunded_amount == order.paid_amount - order.delivery_fee
    assert order.status == Order.Status.CLOSED and order.closed_at is not None
    assert stock(store, tea) == (10, 0)
    assert order.events.filter(to_status=Order.Status.CLOSED).count() == 1
    ok, _why = services.can_request(order)
    assert not ok  # nothing is left to ask after


def test_after_sale_window_closes_days_after_completion(store, shopper, tea, manager, settings):
    settings.ORDER_AFTER_SALE_DAYS = 7
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    pay(order)
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF0000111133")])
    services.complete_order(order, by=shopper)
    Order.objects.filter(pk=order.pk).update(completed_at=timezone.now() - timedelta(days=8))
    with pytest.raises(OrderError) as caught:
        ask(order, shopper)
    assert caught.value.code == Code.WINDOW_CLOSED
    assert not AfterSale.objects.exists()


def test_a_second_open_request_and_more_than_bought_are_refused(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 2)])
    pay(order)
    line = order.lines.get()
    for bad in ({line.pk: 3}, {line.pk: -1}, {line.pk: "1.5"}, {line.pk: "²"}, {"x": 1}, {999999: 1}):
        with pytest.raises(OrderError):
            ask(order, shopper, quantities=bad)
    ask(order, shopper, quantities={line.pk: 1})
    with pytest.raises(OrderError):
        ask(order, shopper, quantities={line.pk: 1})
    assert AfterSale.objects.count() == 1


def test_the_same_request_form_twice_is_one_request(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    kwargs = dict(user=shopper, kind=AfterSale.Kind.REFUND_ONLY, reason=AfterSale.Reason.OTHER, request_id="form-1")
    first = services.request_after_sale(order, **kwargs)
    again = services.request_after_sale(order, **kwargs)
    assert first.pk == again.pk


def test_return_refund_of_goods_not_yet_shipped_is_refused(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)], fulfilment="express")
    pay(order)
    with pytest.raises(OrderError):
        ask(order, shopper, kind=AfterSale.Kind.RETURN_REFUND)


def test_staff_of_another_store_cannot_approve(store, shopper, tea, other_manager):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    after_sale = ask(order, shopper)
    with pytest.raises(OrderError):
        services.approve_after_sale(after_sale, by=other_manager)
    with pytest.raises(OrderError):
        services.reject_after_sale(after_sale, by=other_manager, reason="不行")
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REQUESTED and not Refund.objects.exists()


def test_reject_needs_a_reason_and_approving_twice_refunds_once(store, shopper, tea, manager, worker):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    after_sale = ask(order, shopper)
    with pytest.raises(OrderError):
        services.reject_after_sale(after_sale, by=manager, reason=" ")
    with worker():
        services.approve_after_sale(after_sale, by=manager)
        services.approve_after_sale(after_sale, by=manager)
    assert Refund.objects.filter(order=order).count() == 1


def test_refunds_can_never_exceed_what_was_paid(store, shopper, tea, manager):
    order = checkout(shopper, store, [(tea, 2)])
    pay(order)
    order = services.lock_order(order)
    create_refund(order, amount="30.00", cause=Refund.Cause.AFTER_SALE)
    with pytest.raises(OrderError):
        create_refund(order, amount="21.01", cause=Refund.Cause.AFTER_SALE)
    attempt = PaymentAttempt.objects.get(order=order)
    assert attempt.refund_committed_fen == 3000
    with pytest.raises(IntegrityError):
        PaymentAttempt.objects.filter(pk=attempt.pk).update(refund_committed_fen=5101)


def test_a_failed_refund_gives_the_amount_back_and_staff_can_retry(store, shopper, tea, manager, monkeypatch):
    order = checkout(shopper, store, [(tea, 1)])
    pay(order)
    after_sale = ask(order, shopper)
    services.approve_after_sale(after_sale, by=manager)  # the refund task is not run (no on_commit here)
    refund = Refund.objects.get()
    refund_failed(refund.pk)
    attempt = PaymentAttempt.objects.get(order=order)
    assert attempt.refund_committed_fen == 0
    second = services.retry_after_sale_refund(after_sale, by=manager)
    assert second.pk != refund.pk and second.out_refund_no != refund.out_refund_no


def test_staff_cancel_a_paid_order_refunds_everything_with_the_fee(store, shopper, tea, manager, worker):
    order = checkout(shopper, store, [(tea, 1)], fulfilment="delivery")
    pay(order)
    with pytest.raises(OrderError):
        services.staff_cancel_paid_order(order, by=manager, reason="")
    with worker():
        refund = services.staff_cancel_paid_order(order, by=manager, reason="门店缺货")
    order.refresh_from_db()
    assert refund.amount == D("30.50") and refund.includes_delivery_fee
    assert order.status == Order.Status.CLOSED and stock(store, tea) == (10, 0)


def test_a_refund_after_completion_claws_back_only_its_share_of_what_earned_points(
    store, shopper, tea, nuts, manager, worker
):
    order = checkout(shopper, store, [(tea, 2), (nuts, 5)], fulfilment="express")  # 51.00 + 50.00
    pay(order)
    nuts_line = order.lines.get(sku=nuts)
    with worker():
        services.approve_after_sale(ask(order, shopper, quantities={nuts_line.pk: 4}), by=manager)  # 40 back
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF7777666655")])
    with worker():
        services.complete_order(order, by=shopper)
    order.refresh_from_db()
    assert order.completed_goods_amount == D("61.00")
    assert PointsEntry.objects.get(kind=PointsEntry.Kind.PURCHASE, reference=order.reference).delta == 61
    tea_line = order.lines.get(sku=tea)
    with worker():
        after_sale = ask(order, shopper, kind=AfterSale.Kind.RETURN_REFUND, quantities={tea_line.pk: 1})
        services.approve_after_sale(after_sale, by=manager)
        services.submit_return(after_sale, user=shopper, carrier_code="yunda", tracking_no="YD7654321")
        services.confirm_return(after_sale, by=manager)
    clawed = PointsEntry.objects.get(kind=PointsEntry.Kind.CLAWBACK)
    assert clawed.delta == -25  # 25.50 of the 61.00 kept: floor(61 x 25.50 / 61.00) = 25, not 40 % more


def test_refunding_every_yuan_but_not_a_free_gift_keeps_the_order_open(store, shopper, tea, manager, worker):
    gift = make_sku("赠品", price="0.00", stock=5, store=store)
    order = checkout(shopper, store, [(tea, 1), (gift, 1)])  # pickup: no delivery fee
    pay(order)
    tea_line = order.lines.get(sku=tea)
    with worker():
        services.approve_after_sale(ask(order, shopper, quantities={tea_line.pk: 1}), by=manager)
    order.refresh_from_db()
    assert order.refunded_amount == order.paid_amount  # every yuan back, the gift still due
    assert order.status == Order.Status.PAID and stock(store, gift) == (5, 1)
    order, _record = services.verify_pickup(store=store, code=order.pickup_code, by=manager)
    assert order.status == Order.Status.COMPLETED and stock(store, gift) == (4, 0)
    from orders.checks import check_orders

    assert [str(p) for p in check_orders()] == []
