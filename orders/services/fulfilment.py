"""Fulfilment in the store: ship (express, one or more parcels), dispatch a same-city delivery and
mark it delivered, get a pickup order ready and hand it over at the counter (by code, all at once or
by quantity over several visits). The reserved stock becomes a sale when goods leave the store,
under the order's reference (stores.sell_reserved), so on_hand always counts what is on the shelf.

Staff act only on their own stores' orders (HQ on all), and not while an after-sale is open."""

import re

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.numbers import parse_int
from stores.services import sell_reserved

from ..errors import Code, OrderError
from ..models import AfterSale, Order, OrderEvent, OrderLine, PickupRecord, Shipment, TrackingEvent
from .base import lock_order, record_event, tell_shopper, transition
from .lifecycle import auto_confirm_at, complete_order, require_store_staff
from .numbers import pickup_code

CARRIERS = {
    # Kuaidi100 company codes -> names shown to people
    "shunfeng": "顺丰速运",
    "zhongtong": "中通快递",
    "yuantong": "圆通速递",
    "shentong": "申通快递",
    "yunda": "韵达快递",
    "jtexpress": "极兔速递",
    "jd": "京东物流",
    "ems": "EMS",
    "youzhengguonei": "邮政快递包裹",
    "debangkuaidi": "德邦快递",
}
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{6,40}$")
PHONE_RE = re.compile(r"^1\d{10}$")


def _no_open_after_sale(order):
    if AfterSale.objects.filter(order=order, status__in=AfterSale.OPEN_STATUSES).exists():
        raise OrderError(_("该订单有进行中的售后，请先处理售后"), code=Code.INVALID_TRANSITION)


def _sell_everything_held(order, by, step):
    """The goods leave the store: what the order still holds becomes a sale; lines record it."""
    sold = sell_reserved(order.reference, by=by, step=step) if _holds(order) else 0
    OrderLine.objects.filter(order=order).update(fulfilled_quantity=F("quantity") - F("released_quantity"))
    return sold


def _holds(order):
    return OrderLine.objects.filter(order=order, fulfilled_quantity__lt=F("quantity") - F("released_quantity")).exists()


def clean_parcel(carrier_code, tracking_no):
    carrier_code = (carrier_code or "").strip()
    tracking_no = (tracking_no or "").strip().upper()
    if carrier_code not in CARRIERS:
        raise OrderError(_("请选择快递公司"), code=Code.SHIPMENT_INVALID)
    if not TRACKING_RE.match(tracking_no):
        raise OrderError(_("快递单号应为 6-40 位字母或数字"), code=Code.SHIPMENT_INVALID)
    return carrier_code, tracking_no


@transaction.atomic
def ship_order(order, *, by, parcels):
    """Express: the order leaves in one or more parcels [(carrier_code, tracking_no)]; it is sold
    out of the store's stock and the buyer is told. Receipt is confirmed automatically
    ORDER_AUTO_CONFIRM_DAYS later unless the buyer confirms first."""
    cleaned = [clean_parcel(c, t) for c, t in parcels]
    if not cleaned:
        raise OrderError(_("请填写至少一个快递单号"), code=Code.SHIPMENT_INVALID)
    if len(set(cleaned)) != len(cleaned):
        raise OrderError(_("快递单号重复"), code=Code.SHIPMENT_INVALID)
    order = lock_order(order)
    require_store_staff(order, by, "orders.fulfil_order")
    if order.fulfilment != Order.Fulfilment.EXPRESS:
        raise OrderError(_("该订单不是快递配送"), code=Code.INVALID_TRANSITION)
    if order.status != Order.Status.PAID:
        raise OrderError(_("订单当前状态（%(s)s）不能发货"), code=Code.INVALID_TRANSITION,
                         params={"s": order.get_status_display()})
    _no_open_after_sale(order)
    now = timezone.now()
    _add_parcels(order, cleaned, by)
    _sell_everything_held(order, by, "ship")
    text = "、".join(f"{CARRIERS[c]} {t}" for c, t in cleaned)
    transition(order, Order.Status.SHIPPED, by=by, note=_("已发货：%(p)s") % {"p": text}, fulfilled_at=now,
               auto_confirm_at=auto_confirm_at(now))
    tell_shopper(order, "shipped")
    return order


def _add_parcels(order, cleaned, by):
    for carrier_code, tracking_no in cleaned:
        try:
            with transaction.atomic():
                Shipment.objects.create(order=order, carrier_code=carrier_code, carrier_name=CARRIERS[carrier_code],
                                        tracking_no=tracking_no, shipped_by=by if getattr(by, "pk", None) else None)
        except IntegrityError:
            raise OrderError(_("快递单号 %(no)s 已被使用"), code=Code.SHIPMENT_INVALID,
                             params={"no": tracking_no}) from None


@transaction.atomic
def add_parcel(order, *, by, carrier_code, tracking_no):
    """One more parcel of a shipped order (the goods went in several boxes)."""
    cleaned = clean_parcel(carrier_code, tracking_no)
    order = lock_order(order)
    require_store_staff(order, by, "orders.fulfil_order")
    if order.status != Order.Status.SHIPPED:
        raise OrderError(_("只有已发货订单可以补充包裹"), code=Code.INVALID_TRANSITION)
    _add_parcels(order, [cleaned], by)
    record_event(order, kind=OrderEvent.Kind.SHIPMENT, by=by,
                 note=_("补充包裹：%(c)s %(t)s") % {"c": CARRIERS[cleaned[0]], "t": cleaned[1]})
    return order


@transaction.atomic
def dispatch_delivery(order, *, by, courier_name, courier_phone):
    """Same-city: a courier of the store takes the goods out (sold out of stock now)."""
    courier_name = (courier_name or "").strip()[:32]
    courier_phone = (courier_phone or "").strip()
    if not courier_name:
        raise OrderError(_("请填写配送员姓名"), code=Code.SHIPMENT_INVALID)
    if not PHONE_RE.match(courier_phone):
        raise OrderError(_("请填写配送员的 11 位手机号"), code=Code.SHIPMENT_INVALID)
    order = lock_order(order)
    require_store_staff(order, by, "orders.fulfil_order")
    if order.fulfilment != Order.Fulfilment.DELIVERY:
        raise OrderError(_("该订单不是同城配送"), code=Code.INVALID_TRANSITION)
    if order.status != Order.Status.PAID:
        raise OrderError(_("订单当前状态（%(s)s）不能配送"), code=Code.INVALID_TRANSITION,
                         params={"s": order.get_status_display()})
    _no_open_after_sale(order)
    now = timezone.now()
    _sell_everything_held(order, by, "dispatch")
    transition(order, Order.Status.DELIVERING, by=by,
               note=_("配送员 %(n)s %(p)s 已出发") % {"n": courier_name, "p": courier_phone},
               courier_name=courier_name, courier_phone=courier_phone, fulfilled_at=now,
               auto_confirm_at=auto_confirm_at(now))
    tell_shopper(order, "dispatched")
    return order


@transaction.atomic
def mark_delivered(order, *, by):
    order = lock_order(order)
    require_store_staff(order, by, "orders.fulfil_order")
    if order.status != Order.Status.DELIVERING:
        raise OrderError(_("只有配送中的订单可以确认送达"), code=Code.INVALID_TRANSITION)
    return complete_order(order, by=by, note=_("已送达"))


def assign_pickup_code(order):
    """A 6-digit code unique among the store's open pickup orders (a clash draws again)."""
    for _attempt in range(20):
        code = pickup_code()
        try:
            with transaction.atomic():
                changed = Order.objects.filter(pk=order.pk).update(pickup_code=code)
        except IntegrityError:
            continue
        if changed:
            order.pickup_code = code
            return code
    raise OrderError(_("自提码生成失败，请重试"), code=Code.PICKUP_INVALID)


@transaction.atomic
def mark_ready_for_pickup(order, *, by):
    """The goods are packed: the buyer is told to come, with the pickup code."""
    order = lock_order(order)
    require_store_staff(order, by, "orders.fulfil_order")
    if order.fulfilment != Order.Fulfilment.PICKUP:
        raise OrderError(_("该订单不是到店自提"), code=Code.INVALID_TRANSITION)
    if order.status != Order.Status.PAID:
        raise OrderError(_("订单当前状态（%(s)s）不能备货"), code=Code.INVALID_TRANSITION,
                         params={"s": order.get_status_display()})
    _no_open_after_sale(order)
    transition(order, Order.Status.READY_FOR_PICKUP, by=by, note=_("已备货，待自提"), fulfilled_at=timezone.now())
    tell_shopper(order, "ready_for_pickup")
    return order


def find_pickup_orders(store, code):
    """Open pickup orders of this store with this code (the shared verification screen lists them)."""
    code = str(code or "").strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return []
    return list(
        Order.objects.filter(store=store, pickup_code=code, fulfilment=Order.Fulfilment.PICKUP,
                             status__in=[Order.Status.PAID, Order.Status.READY_FOR_PICKUP])
        .select_related("user").prefetch_related("lines")
    )


@transaction.atomic
def verify_pickup(*, store, code, by, quantities=None, order_id=None):
    """The clerk hands over goods of a pickup order at THIS store: all that is left (`quantities`
    None) or {order line id: n}. The units are sold out of the store's stock under
    ``order:<no>:pickup:<record id>``; when nothing is left the order completes. A wrong, used or
    other store's code, or more than is left, raises OrderError and changes nothing."""
    from stores.scope import user_can_work_on

    if not user_can_work_on(by, store):
        raise OrderError(_("您不能核销该门店的订单"), code=Code.FORBIDDEN)
    if not by.has_perm("orders.fulfil_order"):
        raise OrderError(_("您没有核销订单的权限"), code=Code.FORBIDDEN)
    matches = find_pickup_orders(store, code)
    if order_id is not None:
        matches = [o for o in matches if str(o.pk) == str(order_id)]
    if len(matches) != 1:
        raise OrderError(_("自提码无效、已核销或不属于本门店"), code=Code.PICKUP_INVALID)
    order = lock_order(matches[0])
    if order.store_id != store.pk or order.pickup_code != str(code).strip() or order.status not in (
        Order.Status.PAID, Order.Status.READY_FOR_PICKUP
    ):
        raise OrderError(_("自提码无效、已核销或不属于本门店"), code=Code.PICKUP_INVALID)
    _no_open_after_sale(order)
    lines = {line.pk: line for line in OrderLine.objects.select_for_update().filter(order=order)}
    left = {pk: line.held_quantity for pk, line in lines.items()}
    if quantities is None:
        wanted = {pk: n for pk, n in left.items() if n > 0}
    else:
        wanted = {}
        for raw_pk, raw_n in quantities.items():
            try:
                pk, n = int(raw_pk), parse_int(raw_n, minimum=0, maximum=999)
            except (TypeError, ValueError):
                raise OrderError(_("核销数量必须是整数"), code=Code.INVALID_QUANTITY) from None
            if pk not in lines:
                raise OrderError(_("商品不属于该订单"), code=Code.PICKUP_INVALID)
            if n > left[pk]:
                raise OrderError(_("%(name)s 最多还能提 %(n)s 件"), code=Code.INVALID_QUANTITY,
                                 params={"name": lines[pk].product_name, "n": left[pk]})
            if n:
                wanted[pk] = n
    if not wanted:
        raise OrderError(_("请填写本次提货数量"), code=Code.INVALID_QUANTITY)
    record = PickupRecord.objects.create(order=order, store=store, quantities={str(k): v for k, v in wanted.items()},
                                         verified_by=by)
    sell_reserved(order.reference, quantities={lines[pk].sku_id: n for pk, n in wanted.items()},
                  step=f"pickup:{record.pk}", by=by)
    for pk, n in wanted.items():
        OrderLine.objects.filter(pk=pk).update(fulfilled_quantity=F("fulfilled_quantity") + n)
    summary = "、".join(f"{lines[pk].product_name} ×{n}" for pk, n in wanted.items())
    record_event(order, kind=OrderEvent.Kind.PICKUP, by=by, note=_("到店提货：%(items)s") % {"items": summary})
    if all(left[pk] - wanted.get(pk, 0) == 0 for pk in lines):
        complete_order(order, by=by, note=_("已全部提货"))
    order.refresh_from_db()
    return order, record


@transaction.atomic
def record_tracking(shipment, events):
    """Store route lines of a parcel [(occurred_at, context, state, location)]; a line seen before
    is skipped. Returns how many were new. A signed-for parcel ('签收') completes nothing by itself:
    the buyer confirms, or the worker does after ORDER_AUTO_CONFIRM_DAYS."""
    new = 0
    for occurred_at, context, state, location in events:
        context = str(context or "").strip()[:255]
        if not context or occurred_at is None:
            continue
        _obj, created = TrackingEvent.objects.get_or_create(
            shipment=shipment, occurred_at=occurred_at, context=context,
            defaults={"state": str(state or "")[:16], "location": str(location or "")[:64]},
        )
        new += created
    latest = TrackingEvent.objects.filter(shipment=shipment).order_by("-occurred_at", "-id").first()
    Shipment.objects.filter(pk=shipment.pk).update(
        last_state=latest.state if latest else "", last_polled_at=timezone.now()
    )
    return new
