"""Checkout: what an order would cost (`build_quote`, read-only, for the page) and placing it
(`place_order`, one transaction).

The page sends only choices (fulfilment, address, pickup slot, coupon, points on/off, remark); the
server computes every amount with orders.pricing, and places the order only if the amount the
shopper saw is still the amount due. One checkout page is one order: the page's token is unique per
buyer, so a double submit, a retry or a second tab returns the order already placed.
"""

import functools
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.selectors import category_tree, sellable_skus
from core.money import ZERO, to_money
from core.numbers import parse_id, parse_int
from core.prepared import Prepared
from marketing.errors import CouponUnavailable
from marketing.models import Coupon, MemberCoupon
from marketing.services import use_coupon
from members.models import Address, Member, PointsEntry
from members.services import quote_checkout_deduction, spend_points
from stores.errors import StockError
from stores.models import Stock, Store
from stores.selectors import delivery_distance_km, pickup_slots
from stores.services import reserve_lines

from .. import list_cache, pricing, store_rules
from ..errors import Code, OrderError
from ..models import Cart, CartLine, Order, OrderEvent, OrderLine
from ..models.cart import MAX_LINE_QUANTITY
from .base import _event_values, record_event, setting
from .numbers import new_order_number

FULFILMENTS = [Order.Fulfilment.PICKUP, Order.Fulfilment.DELIVERY, Order.Fulfilment.EXPRESS]
AUTO = "auto"


@dataclass
class CheckoutRequest:
    """What the shopper chose. `lines` is [(sku_id, quantity)] from the cart's ticked lines or from
    立即购买; `store` is the chosen store (read from the session by the view, never from the form)."""

    lines: list
    store: Store | None
    fulfilment: str = ""
    address_id: int | None = None
    slot: str = ""
    coupon: str = AUTO  # AUTO: the best usable one; "": none; else a MemberCoupon id
    use_points: bool = False
    remark: str = ""
    source: str = "cart"


@dataclass
class QuoteLine:
    sku: object
    quantity: int
    priced: pricing.PricedLine | None
    available: int | None
    problem: str = ""

    @property
    def ok(self):
        return not self.problem


@dataclass
class FulfilmentOption:
    code: str
    label: str
    available: bool
    reason: str = ""
    fee: Decimal = ZERO


@dataclass
class CouponOption:
    copy: MemberCoupon
    discount: Decimal
    usable: bool
    reason: str = ""
    terms: object = None


@dataclass
class Quote:
    request: CheckoutRequest
    member: Member | None
    lines: list = field(default_factory=list)
    fulfilment_options: list = field(default_factory=list)
    fulfilment: str = ""
    addresses: list = field(default_factory=list)
    address: Address | None = None
    slots: list = field(default_factory=list)
    slot: tuple | None = None
    coupons: list = field(default_factory=list)
    coupon: CouponOption | None = None
    points_quote: object = None
    points_used: int = 0
    totals: pricing.Totals | None = None
    errors: list = field(default_factory=list)  # [(code, message)] that block placing the order

    @property
    def ok(self):
        return not self.errors

    @property
    def pay_amount(self):
        return self.totals.pay_amount if self.totals else ZERO

    def error(self, code, message):
        self.errors.append((str(code), str(message)))


class CouponTerms:
    """A coupon as pricing needs it: its discount rule and its scope."""

    def __init__(self, coupon, scope_categories=(), scope_products=()):
        self.coupon = coupon
        self.categories = frozenset(scope_categories)
        self.products = frozenset(scope_products)

    def discount_for(self, subtotal):
        return self.coupon.discount_for(subtotal)

    def applies_to(self, line):
        scope = self.coupon.scope
        if scope == Coupon.Scope.PRODUCTS:
            return line.product_id in self.products
        if scope == Coupon.Scope.CATEGORIES:
            return bool(line.category_ids & self.categories)
        return True


def _category_lineage(category_id, by_id):
    ids = set()
    while category_id is not None and category_id not in ids:
        ids.add(category_id)
        node = by_id.get(category_id)
        category_id = node["parent_id"] if node else None
    return frozenset(ids)


def _parse_slot(raw, slots):
    for start, end in slots:
        if raw and raw in (start.isoformat(), timezone.localtime(start).strftime("%Y-%m-%dT%H:%M")):
            return start, end
    return None


# --- the quote --------------------------------------------------------------------------------
# the quote's reads, compiled once per process (core.prepared): the same rows as these querysets
_member = Prepared(lambda user_id: Member.objects.select_related("level").filter(user_id=user_id)[:1])
# the SKUs with what the quote, the page and the order's lines read of them (not the product's
# description and the other columns nobody here reads)
_IMAGE_FIELDS = ("image", "width", "height", "alt", "thumbnails")
_SKU_FIELDS = (
    "code", "spec_text", "price", "product", "product__name", "product__category_id",
    "product__member_discount_enabled", "image", "product__cover",
    *(f"image__{name}" for name in _IMAGE_FIELDS), *(f"product__cover__{name}" for name in _IMAGE_FIELDS),
)


def _sellable_query(now, sku_ids):
    return sellable_skus(now=now).filter(pk__in=sku_ids).select_related("product__cover", "image").only(*_SKU_FIELDS)


_sellable = Prepared(_sellable_query)
# the same with what the store has of each (`available`: on hand less reserved; None without a
# stock row): one statement, one snapshot, instead of the stock read after the SKUs
_sellable_in_store = Prepared(lambda now, store_id, sku_ids: _sellable_query(now, sku_ids).annotate(
    available=Subquery(Stock.objects.filter(store_id=store_id, sku_id=OuterRef("pk"))
                       .values(left=F("on_hand") - F("reserved"))[:1]),
))
_unused_coupons = Prepared(lambda user_id, now: (
    MemberCoupon.objects.filter(user_id=user_id, status=MemberCoupon.Status.UNUSED, valid_until__gt=now)
    .select_related("coupon").order_by("valid_until", "pk")))
_addresses = Prepared(lambda user_id: Address.objects.filter(user_id=user_id).order_by("-is_default", "-updated_at", "-pk"))


def build_quote(user, request, *, now=None):
    """Everything the checkout page shows and order creation needs, priced by orders.pricing.
    Reads only. A constant number of queries whatever the number of lines."""
    member = next(iter(_member(user.pk)), None)
    return _build_quote(user, request, member=member, now=now or timezone.now())


def _build_quote(user, request, *, member, now, placing=False):
    """build_quote with the member already read (place_order passes its locked row, level
    included). `placing`: only what the order needs, not what only the page shows (the points
    offer when the shopper did not ask for points; the addresses and the express rule of an order
    picked up in the store, the coupons when none is used)."""
    quote = Quote(request=request, member=member)
    store = request.store
    if store is None:
        quote.error(Code.NO_STORE, _("请先选择门店"))
    elif not store.accepts_orders:
        quote.error(Code.STORE_UNAVAILABLE, _("%(store)s 暂停营业，请选择其他门店") % {"store": store.name})
    if not request.lines:
        quote.error(Code.EMPTY, _("请选择要购买的商品"))
        return quote

    # an order placed without a coupon needs no list of them
    copies = _unused_coupons(user.pk, now) if not (placing and not request.coupon) else None
    # the lines' category lineage matters only to a coupon limited to some categories
    by_category = bool(copies) and any(copy.coupon.scope == Coupon.Scope.CATEGORIES for copy in copies)
    _quote_lines(quote, store, now, categories=by_category)
    ok_lines = [line for line in quote.lines if line.ok]
    priced = [line.priced for line in ok_lines]
    percent = member.level.discount_percent if member and member.level_id else Decimal("100")
    pricing.apply_member_discount(priced, percent)
    if copies is not None:
        _quote_coupons(quote, copies, priced, now)
    pricing.apply_coupon(priced, quote.coupon and quote.coupon.terms)
    goods_after_coupon = pricing.goods_after_coupon(priced)

    pickup_only = placing and request.fulfilment == Order.Fulfilment.PICKUP and not request.address_id
    if not pickup_only:
        quote.addresses = _addresses(user.pk)
    if request.address_id:
        quote.address = next((a for a in quote.addresses if a.pk == request.address_id), None)
        if quote.address is None:
            quote.error(Code.ADDRESS_INVALID, _("收货地址不存在，请重新选择"))
    elif quote.addresses:
        quote.address = quote.addresses[0]
    if store is not None and store.accepts_orders:
        _quote_fulfilment(quote, store, goods_after_coupon, now, pickup_only=pickup_only, placing=placing)
    fee = next((o.fee for o in quote.fulfilment_options if o.code == quote.fulfilment and o.available), ZERO)

    if member is not None and ok_lines:
        if request.use_points:
            quote.points_quote = quote_checkout_deduction(member, goods_after_coupon, balance_read=True)
            pricing.apply_points(priced, quote.points_quote.points, quote.points_quote.amount)
        elif not placing:
            quote.points_quote = quote_checkout_deduction(member, goods_after_coupon, 0, balance_read=True)
    quote.totals = pricing.totals(priced, fee)
    quote.points_used = quote.totals.points_used
    if ok_lines and len(ok_lines) != len(quote.lines):
        quote.error(Code.NOT_SELLABLE, _("部分商品当前不可购买，请返回修改"))
    return quote


def _quote_lines(quote, store, now, *, categories=True):
    """The lines, priced as they stand; `categories`: with each product's category and its
    ancestors (the catalogue's cached tree), which only a coupon limited to categories reads."""
    wanted = {}
    for raw_sku, raw_quantity in quote.request.lines:
        try:
            sku_id, quantity = parse_id(raw_sku), parse_int(raw_quantity, minimum=1, maximum=MAX_LINE_QUANTITY)
        except ValueError:
            quote.error(Code.INVALID_QUANTITY, _("商品数量必须是 1 到 %(max)s 之间的整数") % {"max": MAX_LINE_QUANTITY})
            continue
        wanted[sku_id] = min(MAX_LINE_QUANTITY, wanted.get(sku_id, 0) + quantity)
    if store is not None:
        skus = {sku.pk: sku for sku in _sellable_in_store(now, store.pk, list(wanted))}
    else:
        skus = {sku.pk: sku for sku in _sellable(now, list(wanted))}
    by_id = category_tree()["by_id"] if categories else None
    for sku_id, quantity in wanted.items():
        sku = skus.get(sku_id)
        if sku is None:
            quote.lines.append(QuoteLine(sku=None, quantity=quantity, priced=None, available=None,
                                         problem=_("商品已下架或暂不可售")))
            continue
        available = (sku.available or 0) if store is not None else None
        problem = ""
        if available is not None and available <= 0:
            problem = _("该门店缺货")
        elif available is not None and available < quantity:
            problem = _("该门店仅剩 %(n)s 件") % {"n": available}
        product = sku.product
        priced = pricing.start([pricing.LineInput(
            key=sku.pk, unit_price=sku.price, quantity=quantity,
            takes_member_discount=getattr(product, "member_discount_enabled", True),
            product_id=product.pk,
            category_ids=_category_lineage(product.category_id, by_id) if categories else frozenset(),
        )])[0]
        quote.lines.append(QuoteLine(sku=sku, quantity=quantity, priced=priced, available=available, problem=problem))
    if any(not line.ok for line in quote.lines):
        short = [f"{line.sku.display_name}（{line.problem}）" for line in quote.lines if line.sku and not line.ok]
        gone = sum(1 for line in quote.lines if line.sku is None)
        parts = short + ([_("%(n)s 件商品已下架") % {"n": gone}] if gone else [])
        quote.error(Code.INSUFFICIENT_STOCK, _("以下商品无法购买：%(items)s") % {"items": "；".join(parts)})


def _coupon_scopes(coupons):
    """{coupon id: (category ids, product ids)} of the coupons limited to some categories or products:
    one query per kind of scope present, none when every coupon is for the whole shop."""
    scopes = {}
    by_kind = (
        (Coupon.Scope.CATEGORIES, Coupon.scope_categories.through, "category_id", 0),
        (Coupon.Scope.PRODUCTS, Coupon.scope_products.through, "product_id", 1),
    )
    for kind, through, column, slot in by_kind:
        ids = [c.pk for c in coupons if c.scope == kind]
        if not ids:
            continue
        for coupon_id, target in through.objects.filter(coupon_id__in=ids).values_list("coupon_id", column):
            scopes.setdefault(coupon_id, ([], []))[slot].append(target)
    return scopes


def _quote_coupons(quote, copies, priced, now):
    scopes = _coupon_scopes({copy.coupon for copy in copies})
    options = []
    for copy in copies:
        coupon = copy.coupon
        terms = CouponTerms(coupon, *scopes.get(coupon.pk, ((), ())))
        eligible = pricing.coupon_eligible_subtotal(priced, terms)
        discount = terms.discount_for(eligible) if priced else ZERO
        reason = ""
        if copy.valid_from > now:
            reason = _("%(date)s 起可用") % {"date": timezone.localtime(copy.valid_from).strftime("%m-%d %H:%M")}
        elif eligible <= 0:
            reason = _("所选商品不在此券使用范围内")
        elif eligible < coupon.threshold:
            reason = _("还差 ¥%(gap)s 可用") % {"gap": coupon.threshold - eligible}
        elif discount <= 0:
            reason = _("当前商品不满足使用条件")
        options.append(CouponOption(copy=copy, discount=discount, usable=not reason, reason=reason, terms=terms))
    usable = [o for o in options if o.usable]
    quote.coupons = sorted(options, key=lambda o: (not o.usable, -o.discount, o.copy.valid_until))
    choice = quote.request.coupon
    if choice == AUTO:
        quote.coupon = max(usable, key=lambda o: (o.discount, -o.copy.valid_until.timestamp()), default=None)
    elif choice:
        quote.coupon = next((o for o in options if str(o.copy.pk) == str(choice)), None)
        if quote.coupon is None:
            quote.error(Code.COUPON_UNUSABLE, _("优惠券不存在或已使用"))
        elif not quote.coupon.usable:
            quote.error(Code.COUPON_UNUSABLE, _("该优惠券不可用：%(reason)s") % {"reason": quote.coupon.reason})
            quote.coupon = None


def _express_rule(store, rules):
    """The store's own express rule, else HQ's, of the rules that apply to it."""
    rules = {r.store_id: r for r in rules}
    own = rules.get(store.pk)
    if own is not None:
        return own if own.is_active else None
    hq = rules.get(None)
    return hq if hq is not None and hq.is_active else None


def _quote_fulfilment(quote, store, goods, now, *, pickup_only=False, placing=False):
    """The fulfilment options and the chosen one. The store's hours and express rules: the page's
    from orders.store_rules (kept per process under a version), an order's read afresh."""
    address = quote.address
    reads_rules = store.pickup_enabled or store.express_enabled
    kept = store_rules.for_store(store.pk) if reads_rules and not placing else None
    options = []
    # a level with free delivery (MemberLevel.free_delivery) pays no fee for either kind of delivery
    member = quote.member
    free_delivery = bool(member is not None and member.level_id and member.level.free_delivery)
    # pickup
    if store.pickup_enabled:
        # a pickup order placed without a chosen slot takes the first: the rest is not needed
        first_only = pickup_only and not quote.request.slot
        if not hasattr(store, "hour_list"):  # what pickup_slots reads
            store.hour_list = kept[0] if kept else store_rules.store_hours(store.pk)
        quote.slots = pickup_slots(store, now=now, limit=1 if first_only else None)
        options.append(FulfilmentOption(
            Order.Fulfilment.PICKUP, Order.Fulfilment.PICKUP.label, bool(quote.slots),
            "" if quote.slots else _("门店近期没有可选的自提时段"),
        ))
    # same-city delivery by the store
    if store.delivery_enabled:
        reason = ""
        if address is None:
            reason = _("请先添加收货地址")
        elif address.latitude is None or address.longitude is None:
            reason = _("请在收货地址中定位，以判断是否在配送范围内")
        else:
            distance = delivery_distance_km(store, address.latitude, address.longitude)
            if distance is None or distance > float(store.delivery_radius_km):
                km = format(store.delivery_radius_km.normalize(), "f")
                reason = _("收货地址超出门店配送范围（%(km)s 公里）") % {"km": km}
        if not reason and goods < store.delivery_min_order:
            reason = _("同城配送 ¥%(min)s 起送，还差 ¥%(gap)s") % {
                "min": store.delivery_min_order, "gap": store.delivery_min_order - goods,
            }
        options.append(FulfilmentOption(
            Order.Fulfilment.DELIVERY, Order.Fulfilment.DELIVERY.label, not reason, reason,
            ZERO if free_delivery else store.delivery_fee,
        ))
    # express (an order picked up in the store does not need its fee)
    if store.express_enabled and not pickup_only:
        rule = _express_rule(store, kept[1] if kept else store_rules.express_rules(store.pk))
        reason, fee = "", ZERO
        if rule is None:
            reason = _("该门店暂不支持快递")
        elif address is None:
            reason = _("请先添加收货地址")
        elif address.province in rule.excluded:
            reason = _("%(province)s 暂不支持快递配送") % {"province": address.province}
        else:
            fee = ZERO if free_delivery else pricing.express_fee(rule.base_fee, rule.free_over, goods)
        options.append(FulfilmentOption(Order.Fulfilment.EXPRESS, Order.Fulfilment.EXPRESS.label, not reason, reason, fee))
    quote.fulfilment_options = options

    chosen = quote.request.fulfilment
    offered = {o.code: o for o in options}
    if chosen:
        option = offered.get(chosen)
        if option is None:
            quote.error(Code.FULFILMENT_UNAVAILABLE, _("该门店不提供这种配送方式"))
        elif not option.available:
            quote.error(Code.FULFILMENT_UNAVAILABLE, option.reason)
        quote.fulfilment = chosen
    else:
        first = next((o for o in options if o.available), None)
        quote.fulfilment = first.code if first else ""
        if first is None:
            quote.error(Code.FULFILMENT_UNAVAILABLE, _("该门店当前无法接单（没有可用的配送方式）"))
    if quote.fulfilment == Order.Fulfilment.PICKUP and quote.slots:
        if quote.request.slot:
            quote.slot = _parse_slot(quote.request.slot, quote.slots)
            if quote.slot is None:
                quote.error(Code.SLOT_INVALID, _("自提时段已不可选，请重新选择"))
        else:
            quote.slot = quote.slots[0]
    if quote.fulfilment in (Order.Fulfilment.DELIVERY, Order.Fulfilment.EXPRESS) and address is None:
        quote.error(Code.ADDRESS_REQUIRED, _("请填写收货地址"))


# --- placing the order ------------------------------------------------------------------------
def _check_token(token):
    token = str(token or "").strip()
    if not token or len(token) > 64 or not token.isascii() or not token.isprintable():
        raise OrderError(_("页面已过期，请刷新后重新提交"), code=Code.TOKEN_REQUIRED)
    return token


def pay_deadline(now):
    return now + timedelta(minutes=int(setting("ORDER_PAY_TIMEOUT_MINUTES", 30)))


def place_order(user, request, *, token, expected_pay_amount=None, now=None):
    """Create the order the checkout page shows, in one transaction: lines with their snapshots and
    allocated amounts, the coupon used, the points spent and the stock reserved in the store, all
    under the order's reference, and a pay deadline. Anything refused (stock gone, coupon used
    elsewhere, points short, prices changed since the page was shown) raises OrderError and leaves
    nothing behind. The same `token` again returns the order it created and changes nothing.

    Locks: the member row first (so this buyer's checkouts, cancels and refunds take turns), then the
    coupon copy, then the store's stock rows in SKU order (stores.reserve_lines). The stock rows are
    what every buyer in the store waits for, so they are taken last: everything else (the order, its
    lines and first event, the points, the cart) is written before, and only the commit follows.

    Outside a caller's transaction an order number drawn twice rolls the whole attempt back and it
    runs once more (no savepoint on every order); inside one, a savepoint per draw."""
    now = now or timezone.now()
    token = _check_token(token)
    arguments = dict(token=token, expected_pay_amount=expected_pay_amount, now=now)
    if transaction.get_connection().in_atomic_block:
        return _place_order(user, request, savepoint=True, **arguments)
    for _draw in range(NUMBER_DRAWS - 1):
        try:
            with transaction.atomic():
                return _place_order(user, request, savepoint=False, **arguments)
        except _NumberTaken:
            continue
    with transaction.atomic():
        return _place_order(user, request, savepoint=True, **arguments)


NUMBER_DRAWS = 10


class _NumberTaken(Exception):
    """The drawn order number exists already: the transaction is rolled back."""


# the first two statements of every order placed, compiled once per process (core.prepared)
_member_locked = Prepared(lambda user_id: Member.objects.select_for_update(of=("self",)).select_related("level")
                          .filter(user_id=user_id)[:1])
_placed_with_token = Prepared(lambda user_id, token: Order.objects.filter(user_id=user_id, checkout_token=token)
                              .only("pk")[:1])


def _place_order(user, request, *, token, expected_pay_amount, now, savepoint):
    member = next(iter(_member_locked(user.pk)), None)
    if member is None:
        raise Member.DoesNotExist("the buyer has no member profile")
    # read after the member's lock: a twin that held it before us has committed by now
    done = next(iter(_placed_with_token(user.pk, token)), None)
    if done is not None:  # the same page submitted twice (after the first committed, or waiting for our lock)
        return Order.objects.get(pk=done.pk)
    quote = _build_quote(user, request, member=member, now=now, placing=True)
    if quote.errors:
        code, message = quote.errors[0]
        raise OrderError(message, code=code, details={"errors": quote.errors})
    if expected_pay_amount is not None:
        try:
            expected = to_money(expected_pay_amount)
        except ValueError:
            expected = None
        if expected != quote.pay_amount:
            raise OrderError(
                _("订单金额已变为 ¥%(amount)s，请确认后重新提交"), code=Code.PRICE_CHANGED,
                params={"amount": quote.pay_amount},
            )
    store = request.store
    lines = [line for line in quote.lines if line.ok]
    from_cart = request.source == "cart"
    if connection.vendor == "postgresql":
        # the order, its lines, its first event and the cart's ordered lines gone: one statement
        order = _create_order(user, member, quote, store, token=token, now=now, savepoint=savepoint,
                              lines=lines, from_cart=from_cart)
    else:
        order = _create_order(user, member, quote, store, token=token, now=now, savepoint=savepoint)
        OrderLine.objects.bulk_create([_order_line(order, line) for line in lines])
        record_event(order, by=user, to_status=order.status, note=_("提交订单"))
        if from_cart:
            from .cart import remove_ordered

            remove_ordered(user, [line.sku.pk for line in lines])
    list_cache.created(user.pk)
    if quote.points_used:
        spend_points(member, quote.points_used, PointsEntry.Kind.CHECKOUT, order.reference,
                     reason=_("订单 %(no)s 抵扣") % {"no": order.number})
    if quote.coupon is not None:
        try:
            use_coupon(quote.coupon.copy, reference=order.reference, now=now)
        except CouponUnavailable as exc:
            raise OrderError(_("优惠券已被使用或已过期，请重新选择"), code=Code.COUPON_UNUSABLE) from exc
    try:
        # the order row was inserted by this transaction; without a savepoint when a refusal rolls
        # the whole transaction back (this function's own, not a caller's)
        reserve_lines(store, [(line.sku.pk, line.quantity) for line in lines], reference=order.reference,
                      new_reference=True, savepoint=savepoint)
    except StockError as exc:
        raise OrderError(_("库存不足：%(detail)s") % {"detail": exc}, code=Code.INSUFFICIENT_STOCK,
                         details={"short": getattr(exc, "short", [])}) from exc
    return order


def _create_order(user, member, quote, store, *, token, now, savepoint=True, lines=None, from_cart=False):
    """The order row (a new number drawn until one is free). With `lines` (PostgreSQL): its lines,
    its first event and, `from_cart`, the cart's lines of these SKUs in the same statement."""
    totals = quote.totals
    address = quote.address if quote.fulfilment != Order.Fulfilment.PICKUP else None
    level = member.level
    fields = dict(
        user=user, store=store, fulfilment=quote.fulfilment, checkout_token=token,
        goods_amount=totals.goods_amount, member_discount=totals.member_discount,
        coupon_discount=totals.coupon_discount, points_discount=totals.points_discount,
        points_used=totals.points_used, delivery_fee=totals.delivery_fee, pay_amount=totals.pay_amount,
        member_coupon=quote.coupon.copy if quote.coupon else None,
        coupon_name=quote.coupon.copy.coupon.name if quote.coupon else "",
        level_name=level.name if level else "", level_discount_percent=level.discount_percent if level else 100,
        buyer_remark=(quote.request.remark or "")[:200],
        pay_deadline=pay_deadline(now),
    )
    if address is not None:
        fields.update(receiver_name=address.receiver, receiver_phone=address.phone, province=address.province,
                      city=address.city, district=address.district, address_detail=address.detail)
    if quote.slot:
        fields.update(pickup_slot_start=quote.slot[0], pickup_slot_end=quote.slot[1])
    def create():
        if lines is None:
            return Order.objects.create(number=new_order_number(now), **fields)
        return _insert_order_at_once(Order(number=new_order_number(now), **fields), lines, by=user,
                                     cart_user=user if from_cart else None)

    if not savepoint:
        # the checkout token cannot clash (the member's lock and the read after it); the number can
        try:
            return create()
        except IntegrityError as exc:
            raise _NumberTaken from exc
    for _attempt in range(NUMBER_DRAWS):
        try:
            with transaction.atomic():
                return create()
        except IntegrityError as exc:
            if Order.objects.filter(user=user, checkout_token=token).exists():
                raise OrderError(_("订单已提交，请勿重复提交"), code=Code.TOKEN_REQUIRED) from exc
            continue  # an order number drawn twice: draw again
    raise OrderError(_("订单号生成失败，请重试"), code=Code.TOKEN_REQUIRED)


def _order_line(order, line):
    sku, priced = line.sku, line.priced
    product = sku.product
    image = sku.image or product.cover
    image_url = image.thumb("card")[0] if image else ""
    return OrderLine(
        order=order, sku=sku, product=product, product_name=product.name[:120], spec_text=sku.spec_text[:200],
        sku_code=sku.code, image_url=image_url[:255], unit_price=priced.unit_price, price_source=priced.price_source,
        quantity=priced.quantity, takes_member_discount=priced.takes_member_discount,
        member_discount=priced.member_discount, coupon_discount=priced.coupon_discount,
        points_discount=priced.points_discount, points_used=priced.points_used, paid_amount=priced.paid_amount,
    )


@functools.lru_cache(maxsize=8)
def _insert_columns(model, skip):
    """[(field, column, "%s::type")] of a model's concrete fields but its key and `skip`, worked out
    once: typed, as a VALUES list or a SELECT would otherwise make text of them; a text column as
    varchar without its length (a cast to varchar(n) would cut a long value, an INSERT refuses it)."""
    columns = []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.name in skip:
            continue
        cast = "varchar" if model_field.get_internal_type() == "CharField" else model_field.cast_db_type(connection)
        columns.append((model_field, model_field.column, f"%s::{cast}"))
    return columns


def _insert_values(obj, *, skip=()):
    """[(column, "%s::type", value)] of a new row, the values as the ORM's INSERT would send them
    (defaults, auto_now_add, the backend's form of each value)."""
    return [(column, placeholder, model_field.get_db_prep_save(model_field.pre_save(obj, add=True), connection))
            for model_field, column, placeholder in _insert_columns(type(obj), tuple(skip))]


def _insert_order_at_once(order, lines, *, by, cart_user):
    """PostgreSQL: INSERT the order, its lines and its first event (提交订单), and DELETE the cart's
    lines of these SKUs when `cart_user`, in one statement (data-modifying WITH), instead of four
    round trips and the ORM's work on each. The order's number or token taken raises IntegrityError
    and nothing is written, as the ORM's INSERT would. Returns the order, saved."""
    qn = connection.ops.quote_name
    head = _insert_values(order)
    params = [value for _column, _cast, value in head]
    sql = [f"WITH o AS (INSERT INTO {qn(Order._meta.db_table)} ({', '.join(qn(c) for c, _p, _v in head)})"
           f" VALUES ({', '.join(p for _c, p, _v in head)}) RETURNING {qn('id')})"]
    rows = [_insert_values(_order_line(order, line), skip=("order",)) for line in lines]
    if rows:
        columns = [column for column, _cast, _value in rows[0]]
        sql.append(
            f", l AS (INSERT INTO {qn(OrderLine._meta.db_table)} ({qn('order_id')}, {', '.join(qn(c) for c in columns)})"
            f" SELECT o.{qn('id')}, v.* FROM o, (VALUES "
            + ", ".join("(" + ", ".join(p for _c, p, _v in row) + ")" for row in rows) + ") v)"
        )
        params += [value for row in rows for _column, _cast, value in row]
    event = OrderEvent(**_event_values(order, kind=OrderEvent.Kind.STATUS, by=by, note=_("提交订单"),
                                       from_status="", to_status=order.status, visible=True))
    tail = _insert_values(event, skip=("order",))
    sql.append(
        f", e AS (INSERT INTO {qn(OrderEvent._meta.db_table)} ({qn('order_id')}, {', '.join(qn(c) for c, _p, _v in tail)})"
        f" SELECT o.{qn('id')}, {', '.join(p for _c, p, _v in tail)} FROM o)"
    )
    params += [value for _column, _cast, value in tail]
    sku_ids = [line.sku.pk for line in lines]
    if cart_user is not None and sku_ids:
        sql.append(
            f", c AS (DELETE FROM {qn(CartLine._meta.db_table)} WHERE {qn('cart_id')} IN"
            f" (SELECT {qn('id')} FROM {qn(Cart._meta.db_table)} WHERE {qn('user_id')} = %s)"
            f" AND {qn('sku_id')} IN ({', '.join(['%s'] * len(sku_ids))}))"
        )
        params += [cart_user.pk, *sku_ids]
    sql.append(" SELECT o.id FROM o")
    with connection.cursor() as cursor:
        cursor.execute("".join(sql), params)
        order.pk = cursor.fetchone()[0]
    order._state.adding = False
    order._state.db = connection.alias
    return order
