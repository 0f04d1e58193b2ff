"""`manage.py check_orders`: does every order agree with its lines, its payment log and the stock
it holds? Read-only; returns a list of problems, each naming the order (or the stock row).

What must hold, and is checked here:

1. Totals. Each line pays unit price × quantity − member discount − coupon share − points share +
   price-change share; the lines add up to the order's goods amount, discounts, points used and
   adjustment; the lines' paid amounts plus the delivery fee are the order's pay amount.
2. Money. An unpaid order (pending, cancelled) has paid 0 and no payment counted for it; a paid one
   has exactly one succeeded payment attempt counted for it (`is_order_payment`) of exactly its
   paid amount, which is its pay amount. The succeeded refunds counted for the order add up to its
   refunded amount, each refund's lines (plus the delivery fee when it includes it) to the refund,
   and per line to the line's refunded amount and quantity. Each attempt has committed to refunds
   exactly what its refunds not failed add up to (so never less than what succeeded), and money
   that arrived but was not kept (late or duplicate payments) is on its way back in full.
3. Stock. For each order and SKU, the order's reservation (reference ``order:<no>``) holds exactly
   what the line has not handed over nor released, while the order is open, and nothing once it is
   not; it is in the order's store. No ``order:`` reservation holds units for an order that does not
   exist. For every stock row, the units its ``order:`` reservations hold equal what the open
   orders' lines hold there, and its `reserved` equals what all its reservations hold.
4. Status. A pending order has handed over and refunded nothing; a cancelled one nothing either;
   shipped, out-for-delivery and completed orders hold nothing in the store; a closed order
   refunded everything that was paid and holds nothing.

Orders are read in batches by primary key (a constant number of queries per batch), so it runs in
bounded memory over any number of orders; amounts are compared as Decimals in Python, never as
floating point in SQL.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from core.money import ZERO, fen_to_yuan
from stores.models import Stock, StockReservation

from .models import Order, OrderLine, PaymentAttempt, Refund

BATCH_SIZE = 500
ORDER_PREFIX = "order:"
UNPAID = (Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED)
NOTHING_IN_STORE = (Order.Status.SHIPPED, Order.Status.DELIVERING, Order.Status.COMPLETED, Order.Status.CLOSED)

ORDER_FIELDS = (
    "id", "number", "status", "store_id", "goods_amount", "member_discount", "coupon_discount",
    "points_discount", "points_used", "delivery_fee", "adjustment", "pay_amount", "paid_amount",
    "refunded_amount", "paid_at", "completed_at", "cancelled_at",
)
LINE_FIELDS = (
    "id", "order_id", "sku_id", "sku_code", "product_name", "unit_price", "quantity", "member_discount",
    "coupon_discount", "points_discount", "points_used", "adjustment", "paid_amount", "refunded_amount",
    "refunded_quantity", "fulfilled_quantity", "released_quantity",
)
ATTEMPT_FIELDS = ("id", "order_id", "out_trade_no", "state", "amount_fen", "refund_committed_fen", "is_order_payment")
REFUND_FIELDS = (
    "id", "order_id", "attempt_id", "out_refund_no", "state", "amount", "amount_fen", "lines", "counts_for_order",
    "includes_delivery_fee",
)


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong. `order` is the order number ("" for a stock row's problem)."""

    order: str
    message: str

    def __str__(self):
        if self.order:
            return _("订单 %(no)s：%(problem)s") % {"no": self.order, "problem": self.message}
        return self.message


def check_orders(*, batch_size=BATCH_SIZE):
    """Every problem found, orders first (in primary-key order), then the stock rows. Empty when
    everything agrees."""
    problems = []
    last_pk = 0
    while True:
        orders = list(Order.objects.filter(pk__gt=last_pk).order_by("pk").values(*ORDER_FIELDS)[:batch_size])
        if not orders:
            break
        last_pk = orders[-1]["id"]
        problems += _check_batch(orders)
    problems += _holds_without_order()
    problems += _stock_rows()
    return problems


# --- one batch of orders ----------------------------------------------------------------------
def _grouped(queryset, key="order_id"):
    groups = defaultdict(list)
    for row in queryset:
        groups[row[key]].append(row)
    return groups


def _check_batch(orders):
    ids = [order["id"] for order in orders]
    lines = _grouped(OrderLine.objects.filter(order_id__in=ids).order_by("pk").values(*LINE_FIELDS))
    attempts = _grouped(PaymentAttempt.objects.filter(order_id__in=ids).order_by("pk").values(*ATTEMPT_FIELDS))
    refunds = _grouped(Refund.objects.filter(order_id__in=ids).order_by("pk").values(*REFUND_FIELDS))
    by_reference = {ORDER_PREFIX + order["number"]: order["id"] for order in orders}
    holds = defaultdict(list)
    for row in (
        StockReservation.objects.filter(reference__in=list(by_reference))
        .values("reference", "quantity", "sold", "released", sku_id=F("stock__sku_id"), store_id=F("stock__store_id"))
    ):
        holds[by_reference[row["reference"]]].append(row)

    problems = []
    for order in orders:
        found = []
        order_lines = lines.get(order["id"], [])
        found += _totals(order, order_lines)
        found += _money(order, order_lines, attempts.get(order["id"], []), refunds.get(order["id"], []))
        found += _stock(order, order_lines, holds.get(order["id"], []))
        found += _status(order, order_lines)
        problems += [Problem(order["number"], str(message)) for message in found]
    return problems


def _yuan(amount):
    return f"¥{amount}"


def _line_name(line):
    return f"{line['product_name']}（{line['sku_code']}）"


def _line_held(line):
    return line["quantity"] - line["fulfilled_quantity"] - line["released_quantity"]


def _totals(order, lines):
    if not lines:
        return [_("没有商品明细")]
    found = []
    goods = sum((line["unit_price"] * line["quantity"] for line in lines), ZERO)
    if goods != order["goods_amount"]:
        found.append(_("商品金额 %(order)s 与明细合计 %(lines)s 不符") % {
            "order": _yuan(order["goods_amount"]), "lines": _yuan(goods)})
    for field, label in (
        ("member_discount", _("会员折扣")), ("coupon_discount", _("优惠券抵扣")),
        ("points_discount", _("积分抵扣")), ("adjustment", _("改价")),
    ):
        total = sum((line[field] for line in lines), ZERO)
        if total != order[field]:
            found.append(_("%(what)s %(order)s 与明细合计 %(lines)s 不符") % {
                "what": label, "order": _yuan(order[field]), "lines": _yuan(total)})
    points = sum(line["points_used"] for line in lines)
    if points != order["points_used"]:
        found.append(_("使用积分 %(order)s 与明细合计 %(lines)s 不符") % {"order": order["points_used"], "lines": points})
    for line in lines:
        expected = (line["unit_price"] * line["quantity"] - line["member_discount"] - line["coupon_discount"]
                    - line["points_discount"] + line["adjustment"])
        if expected != line["paid_amount"]:
            found.append(_("%(line)s 实付 %(paid)s，按单价、数量和各项优惠应为 %(expected)s") % {
                "line": _line_name(line), "paid": _yuan(line["paid_amount"]), "expected": _yuan(expected)})
    paid = sum((line["paid_amount"] for line in lines), ZERO)
    if paid + order["delivery_fee"] != order["pay_amount"]:
        found.append(_("应付 %(pay)s 不等于明细实付合计 %(lines)s 加运费 %(fee)s") % {
            "pay": _yuan(order["pay_amount"]), "lines": _yuan(paid), "fee": _yuan(order["delivery_fee"])})
    return found


def _money(order, lines, attempts, refunds):
    found = []
    counted = [a for a in attempts if a["is_order_payment"]]
    if order["status"] in UNPAID:
        if order["paid_amount"] != ZERO:
            found.append(_("未付款，却记有实付 %(paid)s") % {"paid": _yuan(order["paid_amount"])})
        for attempt in counted:
            found.append(_("未付款，却有计入订单的支付单 %(no)s") % {"no": attempt["out_trade_no"]})
    elif len(counted) != 1:
        found.append(_("已付款，但计入订单的支付单有 %(n)s 笔（应为 1 笔）") % {"n": len(counted)})
    else:
        payment = counted[0]
        if payment["state"] != PaymentAttempt.State.SUCCEEDED:
            found.append(_("计入订单的支付单 %(no)s 状态为 %(state)s，不是已支付") % {
                "no": payment["out_trade_no"], "state": payment["state"]})
        if fen_to_yuan(payment["amount_fen"]) != order["paid_amount"]:
            found.append(_("实付 %(paid)s 与支付单 %(no)s 的金额 %(amount)s 不符") % {
                "paid": _yuan(order["paid_amount"]), "no": payment["out_trade_no"],
                "amount": _yuan(fen_to_yuan(payment["amount_fen"]))})
        if order["paid_amount"] != order["pay_amount"]:
            found.append(_("实付 %(paid)s 与应付 %(pay)s 不符") % {
                "paid": _yuan(order["paid_amount"]), "pay": _yuan(order["pay_amount"])})

    succeeded = [r for r in refunds if r["counts_for_order"] and r["state"] == Refund.State.SUCCEEDED]
    refunded = sum((r["amount"] for r in succeeded), ZERO)
    if refunded != order["refunded_amount"]:
        found.append(_("已退款 %(order)s 与成功的退款单合计 %(refunds)s 不符") % {
            "order": _yuan(order["refunded_amount"]), "refunds": _yuan(refunded)})
    per_line = defaultdict(lambda: [0, ZERO])
    for refund in succeeded:
        total = ZERO
        try:
            for raw_pk, (quantity, amount) in (refund["lines"] or {}).items():
                per_line[int(raw_pk)][0] += int(quantity)
                per_line[int(raw_pk)][1] += Decimal(amount)
                total += Decimal(amount)
        except (TypeError, ValueError, ArithmeticError):
            found.append(_("退款单 %(no)s 的退款明细无法读取") % {"no": refund["out_refund_no"]})
            continue
        if refund["includes_delivery_fee"]:
            total += order["delivery_fee"]
        if total != refund["amount"]:
            found.append(_("退款单 %(no)s 金额 %(amount)s 与其明细合计 %(lines)s 不符") % {
                "no": refund["out_refund_no"], "amount": _yuan(refund["amount"]), "lines": _yuan(total)})
    line_ids = {line["id"] for line in lines}
    for pk in sorted(set(per_line) - line_ids):
        found.append(_("退款明细指向不属于该订单的商品明细 #%(pk)s") % {"pk": pk})
    for line in lines:
        quantity, amount = per_line.get(line["id"], (0, ZERO))
        if (line["refunded_quantity"], line["refunded_amount"]) != (quantity, amount):
            found.append(_("%(line)s 已退 %(q)s 件 %(amount)s，成功的退款单合计 %(rq)s 件 %(ramount)s") % {
                "line": _line_name(line), "q": line["refunded_quantity"], "amount": _yuan(line["refunded_amount"]),
                "rq": quantity, "ramount": _yuan(amount)})

    for attempt in attempts:
        mine = [r for r in refunds if r["attempt_id"] == attempt["id"]]
        committed = sum(r["amount_fen"] for r in mine if r["state"] != Refund.State.FAILED)
        if attempt["refund_committed_fen"] != committed:
            found.append(_("支付单 %(no)s 记录已申请退款 %(committed)s 分，其未失败的退款单合计 %(sum)s 分") % {
                "no": attempt["out_trade_no"], "committed": attempt["refund_committed_fen"], "sum": committed})
        if attempt["state"] == PaymentAttempt.State.SUCCEEDED and not attempt["is_order_payment"] and committed < \
                attempt["amount_fen"]:
            found.append(_("支付单 %(no)s 收到的 %(amount)s 未计入订单，也未全额退回") % {
                "no": attempt["out_trade_no"], "amount": _yuan(fen_to_yuan(attempt["amount_fen"]))})
    for refund in refunds:
        if refund["attempt_id"] not in {a["id"] for a in attempts}:
            found.append(_("退款单 %(no)s 退的是其他订单的支付单") % {"no": refund["out_refund_no"]})
    return found


def _stock(order, lines, holds):
    found = []
    is_open = order["status"] in Order.OPEN_STATUSES
    expected = defaultdict(int)
    codes = {}
    for line in lines:
        codes[line["sku_id"]] = line["sku_code"]
        if is_open:
            expected[line["sku_id"]] += _line_held(line)
    held = defaultdict(int)
    for row in holds:
        held[row["sku_id"]] += row["quantity"] - row["sold"] - row["released"]
        if row["store_id"] != order["store_id"]:
            found.append(_("SKU %(sku)s 的库存预留在门店 #%(store)s，不在订单的门店 #%(own)s") % {
                "sku": codes.get(row["sku_id"], row["sku_id"]), "store": row["store_id"], "own": order["store_id"]})
    for sku_id in sorted(set(expected) | set(held)):
        if expected[sku_id] != held[sku_id]:
            found.append(_("SKU %(sku)s：订单（%(status)s）应占用库存 %(expected)s 件，预留记录占用 %(held)s 件") % {
                "sku": codes.get(sku_id, sku_id), "status": Order.Status(order["status"]).label,
                "expected": expected[sku_id], "held": held[sku_id]})
    return found


def _status(order, lines):
    found = []
    status = order["status"]
    label = Order.Status(status).label
    if status in UNPAID:
        if order["refunded_amount"] != ZERO:
            found.append(_("未付款，却记有退款 %(r)s") % {"r": _yuan(order["refunded_amount"])})
        for line in lines:
            if line["fulfilled_quantity"] or line["refunded_quantity"] or line["released_quantity"]:
                found.append(_("%(status)s订单的 %(line)s 却有出库或退款数量") % {"status": label, "line": _line_name(line)})
    elif order["paid_at"] is None:
        found.append(_("%(status)s订单没有付款时间") % {"status": label})
    if status in NOTHING_IN_STORE:
        for line in lines:
            if _line_held(line):
                found.append(_("%(status)s订单的 %(line)s 仍有 %(n)s 件未出库也未退款") % {
                    "status": label, "line": _line_name(line), "n": _line_held(line)})
    if status == Order.Status.COMPLETED and order["completed_at"] is None:
        found.append(_("已完成订单没有完成时间"))
    if status == Order.Status.CANCELLED and order["cancelled_at"] is None:
        found.append(_("已取消订单没有取消时间"))
    if status == Order.Status.CLOSED and order["refunded_amount"] != order["paid_amount"]:
        found.append(_("已关闭订单只退款 %(r)s，实付 %(p)s") % {
            "r": _yuan(order["refunded_amount"]), "p": _yuan(order["paid_amount"])})
    return found


# --- across orders: stock rows ----------------------------------------------------------------
def _held():
    return F("quantity") - F("sold") - F("released")


def _holds_without_order():
    rows = list(
        StockReservation.objects.filter(reference__startswith=ORDER_PREFIX)
        .annotate(units=_held()).filter(units__gt=0)
        .values("reference", "units", sku_code=F("stock__sku__code"), store_code=F("stock__store__code"))
    )
    numbers = {row["reference"][len(ORDER_PREFIX):] for row in rows}
    known = set()
    ordered = sorted(numbers)
    for start in range(0, len(ordered), BATCH_SIZE):
        known |= set(Order.objects.filter(number__in=ordered[start:start + BATCH_SIZE]).values_list("number", flat=True))
    return [
        Problem("", _("库存预留 %(ref)s（门店 %(store)s，SKU %(sku)s）占用 %(n)s 件，但没有这个订单") % {
            "ref": row["reference"], "store": row["store_code"], "sku": row["sku_code"], "n": row["units"]})
        for row in rows
        if row["reference"][len(ORDER_PREFIX):] not in known
    ]


def _stock_rows():
    problems = []
    held_by_row = (
        StockReservation.objects.filter(stock=OuterRef("pk")).order_by().values("stock")
        .annotate(total=Sum(_held())).values("total")
    )
    labels = {}

    def label(store_id, sku_id):
        key = (store_id, sku_id)
        if key not in labels:
            row = Stock.objects.filter(store_id=store_id, sku_id=sku_id).values("store__code", "sku__code").first()
            labels[key] = (row["store__code"], row["sku__code"]) if row else (f"#{store_id}", f"#{sku_id}")
        return labels[key]

    for row in (
        Stock.objects.annotate(held=Coalesce(Subquery(held_by_row, output_field=IntegerField()), Value(0)))
        .filter(~Q(reserved=F("held")))
        .values("store_id", "sku_id", "reserved", "held")
    ):
        store, sku = label(row["store_id"], row["sku_id"])
        problems.append(Problem("", _("门店 %(store)s SKU %(sku)s：已预留 %(reserved)s 件，预留记录合计 %(held)s 件") % {
            "store": store, "sku": sku, "reserved": row["reserved"], "held": row["held"]}))

    by_orders = {
        (row["order__store_id"], row["sku_id"]): row["units"]
        for row in OrderLine.objects.filter(order__status__in=Order.OPEN_STATUSES)
        .values("order__store_id", "sku_id")
        .annotate(units=Sum(F("quantity") - F("fulfilled_quantity") - F("released_quantity")))
    }
    by_holds = {
        (row["stock__store_id"], row["stock__sku_id"]): row["units"]
        for row in StockReservation.objects.filter(reference__startswith=ORDER_PREFIX)
        .values("stock__store_id", "stock__sku_id").annotate(units=Sum(_held()))
    }
    for key in sorted(set(by_orders) | set(by_holds)):
        want, have = by_orders.get(key, 0) or 0, by_holds.get(key, 0) or 0
        if want != have:
            store, sku = label(*key)
            problems.append(Problem("", _(
                "门店 %(store)s SKU %(sku)s：订单预留合计 %(held)s 件，未完成订单的商品仍占用 %(open)s 件"
            ) % {"store": store, "sku": sku, "held": have, "open": want}))
    return problems
