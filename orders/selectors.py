"""Shopper reads of the orders app: the cart as the shopper sees it (each line judged against the
chosen store and priced by orders.pricing), the cart badge, the order list with its tab counts, one
order with everything its page shows, and after-sales.

Guarantees: every function runs a fixed number of queries whatever the number of lines, orders or
events (select_related / prefetch_related / one aggregate), and reads only the rows of the user it
is given: another member's order or after-sale is simply not found.
"""

import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.selectors import sellable_skus
from core.fixed_urls import fixed_url
from core.money import ZERO
from members.models import Member
from stores.models import Stock

from . import pricing
from .errors import OrderError
from .models import AfterSale, CartLine, Order, OrderEvent, OrderLine, Shipment, TrackingEvent
from .services.aftersales import can_request, quote_refund
from .services.cart import cart_quantity, session_cart_token, ticked_lines

HUNDRED = Decimal("100")


# --- the cart ---------------------------------------------------------------------------------
class LineState:
    OK = "ok"
    DELISTED = "delisted"
    OUT = "out"
    SHORT = "short"


@dataclass
class CartRow:
    """One cart line as the cart page shows it: its SKU and picture, whether it can be bought at
    the chosen store (and why not), and whether it counts in the selected total."""

    line: CartLine
    state: str
    available: int | None
    message: str = ""
    priced: pricing.PricedLine | None = None

    @property
    def sku(self):
        return self.line.sku

    @property
    def image(self):
        sku = self.line.sku
        return sku.image or sku.product.cover

    @property
    def buyable(self):
        return self.state == LineState.OK

    @property
    def checked(self):
        return self.buyable and self.line.selected

    @property
    def max_quantity(self):
        """What the stepper may go up to: the store's available quantity, within the cart's limit."""
        from .models.cart import MAX_LINE_QUANTITY

        if self.available is None:
            return MAX_LINE_QUANTITY
        return max(1, min(MAX_LINE_QUANTITY, self.available))


@dataclass
class CartView:
    store: object
    rows: list = field(default_factory=list)
    discount_percent: Decimal = HUNDRED
    level_name: str = ""
    totals: pricing.Totals | None = None

    @property
    def count(self):
        """The badge: how many pieces are in the cart."""
        return sum(row.line.quantity for row in self.rows)

    @property
    def checked_rows(self):
        return [row for row in self.rows if row.checked]

    @property
    def checked_quantity(self):
        return sum(row.line.quantity for row in self.checked_rows)

    @property
    def buyable_rows(self):
        return [row for row in self.rows if row.buyable]

    @property
    def unavailable_rows(self):
        return [row for row in self.rows if not row.buyable]

    @property
    def all_checked(self):
        buyable = self.buyable_rows
        return bool(buyable) and all(row.line.selected for row in buyable)

    @property
    def goods_amount(self):
        return self.totals.goods_amount if self.totals else ZERO

    @property
    def member_discount(self):
        return self.totals.member_discount if self.totals else ZERO

    @property
    def total(self):
        return self.goods_amount - self.member_discount

    @property
    def checkout_lines(self):
        """[(sku id, quantity)] of the ticked lines that can be bought: what 结算 takes to checkout."""
        return [(row.line.sku_id, row.line.quantity) for row in self.checked_rows]


def _member_discount(user):
    """(percent paid, level name) of the member's level; (100, "") for a visitor. One query."""
    if not getattr(user, "is_authenticated", False):
        return HUNDRED, ""
    row = (
        Member.objects.filter(user=user).values_list("level__discount_percent", "level__name").first()
    )
    if not row or row[0] is None:
        return HUNDRED, ""
    return row[0], row[1] or ""


def evaluate_cart(cart, *, store, user, now=None):
    """The cart against `store` (None: no store chosen yet, stock unknown): each line is OK,
    delisted (not sellable any more), out of stock there or over the available quantity (仅剩 N 件);
    only OK lines that are ticked count in the total, priced through orders.pricing with the
    member-level discount. Four queries at most (lines, sellable SKUs, stock, member level)."""
    view = CartView(store=store)
    if cart is None:
        return view
    now = now or timezone.now()
    lines = list(
        CartLine.objects.filter(cart=cart).select_related("sku__product__cover", "sku__image").order_by("-added_at", "-id")
    )
    if not lines:
        return view
    sku_ids = [line.sku_id for line in lines]
    sellable = set(sellable_skus(now=now).filter(pk__in=sku_ids).values_list("pk", flat=True))
    stock = {}
    if store is not None:
        stock = {
            sku_id: on_hand - reserved
            for sku_id, on_hand, reserved in Stock.objects.filter(store=store, sku_id__in=sku_ids).values_list(
                "sku_id", "on_hand", "reserved"
            )
        }
    view.discount_percent, view.level_name = _member_discount(user)
    for line in lines:
        available = max(0, stock.get(line.sku_id, 0)) if store is not None else None
        if line.sku_id not in sellable:
            row = CartRow(line, LineState.DELISTED, available, _("商品已下架"))
        elif available is not None and available <= 0:
            row = CartRow(line, LineState.OUT, available, _("该门店缺货"))
        elif available is not None and available < line.quantity:
            row = CartRow(line, LineState.SHORT, available, _("仅剩 %(n)s 件") % {"n": available})
        else:
            row = CartRow(line, LineState.OK, available)
        view.rows.append(row)
    checked = view.checked_rows
    priced = pricing.start([
        pricing.LineInput(
            key=row.line.sku_id, unit_price=row.sku.price, quantity=row.line.quantity,
            takes_member_discount=row.sku.product.member_discount_enabled, product_id=row.sku.product_id,
        )
        for row in checked
    ])
    pricing.apply_member_discount(priced, view.discount_percent)
    for row, line in zip(checked, priced, strict=True):
        row.priced = line
    view.totals = pricing.totals(priced)
    return view


def cart_lines_query(request):
    """The CartLine rows of this request's shopper (member's cart or the session's), or None when
    the shopper can have none (a visitor without a session cart). Costs nothing until evaluated."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return CartLine.objects.filter(cart__user=user)
    session = getattr(request, "session", None)
    token = session_cart_token(request) if session is not None else None
    if token is None:
        return None
    return CartLine.objects.filter(cart__token=token, cart__user__isnull=True)


def cart_count(request):
    """How many pieces are in the shopper's cart, for the 购物车 badge: one query, none for a visitor
    without a cart, none when this request already counted it (the cart page does)."""
    known = getattr(request, "_orders_cart_count", None)
    if known is None:  # read with the points mall's balance (points_mall_counts)
        known = (getattr(request, "points_mall_counts", None) or {}).get("orders_cart")
    if known is not None:
        return known
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        sql, params, at = _member_cart_count_statement(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params[:at], user.pk, *params[at + 1:]])
            row = cursor.fetchone()
        count = int(row[0] or 0) if row else 0
    else:
        lines = cart_lines_query(request)
        count = 0 if lines is None else (lines.aggregate(n=Sum("quantity"))["n"] or 0)
    request._orders_cart_count = count
    return count


@functools.cache
def _member_cart_count_statement(vendor):
    """(sql, params, index of the user id) of a member's cart pieces, compiled by the ORM once per
    process: the badge is on every shopper page, and compiling the join cost more than running it."""
    qs = CartLine.objects.filter(cart__user_id=_NOBODY).values("cart__user_id").annotate(n=Sum("quantity")).values("n")
    sql, params = qs.query.sql_with_params()
    where = [i for i, value in enumerate(params) if value == _NOBODY]
    assert len(where) == 1, sql  # noqa: S101 - a change of the query above must not pass silently
    return sql, tuple(params), where[0]


def count_cart(request, cart):
    """cart_count for a cart the request already holds: one query on its lines, no join."""
    count = cart_quantity(cart.pk)
    request._orders_cart_count = count
    return count


def ticked_cart_lines(user):
    """[(sku id, quantity)] of the member's ticked cart lines, newest first (the cart page's
    order): what checkout quotes. One statement, compiled once per process."""
    return ticked_lines(user.pk)


def remember_cart_count(request, count):
    """Let the badge reuse a count this request already has (no second query)."""
    request._orders_cart_count = count


# --- the order list ---------------------------------------------------------------------------
S = Order.Status
TABS = [
    ("all", gettext_lazy("全部")),
    ("pending_payment", gettext_lazy("待付款")),
    ("to_ship", gettext_lazy("待发货")),
    ("to_receive", gettext_lazy("待收货")),
    ("to_pickup", gettext_lazy("待自提")),
    ("completed", gettext_lazy("已完成")),
    ("after_sale", gettext_lazy("售后")),
]
TAB_KEYS = [key for key, _label in TABS]
TAB_FILTERS = {
    "all": Q(),
    "pending_payment": Q(status=S.PENDING_PAYMENT),
    "to_ship": Q(status=S.PAID) & ~Q(fulfilment=Order.Fulfilment.PICKUP),
    "to_receive": Q(status__in=[S.SHIPPED, S.DELIVERING]),
    "to_pickup": Q(fulfilment=Order.Fulfilment.PICKUP, status__in=[S.PAID, S.READY_FOR_PICKUP]),
    "completed": Q(status=S.COMPLETED),
}
# tabs whose count is shown (things waiting for someone); 全部 and 已完成 only grow
COUNTED_TABS = ("pending_payment", "to_ship", "to_receive", "to_pickup", "after_sale")
# the member centre's old links (?status=…) and the tab each means
STATUS_ALIASES = {"paid": "to_ship", "shipped": "to_receive", "ready_for_pickup": "to_pickup",
                  "delivering": "to_receive"}
ORDERS_PAGE = 10
MAX_PAGE = 10_000
CARD_IMAGES = 3


def tab_of(raw):
    """A tab key from ?tab= (or the member centre's ?status=); anything else is 全部."""
    raw = str(raw or "")
    raw = STATUS_ALIASES.get(raw, raw)
    return raw if raw in TAB_KEYS else "all"


def _count(queryset, group, value=None):
    """A correlated COUNT (or SUM of `value`) of `queryset` per user, 0 when there is none."""
    total = Sum(value) if value else Count("pk")
    return Coalesce(Subquery(queryset.order_by().values(group).annotate(n=total).values("n")[:1]), 0)


def _count_columns(user_ref, *, with_cart=False):
    """{tab: correlated count} (and the cart's pieces) for the user at OuterRef(user_ref)."""
    mine = Order.objects.filter(user=OuterRef(user_ref))
    columns = {key: _count(mine.filter(TAB_FILTERS[key]), "user") for key in COUNTED_TABS if key != "after_sale"}
    columns["after_sale"] = _count(
        AfterSale.objects.filter(user=OuterRef(user_ref), status__in=AfterSale.OPEN_STATUSES), "user")
    if with_cart:
        columns["cart"] = _count(CartLine.objects.filter(cart__user=OuterRef(user_ref)), "cart__user", "quantity")
    return columns


def _counts(user, *, with_cart=False):
    """{tab: count} (and the cart's pieces) in one query: one correlated subquery each, on the
    user's row, so a member without orders still gets zeros."""
    columns = _count_columns("pk", with_cart=with_cart)
    # prefixed: "cart" and "orders" are the user's own relations
    row = get_user_model().objects.filter(pk=user.pk).values(**{f"n_{k}": v for k, v in columns.items()}).first()
    return {key: (row or {}).get(f"n_{key}") or 0 for key in columns}


def _in_tab(key, status, fulfilment):
    """Whether an order of this status and delivery method is in tab `key` (TAB_FILTERS in Python,
    for the counts; a test holds the two to each other)."""
    pickup = fulfilment == Order.Fulfilment.PICKUP
    if key == "pending_payment":
        return status == S.PENDING_PAYMENT
    if key == "to_ship":
        return status == S.PAID and not pickup
    if key == "to_receive":
        return status in (S.SHIPPED, S.DELIVERING)
    if key == "to_pickup":
        return pickup and status in (S.PAID, S.READY_FOR_PICKUP)
    if key == "completed":
        return status == S.COMPLETED
    return key == "all"


def _tab_counts_sql():
    # written out rather than built by the ORM: compiling five correlated subqueries cost more than
    # the whole page's SQL (~8 ms a request); the member's orders are read once through the index
    # (user, -created_at, -id) and grouped, open after-sales counted beside them
    order, after_sale = Order._meta.db_table, AfterSale._meta.db_table
    marks = ", ".join(["%s"] * len(AfterSale.OPEN_STATUSES))
    return (
        f"SELECT status, fulfilment, COUNT(*) FROM {order} WHERE user_id = %s GROUP BY status, fulfilment "
        f"UNION ALL SELECT '', '', COUNT(*) FROM {after_sale} WHERE user_id = %s AND status IN ({marks})"
    )


def tab_counts(user):
    """{tab: count} for the tabs that show one (open after-sales for 售后), in one query."""
    with connection.cursor() as cursor:
        cursor.execute(_tab_counts_sql(), [user.pk, user.pk, *AfterSale.OPEN_STATUSES])
        rows = cursor.fetchall()
    counts = dict.fromkeys(COUNTED_TABS, 0)
    for status, fulfilment, n in rows:
        if status == "":
            counts["after_sale"] = n
            continue
        for key in COUNTED_TABS:
            if _in_tab(key, status, fulfilment):
                counts[key] += n
    return counts


@dataclass
class OrderCard:
    order: Order
    lines: list
    quantity: int
    images: list
    has_open_after_sale: bool
    can_after_sale: bool = False
    store_name: str = ""

    @property
    def more_lines(self):
        return max(0, len(self.lines) - CARD_IMAGES)


def _card(order, lines, now):
    open_after_sale = bool(order.open_after_sale)
    return OrderCard(
        order=order, lines=lines, quantity=sum(line.quantity for line in lines),
        images=[line.image_url for line in lines[:CARD_IMAGES]], has_open_after_sale=open_after_sale,
        can_after_sale=not open_after_sale and can_request(order, now)[0], store_name=order.store_name,
    )


# what a card shows and can_request reads; any other field of a listed order is deferred
CARD_FIELDS = ("id", "public_id", "number", "status", "fulfilment", "pay_amount", "paid_amount",
               "refunded_amount", "completed_at", "created_at", "store_id")
CARD_LINE_FIELDS = ("id", "order_id", "product_name", "spec_text", "image_url", "quantity")
_NOBODY = -918273645  # the user id the page query is compiled with, replaced by the member's


@functools.cache
def _order_page_statement(tab, vendor):
    """(sql, params, index of the user id in params) for a page of `tab`, compiled by the ORM once
    per process: compiling it every time cost more than running it (~4 ms a request)."""
    qs = (
        Order.objects.filter(user_id=_NOBODY).filter(TAB_FILTERS[tab]).only(*CARD_FIELDS)
        .annotate(store_name=F("store__name"), open_after_sale=Exists(
            AfterSale.objects.filter(order=OuterRef("pk"), status__in=AfterSale.OPEN_STATUSES)
        ))
        .order_by("-created_at", "-id")
    )
    sql, params = qs.query.sql_with_params()
    where = [i for i, value in enumerate(params) if value == _NOBODY]
    assert len(where) == 1, sql  # noqa: S101 - a change of the query above must not pass silently
    return f"{sql} LIMIT %s OFFSET %s", tuple(params), where[0]


def order_page(user, tab, page, *, size=ORDERS_PAGE):
    """One page of the member's orders in `tab`, newest first: ([OrderCard], has_next). Two queries
    (orders with their store's name and whether an after-sale is open, and their lines); the rows
    carry only CARD_FIELDS."""
    page = max(1, min(int(page), MAX_PAGE))
    start = (page - 1) * size
    sql, params, at = _order_page_statement(tab, connection.vendor)
    params = [*params[:at], user.pk, *params[at + 1:], size + 1, start]
    rows = list(Order.objects.raw(sql, params))[:size + 1]
    lines = {}
    if rows:
        shown = [order.pk for order in rows[:size]]
        marks = ", ".join(["%s"] * len(shown))
        for line in OrderLine.objects.raw(
            f"SELECT {', '.join(CARD_LINE_FIELDS)} FROM {OrderLine._meta.db_table} "  # noqa: S608 - names, not input
            f"WHERE order_id IN ({marks}) ORDER BY id", shown,
        ):
            lines.setdefault(line.order_id, []).append(line)
    now = timezone.now()
    return [_card(order, lines.get(order.pk, []), now) for order in rows[:size]], len(rows) > size


def member_centre_counts():
    """The order counts per tab and the cart's pieces as columns of the member centre's one
    statement (settings.MEMBER_CENTRE_COUNTS; members.centre), prefixed `orders_`."""
    return {f"orders_{key}": value for key, value in _count_columns("user_id", with_cart=True).items()}


def points_mall_counts():
    """The cart's pieces as a column of the points mall's balance statement
    (settings.POINTS_MALL_COUNTS; marketing.views), for the tab bar's badge (cart_count)."""
    return {"orders_cart": _count_columns("user_id", with_cart=True)["cart"]}


def member_centre_extras(request):
    """The member centre's order shortcuts with a count each (settings.MEMBER_CENTRE_EXTRAS), and the
    cart badge's count, in one query. Members does not import orders; it reads `order_shortcuts`
    from the extras."""
    user = request.user
    if not user.is_authenticated:
        return {}
    counted = getattr(request, "member_centre_counts", None) or {}
    keys = [f"orders_{key}" for key in (*COUNTED_TABS, "cart")]
    if all(key in counted for key in keys):  # read by the member centre's one statement
        counts = {key.removeprefix("orders_"): counted[key] for key in keys}
    else:
        counts = _counts(user, with_cart=True)
    remember_cart_count(request, counts.pop("cart"))  # the tab bar's badge needs no query of its own
    base = fixed_url("orders:list")
    glyphs = {"pending_payment": "¥", "to_ship": "▣", "to_receive": "⇥", "to_pickup": "⌂", "after_sale": "↺"}
    labels = dict(TABS)
    return {
        "order_shortcuts": [
            (key, labels[key], glyphs[key], counts[key], f"{base}?tab={key}") for key in COUNTED_TABS
        ],
        "orders_url": base,
    }


# --- one order --------------------------------------------------------------------------------
def order_for_shopper(user, public_id):
    """The member's order with its store, lines, shopper-visible timeline (newest first), parcels
    with their route and after-sales, or None (another member's or unknown). Six queries."""
    return (
        Order.objects.filter(user=user, public_id=public_id)
        .select_related("store")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            Prefetch("events", queryset=OrderEvent.objects.filter(visible_to_shopper=True).order_by("-id"),
                     to_attr="timeline"),
            Prefetch("shipments", queryset=Shipment.objects.order_by("id").prefetch_related(
                Prefetch("events", queryset=TrackingEvent.objects.order_by("-occurred_at", "-id"))
            )),
            Prefetch("after_sales", queryset=AfterSale.objects.order_by("-created_at", "-id")),
        )
        .first()
    )


def shopper_timeline(events, buyer_id):
    """The timeline as the shopper reads it: who acted is 买家, 系统 or 门店 (never a staff member's
    name). No query: sets `who` on the events given."""
    for event in events:
        if event.actor_id is None:
            event.who = _("系统")
        elif event.actor_id == buyer_id:
            event.who = _("买家")
        else:
            event.who = _("门店")
    return events


def order_with_lines(user, public_id):
    """The member's order with its store, lines and after-sales (for 再来一单 and the after-sale
    request page), or None. Three queries."""
    return (
        Order.objects.filter(user=user, public_id=public_id).select_related("store")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
                          Prefetch("after_sales", queryset=AfterSale.objects.order_by("-created_at", "-id")))
        .first()
    )


def order_status(user, public_id):
    """Just the order (no lines) for the pay and result pages: one query."""
    return Order.objects.filter(user=user, public_id=public_id).select_related("store").first()


@dataclass
class NextStep:
    """What the detail page says to do next, and which actions it offers."""

    title: str
    hint: str = ""
    can_pay: bool = False
    can_cancel: bool = False
    can_confirm: bool = False
    can_reorder: bool = False
    can_after_sale: bool = False
    after_sale_reason: str = ""
    open_after_sale: AfterSale | None = None


def next_step(order, after_sales=(), now=None):
    """The page's headline and the actions the order's state allows (no query: `after_sales` are
    the order's, already loaded)."""
    now = now or timezone.now()
    open_one = next((a for a in after_sales if a.is_open), None)
    allowed, why = can_request(order, now)
    step = NextStep(title=str(order.shopper_status_label), open_after_sale=open_one)
    status = order.status
    if status == S.PENDING_PAYMENT:
        overdue = order.pay_deadline is not None and order.pay_deadline <= now
        step.can_pay = not overdue
        step.can_cancel = True
        step.hint = _("订单已超时，将自动取消") if overdue else _("请在支付截止前完成支付，超时订单将自动取消")
    elif status == S.PAID:
        step.hint = _("门店正在备货，备好后通知您到店自提") if order.is_pickup else _("门店正在备货，发货后可查看物流")
    elif status == S.READY_FOR_PICKUP:
        step.hint = _("商品已备好，请凭自提码到店提货")
    elif status in (S.SHIPPED, S.DELIVERING):
        step.can_confirm = open_one is None
        step.hint = _("收到商品后请确认收货") if open_one is None else _("售后处理中，处理完成后再确认收货")
    elif status == S.COMPLETED:
        step.hint = _("交易完成，感谢您的光临")
    elif status == S.CANCELLED:
        step.hint = order.cancel_reason or _("订单已取消")
    elif status == S.CLOSED:
        step.hint = _("订单已全额退款，交易关闭")
    step.can_reorder = status != S.PENDING_PAYMENT
    step.can_after_sale = allowed and open_one is None
    step.after_sale_reason = "" if allowed else str(why)
    return step


# --- after-sales ------------------------------------------------------------------------------
AFTER_SALE_NUMBER = re.compile(r"^[A-Za-z0-9]{1,32}$")


def after_sales_page(user, page, *, size=ORDERS_PAGE):
    """One page of the member's after-sale requests, newest first: (rows, has_next). Three queries
    (requests with their order, their lines with the order lines)."""
    page = max(1, min(int(page), MAX_PAGE))
    start = (page - 1) * size
    rows = list(
        AfterSale.objects.filter(user=user).select_related("order")
        .prefetch_related(Prefetch("lines", queryset=_after_sale_lines()))
        .order_by("-created_at", "-id")[start:start + size + 1]
    )
    return rows[:size], len(rows) > size


def _after_sale_lines():
    from .models import AfterSaleLine

    return AfterSaleLine.objects.select_related("order_line").order_by("id")


def after_sale_for(user, number):
    """The member's after-sale by its number, with its order, lines and photos; None otherwise
    (another member's, unknown, or not a number at all: never a query with odd characters)."""
    number = str(number or "")
    if not AFTER_SALE_NUMBER.match(number):
        return None
    return (
        AfterSale.objects.filter(user=user, number=number).select_related("order__store")
        .prefetch_related(Prefetch("lines", queryset=_after_sale_lines()), "photos")
        .first()
    )


def after_sale_events(after_sale):
    """The order's after-sale and refund timeline entries since this request was made (one query)."""
    return shopper_timeline(list(
        OrderEvent.objects.filter(
            order_id=after_sale.order_id, visible_to_shopper=True,
            kind__in=[OrderEvent.Kind.AFTER_SALE, OrderEvent.Kind.REFUND],
            created_at__gte=after_sale.created_at,
        ).order_by("-id")
    ), after_sale.user_id)


def refund_preview(order, lines, quantities):
    """(amount, includes the delivery fee, message) for refunding `quantities` ({line id: n}) of the
    order: the same computation the request will store (orders.services.aftersales.quote_refund)."""
    try:
        chosen, fee_back = quote_refund(order, lines, quantities)
    except OrderError as exc:
        return ZERO, False, str(exc)
    amount = sum((a for _n, a in chosen.values()), ZERO) + (order.delivery_fee if fee_back else ZERO)
    return amount, fee_back, ""
