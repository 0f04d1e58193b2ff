"""Demo orders, so the order lists, the back-office queue and the sales dashboard show something,
and the staff permissions that go with them. Idempotent: a second run creates nothing.

- Permissions: the HQ group (总部) gets every permission of the orders app; the demo store manager
  gets what a manager needs (view and change orders, fulfil, refund, change prices before payment,
  after-sales, see payments and refunds), the demo clerk what a clerk needs (view and fulfil).
- Live orders, a few dozen, made through the services exactly as shoppers and staff make them
  (checkout, the development gateway's signed payment notice, ship with tracking lines, dispatch,
  mark ready, verify pickups over two visits, after-sales and refunds through the dev gateway,
  cancel), so every open state is real: stock held by reservations, points and coupons through
  their ledgers. They include the demo shopper's (13800138000) own: one ready for pickup (its code
  is printed), one shipped with tracking lines, one completed, one waiting for payment. Each is
  keyed by its checkout token (demo-live-…): a scenario whose order exists is skipped. They need
  the development gateway (PAYMENT_DEV_GATEWAY, on with DEBUG); without it only the unpaid ones
  are made.
- History: HISTORY_ORDERS orders over the last HISTORY_DAYS days across the stores that have
  stock, written in bulk: completed (picked up, delivered, or shipped with their parcels and
  tracking lines), cancelled before payment, closed by a full refund, and completed with a partial
  refund (with their after-sale). Spread over the hours of a shop's day with distinct timestamps.
  Every amount comes from orders.pricing (member discount, a coupon, points, delivery fees), and the
  payment attempts, refunds and lines agree, so `check_orders` holds. They hold no stock: their
  goods left the store long ago or were never taken, so `check_stock` is untouched; they earned no
  points in the members' ledger (the members' demo writes its own purchase history). The history
  exists once: its orders carry the checkout token prefix "demo-history-".

The bulk insert writes its own timestamps: `_own_timestamps` lifts auto_now/auto_now_add on the
models it writes for the time of the insert (seed_demo runs alone in its process).
"""

import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from catalog.selectors import sellable_skus
from core.errors import DomainError
from core.money import ZERO, yuan_to_fen
from members.models import Address, Member
from stores.models import Stock, Store

from . import list_cache, pricing
from .models import (
    AfterSale,
    AfterSaleLine,
    ExpressFeeRule,
    Order,
    OrderEvent,
    OrderLine,
    PaymentAttempt,
    PaymentEvent,
    PickupRecord,
    Refund,
    Shipment,
    TrackingEvent,
)
from .services.fulfilment import CARRIERS
from .tracking import State

SEED = 20261128
SHOPPER_PHONE = "+8613800138000"
LIVE_TOKEN = "demo-live-"
HISTORY_TOKEN = "demo-history-"
HISTORY_ORDERS = 3000
HISTORY_DAYS = 90
SHOPPER_HISTORY = 12  # of the history, the demo shopper's own

MANAGER_PERMISSIONS = [
    "view_order", "change_order", "fulfil_order", "refund_order", "change_order_price", "view_aftersale",
    "change_aftersale", "view_paymentattempt", "view_refund", "view_orderevent", "view_shipment",
    "view_trackingevent", "view_pickuprecord",
]
CLERK_PERMISSIONS = ["view_order", "fulfil_order"]

# an order's hour of day: quiet at night, lunch and evening peaks
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 4, 5, 6, 8, 10, 9, 6, 5, 5, 6, 9, 11, 10, 7, 4, 2]
COURIERS = [("李师傅", "13916000001"), ("王师傅", "13916000002"), ("张师傅", "13916000003"), ("陈师傅", "13916000004")]
TRACKING_PREFIX = {"shunfeng": "SF", "zhongtong": "ZT", "yuantong": "YT", "shentong": "ST", "yunda": "YD",
                   "jtexpress": "JT", "jd": "JD", "ems": "EM", "youzhengguonei": "YZ", "debangkuaidi": "DB"}
CANCEL_REASONS = ["超时未支付", "超时未支付", "买家取消", "不想要了", "地址填错了"]
REFUND_REASONS = [AfterSale.Reason.DAMAGED, AfterSale.Reason.NOT_AS_DESCRIBED, AfterSale.Reason.WRONG_ITEM]
BUYER_REMARKS = ["", "", "", "", "请尽快发货", "不要辣", "放门卫处", "周末送达"]


def seed(out):
    changed = _grant_permissions()
    rng = random.Random(SEED)
    changed += _seed_history(rng, out)
    changed += _seed_live(rng, out)
    out(f"  orders: {Order.objects.count()} orders, "
        f"{Order.objects.filter(status__in=Order.OPEN_STATUSES).count()} still open")
    return changed


# --- permissions --------------------------------------------------------------------------------
def _grant(related, permissions):
    have = set(related.values_list("pk", flat=True))
    missing = [p for p in permissions if p.pk not in have]
    related.add(*missing)
    return len(missing)


def _grant_permissions():
    from stores.demo import DEMO_CLERK, DEMO_MANAGER
    from stores.scope import HQ_GROUP_NAME

    every = {p.codename: p for p in Permission.objects.filter(content_type__app_label="orders")}
    changed = 0
    hq = Group.objects.filter(name=HQ_GROUP_NAME).first()
    if hq is not None:
        changed += _grant(hq.permissions, list(every.values()))
    User = get_user_model()
    for spec, codenames in ((DEMO_MANAGER, MANAGER_PERMISSIONS), (DEMO_CLERK, CLERK_PERMISSIONS)):
        user = User.objects.filter(username=spec["username"]).first()
        if user is not None:
            changed += _grant(user.user_permissions, [every[c] for c in codenames])
    return changed


# --- what the stores sell -------------------------------------------------------------------------
@dataclass
class Shelf:
    store: Store
    skus: list = field(default_factory=list)  # (Sku, available)


def _shelves():
    """The open stores that have sellable stock, with their SKUs (product loaded)."""
    from catalog.models import Sku

    sellable = set(sellable_skus().values_list("pk", flat=True))
    skus = {s.pk: s for s in Sku.objects.filter(pk__in=sellable).select_related("product__cover", "image")}
    shelves = {}
    for store in Store.objects.filter(status=Store.Status.OPEN, is_archived=False).order_by("pk"):
        shelves[store.pk] = Shelf(store)
    for store_id, sku_id, on_hand, reserved in Stock.objects.filter(
        store_id__in=list(shelves), sku_id__in=list(sellable)
    ).order_by("store_id", "sku_id").values_list("store_id", "sku_id", "on_hand", "reserved"):
        shelves[store_id].skus.append((skus[sku_id], on_hand - reserved))
    return [shelf for shelf in shelves.values() if shelf.skus]


def _image_url(sku):
    image = sku.image or sku.product.cover
    try:
        return image.thumb("card")[0][:255] if image else ""
    except Exception:  # a missing file must not stop the demo
        return ""


# --- history, in bulk ---------------------------------------------------------------------------
MODELS_WITH_OUR_TIMES = (Order, OrderEvent, OrderLine, PaymentAttempt, PaymentEvent, Refund, AfterSale, Shipment,
                         TrackingEvent, PickupRecord)


@contextmanager
def _own_timestamps(*models):
    """Let a bulk insert write created_at/updated_at as given (history happened in the past)."""
    fields = [f for model in models for f in model._meta.concrete_fields
              if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    try:
        for f in fields:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


class FlatCoupon:
    """A 满减 coupon as orders.pricing wants one (the history's coupons are spent long ago)."""

    def __init__(self, name, threshold, amount):
        self.name, self.threshold, self.amount = name, Decimal(threshold), Decimal(amount)

    def discount_for(self, subtotal):
        return self.amount if subtotal >= self.threshold else ZERO

    def applies_to(self, line):
        return True


HISTORY_COUPONS = [FlatCoupon("满100减10元券", "100", "10"), FlatCoupon("满200减30元券", "200", "30")]


def _moments(rng, count, now):
    """`count` distinct order times over the last HISTORY_DAYS days (not the last 6 hours), busier
    at lunch and in the evening, at weekends and lately."""
    days = []
    for back in range(1, HISTORY_DAYS + 1):
        day = timezone.localdate(now) - timedelta(days=back - 1)
        weight = (1.6 - back / HISTORY_DAYS) * (1.3 if day.weekday() >= 5 else 1.0)
        days.append((day, weight))
    picked, seen = [], set()
    latest = now - timedelta(hours=6)
    while len(picked) < count:
        day = rng.choices([d for d, _w in days], weights=[w for _d, w in days])[0]
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        moment = timezone.make_aware(datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60),
                                                                rng.randrange(10**6))))
        if moment > latest or moment in seen:
            continue
        seen.add(moment)
        picked.append(moment)
    return sorted(picked)


@dataclass
class Buyer:
    user_id: int
    level_name: str
    discount_percent: Decimal
    multiplier: Decimal | None
    name: str
    phone: str


def _buyers():
    """The demo members (and the demo shopper) with their level, for the history."""
    rows = (
        Member.objects.filter(Q(user__username__startswith="demo-member-") | Q(user__phone=SHOPPER_PHONE))
        .select_related("user", "level").order_by("user__username")
    )
    buyers, shopper = [], None
    for member in rows:
        level = member.level
        buyer = Buyer(
            member.user_id, level.name if level else "", level.discount_percent if level else Decimal("100"),
            level.points_multiplier if level else None, member.user.nickname or "会员",
            str(member.user.phone or "").removeprefix("+86") or "13800000000",
        )
        if member.user.phone == SHOPPER_PHONE:
            shopper = buyer
        else:
            buyers.append(buyer)
    return buyers, shopper


def _seed_history(rng, out):
    if Order.objects.filter(checkout_token__startswith=HISTORY_TOKEN).exists():
        return 0
    shelves = _shelves()
    buyers, shopper = _buyers()
    if not shelves or not buyers:
        out("  orders: no stocked stores or demo members yet, history skipped")
        return 0
    now = timezone.now()
    rule = ExpressFeeRule.objects.filter(store__isnull=True, is_active=True).first()
    images = {}
    shelf_weights = [3 if i == 0 else 1 + (len(shelves) - i) / len(shelves) for i in range(len(shelves))]
    plans = []
    for n, moment in enumerate(_moments(rng, HISTORY_ORDERS, now)):
        shelf = rng.choices(shelves, weights=shelf_weights)[0]
        buyer = shopper if shopper and n % (HISTORY_ORDERS // SHOPPER_HISTORY) == 7 else rng.choice(buyers)
        plans.append(_plan(rng, n, moment, now, shelf, buyer, rule, images))
    return _write_history(plans, out)


@dataclass
class Plan:
    order: Order
    lines: list  # [OrderLine]
    outcome: str  # completed | cancelled | closed | partial
    reason: str = ""
    refunded: dict = field(default_factory=dict)  # {line index: (quantity, amount)}
    fee_back: bool = False


def _plan(rng, n, created, now, shelf, buyer, rule, images):
    """One historical order, priced by orders.pricing, with its outcome applied to the order and
    its lines (nothing written yet)."""
    store = shelf.store
    count = rng.choices([1, 2, 3, 4], weights=[45, 30, 17, 8])[0]
    picks = rng.sample(shelf.skus, min(count, len(shelf.skus)))
    inputs = [
        pricing.LineInput(key=sku.pk, unit_price=sku.price, quantity=rng.choices([1, 2, 3], weights=[70, 22, 8])[0],
                          takes_member_discount=sku.product.member_discount_enabled, product_id=sku.product_id)
        for sku, _available in picks
    ]
    priced = pricing.apply_member_discount(pricing.start(inputs), buyer.discount_percent)
    coupon = None
    subtotal = sum((p.after_member for p in priced), ZERO)
    usable = [c for c in HISTORY_COUPONS if subtotal >= c.threshold]
    if usable and rng.random() < 0.35:
        coupon = max(usable, key=lambda c: c.amount)
    pricing.apply_coupon(priced, coupon)
    goods = pricing.goods_after_coupon(priced)
    if goods >= 20 and rng.random() < 0.12:
        points = min(int(goods * 10), rng.choice([100, 200, 300, 500]))  # 100 points = ¥1, at most 10%
        pricing.apply_points(priced, points, Decimal(points) / 100)

    roll = rng.random()
    fulfilment = Order.Fulfilment.PICKUP
    if roll < 0.3 and store.express_enabled and rule is not None and created < now - timedelta(days=4):
        fulfilment = Order.Fulfilment.EXPRESS
    elif roll < 0.5 and store.delivery_enabled and goods >= store.delivery_min_order:
        fulfilment = Order.Fulfilment.DELIVERY
    fee = ZERO
    if fulfilment == Order.Fulfilment.DELIVERY:
        fee = store.delivery_fee
    elif fulfilment == Order.Fulfilment.EXPRESS:
        fee = pricing.express_fee(rule.base_fee, rule.free_over, goods)
    totals = pricing.totals(priced, fee)

    number = f"{timezone.localtime(created):%Y%m%d}{rng.randrange(10**10):010d}"
    order = Order(
        number=number, user_id=buyer.user_id, store=store, fulfilment=fulfilment,
        checkout_token=f"{HISTORY_TOKEN}{n:05d}", goods_amount=totals.goods_amount,
        member_discount=totals.member_discount, coupon_discount=totals.coupon_discount,
        points_discount=totals.points_discount, points_used=totals.points_used, delivery_fee=totals.delivery_fee,
        adjustment=totals.adjustment, pay_amount=totals.pay_amount, coupon_name=coupon.name if coupon else "",
        level_name=buyer.level_name, level_discount_percent=buyer.discount_percent,
        buyer_remark=rng.choice(BUYER_REMARKS), pay_deadline=created + timedelta(minutes=30),
        created_at=created, updated_at=created,
    )
    if fulfilment != Order.Fulfilment.PICKUP:
        order.receiver_name, order.receiver_phone = buyer.name, buyer.phone
        order.province, order.city, order.district = store.province, store.city, store.district
        order.address_detail = f"{rng.choice(['人民路', '中山路', '解放路', '建设路', '文化路'])}{rng.randint(1, 999)}号"
    else:
        order.pickup_code = f"{rng.randrange(10**6):06d}"
        order.pickup_slot_start = created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
        order.pickup_slot_end = order.pickup_slot_start + timedelta(hours=1)
    lines = []
    for (sku, _available), p in zip(picks, priced, strict=True):
        if sku.pk not in images:
            images[sku.pk] = _image_url(sku)
        lines.append(OrderLine(
            sku=sku, product_id=sku.product_id, product_name=sku.product.name[:120], spec_text=sku.spec_text[:200],
            sku_code=sku.code, image_url=images[sku.pk], unit_price=p.unit_price, quantity=p.quantity,
            takes_member_discount=p.takes_member_discount, member_discount=p.member_discount,
            coupon_discount=p.coupon_discount, points_discount=p.points_discount, points_used=p.points_used,
            paid_amount=p.paid_amount,
        ))
    outcome = rng.choices(["completed", "cancelled", "closed", "partial"], weights=[80, 10, 5, 5])[0]
    if outcome == "partial" and len(lines) == 1 and lines[0].quantity == 1:
        outcome = "completed"  # one unit only: a refund of it would close the order
    plan = Plan(order, lines, outcome)
    plan.reason = rng.choice(CANCEL_REASONS) if outcome == "cancelled" else rng.choice(REFUND_REASONS)
    _outcome(rng, plan, buyer)
    return plan


def _outcome(rng, plan, buyer):
    """Times, status and amounts of what happened to the order after it was placed."""
    order, lines = plan.order, plan.lines
    created = order.created_at
    if plan.outcome == "cancelled":
        order.status = Order.Status.CANCELLED
        order.cancelled_at = created + timedelta(minutes=30 if plan.reason == "超时未支付" else rng.choice([2, 5, 11]))
        order.cancel_reason = plan.reason
        order.updated_at = order.cancelled_at
        return
    order.paid_amount = order.pay_amount
    order.paid_at = created + timedelta(seconds=rng.randint(20, 600))
    order.payment_channel = PaymentAttempt.Channel.DEV
    order.points_multiplier = buyer.multiplier
    if plan.outcome == "closed":  # refunded in full before anything left the store
        order.status = Order.Status.CLOSED
        order.closed_at = order.paid_at + timedelta(minutes=rng.randint(10, 240))
        order.updated_at = order.closed_at
        for index, line in enumerate(lines):
            line.refunded_quantity = line.released_quantity = line.quantity
            line.refunded_amount = line.paid_amount
            plan.refunded[index] = (line.quantity, line.paid_amount)
        plan.fee_back = order.delivery_fee > 0
        order.refunded_amount = order.paid_amount
        return
    order.status = Order.Status.COMPLETED
    order.completed_goods_amount = sum((line.paid_amount for line in lines), ZERO)  # points' basis
    for line in lines:
        line.fulfilled_quantity = line.quantity
    if order.fulfilment == Order.Fulfilment.PICKUP:
        order.fulfilled_at = order.paid_at + timedelta(minutes=rng.randint(10, 40))
        order.completed_at = order.fulfilled_at + timedelta(minutes=rng.randint(20, 300))
    elif order.fulfilment == Order.Fulfilment.DELIVERY:
        order.fulfilled_at = order.paid_at + timedelta(minutes=rng.randint(10, 30))
        order.courier_name, order.courier_phone = rng.choice(COURIERS)
        order.completed_at = order.fulfilled_at + timedelta(minutes=rng.randint(20, 60))
        order.auto_confirm_at = order.fulfilled_at + timedelta(days=7)
    else:
        order.fulfilled_at = order.paid_at + timedelta(hours=rng.randint(2, 20))
        order.completed_at = order.fulfilled_at + timedelta(days=rng.choice([1, 2, 2, 3, 7]))
        order.auto_confirm_at = order.fulfilled_at + timedelta(days=7)
    order.updated_at = order.completed_at
    if plan.outcome == "partial":  # one unit arrived damaged: refunded, kept by the shopper
        index = max(range(len(lines)), key=lambda i: (lines[i].quantity, lines[i].paid_amount))
        line = lines[index]
        amount = pricing.refund_share(line.paid_amount, ZERO, line.quantity, 0, 1)
        line.refunded_quantity, line.refunded_amount = 1, amount
        plan.refunded[index] = (1, amount)
        order.refunded_amount = amount


def _write_history(plans, out):
    with _own_timestamps(*MODELS_WITH_OUR_TIMES):
        Order.objects.bulk_create([p.order for p in plans], batch_size=500)
        for plan in plans:
            for line in plan.lines:
                line.order = plan.order
        OrderLine.objects.bulk_create([line for p in plans for line in p.lines], batch_size=1000)
        written = len(plans) + sum(len(p.lines) for p in plans)
        for model, objects in _history_rows(plans):
            model.objects.bulk_create(objects, batch_size=1000)
            written += len(objects)
    # bulk inserts bypass the services that tell each member's cached 我的订单 pages
    for user_id in {p.order.user_id for p in plans}:
        list_cache.changed(user_id)
    by_outcome = {}
    for plan in plans:
        by_outcome[plan.outcome] = by_outcome.get(plan.outcome, 0) + 1
    out(f"  orders: {len(plans)} historical orders over {HISTORY_DAYS} days "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_outcome.items()))})")
    return written


def _event(order, at, *, kind=OrderEvent.Kind.STATUS, note="", from_status="", to_status="", actor="买家",
           visible=True):
    return OrderEvent(order=order, kind=kind, note=note, from_status=from_status, to_status=to_status,
                      actor_label=actor, visible_to_shopper=visible, created_at=at)


def _history_rows(plans):
    """Yield (model, objects) in an order that lets each point at rows already saved: payment
    attempts, parcels and after-sales first, then what refers to them."""
    rng = random.Random(SEED + 1)
    S = Order.Status
    events, attempts, pickups, parcels, routes, refunds = [], {}, [], [], [], []
    for plan in plans:
        order = plan.order
        events.append(_event(order, order.created_at, note="提交订单", to_status=S.PENDING_PAYMENT))
        if order.status == S.CANCELLED:
            events.append(_event(order, order.cancelled_at, note=plan.reason, from_status=S.PENDING_PAYMENT,
                                 to_status=S.CANCELLED, actor="系统" if plan.reason == "超时未支付" else "买家"))
            continue
        attempts[order.pk] = PaymentAttempt(
            order=order, channel=PaymentAttempt.Channel.DEV, out_trade_no=f"{order.number}P01",
            amount_fen=yuan_to_fen(order.paid_amount), expires_at=order.pay_deadline,
            state=PaymentAttempt.State.SUCCEEDED, gateway_trade_no=f"DEV{order.number}", is_order_payment=True,
            refund_committed_fen=yuan_to_fen(order.refunded_amount), succeeded_at=order.paid_at,
            created_at=order.created_at, updated_at=order.paid_at,
        )
        events.append(_event(order, order.paid_at, note=f"模拟支付支付成功 ¥{order.paid_amount}",
                             from_status=S.PENDING_PAYMENT, to_status=S.PAID, actor="系统"))
        if order.status == S.COMPLETED:
            _fulfilment_rows(rng, plan, events, pickups, parcels, routes)
            events.append(_event(order, order.completed_at, note="交易完成", from_status=_fulfilled_status(order),
                                 to_status=S.COMPLETED,
                                 actor="系统" if order.fulfilment == Order.Fulfilment.EXPRESS else "买家"))
        if plan.refunded:
            refunds.append(plan)
    yield PaymentAttempt, list(attempts.values())
    yield Shipment, parcels
    for shipment, route in zip(parcels, routes, strict=True):
        for line in route:
            line.shipment = shipment
    yield TrackingEvent, [line for route in routes for line in route]
    yield PickupRecord, pickups
    payment_events = []
    for attempt in attempts.values():
        payment_events.append(
            PaymentEvent(attempt=attempt, order_id=attempt.order_id, kind=PaymentEvent.Kind.SUCCEEDED,
                         gateway_reference=attempt.gateway_trade_no, amount_fen=attempt.amount_fen,
                         created_at=attempt.succeeded_at),
        )
    after_sales, refund_rows = _refund_rows(refunds, attempts, events, payment_events)
    yield AfterSale, [a for a, _lines in after_sales]
    yield AfterSaleLine, [line for a, lines in after_sales for line in lines]
    for refund in refund_rows:
        refund.after_sale_id = refund.after_sale.pk if refund.after_sale else None
    yield Refund, refund_rows
    yield PaymentEvent, payment_events
    yield OrderEvent, events


def _fulfilled_status(order):
    return {Order.Fulfilment.PICKUP: Order.Status.READY_FOR_PICKUP, Order.Fulfilment.DELIVERY: Order.Status.DELIVERING,
            Order.Fulfilment.EXPRESS: Order.Status.SHIPPED}[order.fulfilment]


def _fulfilment_rows(rng, plan, events, pickups, parcels, routes):
    order, S = plan.order, Order.Status
    if order.fulfilment == Order.Fulfilment.PICKUP:
        pickups.append(PickupRecord(
            order=order, store=order.store, quantities={str(line.pk): line.quantity for line in plan.lines},
            created_at=order.completed_at,
        ))
        summary = "、".join(f"{line.product_name} ×{line.quantity}" for line in plan.lines)
        events.append(_event(order, order.fulfilled_at, note="已备货，待自提", from_status=S.PAID,
                             to_status=S.READY_FOR_PICKUP, actor="门店"))
        events.append(_event(order, order.completed_at, kind=OrderEvent.Kind.PICKUP, note=f"到店提货：{summary}",
                             actor="门店"))
    elif order.fulfilment == Order.Fulfilment.DELIVERY:
        events.append(_event(order, order.fulfilled_at, note=f"配送员 {order.courier_name} {order.courier_phone} 已出发",
                             from_status=S.PAID, to_status=S.DELIVERING, actor="门店"))
    else:
        carrier = rng.choice(list(CARRIERS))
        shipment = Shipment(order=order, carrier_code=carrier, carrier_name=CARRIERS[carrier],
                            tracking_no=f"{TRACKING_PREFIX.get(carrier, 'EX')}9{order.number[-12:]}",
                            last_state=State.SIGNED, last_polled_at=order.completed_at, created_at=order.fulfilled_at)
        parcels.append(shipment)
        store = order.store
        route = [
            (order.fulfilled_at + timedelta(hours=1), f"【{store.city}】{store.name} 已揽收", State.COLLECTED, store.city),
            (order.fulfilled_at + timedelta(hours=9), f"快件已到达【{order.city}转运中心】", State.IN_TRANSIT, order.city),
            (order.completed_at - timedelta(hours=5), "快递员正在为您派件", State.DELIVERING, order.city),
            (order.completed_at - timedelta(hours=1), "已签收，签收人：本人", State.SIGNED, order.city),
        ]
        routes.append([TrackingEvent(occurred_at=at, context=text, state=state, location=where, created_at=at)
                       for at, text, state, where in route])
        events.append(_event(order, order.fulfilled_at, note=f"已发货：{shipment.carrier_name} {shipment.tracking_no}",
                             from_status=S.PAID, to_status=S.SHIPPED, actor="门店"))


def _refund_rows(plans, attempts, events, payment_events):
    after_sales, refunds = [], []
    for plan in plans:
        order = plan.order
        attempt = attempts[order.pk]
        lines = {plan.lines[i].pk: (q, a) for i, (q, a) in plan.refunded.items()}
        amount = order.refunded_amount
        after_sale = None
        if plan.outcome == "closed":
            at = order.closed_at
            staff_cancel = order.pk % 2 == 0
        else:
            at = order.completed_at + timedelta(hours=6)
            staff_cancel = False
        if staff_cancel:
            cause = Refund.Cause.STAFF_CANCEL
            events.append(_event(order, at, note="门店取消订单：门店缺货", actor="门店"))
        else:
            cause = Refund.Cause.AFTER_SALE
            after_sale = AfterSale(
                number=f"AS{order.number[:8]}{order.number[-8:]}", order=order, user_id=order.user_id,
                kind=AfterSale.Kind.REFUND_ONLY, status=AfterSale.Status.REFUNDED,
                reason=AfterSale.Reason.NOT_WANTED if plan.outcome == "closed" else plan.reason,
                amount=amount, includes_delivery_fee=plan.fee_back, request_id=f"demo-{order.number}",
                created_at=at - timedelta(hours=2), updated_at=at, closed_at=at,
            )
            after_sales.append((after_sale, [
                AfterSaleLine(after_sale=after_sale, order_line_id=pk, quantity=q, amount=a)
                for pk, (q, a) in lines.items()
            ]))
            events.append(_event(order, after_sale.created_at, kind=OrderEvent.Kind.AFTER_SALE,
                                 note=f"申请仅退款 ¥{amount}：{after_sale.get_reason_display()}"))
        refund = Refund(
            order=order, attempt=attempt, after_sale=after_sale, cause=cause, out_refund_no=f"{order.number}R01",
            amount=amount, amount_fen=yuan_to_fen(amount), lines={str(pk): [q, str(a)] for pk, (q, a) in lines.items()},
            includes_delivery_fee=plan.fee_back, state=Refund.State.SUCCEEDED, reason=order.cancel_reason or "售后退款",
            gateway_refund_id=f"DEVR{order.number}", attempts=1, succeeded_at=at, created_at=at, updated_at=at,
        )
        refunds.append(refund)
        payment_events += [
            PaymentEvent(attempt=attempt, order=order, kind=PaymentEvent.Kind.REFUND_REQUESTED,
                         gateway_reference=refund.out_refund_no, amount_fen=refund.amount_fen, created_at=at),
            PaymentEvent(attempt=attempt, order=order, kind=PaymentEvent.Kind.REFUND_SUCCEEDED,
                         gateway_reference=refund.out_refund_no, amount_fen=refund.amount_fen, created_at=at),
        ]
        events.append(_event(order, at, kind=OrderEvent.Kind.REFUND, note=f"退款成功 ¥{amount}", actor="系统"))
        if plan.outcome == "closed":
            events.append(_event(order, at, note="全额退款，交易关闭", from_status=Order.Status.PAID,
                                 to_status=Order.Status.CLOSED, actor="系统"))
    return after_sales, refunds


# --- live orders, through the services -----------------------------------------------------------
# (name, buyer, what happens). "shopper" is the demo shopper; a number picks demo-member-<n>.
SHOPPER_SCENARIOS = [
    ("shopper-pickup", "shopper", "ready"),
    ("shopper-shipped", "shopper", "shipped"),
    ("shopper-completed", "shopper", "completed_delivery"),
    ("shopper-pending", "shopper", "pending"),
]
KINDS = [
    "paid_pickup", "ready", "partly_picked", "paid_express", "shipped", "delivering", "completed_pickup",
    "partly_refunded", "after_sale_open", "return_awaited", "pending", "cancelled", "closed",
]
LIVE_PER_STORE = 4
SHOPPER_STORE = "sh-jingan"  # the demo clerk's store: the shopper's pickup is verified there
SHOPPER_DELIVERY_STORE = "sh-xujiahui"  # next to the shopper's located default address


@dataclass
class Live:
    name: str
    store: Store
    buyer: object
    kind: str


class Skip(Exception):
    """A scenario that cannot be made with this data (no stock, no address): left out."""


def _live_scenarios(rng, shelves):
    User = get_user_model()
    shopper = User.objects.filter(phone=SHOPPER_PHONE).first()
    by_code = {shelf.store.code: shelf.store for shelf in shelves}
    scenarios = []
    if shopper is not None:
        for name, _who, kind in SHOPPER_SCENARIOS:
            code = SHOPPER_DELIVERY_STORE if kind == "completed_delivery" else SHOPPER_STORE
            store = by_code.get(code) or (shelves[0].store if shelves else None)
            if store is not None:
                scenarios.append(Live(name, store, shopper, kind))
    members = {u.username: u for u in User.objects.filter(username__startswith="demo-member-")}
    n = 0
    for i, shelf in enumerate(shelves):
        for j in range(LIVE_PER_STORE):
            kind = KINDS[(i * LIVE_PER_STORE + j) % len(KINDS)]
            buyer = members.get(f"demo-member-{(n * 7) % 200 + 1:03d}")
            n += 1
            if buyer is not None:
                scenarios.append(Live(f"{shelf.store.code}-{j + 1}", shelf.store, buyer, kind))
    return scenarios


def _seed_live(rng, out):
    from .payments import dev

    shelves = _shelves()
    if not shelves:
        return 0
    staff = _staff()
    paying = dev.DevGateway.is_available() and staff is not None
    if not paying:
        out("  orders: the development gateway (PAYMENT_DEV_GATEWAY) is off or the demo staff are missing: "
            "only unpaid demo orders are made")
    made = 0
    shelves_by_store = {shelf.store.pk: shelf for shelf in shelves}
    for live in _live_scenarios(rng, shelves):
        token = f"{LIVE_TOKEN}{live.name}"
        if Order.objects.filter(user=live.buyer, checkout_token=token).exists():
            continue
        if not paying and live.kind not in ("pending", "cancelled"):
            continue
        try:
            with transaction.atomic():  # a scenario is made whole or not at all
                made += _make(rng, live, token, shelves_by_store[live.store.pk], staff)
        except (Skip, DomainError) as why:
            out(f"  orders: demo order {live.name} skipped: {why}")
    _print_shopper_orders(out)
    return made


def _staff():
    """Who acts for each store: the demo manager at their store, the HQ admin elsewhere."""
    from members.demo import DEMO_ADMIN
    from stores.demo import DEMO_MANAGER

    User = get_user_model()
    admin = User.objects.filter(username=DEMO_ADMIN["username"]).first()
    manager = User.objects.filter(username=DEMO_MANAGER["username"]).first()
    if admin is None:
        return None
    home = Store.objects.filter(code=DEMO_MANAGER["store"]).values_list("pk", flat=True).first()
    return lambda store: manager if manager is not None and store.pk == home else admin


def _basket(rng, shelf, lines, *, at_least=ZERO, quantity=1):
    """`lines` SKUs the store can sell `quantity` (or more) of, enough for `at_least` yuan."""
    fresh = dict(Stock.objects.filter(store=shelf.store).values_list("sku_id", "on_hand"))
    reserved = dict(Stock.objects.filter(store=shelf.store).values_list("sku_id", "reserved"))
    candidates = [sku for sku, _a in shelf.skus if fresh.get(sku.pk, 0) - reserved.get(sku.pk, 0) >= quantity + 2]
    if len(candidates) < lines:
        raise Skip("not enough stock")
    picked = rng.sample(candidates, lines)
    basket = [[sku, quantity] for sku in picked]
    while sum((sku.price * q for sku, q in basket), ZERO) < at_least:
        cheapest = min(basket, key=lambda item: item[0].price)
        if fresh[cheapest[0].pk] - reserved[cheapest[0].pk] < cheapest[1] + 3:
            raise Skip("not enough stock")
        cheapest[1] += 1
    return [(sku, q) for sku, q in basket]


def _address(buyer, store, rng, *, nearby):
    """The buyer's default address (within the store's delivery radius when `nearby`), or a new
    one a few hundred metres from the store."""
    from members.services import save_address
    from stores.selectors import delivery_distance_km

    address = Address.objects.filter(user=buyer, is_default=True).first()
    if address is not None and not nearby:
        return address
    if address is not None and address.latitude is not None:
        distance = delivery_distance_km(store, address.latitude, address.longitude)
        if distance is not None and distance <= float(store.delivery_radius_km):
            return address
    return save_address(buyer, Address(
        receiver=buyer.nickname or "会员", phone=str(buyer.phone or "").removeprefix("+86") or "13800000000",
        province=store.province, city=store.city, district=store.district,
        detail=f"{rng.choice(['人民路', '中山路', '解放路', '建设路'])}{rng.randint(1, 300)}号",
        latitude=store.latitude + rng.uniform(-0.006, 0.006), longitude=store.longitude + rng.uniform(-0.006, 0.006),
    ), make_default=True)


def _make(rng, live, token, shelf, staff):
    """One scenario, through the services. Returns how many orders it made (1)."""
    from .payments.services import execute_refund
    from .services import CheckoutRequest, place_order

    store, buyer, kind = live.store, live.buyer, live.kind
    by = staff(store) if staff else None
    express = kind in ("paid_express", "shipped", "partly_refunded", "return_awaited")
    delivery = kind in ("delivering", "completed_delivery")
    if express and not store.express_enabled or delivery and not store.delivery_enabled:
        kind, express, delivery = "paid_pickup", False, False
    fulfilment = Order.Fulfilment.EXPRESS if express else Order.Fulfilment.DELIVERY if delivery \
        else Order.Fulfilment.PICKUP
    address = _address(buyer, store, rng, nearby=delivery) if express or delivery else None
    two_units = kind in ("partly_refunded", "partly_picked", "after_sale_open")
    lines = _basket(rng, shelf, rng.choice([1, 2]) if not two_units else 2,
                    at_least=store.delivery_min_order + 10 if delivery else ZERO, quantity=2 if two_units else 1)
    order = place_order(buyer, CheckoutRequest(
        lines=[(sku.pk, q) for sku, q in lines], store=store, fulfilment=fulfilment,
        address_id=address.pk if address else None, coupon="", source="buy_now",
        remark=rng.choice(BUYER_REMARKS),
    ), token=token)
    if kind == "pending":
        return 1
    if kind == "cancelled":
        from .services import cancel_order

        cancel_order(order, by=buyer, reason="不想要了")
        return 1
    _pay(order)
    _fulfil(rng, order, kind, by, buyer, execute_refund)
    return 1


def _pay(order):
    """The shopper pays on the development gateway's page: its signed notice, the real path."""
    from .payments import dev
    from .payments.services import start_payment
    from .payments.views import handle_dev_notice

    attempt = start_payment(order, user=order.user, channel="dev")
    body, signature = dev.make_notice(attempt)
    status, answer = handle_dev_notice(body, signature)
    if status != 200 or answer.get("result") != "paid":
        raise Skip(f"payment not taken: {answer}")
    order.refresh_from_db()


def _fulfil(rng, order, kind, by, buyer, execute_refund):
    from . import services
    from .tracking import add_manual_event

    def lines():
        return list(order.lines.order_by("pk"))

    def refund_now():
        for refund in Refund.objects.filter(order=order, state=Refund.State.PENDING):
            execute_refund(refund.pk)  # the dev gateway refunds at once; the worker's task then finds it done

    if kind in ("ready", "partly_picked"):
        services.mark_ready_for_pickup(order, by=by)
    if kind == "partly_picked":
        first = lines()[0]
        services.verify_pickup(store=order.store, code=order.pickup_code, by=by, quantities={first.pk: first.quantity})
    if kind in ("completed_pickup", "after_sale_open"):
        services.verify_pickup(store=order.store, code=order.pickup_code, by=by)
    if kind == "after_sale_open":
        services.request_after_sale(order, user=buyer, kind=AfterSale.Kind.REFUND_ONLY,
                                    reason=AfterSale.Reason.DAMAGED, description="外包装破损，一件漏液",
                                    quantities={lines()[0].pk: 1}, request_id=f"demo-{order.number}")
    if kind == "partly_refunded":
        asked = services.request_after_sale(order, user=buyer, kind=AfterSale.Kind.REFUND_ONLY,
                                            reason=AfterSale.Reason.NOT_WANTED, quantities={lines()[0].pk: 1},
                                            request_id=f"demo-{order.number}")
        services.approve_after_sale(asked, by=by, note="同意退款")
        refund_now()
    if kind in ("shipped", "return_awaited"):
        carrier = rng.choice(["shunfeng", "zhongtong", "yuantong", "yunda", "jd"])
        number = f"{TRACKING_PREFIX[carrier]}8{order.number[-12:]}"
        services.ship_order(order, by=by, parcels=[(carrier, number)])
        shipment = order.shipments.get()
        now = timezone.now()
        for minutes, context, state in ((3, f"【{order.store.city}】{order.store.name} 已揽收", State.COLLECTED),
                                        (2, f"快件已发往【{order.city}转运中心】", State.IN_TRANSIT)):
            add_manual_event(shipment, by=by, occurred_at=now - timedelta(minutes=minutes), context=context,
                             state=state, location=order.store.city)
    if kind == "return_awaited":
        services.complete_order(order, by=buyer)
        asked = services.request_after_sale(order, user=buyer, kind=AfterSale.Kind.RETURN_REFUND,
                                            reason=AfterSale.Reason.NOT_AS_DESCRIBED, description="颜色与图片不符",
                                            quantities={lines()[0].pk: 1}, request_id=f"demo-{order.number}")
        services.approve_after_sale(asked, by=by, note="请寄回门店")
    if kind in ("delivering", "completed_delivery"):
        name, phone = rng.choice(COURIERS)
        services.dispatch_delivery(order, by=by, courier_name=name, courier_phone=phone)
    if kind == "completed_delivery":
        services.mark_delivered(order, by=by)
    if kind == "closed":
        services.staff_cancel_paid_order(order, by=by, reason="门店缺货")
        refund_now()


def _print_shopper_orders(out):
    shopper_orders = {
        o.checkout_token.removeprefix(LIVE_TOKEN): o
        for o in Order.objects.filter(user__phone=SHOPPER_PHONE, checkout_token__startswith=LIVE_TOKEN)
        .select_related("store")
    }
    pickup = shopper_orders.get("shopper-pickup")
    if pickup is not None and pickup.status == Order.Status.READY_FOR_PICKUP:
        try:
            where = reverse("orders_bo:pickups")
        except NoReverseMatch:
            where = "the back office's pickup screen"
        out(f"  order pickup: code {pickup.pickup_code} at {pickup.store.name} for the demo shopper "
            f"(order {pickup.number}); store_clerk verifies it at {where}")
    for name in ("shopper-shipped", "shopper-completed", "shopper-pending"):
        order = shopper_orders.get(name)
        if order is not None:
            out(f"  demo shopper's order {order.number}: {order.get_status_display()}")
