"""Store documents: the product picker (search as you type over 10,000 SKUs in one store, an htmx
GET as the store's clerk) and posting a 2,000-line stocktake, timed against one plain SQL UPDATE of
the same stock rows."""

import time

from bench.harness import CustomBenchmark, HttpBenchmark

PICKER_SKUS = 10_000
SKUS_PER_PRODUCT = 4
SHEET_LINES = 2_000
ROUNDS = 5
TEAS = ["龙井", "碧螺春", "铁观音", "大红袍", "普洱", "白茶", "毛峰", "祁门红茶", "茉莉花茶", "乌龙"]


def _store(code, name):
    from stores.models import Store

    store, _ = Store.objects.get_or_create(
        code=code, defaults=dict(name=name, province="上海市", city="上海市", district="黄浦区", street="压测路9号",
                                 latitude=31.23, longitude=121.47),
    )
    return store


def _catalogue(prefix, count):
    """`count` SKUs (4 per product) coded <prefix>-00000.., with barcodes; idempotent."""
    from catalog.models import Category, Product, Sku

    have = Sku.objects.filter(code__startswith=f"{prefix}-").count()
    if have >= count:
        return list(Sku.objects.filter(code__startswith=f"{prefix}-").order_by("pk").values_list("pk", flat=True))
    category = Category.objects.filter(name="压测茶叶").first() or Category.objects.create(name="压测茶叶")
    products = Product.objects.bulk_create([
        Product(name=f"{TEAS[i % len(TEAS)]} 压测{prefix}{i:05d}", category=category, status=Product.Status.LISTED,
                unit="盒" if i % 3 == 0 else "件")
        for i in range(count // SKUS_PER_PRODUCT)
    ], batch_size=1000)
    Sku.objects.bulk_create([
        Sku(product=product, code=f"{prefix}-{n * SKUS_PER_PRODUCT + k:05d}", option_key=f"{prefix}{k}",
            spec_text=f"{50 * (k + 1)}g", price="10.00", barcode=f"69{abs(hash(prefix)) % 100:02d}{n * 4 + k:09d}")
        for n, product in enumerate(products) for k in range(SKUS_PER_PRODUCT)
    ], batch_size=2000)
    return list(Sku.objects.filter(code__startswith=f"{prefix}-").order_by("pk").values_list("pk", flat=True))


def _stock(store, sku_ids, on_hand):
    """A stock row per SKU with `on_hand` units and its opening ledger row (bench data only)."""
    from stores.models import Stock, StockMovement

    missing = sorted(set(sku_ids) - set(Stock.objects.filter(store=store).values_list("sku_id", flat=True)))
    rows = Stock.objects.bulk_create([Stock(store=store, sku_id=sku_id, on_hand=on_hand) for sku_id in missing],
                                     batch_size=2000)
    StockMovement.objects.bulk_create([
        StockMovement(stock=row, reason=StockMovement.Reason.RECEIVE, quantity=on_hand, on_hand_after=on_hand,
                      reserved_after=0, reference="bench:opening")
        for row in rows
    ], batch_size=2000)


def _analyze():
    """Planner statistics for the rows just loaded in bulk, as autovacuum would gather them on a
    live database (without them PostgreSQL plans for empty tables)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE catalog_product, catalog_sku, stores_stock, stores_stockmovement")


def _staff(username, store, role, codenames):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from stores.models import StoreStaff

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="stores", codename__in=codenames))
    StoreStaff.objects.get_or_create(user=user, store=store, defaults={"role": role})
    return user


def _product_picker():
    """10,000 SKUs in stock at one store; the clerk types "铁观音" (a name a few hundred products
    hold) into the picker: its htmx request, the 20 best matches with unit and available stock."""
    from stores.models import StoreStaff

    store = _store("bench-picker", "压测选品店")
    sku_ids = _catalogue("BP", PICKER_SKUS)
    _stock(store, sku_ids, 30)
    clerk = _staff("bench_picker_clerk", store, StoreStaff.Role.CLERK, ["view_stock"])
    _analyze()
    return {"login": clerk.username, "headers": {"HX-Request": "true"},
            "path": f"/backoffice/stores/picker/?store={store.pk}&q=%E9%93%81%E8%A7%82%E9%9F%B3",
            "skus": len(sku_ids)}


def _stocktake_setup():
    from stores.models import StoreStaff

    store = _store("bench-count", "压测盘点店")
    sku_ids = _catalogue("BC", SHEET_LINES)
    _stock(store, sku_ids, 50)
    manager = _staff("bench_count_manager", store, StoreStaff.Role.MANAGER,
                     ["view_stock", "view_stockdocument", "add_stockdocument", "change_stockdocument"])
    _analyze()
    return {"store": store.pk, "manager": manager.pk, "lines": len(sku_ids)}


def _counted_sheet(store, manager):
    """A draft stocktake of every row, each counted: a third unchanged, a third one more, a third one
    fewer (set in bulk: the counting is not what is timed)."""
    from django.db.models import F
    from django.utils import timezone

    from stores import documents
    from stores.models import Stock, StockDocumentLine

    sheet = documents.create_document(store, "stocktake", by=manager)
    on_hand = dict(Stock.objects.filter(store=store).values_list("sku_id", "on_hand"))
    lines = list(sheet.lines.order_by("sku_id"))
    now = timezone.now()
    for i, line in enumerate(lines):
        line.expected = on_hand[line.sku_id]
        line.counted = max(line.expected + (i % 3) - 1, 0)
        line.counted_at = now
    StockDocumentLine.objects.bulk_update(lines, ["expected", "counted", "counted_at"], batch_size=1000)
    assert sheet.lines.filter(counted=F("expected")).count() < len(lines)
    return sheet


def _plain_update(connection, transaction, store, stock_ids, deltas):
    """The baseline: one UPDATE of the same rows by the same deltas, committed (no ledger)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE stores_stock SET on_hand = stores_stock.on_hand + v.delta"
                " FROM unnest(%s::bigint[], %s::int[]) AS v(id, delta) WHERE stores_stock.id = v.id",
                [stock_ids, deltas],
            )
        else:
            case = " ".join(f"WHEN {pk} THEN {d}" for pk, d in zip(stock_ids, deltas, strict=True))
            cursor.execute(f"UPDATE stores_stock SET on_hand = on_hand + CASE id {case} END WHERE store_id = %s",
                           [store.pk])


def _stocktake_post(ctx):
    """Seconds to post a counted 2,000-line sheet (document lock, the lines' deltas, every stock row
    changed through the ledger with its movement, alerts), against one plain UPDATE of the same
    rows by the same deltas, each in its own transaction; the median of ROUNDS rounds."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from stores import documents
    from stores.models import Stock, Store

    store = Store.objects.get(pk=ctx.setup["store"])
    manager = get_user_model().objects.get(pk=ctx.setup["manager"])
    post_s, update_s = [], []
    stock_ids = list(Stock.objects.filter(store=store).order_by("sku_id").values_list("pk", flat=True))
    for _round in range(ROUNDS):
        sheet = _counted_sheet(store, manager)
        began = time.perf_counter()
        _doc, posted = documents.post_document(sheet, by=manager)
        post_s.append(time.perf_counter() - began)
        assert posted
        deltas = [(i % 3) - 1 for i in range(len(stock_ids))]
        began = time.perf_counter()
        _plain_update(connection, transaction, store, stock_ids, deltas)
        update_s.append(time.perf_counter() - began)
        _plain_update(connection, transaction, store, stock_ids, [-d for d in deltas])  # put back (untimed)
    from stores.services import ledger_mismatches

    post, update = sorted(post_s)[ROUNDS // 2], sorted(update_s)[ROUNDS // 2]
    return {
        "rps": round(1 / post, 3), "p50_ms": round(post * 1000, 1), "p95_ms": round(max(post_s) * 1000, 1),
        "ratio": round(post / update, 2), "seconds": round(post, 3), "plain_update_seconds": round(update, 4),
        "lines": SHEET_LINES, "rounds": ROUNDS, "ledger_mismatches": len(ledger_mismatches()),
    }


def benchmarks():
    return [
        HttpBenchmark(name="product_picker", setup=_product_picker),
        CustomBenchmark(name="stocktake_post", run=_stocktake_post, setup=_stocktake_setup),
    ]
