"""Cancelling before payment, completing, staff price changes and remarks, and the timed jobs
(cancel unpaid orders at their deadline, confirm receipt N days after shipping).

Each timed job handles every due order in its own transaction, so one failure does not hold back
the rest, and is idempotent: a job run twice, or overlapping itself, changes each order once (the
conditional UPDATE of `transition` lets only one of them through)."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.services import add_sales
from core.money import ZERO, to_money
from marketing.services import restore_coupon
from members.services import earn_for_completed_order, refund_points
from stores.services import release_reserved

from .. import pricing
from ..errors import Code, OrderError
from ..models import AfterSale, Order, OrderEvent, OrderLine, PaymentAttempt
from ..signals import order_cancelled, order_completed
from .base import SYSTEM, lock_order, logger, record_event, send_on_commit, setting, transition


def _owned(order, user):
    if user is not None and user != SYSTEM and not getattr(user, "is_staff", False) and order.user_id != user.pk:
        raise OrderError(_("订单不存在"), code=Code.NOT_FOUND)


def require_store_staff(order, by, permission=None):
    """Staff may act only on their own stores' orders (HQ on all), with the model permission."""
    from stores.scope import user_can_work_on

    if by is None or by == SYSTEM:
        return
    if not (getattr(by, "is_staff", False) and user_can_work_on(by, order.store_id)):
        raise OrderError(_("订单不存在"), code=Code.NOT_FOUND)
    if permission and not by.has_perm(permission):
        raise OrderError(_("您没有执行此操作的权限"), code=Code.FORBIDDEN)


# --- cancel -----------------------------------------------------------------------------------
@transaction.atomic
def cancel_order(order, *, by=None, reason="", now=None):
    """Cancel an unpaid order: the stock, the coupon and the points come back under the order's
    reference. `by` is the buyer, a staff member of its store, or None for the worker (deadline).
    Cancelling a cancelled order returns it unchanged; a paid one cannot be cancelled here (that is
    a refund)."""
    now = now or timezone.now()
    order = lock_order(order)
    _owned(order, by)
    if getattr(by, "is_staff", False) and by.pk != order.user_id:
        require_store_staff(order, by, "orders.change_order")
        if not (reason or "").strip():
            raise OrderError(_("请填写取消原因"), code=Code.REASON_REQUIRED)
    if order.status == Order.Status.CANCELLED:
        return order
    if order.status != Order.Status.PENDING_PAYMENT:
        raise OrderError(_("订单已付款，不能直接取消，请申请退款"), code=Code.INVALID_TRANSITION)
    reason = (reason or "").strip()[:200] or (_("超时未支付") if by is None else _("买家取消"))
    transition(order, Order.Status.CANCELLED, by=by, note=reason, cancel_reason=reason, cancelled_at=now)
    release_reserved(order.reference, by=by if getattr(by, "pk", None) else None, note=reason)
    if order.member_coupon_id:
        restore_coupon(order.member_coupon, reference=order.reference, now=now)
    if order.points_used:
        refund_points(order.user.member, order.points_used, order.reference,
                      reason=_("订单 %(no)s 取消，退回积分") % {"no": order.number})
    PaymentAttempt.objects.filter(order=order, state=PaymentAttempt.State.PENDING).update(close_requested=True)
    send_on_commit(order_cancelled, order=order, reason=reason)
    _close_trades_on_commit(order)
    return order


def _close_trades_on_commit(order):
    from .. import tasks
    from .base import enqueue_on_commit

    if PaymentAttempt.objects.filter(order=order, close_requested=True).exists():
        enqueue_on_commit(tasks.close_payment_attempts)


def cancel_overdue_orders(now=None):
    """The worker's sweep: cancel every unpaid order past its pay deadline. Returns how many."""
    now = now or timezone.now()
    due = list(
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT, pay_deadline__lte=now)
        .order_by("pay_deadline", "pk").values_list("pk", flat=True)[:1000]
    )
    cancelled = 0
    for pk in due:
        try:
            order = cancel_order(pk, by=None, now=now)
        except OrderError:
            continue  # paid meanwhile: nothing to do
        except Exception:
            logger.exception("could not cancel overdue order %s", pk)
            continue
        cancelled += order.status == Order.Status.CANCELLED
    return cancelled


# --- complete ---------------------------------------------------------------------------------
def _goods_kept(order):
    """What the buyer finally paid for the goods: paid minus refunded, per line, summed."""
    rows = OrderLine.objects.filter(order=order).values_list("paid_amount", "refunded_amount")
    return sum((paid - refunded for paid, refunded in rows), ZERO)


@transaction.atomic
def complete_order(order, *, by=None, note="", now=None):
    """Received (confirmed by the buyer, delivered, or confirmed by the worker N days after
    shipping) or fully picked up: the order completes, points and growth are credited (with the
    level multiplier of the time of payment) and the products' sales counts go up. Idempotent:
    completing a completed order returns it."""
    now = now or timezone.now()
    order = lock_order(order)
    _owned(order, by)
    if order.status == Order.Status.COMPLETED:
        return order
    if order.status not in (Order.Status.SHIPPED, Order.Status.DELIVERING, Order.Status.READY_FOR_PICKUP,
                            Order.Status.PAID):
        raise OrderError(_("订单当前状态不能确认收货"), code=Code.INVALID_TRANSITION)
    buyer = by is not None and by != SYSTEM and not getattr(by, "is_staff", False)
    if buyer and order.status not in (Order.Status.SHIPPED, Order.Status.DELIVERING):
        # a pickup completes when the store hands the goods over, not on the buyer's word
        raise OrderError(_("订单当前状态不能确认收货"), code=Code.INVALID_TRANSITION)
    if order.status in (Order.Status.PAID, Order.Status.READY_FOR_PICKUP):
        left = OrderLine.objects.filter(order=order, fulfilled_quantity__lt=F("quantity") - F("released_quantity"))
        if left.exists():
            raise OrderError(_("还有商品未提货"), code=Code.INVALID_TRANSITION)
    if AfterSale.objects.filter(order=order, status__in=AfterSale.OPEN_STATUSES).exists() and by != SYSTEM:
        raise OrderError(_("该订单有进行中的售后，处理完成后再确认收货"), code=Code.INVALID_TRANSITION)
    kept = _goods_kept(order)
    transition(order, Order.Status.COMPLETED, by=by, note=note or _("交易完成"), completed_at=now,
               completed_goods_amount=kept)
    if kept > 0:
        earn_for_completed_order(order.user.member, order.reference, kept, multiplier=order.points_multiplier)
    sold = {}
    for product_id, quantity, refunded in OrderLine.objects.filter(order=order).values_list(
        "product_id", "quantity", "refunded_quantity"
    ):
        sold[product_id] = sold.get(product_id, 0) + quantity - refunded
    for product_id, quantity in sold.items():
        if quantity > 0:
            transaction.on_commit(lambda p=product_id, q=quantity: add_sales(p, q))
    send_on_commit(order_completed, order=order)
    return order


def confirm_overdue_receipts(now=None):
    """The worker's sweep: orders shipped or out for delivery whose auto-confirm time has passed
    complete (unless an after-sale is open). Returns how many completed."""
    now = now or timezone.now()
    due = list(
        Order.objects.filter(
            status__in=[Order.Status.SHIPPED, Order.Status.DELIVERING], auto_confirm_at__lte=now
        ).exclude(after_sales__status__in=AfterSale.OPEN_STATUSES)
        .order_by("auto_confirm_at", "pk").values_list("pk", flat=True)[:1000]
    )
    done = 0
    for pk in due:
        try:
            order = complete_order(pk, by=SYSTEM, note=_("超时自动确认收货"), now=now)
        except OrderError:
            continue
        except Exception:
            logger.exception("could not auto-confirm order %s", pk)
            continue
        done += order.status == Order.Status.COMPLETED
    return done


def auto_confirm_at(now):
    return now + timedelta(days=int(setting("ORDER_AUTO_CONFIRM_DAYS", 7)))


# --- staff: price, remark ---------------------------------------------------------------------
@transaction.atomic
def change_price(order, *, by, goods_adjustment, delivery_fee=None, reason):
    """Staff change what an unpaid order costs (改价): `goods_adjustment` (negative: cheaper; it
    replaces any earlier adjustment, it does not add to it) is spread over the lines; `delivery_fee` replaces the fee when given. The goods can be made free,
    never negative. Pending payment attempts are closed (their amount no longer matches), so the
    next payment gets a new trade number."""
    order = lock_order(order)
    require_store_staff(order, by, "orders.change_order_price")
    reason = (reason or "").strip()
    if not reason:
        raise OrderError(_("请填写改价原因"), code=Code.REASON_REQUIRED)
    if order.status != Order.Status.PENDING_PAYMENT:
        raise OrderError(_("只有待付款订单可以改价"), code=Code.INVALID_TRANSITION)
    try:
        adjustment = to_money(goods_adjustment)
        fee = order.delivery_fee if delivery_fee in (None, "") else to_money(delivery_fee)
    except ValueError:
        raise OrderError(_("金额格式不正确"), code=Code.AMOUNT_MISMATCH) from None
    if fee < 0 or fee > Decimal("100000"):
        raise OrderError(_("运费必须在 0 到 100000 元之间"), code=Code.AMOUNT_MISMATCH)
    lines = list(OrderLine.objects.select_for_update().filter(order=order).order_by("pk"))
    priced = [
        pricing.PricedLine(
            key=line.pk, unit_price=line.unit_price, quantity=line.quantity,
            takes_member_discount=line.takes_member_discount, product_id=line.product_id, category_ids=frozenset(),
            price_source=line.price_source, member_discount=line.member_discount,
            coupon_discount=line.coupon_discount, points_discount=line.points_discount, points_used=line.points_used,
        )
        for line in lines
    ]
    base = sum((p.paid_amount for p in priced), ZERO)
    if base + adjustment + fee < pricing.MIN_PAYABLE or base + adjustment < 0:
        raise OrderError(_("改价后应付金额至少 ¥0.01（商品最多减 ¥%(max)s）"), code=Code.AMOUNT_MISMATCH,
                         params={"max": max(ZERO, min(base, base + fee - pricing.MIN_PAYABLE))})
    if abs(adjustment) > Decimal("1000000"):
        raise OrderError(_("改价金额过大"), code=Code.AMOUNT_MISMATCH)
    pricing.apply_adjustment(priced, adjustment)
    for line, p in zip(lines, priced, strict=True):
        OrderLine.objects.filter(pk=line.pk).update(adjustment=p.adjustment, paid_amount=p.paid_amount)
    totals = pricing.totals(priced, fee)
    old = order.pay_amount
    Order.objects.filter(pk=order.pk).update(
        adjustment=totals.adjustment, delivery_fee=fee, pay_amount=totals.pay_amount, updated_at=timezone.now()
    )
    order.adjustment, order.delivery_fee, order.pay_amount = totals.adjustment, fee, totals.pay_amount
    PaymentAttempt.objects.filter(order=order, state=PaymentAttempt.State.PENDING).update(close_requested=True)
    record_event(order, kind=OrderEvent.Kind.PRICE, by=by, note=_("改价：¥%(old)s → ¥%(new)s（%(reason)s）") % {
        "old": old, "new": order.pay_amount, "reason": reason[:100]})
    _close_trades_on_commit(order)
    return order


@transaction.atomic
def set_merchant_remark(order, *, by, remark):
    order = lock_order(order)
    require_store_staff(order, by, "orders.change_order")
    remark = (remark or "").strip()[:500]
    Order.objects.filter(pk=order.pk).update(merchant_remark=remark, updated_at=timezone.now())
    order.merchant_remark = remark
    record_event(order, kind=OrderEvent.Kind.REMARK, by=by, note=_("商家备注：%(r)s") % {"r": remark[:200]},
                 visible=False)
    return order
