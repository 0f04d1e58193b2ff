"""Sales figures for the back-office dashboard, each one aggregate query in the database (no Python
loop over orders), with days and hours in Asia/Shanghai.

What counts:
- a sale is an order paid in the period (by `paid_at`): its paid amount; orders cancelled before
  payment never had one; an order closed by a full refund was a sale, and its refund is counted
  under refunds;
- refunds are the refunds that succeeded in the period and count for their order (the money sent
  back for a late or duplicate payment never was a sale);
- top products: units and money kept (paid minus refunded) per product, by the snapshot on the line.

`stores` everywhere is None (every store: HQ), one Store, or an iterable / subquery of store ids.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from core.money import ZERO, to_money

from .models import Order, OrderLine, Refund

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    days: int

    @property
    def first_day(self):
        return self.start.astimezone(SHANGHAI).date()


def period(days, now=None):
    """The last `days` local days up to `now`, today included (1: since midnight in Shanghai)."""
    now = now or timezone.now()
    today = now.astimezone(SHANGHAI).date()
    start = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=SHANGHAI)
    return Period(start=start, end=now, days=days)


def _store_q(stores, field="store"):
    if stores is None:
        return Q()
    if hasattr(stores, "pk"):
        return Q(**{f"{field}_id": stores.pk})
    if isinstance(stores, QuerySet):
        return Q(**{f"{field}__in": stores})
    return Q(**{f"{field}_id__in": list(stores)})


def paid_orders(stores, p):
    return Order.objects.filter(_store_q(stores), paid_at__gte=p.start, paid_at__lt=p.end)


def average(total, count):
    if not count:
        return ZERO
    return (Decimal(total) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def summary(stores, p):
    """{sales, orders, average, refunds, refund_count, net} for the period: two queries."""
    sold = paid_orders(stores, p).order_by().aggregate(sales=Sum("paid_amount"), orders=Count("pk"))
    back = (
        Refund.objects.filter(_store_q(stores, "order__store"), state=Refund.State.SUCCEEDED, counts_for_order=True,
                              succeeded_at__gte=p.start, succeeded_at__lt=p.end)
        .order_by().aggregate(refunds=Sum("amount"), refund_count=Count("pk"))
    )
    sales, refunds = to_money(sold["sales"] or ZERO), to_money(back["refunds"] or ZERO)
    return {
        "sales": sales, "orders": sold["orders"], "average": average(sales, sold["orders"]),
        "refunds": refunds, "refund_count": back["refund_count"], "net": sales - refunds,
    }


def by_hour(stores, p):
    """[{hour, orders, sales}] for the 24 local hours of the day, zero-filled."""
    rows = (
        paid_orders(stores, p).order_by().annotate(hour=ExtractHour("paid_at", tzinfo=SHANGHAI))
        .values("hour").annotate(orders=Count("pk"), sales=Sum("paid_amount"))
    )
    found = {row["hour"]: row for row in rows}
    return [
        {"hour": f"{h:02d}", "orders": found.get(h, {}).get("orders", 0),
         "sales": float(found.get(h, {}).get("sales") or 0)}
        for h in range(24)
    ]


def by_day(stores, p):
    """[{day, orders, sales}] per local day of the period, zero-filled, oldest first."""
    rows = (
        paid_orders(stores, p).order_by().annotate(day=TruncDate("paid_at", tzinfo=SHANGHAI))
        .values("day").annotate(orders=Count("pk"), sales=Sum("paid_amount"))
    )
    found = {row["day"]: row for row in rows}
    days = [p.first_day + timedelta(days=i) for i in range(p.days)]
    return [
        {"day": day.strftime("%m-%d"), "orders": found.get(day, {}).get("orders", 0),
         "sales": float(found.get(day, {}).get("sales") or 0)}
        for day in days
    ]


def top_products(stores, p, limit=TOP_PRODUCTS):
    """The best sellers of the period by money kept: [{product_id, name, quantity, amount}]."""
    rows = list(
        OrderLine.objects.filter(_store_q(stores, "order__store"), order__paid_at__gte=p.start,
                                 order__paid_at__lt=p.end)
        .order_by().values("product_id")
        .annotate(name=Max("product_name"), quantity=Sum(F("quantity") - F("refunded_quantity")),
                  amount=Sum(F("paid_amount") - F("refunded_amount")))
        .order_by("-amount", "-quantity", "product_id")[:limit]
    )
    for row in rows:
        row["amount"] = to_money(row["amount"] or ZERO)
    return rows


def today_figures(stores, now=None):
    """For the back-office home: today's sales and orders, and what waits for the store (待发货 /
    待备货, 售后待审核, orders waiting to be picked up, and the pickups handed over today). One
    query of scalar subqueries, each on an index."""
    from .models import AfterSale, PickupRecord

    p = period(1, now)
    paid = paid_orders(stores, p).order_by().values("paid_amount")
    waiting = Order.objects.filter(_store_q(stores), status=Order.Status.PAID).order_by().values("status")
    asked = AfterSale.objects.filter(_store_q(stores, "order__store"), status=AfterSale.Status.REQUESTED)
    to_pick_up = Order.objects.filter(_store_q(stores), status=Order.Status.READY_FOR_PICKUP).order_by().values("status")
    handed = PickupRecord.objects.filter(_store_q(stores), created_at__gte=p.start, created_at__lte=p.end)
    sales, orders, to_fulfil, after_sales, pickups_waiting, pickups_done = scalar_row([
        ("SUM(paid_amount)", paid), ("COUNT(*)", paid), ("COUNT(*)", waiting),
        ("COUNT(*)", asked.order_by().values("status")), ("COUNT(*)", to_pick_up),
        ("COUNT(*)", handed.order_by().values("pk")),
    ])
    # a raw SUM of a decimal column is a float on SQLite (Decimal on PostgreSQL): back to money
    return {"sales": to_money(str(sales)) if sales is not None else ZERO, "orders": orders, "to_fulfil": to_fulfil,
            "after_sales": after_sales, "pickups_waiting": pickups_waiting, "pickups_done": pickups_done}


# --- one row of aggregates -----------------------------------------------------------------------
def scalar_row(parts):
    """Run several aggregates as ONE query: ``SELECT (SELECT agg FROM (<qs>) t0), (SELECT …), …``.
    `parts` is [(aggregate SQL over the subquery's columns, queryset)]; each queryset keeps its own
    WHERE, index and LIMIT (so a count can stop early, see capped_counts). Returns the values in order."""
    selects, params = [], []
    for i, (aggregate, qs) in enumerate(parts):
        sql, qs_params = qs.query.sql_with_params()
        selects.append(f"(SELECT {aggregate} FROM ({sql}) AS agg_{i})")
        params.extend(qs_params)
    with connections[parts[0][1].db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        return list(cursor.fetchone())


def capped_counts(querysets, cap):
    """{key: min(count, cap + 1)} for {key: queryset}, in one query: each count reads at most
    cap + 1 rows of its own index range ((store, status, -created_at) for a status tab), so the
    cost does not grow with the number of orders. A value above `cap` means "more than cap"."""
    keys = list(querysets)
    limited = [("COUNT(*)", querysets[key].order_by().values("status")[:cap + 1]) for key in keys]
    return dict(zip(keys, scalar_row(limited), strict=True))
