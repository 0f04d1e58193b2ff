"""After-sales (售后) and staff cancelling a paid order.

Rules, written once here:
- A shopper may ask for money back once the order is paid: "refund only" (仅退款) at any time
  before completion, or "return and refund" (退货退款) for goods that left the store; after
  completion, within ORDER_AFTER_SALE_DAYS days (default 7). For the whole order or some lines and
  quantities, with a reason and up to 6 photos. One open request per order at a time.
- What a line gives back is its stored paid amount in proportion to the units (the last units get
  whatever is left), never recomputed from prices. The delivery fee comes back only when everything
  still refundable is refunded before anything left the store.
- Staff approve or reject (with a reason). Refund-only approved: the refund starts at once. Return
  and refund approved: the shopper sends the goods back with a tracking number; staff confirm they
  arrived, the refund starts and the goods return to the store's stock.
- When the gateway confirms (orders.payments.services.refund_succeeded): units not yet handed over go
  back to the shelf, the points spent on them come back, the points and growth the order earned are
  clawed back in proportion (the balance may go negative), sales counts go down, and a coupon comes
  back only when the whole order was refunded before anything left the store (and only while the
  coupon is still within its dates). The order closes (交易关闭) once every unit came back, even when
  the delivery fee was kept because the goods had left the store.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.images import clean_image
from core.money import ZERO
from core.numbers import parse_int

from .. import pricing
from ..errors import Code, OrderError
from ..models import AfterSale, AfterSaleLine, AfterSalePhoto, Order, OrderEvent, OrderLine, Refund
from .base import lock_order, record_event, setting
from .fulfilment import CARRIERS, clean_parcel
from .lifecycle import require_store_staff
from .numbers import new_after_sale_number

MAX_PHOTOS = 6
AFTER_SALE_STATUSES = (
    Order.Status.PAID, Order.Status.READY_FOR_PICKUP, Order.Status.SHIPPED, Order.Status.DELIVERING,
    Order.Status.COMPLETED,
)


def window_closes_at(order):
    if order.status == Order.Status.COMPLETED and order.completed_at:
        return order.completed_at + timedelta(days=int(setting("ORDER_AFTER_SALE_DAYS", 7)))
    return None


def can_request(order, now=None):
    """(allowed, why not) for the shopper's 申请售后 button."""
    now = now or timezone.now()
    if order.status not in AFTER_SALE_STATUSES:
        return False, _("该订单不能申请售后")
    closes = window_closes_at(order)
    if closes and closes <= now:
        return False, _("已超过售后期限（确认收货后 %(n)s 天）") % {"n": int(setting("ORDER_AFTER_SALE_DAYS", 7))}
    if order.refunded_amount >= order.paid_amount:
        return False, _("订单已全额退款")
    return True, ""


def _lock_after_sale(after_sale_or_id):
    pk = getattr(after_sale_or_id, "pk", after_sale_or_id)
    order_id = AfterSale.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        raise OrderError(_("售后单不存在"), code=Code.NOT_FOUND)
    order = lock_order(order_id)
    return order, AfterSale.objects.select_for_update().get(pk=pk)


def _move(after_sale, new_status, **fields):
    if new_status not in AfterSale.PIPELINE[after_sale.status]:
        raise OrderError(_("售后单当前状态（%(s)s）不能执行此操作"), code=Code.INVALID_TRANSITION,
                         params={"s": after_sale.get_status_display()})
    changed = AfterSale.objects.filter(pk=after_sale.pk, status=after_sale.status).update(
        status=new_status, updated_at=timezone.now(), **fields
    )
    if not changed:
        raise OrderError(_("售后单状态已变化，请刷新后重试"), code=Code.INVALID_TRANSITION)
    after_sale.status = new_status
    for name, value in fields.items():
        setattr(after_sale, name, value)


def quote_refund(order, lines, quantities):
    """{line id: (quantity, amount)} and whether the delivery fee comes back, for refunding these
    quantities ({line id: n}; None: everything still refundable)."""
    chosen = {}
    for line in lines:
        left = line.refundable_quantity
        n = left if quantities is None else quantities.get(line.pk, 0)
        if n < 0 or n > left:
            raise OrderError(_("%(name)s 最多可退 %(n)s 件"), code=Code.INVALID_QUANTITY,
                             params={"name": line.product_name, "n": left})
        if n:
            chosen[line.pk] = (n, pricing.refund_share(line.paid_amount, line.refunded_amount, line.quantity,
                                                       line.refunded_quantity, n))
    if not chosen:
        raise OrderError(_("请选择要退款的商品和数量"), code=Code.INVALID_QUANTITY)
    everything = all(chosen.get(line.pk, (0,))[0] == line.refundable_quantity for line in lines)
    untouched = not any(line.fulfilled_quantity for line in lines)
    fee_back = everything and untouched and order.delivery_fee > 0
    return chosen, fee_back


def _parse_quantities(raw):
    if raw is None:
        return None
    parsed = {}
    for key, value in raw.items():
        try:
            parsed[parse_int(key, minimum=1, maximum=2**63 - 1)] = parse_int(value, minimum=0, maximum=999)
        except ValueError:
            raise OrderError(_("数量必须是整数"), code=Code.INVALID_QUANTITY) from None
    return parsed


@transaction.atomic
def request_after_sale(order, *, user, kind, reason, description="", quantities=None, request_id, photos=(),
                       now=None):
    """The buyer asks for money back. The same `request_id` again returns the first request."""
    now = now or timezone.now()
    request_id = str(request_id or "").strip()
    if not request_id or len(request_id) > 64 or not request_id.isascii() or not request_id.isprintable():
        raise OrderError(_("页面已过期，请刷新后重试"), code=Code.TOKEN_REQUIRED)
    done = AfterSale.objects.filter(user=user, request_id=request_id).first()
    if done:
        return done
    order = lock_order(order)
    if order.user_id != user.pk:
        raise OrderError(_("订单不存在"), code=Code.NOT_FOUND)
    done = AfterSale.objects.filter(user=user, request_id=request_id).first()
    if done:
        return done
    allowed, why = can_request(order, now)
    if not allowed:
        raise OrderError(why, code=Code.WINDOW_CLOSED)
    if kind not in AfterSale.Kind.values:
        raise OrderError(_("请选择售后类型"), code=Code.AFTER_SALE_INVALID)
    if reason not in AfterSale.Reason.values:
        raise OrderError(_("请选择售后原因"), code=Code.AFTER_SALE_INVALID)
    if AfterSale.objects.filter(order=order, status__in=AfterSale.OPEN_STATUSES).exists():
        raise OrderError(_("该订单已有进行中的售后申请"), code=Code.AFTER_SALE_INVALID)
    photos = list(photos or [])
    if len(photos) > MAX_PHOTOS:
        raise OrderError(_("最多上传 %(n)s 张图片"), code=Code.AFTER_SALE_INVALID, params={"n": MAX_PHOTOS})
    cleaned = []
    for photo in photos:
        try:
            # decoded, re-encoded without EXIF (a phone photo's GPS position) and named by its format
            cleaned.append(clean_image(photo))
        except ValidationError as exc:
            raise OrderError(_("凭证图片无效：%(e)s") % {"e": "; ".join(exc.messages)},
                             code=Code.AFTER_SALE_INVALID) from None
    photos = cleaned
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    quantities = _parse_quantities(quantities)
    if quantities is not None and any(pk not in {line.pk for line in lines} for pk in quantities):
        raise OrderError(_("商品不属于该订单"), code=Code.NOT_FOUND)
    chosen, fee_back = quote_refund(order, lines, quantities)
    if kind == AfterSale.Kind.RETURN_REFUND:
        by_pk = {line.pk: line for line in lines}
        for pk, (n, _amount) in chosen.items():
            line = by_pk[pk]
            if n > line.fulfilled_quantity:
                raise OrderError(_("%(name)s 尚未发货或提货，请选择“仅退款”"), code=Code.AFTER_SALE_INVALID,
                                 params={"name": line.product_name})
    amount = sum((a for _n, a in chosen.values()), ZERO) + (order.delivery_fee if fee_back else ZERO)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                after_sale = AfterSale.objects.create(
                    number=new_after_sale_number(now), order=order, user=user, kind=kind, reason=reason,
                    description=str(description or "")[:500], amount=amount, includes_delivery_fee=fee_back,
                    request_id=request_id,
                )
            break
        except IntegrityError as exc:
            if AfterSale.objects.filter(order=order, status__in=AfterSale.OPEN_STATUSES).exists():
                raise OrderError(_("该订单已有进行中的售后申请"), code=Code.AFTER_SALE_INVALID) from exc
    else:
        raise OrderError(_("售后单号生成失败，请重试"), code=Code.AFTER_SALE_INVALID)
    AfterSaleLine.objects.bulk_create(
        [AfterSaleLine(after_sale=after_sale, order_line_id=pk, quantity=n, amount=a) for pk, (n, a) in chosen.items()]
    )
    for photo in photos:
        AfterSalePhoto.objects.create(after_sale=after_sale, image=photo)
    record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=user,
                 note=_("申请%(kind)s ¥%(amount)s：%(reason)s") % {
                     "kind": after_sale.get_kind_display(), "amount": amount, "reason": after_sale.get_reason_display()})
    from ..payments.services import tell_staff

    tell_staff(order, _("新的售后申请 %(no)s") % {"no": after_sale.number},
               _("订单 %(order)s：%(kind)s ¥%(amount)s") % {
                   "order": order.number, "kind": after_sale.get_kind_display(), "amount": amount},
               kind="after_sale")
    return after_sale


@transaction.atomic
def withdraw_after_sale(after_sale, *, user):
    order, after_sale = _lock_after_sale(after_sale)
    if after_sale.user_id != user.pk:
        raise OrderError(_("售后单不存在"), code=Code.NOT_FOUND)
    if after_sale.status == AfterSale.Status.WITHDRAWN:
        return after_sale
    _move(after_sale, AfterSale.Status.WITHDRAWN, closed_at=timezone.now())
    record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=user, note=_("撤销售后申请"))
    return after_sale


def _start_refund(order, after_sale, *, by, restock):
    from ..payments.services import create_refund

    lines = {al.order_line_id: (al.quantity, al.amount) for al in after_sale.lines.all()}
    return create_refund(
        order, amount=after_sale.amount, cause=Refund.Cause.AFTER_SALE, reason=after_sale.get_reason_display(),
        by=by, lines=lines, after_sale=after_sale, restock=restock,
        includes_delivery_fee=after_sale.includes_delivery_fee,
    )


@transaction.atomic
def approve_after_sale(after_sale, *, by, note=""):
    """Staff agree. Refund only: the refund starts. Return and refund: the buyer is asked to send the
    goods back. Approving twice changes nothing more."""
    order, after_sale = _lock_after_sale(after_sale)
    require_store_staff(order, by, "orders.refund_order")
    if after_sale.status in (AfterSale.Status.REFUNDING, AfterSale.Status.AWAITING_RETURN, AfterSale.Status.REFUNDED):
        return after_sale
    note = str(note or "").strip()[:255]
    if after_sale.kind == AfterSale.Kind.REFUND_ONLY:
        _move(after_sale, AfterSale.Status.REFUNDING, handled_by=by, staff_note=note)
        _start_refund(order, after_sale, by=by, restock=False)
        record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=by, note=_("同意退款"))
    else:
        _move(after_sale, AfterSale.Status.AWAITING_RETURN, handled_by=by, staff_note=note)
        record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=by, note=_("同意退货，等待买家寄回"))
    from .base import tell_shopper

    tell_shopper(order, f"after_sale:{after_sale.pk}")
    return after_sale


@transaction.atomic
def reject_after_sale(after_sale, *, by, reason):
    reason = str(reason or "").strip()[:255]
    if not reason:
        raise OrderError(_("请填写拒绝原因"), code=Code.REASON_REQUIRED)
    order, after_sale = _lock_after_sale(after_sale)
    require_store_staff(order, by, "orders.refund_order")
    if after_sale.status == AfterSale.Status.REJECTED:
        return after_sale
    _move(after_sale, AfterSale.Status.REJECTED, handled_by=by, reject_reason=reason, closed_at=timezone.now())
    record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=by, note=_("拒绝售后：%(r)s") % {"r": reason})
    from .base import tell_shopper

    tell_shopper(order, f"after_sale:{after_sale.pk}")
    return after_sale


@transaction.atomic
def submit_return(after_sale, *, user, carrier_code, tracking_no):
    """The buyer has sent the goods back (退货物流)."""
    carrier_code, tracking_no = clean_parcel(carrier_code, tracking_no)
    order, after_sale = _lock_after_sale(after_sale)
    if after_sale.user_id != user.pk:
        raise OrderError(_("售后单不存在"), code=Code.NOT_FOUND)
    if after_sale.status == AfterSale.Status.RETURNED:
        return after_sale
    _move(after_sale, AfterSale.Status.RETURNED, return_carrier=CARRIERS[carrier_code], return_tracking_no=tracking_no)
    record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=user,
                 note=_("买家已寄回：%(c)s %(t)s") % {"c": CARRIERS[carrier_code], "t": tracking_no})
    return after_sale


@transaction.atomic
def confirm_return(after_sale, *, by, note=""):
    """The returned goods arrived at the store: back into stock, and the refund starts."""
    order, after_sale = _lock_after_sale(after_sale)
    require_store_staff(order, by, "orders.refund_order")
    if after_sale.status in (AfterSale.Status.REFUNDING, AfterSale.Status.REFUNDED):
        return after_sale
    _move(after_sale, AfterSale.Status.REFUNDING, handled_by=by, staff_note=str(note or "")[:255])
    _start_refund(order, after_sale, by=by, restock=True)
    record_event(order, kind=OrderEvent.Kind.AFTER_SALE, by=by, note=_("已收到退货，开始退款"))
    return after_sale


@transaction.atomic
def retry_after_sale_refund(after_sale, *, by):
    """Staff start the refund again after the gateway refused it (the failed one is kept)."""
    order, after_sale = _lock_after_sale(after_sale)
    require_store_staff(order, by, "orders.refund_order")
    if after_sale.status != AfterSale.Status.REFUNDING:
        raise OrderError(_("只有退款中的售后单可以重新退款"), code=Code.INVALID_TRANSITION)
    if after_sale.refunds.exclude(state=Refund.State.FAILED).exists():
        raise OrderError(_("退款仍在处理中"), code=Code.INVALID_TRANSITION)
    return _start_refund(order, after_sale, by=by, restock=after_sale.kind == AfterSale.Kind.RETURN_REFUND)


@transaction.atomic
def staff_cancel_paid_order(order, *, by, reason):
    """The store cannot fulfil a paid order (out of stock, closed): everything is refunded, delivery
    fee included, and the order closes when the gateway confirms. Only before anything left the store."""
    reason = str(reason or "").strip()[:200]
    if not reason:
        raise OrderError(_("请填写取消原因"), code=Code.REASON_REQUIRED)
    order = lock_order(order)
    require_store_staff(order, by, "orders.refund_order")
    if order.status not in (Order.Status.PAID, Order.Status.READY_FOR_PICKUP):
        raise OrderError(_("只有待发货或待自提的订单可以取消并退款"), code=Code.INVALID_TRANSITION)
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    if any(line.fulfilled_quantity for line in lines):
        raise OrderError(_("已有商品提货，请通过售后退款"), code=Code.INVALID_TRANSITION)
    if AfterSale.objects.filter(order=order, status__in=AfterSale.OPEN_STATUSES).exists():
        raise OrderError(_("该订单有进行中的售后，请先处理"), code=Code.INVALID_TRANSITION)
    from ..payments.services import create_refund, refunds_in_flight

    if refunds_in_flight(order) > 0:
        raise OrderError(_("退款处理中，请勿重复操作"), code=Code.INVALID_TRANSITION)
    chosen, fee_back = quote_refund(order, lines, None)
    amount = sum((a for _n, a in chosen.values()), ZERO) + (order.delivery_fee if fee_back else ZERO)
    Order.objects.filter(pk=order.pk).update(cancel_reason=reason)
    refund = create_refund(order, amount=amount, cause=Refund.Cause.STAFF_CANCEL, reason=reason, by=by,
                           lines=chosen, includes_delivery_fee=fee_back)
    record_event(order, by=by, note=_("门店取消订单：%(r)s") % {"r": reason})
    return refund
