"""`manage.py check_orders`: clean after a realistic mix made through the services, and every kind
of damage (made here by raw UPDATEs, as a bug or a hand edit would) is reported, naming the order,
with exit status 1."""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F

from orders import services
from orders.checks import check_orders
from orders.models import AfterSale, Order, OrderLine, PaymentAttempt, Refund
from stores.models import Stock, StockReservation
from stores.services import reserve_lines

from .factories import checkout, pay

pytestmark = pytest.mark.django_db


@dataclass
class Mix:
    picked_up: Order  # pickup collected in two visits: completed
    refunded_then_shipped: Order  # express, 1 unit refunded before shipping, shipped, confirmed: completed
    cancelled: Order
    pending: Order
    closed: Order  # paid, then the store cancelled it: refunded in full
    delivering: Order
    partly_picked: Order  # pickup, one unit collected, one still held


@pytest.fixture
def mix(store, shopper, tea, nuts, manager, django_capture_on_commit_callbacks):
    def worker():
        return django_capture_on_commit_callbacks(execute=True)

    picked_up = checkout(shopper, store, [(tea, 2), (nuts, 1)])
    pay(picked_up)
    services.mark_ready_for_pickup(picked_up, by=manager)
    tea_line = picked_up.lines.get(sku=tea)
    with worker():
        services.verify_pickup(store=store, code=picked_up.pickup_code, by=manager, quantities={tea_line.pk: 1})
        services.verify_pickup(store=store, code=picked_up.pickup_code, by=manager)

    refunded = checkout(shopper, store, [(tea, 3), (nuts, 2)], fulfilment="express")
    pay(refunded)
    asked = services.request_after_sale(
        refunded, user=shopper, kind=AfterSale.Kind.REFUND_ONLY, reason=AfterSale.Reason.NOT_WANTED,
        quantities={refunded.lines.get(sku=tea).pk: 1}, request_id=uuid.uuid4().hex,
    )
    with worker():
        services.approve_after_sale(asked, by=manager)
    services.ship_order(refunded, by=manager, parcels=[("shunfeng", "SF1234567890")])
    with worker():
        services.complete_order(refunded, by=shopper)

    cancelled = checkout(shopper, store, [(tea, 1)])
    services.cancel_order(cancelled, by=shopper)
    pending = checkout(shopper, store, [(tea, 1), (nuts, 1)])

    closed = checkout(shopper, store, [(nuts, 1)])
    pay(closed)
    with worker():
        services.staff_cancel_paid_order(closed, by=manager, reason="门店缺货")

    delivering = checkout(shopper, store, [(nuts, 2), (tea, 1)], fulfilment="delivery")
    pay(delivering)
    services.dispatch_delivery(delivering, by=manager, courier_name="李师傅", courier_phone="13900001111")

    partly = checkout(shopper, store, [(nuts, 2)])
    pay(partly)
    with worker():
        services.verify_pickup(store=store, code=partly.pickup_code, by=manager,
                               quantities={partly.lines.get().pk: 1})

    mix = Mix(picked_up, refunded, cancelled, pending, closed, delivering, partly)
    for order in vars(mix).values():
        order.refresh_from_db()
    return mix


def test_the_mix_is_what_it_claims(mix):
    """The fixture really made every state (a check that finds nothing in an empty mix proves nothing)."""
    assert mix.picked_up.status == Order.Status.COMPLETED
    assert mix.refunded_then_shipped.status == Order.Status.COMPLETED
    assert mix.refunded_then_shipped.refunded_amount == Decimal("25.50")
    assert mix.cancelled.status == Order.Status.CANCELLED
    assert mix.pending.status == Order.Status.PENDING_PAYMENT
    assert mix.closed.status == Order.Status.CLOSED and mix.closed.refunded_amount == mix.closed.paid_amount
    assert mix.delivering.status == Order.Status.DELIVERING
    assert mix.partly_picked.status == Order.Status.PAID
    assert mix.partly_picked.lines.get().held_quantity == 1


def test_clean_after_a_realistic_mix(mix):
    assert check_orders() == []
    out = StringIO()
    call_command("check_orders", stdout=out)
    assert "所有订单核对无误" in out.getvalue()


def test_small_batches_read_the_same(mix):
    assert check_orders(batch_size=2) == []


def _line(order, **filters):
    return OrderLine.objects.filter(order=order, **filters).order_by("pk").first()


def _reservation(order, sku):
    return StockReservation.objects.get(reference=order.reference, stock__sku=sku)


# each: (what is damaged, which order the report must name, a phrase of the report)
def goods_amount(mix, tea, nuts):
    Order.objects.filter(pk=mix.pending.pk).update(goods_amount=F("goods_amount") + 1)
    return mix.pending, "商品金额"


def line_paid_amount(mix, tea, nuts):
    OrderLine.objects.filter(pk=_line(mix.picked_up, sku=tea).pk).update(paid_amount=F("paid_amount") - 1)
    return mix.picked_up, "实付"


def order_discount(mix, tea, nuts):
    Order.objects.filter(pk=mix.delivering.pk).update(member_discount=Decimal("3.00"))
    return mix.delivering, "会员折扣"


def pay_amount(mix, tea, nuts):
    Order.objects.filter(pk=mix.pending.pk).update(pay_amount=F("pay_amount") + Decimal("0.01"))
    return mix.pending, "应付"


def paid_amount(mix, tea, nuts):
    Order.objects.filter(pk=mix.delivering.pk).update(paid_amount=F("paid_amount") + 1)
    return mix.delivering, "支付单"


def unpaid_with_money(mix, tea, nuts):
    Order.objects.filter(pk=mix.cancelled.pk).update(paid_amount=Decimal("5.00"))
    return mix.cancelled, "未付款"


def payment_not_counted(mix, tea, nuts):
    PaymentAttempt.objects.filter(order=mix.picked_up).update(is_order_payment=False)
    return mix.picked_up, "计入订单的支付单有 0 笔"


def refunded_amount(mix, tea, nuts):
    Order.objects.filter(pk=mix.refunded_then_shipped.pk).update(refunded_amount=F("refunded_amount") - 1)
    return mix.refunded_then_shipped, "已退款"


def refund_lost(mix, tea, nuts):
    Refund.objects.filter(order=mix.refunded_then_shipped).update(state=Refund.State.FAILED)
    return mix.refunded_then_shipped, "已退款"


def line_refunded_quantity(mix, tea, nuts):
    OrderLine.objects.filter(pk=_line(mix.refunded_then_shipped, sku=tea).pk).update(refunded_quantity=2)
    return mix.refunded_then_shipped, "已退 2 件"


def committed_refund(mix, tea, nuts):
    PaymentAttempt.objects.filter(order=mix.closed).update(refund_committed_fen=F("refund_committed_fen") - 100)
    return mix.closed, "已申请退款"


def closed_not_refunded(mix, tea, nuts):
    Order.objects.filter(pk=mix.closed.pk).update(refunded_amount=F("refunded_amount") - Decimal("0.01"))
    return mix.closed, "已关闭订单只退款"


def pending_holds_more(mix, tea, nuts):
    StockReservation.objects.filter(pk=_reservation(mix.pending, tea).pk).update(quantity=2)
    return mix.pending, "应占用库存 1 件，预留记录占用 2 件"


def cancelled_still_holds(mix, tea, nuts):
    StockReservation.objects.filter(pk=_reservation(mix.cancelled, tea).pk).update(released=0, state="held")
    Stock.objects.filter(sku=tea).update(reserved=F("reserved") + 1)
    return mix.cancelled, "应占用库存 0 件，预留记录占用 1 件"


def open_line_not_held(mix, tea, nuts):
    OrderLine.objects.filter(pk=_line(mix.partly_picked).pk).update(fulfilled_quantity=0)
    return mix.partly_picked, "应占用库存 2 件，预留记录占用 1 件"


def delivering_left_in_store(mix, tea, nuts):
    OrderLine.objects.filter(pk=_line(mix.delivering, sku=nuts).pk).update(fulfilled_quantity=1)
    return mix.delivering, "仍有 1 件未出库"


def completed_left_in_store(mix, tea, nuts):
    OrderLine.objects.filter(pk=_line(mix.picked_up, sku=nuts).pk).update(fulfilled_quantity=0)
    return mix.picked_up, "仍有 1 件未出库"


def pending_already_handed_over(mix, tea, nuts):
    OrderLine.objects.filter(pk=_line(mix.pending, sku=nuts).pk).update(fulfilled_quantity=1)
    return mix.pending, "出库或退款数量"


def completed_without_time(mix, tea, nuts):
    Order.objects.filter(pk=mix.picked_up.pk).update(completed_at=None)
    return mix.picked_up, "完成时间"


DAMAGE = [
    goods_amount, line_paid_amount, order_discount, pay_amount, paid_amount, unpaid_with_money,
    payment_not_counted, refunded_amount, refund_lost, line_refunded_quantity, committed_refund,
    closed_not_refunded, pending_holds_more, cancelled_still_holds, open_line_not_held, delivering_left_in_store,
    completed_left_in_store, pending_already_handed_over, completed_without_time,
]


class Undo(Exception):
    """Raised to roll one damage back before the next is made."""


def _reported(damage, mix, tea, nuts):
    """What is wrong with the report of one damage (empty: reported as it should be)."""
    order, phrase = damage(mix, tea, nuts)
    problems = check_orders()
    named = [p for p in problems if p.order == order.number]
    if not any(phrase in p.message for p in named):
        return f"{damage.__name__}: no problem of {order.number} says {phrase!r}: {problems}"
    others = {p.order for p in problems if p.order} - {order.number}
    if others:
        return f"{damage.__name__}: only {order.number} was damaged, yet {sorted(others)} reported: {problems}"
    out = StringIO()
    try:
        call_command("check_orders", stdout=out)
    except CommandError as failed:
        if failed.returncode != 1:
            return f"{damage.__name__}: exit status {failed.returncode}"
    else:
        return f"{damage.__name__}: the command exited 0"
    if order.number not in out.getvalue() or phrase not in out.getvalue() or "所有订单核对无误" in out.getvalue():
        return f"{damage.__name__}: the command printed {out.getvalue()!r}"
    return ""


def test_each_kind_of_damage_is_reported_naming_the_order(mix, tea, nuts):
    """One mix, each damage made and rolled back in turn (a savepoint), so they never mask each other."""
    failures = []
    for damage in DAMAGE:
        try:
            with transaction.atomic():
                failures.append(_reported(damage, mix, tea, nuts))
                raise Undo
        except Undo:
            pass
        assert check_orders() == [], f"{damage.__name__} was not rolled back"
    assert not any(failures), "\n".join(f for f in failures if f)


def test_a_stock_row_out_of_step_with_its_reservations_is_reported(mix, store, tea):
    Stock.objects.filter(store=store, sku=tea).update(reserved=F("reserved") + 3)
    problems = check_orders()
    assert [p.order for p in problems] == [""]
    assert tea.code in problems[0].message and "预留记录合计" in problems[0].message


def test_units_held_for_an_order_that_does_not_exist_are_reported(mix, store, tea):
    reserve_lines(store, [(tea, 1)], reference="order:20990101000000")
    problems = check_orders()
    messages = " ".join(p.message for p in problems)
    assert "order:20990101000000" in messages and "没有这个订单" in messages
    assert "未完成订单的商品仍占用" in messages  # the stock row's order holds no longer match the open orders


def test_exit_status_for_ops(mix, tea):
    """What ops see: problems on stdout, a non-zero exit; the clean run exits 0."""
    call_command("check_orders", stdout=StringIO())  # no exception: exit status 0
    OrderLine.objects.filter(pk=_line(mix.pending, sku=tea).pk).update(member_discount=Decimal("1.00"))
    out = StringIO()
    with pytest.raises(CommandError, match="发现"):
        call_command("check_orders", stdout=out)
    assert mix.pending.number in out.getvalue()
