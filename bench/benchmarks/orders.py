"""Orders under load (issue 9): adding to the cart (htmx), the checkout page with five lines, a
coupon and points, contended order creation, a member's order list (500 orders) and a store's back
office queue (100,000 orders, filtered and counted per tab).

Setups are idempotent (a kept database is topped up, never filled twice). Bulk history is made of
completed, shipped and cancelled orders with their payments, which hold no stock, so `check_orders`
stays clean on the bench database."""

import random
import uuid
from datetime import time, timedelta
from decimal import Decimal

from bench.harness import CustomBenchmark, HttpBenchmark, run_threads

STORE_CODE = "bench-orders"
CART_SKUS = 100  # the cart benchmark rotates over them so no line reaches its 999 cap
CONTENDED_SKUS = 20
CONTENDED_SHOPPERS = 100
CONTENDED_THREADS = 24  # threads serving the 100 shoppers (each has its own database connection)
LIST_ORDERS = 500
# The cart, checkout and order-list shoppers' phones: +86 137 9999 00xx, a range no demo seeder uses
# (seed_demo's members are +86 139 0000 0001.., and a full run seeds the demo before these setups).
SHOPPER_PHONE = "+8613799990{:03d}"
QUEUE_ORDERS = 100_000


def _store():
    from stores.models import Store, StoreHours

    store, created = Store.objects.get_or_create(
        code=STORE_CODE,
        defaults=dict(
            name="压测订单店", province="上海市", city="上海市", district="黄浦区", street="压测路1号",
            latitude=31.2304, longitude=121.4737, pickup_enabled=True, delivery_enabled=True,
            delivery_radius_km=Decimal("5"), delivery_fee=Decimal("5.00"), express_enabled=True,
        ),
    )
    if created:
        StoreHours.objects.bulk_create([StoreHours(store=store, weekday=d, opens=time(0), closes=time(0)) for d in range(7)])
    return store


def _skus(prefix, count, store, *, stock=0, price="19.90"):
    """`count` listed SKUs (codes prefix-000..), each with at least `stock` available in the store."""
    from catalog.models import Category, Product, Sku
    from catalog.services import refresh_price_range
    from stores.models import Stock
    from stores.services import receive_stock

    category = Category.objects.filter(name="压测订单").first() or Category.objects.create(name="压测订单")
    skus = {s.code: s for s in Sku.objects.filter(code__startswith=f"{prefix}-")}
    for i in range(count):
        code = f"{prefix}-{i:03d}"
        if code not in skus:
            product = Product.objects.create(name=f"压测商品{prefix}{i:03d}", category=category, status="listed")
            skus[code] = Sku.objects.create(product=product, code=code, price=Decimal(price))
            refresh_price_range(product)
    ordered = [skus[f"{prefix}-{i:03d}"] for i in range(count)]
    if stock:
        rows = {r.sku_id: r.on_hand - r.reserved for r in Stock.objects.filter(store=store, sku__in=ordered)}
        for sku in ordered:
            missing = stock - rows.get(sku.pk, 0)
            if missing > 0:
                receive_stock(store, sku, missing, reference=f"bench:{uuid.uuid4().hex[:12]}")
    return ordered


def _shopper(username, phone, *, points=0):
    from django.contrib.auth import get_user_model

    from members.models import Address, Member
    from members.services import adjust_points, ensure_member

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"phone": phone, "nickname": username})
    member = ensure_member(user)
    if not Address.objects.filter(user=user).exists():
        Address.objects.create(user=user, receiver="压测", phone="13800138000", province="上海市", city="上海市",
                               district="黄浦区", detail="压测路2号", is_default=True, latitude=31.2310,
                               longitude=121.4740)
    balance = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    if points and balance < points:
        adjust_points(user, points - balance, "压测积分", None)
    return user


def _session(store):
    from stores.context_processors import CHOSEN_SESSION_KEY

    return {CHOSEN_SESSION_KEY: store.pk}


# --- cart_add -----------------------------------------------------------------------------------
def _cart_add():
    from orders.models import CartLine

    store = _store()
    skus = _skus("BO-CART", CART_SKUS, store, stock=50)
    user = _shopper("bench_cart", SHOPPER_PHONE.format(1))
    CartLine.objects.filter(cart__user=user).delete()
    return {
        "login": user.username, "session": _session(store),
        "bodies": [f"sku_id={sku.pk}&quantity=1" for sku in skus], "skus": len(skus),
    }


# --- checkout_page ------------------------------------------------------------------------------
def _fill_cart(user, skus):
    from orders.models import Cart, CartLine

    cart, _ = Cart.objects.get_or_create(user=user)
    CartLine.objects.filter(cart=cart).delete()
    CartLine.objects.bulk_create([CartLine(cart=cart, sku=sku, quantity=2, selected=True) for sku in skus])


def _page_queries(user, store, path):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")  # the bench allows only its own hosts
    client.force_login(user)
    session = client.session
    session.update(_session(store))
    session.save()
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    if status != 200:
        raise RuntimeError(f"{path} answered {status} while counting queries")
    return len(captured)


def _checkout_page():
    from marketing.models import Coupon, MemberCoupon
    from marketing.services import issue_coupon

    store = _store()
    skus = _skus("BO-CHK", 10, store, stock=100)
    user = _shopper("bench_checkout", SHOPPER_PHONE.format(2), points=5000)
    coupon, _ = Coupon.objects.get_or_create(
        name="压测满50减5", defaults=dict(kind="full_reduction", amount=Decimal("5.00"), threshold=Decimal("50.00"),
                                         validity="relative", valid_days=3650),
    )
    if not MemberCoupon.objects.filter(user=user, coupon=coupon, status="unused").exists():
        issue_coupon(user, coupon, source=MemberCoupon.Source.GRANT, reference=f"bench:{uuid.uuid4().hex[:12]}")
    path = "/orders/checkout/?use_points=1"
    _fill_cart(user, skus[:1])
    _page_queries(user, store, path)  # warm the catalogue cache, as every request after the first finds it
    one = _page_queries(user, store, path)
    _fill_cart(user, skus)
    ten = _page_queries(user, store, path)
    _fill_cart(user, skus[:5])
    five = _page_queries(user, store, path)
    return {"login": user.username, "session": _session(store), "path": path, "lines": 5,
            "queries_1_line": one, "queries_5_lines": five, "queries_10_lines": ten}


# --- order_create_contended -------------------------------------------------------------------
def _contended_setup():
    store = _store()
    skus = _skus("BO-RACE", CONTENDED_SKUS, store)
    shoppers = [_shopper(f"bench_race_{i:03d}", f"+86139100{i:05d}") for i in range(CONTENDED_SHOPPERS)]
    return {"store": store.pk, "skus": [s.pk for s in skus], "shoppers": [u.pk for u in shoppers]}


def _limit_stock(store, skus):
    """Limited stock: every SKU gets a fresh supply, a few of them far less than the crowd wants."""
    from stores.models import Stock
    from stores.services import receive_stock

    supply = {}
    for index, sku_id in enumerate(skus):
        target = 15 if index % 5 == 0 else 400  # one SKU in five runs out during the run
        row = Stock.objects.filter(store=store, sku_id=sku_id).first()
        have = (row.on_hand - row.reserved) if row else 0
        if have < target:
            receive_stock(store, sku_id, target - have, reference=f"bench:{uuid.uuid4().hex[:12]}")
        supply[sku_id] = target
    return supply


def _order_create_contended(ctx):
    from django.contrib.auth import get_user_model
    from django.db import connection

    from orders.checks import check_orders
    from orders.errors import OrderError
    from orders.models import Order
    from orders.services import CheckoutRequest, place_order
    from stores.models import Stock, Store
    from stores.services import ledger_mismatches

    if ctx.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL"}
    store = Store.objects.get(pk=ctx.setup["store"])
    sku_ids = ctx.setup["skus"]
    users = list(get_user_model().objects.filter(pk__in=ctx.setup["shoppers"]).order_by("pk"))
    _limit_stock(store, sku_ids)
    before = {r["sku_id"]: (r["on_hand"], r["reserved"]) for r in
              Stock.objects.filter(store=store, sku_id__in=sku_ids).values("sku_id", "on_hand", "reserved")}
    first_order = Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    rngs = [random.Random(i) for i in range(CONTENDED_THREADS)]

    def one_order(thread):
        rng = rngs[thread]
        user = users[rng.randrange(len(users))]
        lines = [(sku_id, rng.randint(1, 2)) for sku_id in rng.sample(sku_ids, rng.randint(1, 3))]
        request = CheckoutRequest(lines=lines, store=store, fulfilment="pickup", coupon="")
        try:
            place_order(user, request, token=uuid.uuid4().hex)
        except OrderError as exc:
            return f"refused:{exc.code}"
        return "placed"

    def select_one(thread):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"

    baseline = run_threads(select_one, threads=CONTENDED_THREADS, duration=ctx.duration)
    measured = run_threads(one_order, threads=CONTENDED_THREADS, duration=ctx.duration)
    placed = measured["outcomes"].get("placed", 0)
    seconds = measured["calls"] / measured["rps"] if measured["rps"] else 0
    orders_per_second = round(placed / seconds, 1) if seconds else 0.0
    # oversold: a stock row whose reservations went past what it had (the database forbids it; counted anyway)
    oversold = 0
    for row in Stock.objects.filter(store=store, sku_id__in=sku_ids).values("sku_id", "on_hand", "reserved"):
        on_hand, reserved = before.get(row["sku_id"], (row["on_hand"], 0))
        taken = row["reserved"] - reserved
        oversold += max(0, taken - (on_hand - reserved))
    problems = check_orders()
    hello = (ctx.results.get("hello") or {}).get("rps")
    return {
        "rps": orders_per_second,
        "p50_ms": measured["p50_ms"],
        "p95_ms": measured["p95_ms"],
        "ratio": round(orders_per_second / hello, 3) if hello else None,
        "ratio_to_select_1": round(measured["rps"] / baseline["rps"], 3) if baseline["rps"] else None,
        "attempts": measured["calls"],
        "placed": placed,
        "orders_created": Order.objects.filter(pk__gt=first_order).count(),
        "refused": {k: v for k, v in measured["outcomes"].items() if k != "placed"},
        "shoppers": len(users),
        "threads": CONTENDED_THREADS,
        "oversold": oversold,
        "stock_ledger_mismatches": len(ledger_mismatches()),
        "check_orders_problems": len(problems),
        "check_orders_first": str(problems[0]) if problems else "",
    }


# --- bulk history (order_list, backoffice_orders) ---------------------------------------------
def _bulk_orders(user_for, store, count, *, prefix, statuses, spread_days=90):
    """Add historical orders (one line each, with their payment when paid) until `count` exist with
    this number prefix. Completed, shipped and cancelled orders hold no stock."""
    from django.utils import timezone

    from core.money import yuan_to_fen
    from orders.models import Order, OrderLine, PaymentAttempt

    have = Order.objects.filter(number__startswith=prefix).count()
    if have >= count:
        return have
    skus = _skus("BO-HIST", 5, store)
    now = timezone.now()
    rng = random.Random(have)
    batch = 2000
    for start in range(have, count, batch):
        orders, lines, attempts = [], [], []
        for i in range(start, min(count, start + batch)):
            sku = skus[i % len(skus)]
            quantity = 1 + i % 3
            amount = sku.price * quantity
            status = statuses[i % len(statuses)]
            created = now - timedelta(minutes=rng.randint(5, spread_days * 24 * 60))
            paid = status != Order.Status.CANCELLED
            order = Order(
                number=f"{prefix}{i:09d}", user=user_for(i), store=store, status=status, fulfilment="express",
                checkout_token=f"bench-{prefix}-{i}", goods_amount=amount, pay_amount=amount,
                paid_amount=amount if paid else Decimal("0.00"), receiver_name="压测", receiver_phone="13800138000",
                province="上海市", city="上海市", district="黄浦区", address_detail="压测路2号",
                pay_deadline=created + timedelta(minutes=30), paid_at=created + timedelta(minutes=2) if paid else None,
                fulfilled_at=created + timedelta(hours=3) if paid else None,
                completed_at=created + timedelta(days=3) if status == Order.Status.COMPLETED else None,
                completed_goods_amount=amount if status == Order.Status.COMPLETED else None,
                cancelled_at=None if paid else created + timedelta(minutes=30), payment_channel="dev" if paid else "",
            )
            order.created_at = created
            orders.append((order, sku, quantity, amount, paid))
        Order.objects.bulk_create([o for o, *_ in orders], batch_size=1000)
        # bulk_create leaves auto_now_add fields as set only when given; fix the timestamps in one pass
        for order, sku, quantity, amount, paid in orders:
            lines.append(OrderLine(
                order=order, sku=sku, product=sku.product, product_name=sku.product.name, sku_code=sku.code,
                unit_price=sku.price, quantity=quantity, paid_amount=amount,
                fulfilled_quantity=quantity if paid else 0,
            ))
            if paid:
                attempts.append(PaymentAttempt(
                    order=order, channel="dev", out_trade_no=f"{order.number}P01", amount_fen=yuan_to_fen(amount),
                    expires_at=order.pay_deadline, state=PaymentAttempt.State.SUCCEEDED, is_order_payment=True,
                    succeeded_at=order.paid_at, gateway_trade_no=f"BENCH{order.number}",
                ))
        OrderLine.objects.bulk_create(lines, batch_size=2000)
        PaymentAttempt.objects.bulk_create(attempts, batch_size=2000)
    # created_at is auto_now_add: bulk_create wrote "now"; spread the history as it would have happened
    from django.db.models import F

    Order.objects.filter(number__startswith=prefix, paid_at__isnull=False).update(
        created_at=F("paid_at") - timedelta(minutes=2))
    Order.objects.filter(number__startswith=prefix, paid_at__isnull=True).update(
        created_at=F("pay_deadline") - timedelta(minutes=30))
    from django.db import connection

    if connection.vendor == "postgresql":
        # what autovacuum does after such a load (100,000 rows inserted, then updated): fresh
        # statistics and the visibility map that index-only scans need. The CI and bench servers
        # run with autovacuum off, so without this the planner never sees a vacuumed table.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE orders_order, orders_orderline, orders_paymentattempt")
    return Order.objects.filter(number__startswith=prefix).count()


def _order_list():
    from orders.models import Order

    store = _store()
    user = _shopper("bench_orders_member", SHOPPER_PHONE.format(3))
    count = _bulk_orders(lambda i: user, store, LIST_ORDERS, prefix="B1",
                         statuses=[Order.Status.COMPLETED, Order.Status.SHIPPED, Order.Status.CANCELLED])
    return {"login": user.username, "path": "/orders/", "orders": count}


def _backoffice_orders():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from orders.models import Order
    from stores.models import Store, StoreStaff

    store, _ = Store.objects.get_or_create(
        code="bench-queue",
        defaults=dict(name="压测大店", province="上海市", city="上海市", district="黄浦区", street="压测路3号",
                      latitude=31.23, longitude=121.47),
    )
    buyers = [_shopper(f"bench_buyer_{i:02d}", f"+86139200{i:05d}") for i in range(50)]
    count = _bulk_orders(lambda i: buyers[i % len(buyers)], store, QUEUE_ORDERS, prefix="B2",
                         statuses=[Order.Status.COMPLETED, Order.Status.COMPLETED, Order.Status.SHIPPED,
                                   Order.Status.CANCELLED])
    clerk, _ = get_user_model().objects.get_or_create(username="bench_queue_clerk", defaults={"is_staff": True})
    clerk.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders",
                                                          codename__in=["view_order", "fulfil_order"]))
    StoreStaff.objects.get_or_create(user=clerk, store=store, defaults={"role": StoreStaff.Role.CLERK})
    # a filtered queue: one status tab, the last 60 days, express orders, the counts per tab
    from django.utils import timezone

    since = (timezone.localdate() - timedelta(days=60)).isoformat()
    path = f"/backoffice/orders/?tab=completed&fulfilment=express&date_from={since}"
    return {"login": clerk.username, "path": path, "orders": count}


def benchmarks():
    return [
        HttpBenchmark(name="cart_add", path="/orders/cart/add/", method="POST", headers={"HX-Request": "true"},
                      setup=_cart_add),
        HttpBenchmark(name="checkout_page", setup=_checkout_page),
        CustomBenchmark(name="order_create_contended", run=_order_create_contended, setup=_contended_setup),
        HttpBenchmark(name="order_list", setup=_order_list),
        HttpBenchmark(name="backoffice_orders", setup=_backoffice_orders),
    ]
