"""Stores: the shopper's store list nearest first, over 1,000 stores (`store_list`) and over 10,000
(`store_list_10k`), and contended reservations of one hot stock row on PostgreSQL."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.harness import CustomBenchmark, HttpBenchmark, percentiles_ms, ratio

BENCH_STORES = 1000
BENCH_STORES_10K = 10_000
STORE_LIST_PATH = "/stores/?lat=31.2304&lng=121.4737"  # People's Square: the east edge of the bench stores
RESERVATIONS = 200  # per round, all on one row
AVAILABLE = 150  # fewer units than buyers: the last ones are fought over
ROUNDS = 5
THREADS = 16


def _bench_store(i):
    """The i-th bench store, over the Yangtze delta: the first 1,000 on a grid of 40 x 25 points
    (0.05 x 0.08 degrees apart), the next 9,000 between them (90 x 100 points, ~0.02 degrees)."""
    from stores.models import Store

    if i < BENCH_STORES:
        lat, lng = 30.0 + (i % 40) * 0.05, 119.5 + (i // 40) * 0.08
    else:
        j = i - BENCH_STORES
        lat, lng = 30.011 + (j % 90) * 0.0222, 119.51 + (j // 90) * 0.02
    return Store(name=f"压测门店{i:04d}", code=f"bench-{i:04d}", province="上海市", city=f"压测{i % 5}市",
                 district="测试区", street=f"测试路{i}号", latitude=lat, longitude=lng, phone="021-00000000")


def _bench_stores(count):
    """At least `count` bench stores (codes bench-0000..), each with opening hours (09:00-21:00
    every day, and 22:00-02:00 on Friday and Saturday nights): what a shopper's list shows as 营业中
    or 休息中. Idempotent."""
    from datetime import time as clock

    from django.db import connection

    from stores.models import Store, StoreHours

    have = Store.objects.filter(code__startswith="bench-").exclude(code="bench-hot").count()
    if have < count:
        Store.objects.bulk_create([_bench_store(i) for i in range(have, count)], batch_size=1000)
    bare = list(Store.objects.filter(code__startswith="bench-", hours__isnull=True).values_list("pk", flat=True))
    week = [(d, clock(9), clock(21)) for d in range(7)] + [(d, clock(22), clock(2)) for d in (4, 5)]
    StoreHours.objects.bulk_create(
        [StoreHours(store_id=pk, weekday=d, opens=o, closes=c) for pk in bare for d, o, c in week], batch_size=5000
    )
    if connection.vendor == "postgresql" and (have < count or bare):
        # as autovacuum would soon: measure the page on the tables' statistics, not during their analysis
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Store._meta.db_table}, {StoreHours._meta.db_table}")
    return Store.objects.count()


def _store_list():
    return {"path": STORE_LIST_PATH, "stores": _bench_stores(BENCH_STORES)}


def _store_list_10k(ctx):
    """The same page as store_list with 10,000 stores. It is a custom benchmark only so that the
    9,000 more stores are added after store_list was measured (every HTTP benchmark's setup runs
    before the first measurement, and they share the database); the measurement is the harness's
    own: wrk, ctx.concurrency connections, one thread, a 1 s warm-up, ctx.duration seconds."""
    from bench import loadgen

    stores = _bench_stores(BENCH_STORES_10K)
    url = ctx.base_url + STORE_LIST_PATH
    wrk = loadgen.find_wrk(install=False)
    options = {"headers": {}, "method": "GET", "body": None, "connections": ctx.concurrency, "threads": 1}
    if wrk:
        loadgen.run_wrk(wrk, url, duration=1, **options)
        result = loadgen.run_wrk(wrk, url, duration=ctx.duration, **options)
    else:
        loadgen.run_python(url, duration=1, **options)
        result = loadgen.run_python(url, duration=ctx.duration, **options)
    if result["non_2xx"] or not result["ok_2xx"]:
        result["error"] = f"{result['non_2xx']} of {result['requests']} answers were not 2xx"
    return {**result, "ratio": ratio(result["rps"], ctx.results["hello"].get("rps")), "path": STORE_LIST_PATH,
            "stores": stores}


def _hot_row():
    from catalog.models import Category, Product, Sku
    from stores.models import Store

    store, _ = Store.objects.get_or_create(
        code="bench-hot", defaults=dict(name="压测热点店", province="上海市", city="上海市", street="热点路1号",
                                        latitude=31.23, longitude=121.47),
    )
    category = Category.objects.filter(name="压测分类").first() or Category.objects.create(name="压测分类")
    product, _ = Product.objects.get_or_create(name="压测热卖商品", defaults={"category": category, "status": "listed"})
    skus = []
    for code in ("BENCH-HOT", "BENCH-BARE"):
        sku = Sku.objects.filter(code=code).first() or Sku.objects.create(product=product, code=code, price="1.00",
                                                                          option_key=code)
        skus.append(sku)
    return store, skus[0], skus[1]


def _reset(store, sku):
    """A fresh row with AVAILABLE units and a clean ledger (bench data only)."""
    from stores import services
    from stores.models import LowStockAlert, Stock, StockMovement, StockReservation

    stock = Stock.objects.filter(store=store, sku=sku).first()
    if stock:
        LowStockAlert.objects.filter(stock=stock).delete()
        StockReservation.objects.filter(stock=stock).delete()
        StockMovement.objects.filter(stock=stock)._raw_delete(StockMovement.objects.db)
        stock.delete()
    services.receive_stock(store, sku, AVAILABLE, reference="bench")
    return Stock.objects.get(store=store, sku=sku)


def _fire(operation, count, threads):
    """Run operation(i) for i in range(count) from `threads` threads, each with its own database
    connection; returns (elapsed seconds, latencies, results)."""
    from django.db import connection

    latencies, results = [], []
    lock = threading.Lock()
    gate = threading.Barrier(threads)

    def one(i):
        began = time.perf_counter()
        result = operation(i)
        spent = time.perf_counter() - began
        with lock:
            latencies.append(spent)
            results.append(result)

    def worker(slot):
        try:
            gate.wait(timeout=30)
            for i in range(slot, count, threads):
                one(i)
        finally:
            connection.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))
    return time.perf_counter() - began, latencies, results


def _reserve_contended(ctx):
    if ctx.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL (set DATABASE_URL=postgres://...)"}
    from django.db import connection
    from django.db.models import Sum

    from stores import services
    from stores.errors import StockError
    from stores.models import Stock

    store, hot_sku, bare_sku = _hot_row()

    def reserve(i):
        try:
            services.reserve_lines(store.pk, [(hot_sku.pk, 1)], reference=f"bench:{i}")
            return True
        except StockError:
            return False

    table = connection.ops.quote_name(Stock._meta.db_table)
    bare_sql = f"UPDATE {table} SET reserved = reserved + 1 WHERE id = %s AND on_hand - reserved >= 1"

    measured = {"elapsed": 0.0, "lat": [], "ok": 0, "oversold": 0, "lost_updates": 0}
    baseline = {"elapsed": 0.0, "lat": []}
    for _round in range(ROUNDS):
        _reset(store, hot_sku)
        elapsed, latencies, results = _fire(reserve, RESERVATIONS, THREADS)
        stock = Stock.objects.get(store=store, sku=hot_sku)
        wins = results.count(True)
        measured["elapsed"] += elapsed
        measured["lat"] += latencies
        measured["ok"] += wins
        measured["oversold"] += max(0, wins - AVAILABLE) + max(0, stock.reserved - stock.on_hand)
        sums = stock.movements.aggregate(q=Sum("quantity"), r=Sum("reserved_delta"))
        if stock.reserved != wins or (sums["q"], sums["r"]) != (stock.on_hand, stock.reserved):
            measured["lost_updates"] += 1  # the row disagrees with its ledger or with the winners

        bare = _reset(store, bare_sku)

        def bare_update(i, pk=bare.pk):
            with connection.cursor() as cursor:
                cursor.execute(bare_sql, [pk])
                return cursor.rowcount == 1

        elapsed, latencies, _results = _fire(bare_update, RESERVATIONS, THREADS)
        baseline["elapsed"] += elapsed
        baseline["lat"] += latencies

    total = RESERVATIONS * ROUNDS
    rps = total / measured["elapsed"]
    bare_rps = total / baseline["elapsed"]
    return {
        "rps": round(rps, 1),
        **percentiles_ms(measured["lat"]),
        "ratio": round(rps / bare_rps, 3),
        "oversold": measured["oversold"],
        "lost_updates": measured["lost_updates"],
        "reserved_ok": measured["ok"],
        "refused": total - measured["ok"],
        "bare_update_rps": round(bare_rps, 1),
        "bare_p95_ms": percentiles_ms(baseline["lat"]).get("p95_ms"),
        "threads": THREADS,
        "reservations": total,
        "rounds": ROUNDS,
    }


def benchmarks():
    return [
        HttpBenchmark(name="store_list", setup=_store_list),
        CustomBenchmark(name="store_list_10k", run=_store_list_10k),
        CustomBenchmark(name="reserve_contended", run=_reserve_contended),
    ]
