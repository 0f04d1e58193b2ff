"""Demo stores in Shanghai, Hangzhou and Suzhou, their hours, stock for the catalogue (received
through the service, so the ledger is right), a few low rows, the HQ group, and one store manager
and one clerk. Passwords are published in the README: demo only. Idempotent."""

import random
from datetime import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from . import services
from .models import Stock, Store, StoreHours, StoreStaff
from .scope import HQ_GROUP_NAME

# name, code, province, city, district, street, lat, lng, phone, hours kind
STORES = [
    ("静安寺店", "sh-jingan", "上海市", "上海市", "静安区", "南京西路1618号久光百货B1", 31.2235, 121.4453, "021-62887701", "mall"),
    ("徐家汇店", "sh-xujiahui", "上海市", "上海市", "徐汇区", "漕溪北路88号圣爱广场1楼", 31.1943, 121.4372, "021-64268802", "mall"),
    ("陆家嘴店", "sh-lujiazui", "上海市", "上海市", "浦东新区", "世纪大道8号国金中心LG2", 31.2368, 121.5019, "021-50128803", "mall"),
    ("五角场店", "sh-wujiaochang", "上海市", "上海市", "杨浦区", "淞沪路77号万达广场1楼", 31.3008, 121.5141, "021-55228804", "late"),
    ("武林店", "hz-wulin", "浙江省", "杭州市", "拱墅区", "延安路530号武林银泰A馆1楼", 30.2741, 120.1625, "0571-87018805", "mall"),
    ("西溪店", "hz-xixi", "浙江省", "杭州市", "西湖区", "文二西路551号西溪印象城2楼", 30.2825, 120.0831, "0571-88938806", "weekday"),
    ("滨江店", "hz-binjiang", "浙江省", "杭州市", "滨江区", "江南大道228号星光大道1期", 30.2084, 120.2105, "0571-86698807", "late"),
    ("观前街店", "sz-guanqian", "江苏省", "苏州市", "姑苏区", "观前街245号", 31.3119, 120.6245, "0512-65278808", "mall"),
    ("金鸡湖店", "sz-jinjihu", "江苏省", "苏州市", "工业园区", "苏州大道东269号久光百货1楼", 31.3158, 120.6701, "0512-62808809", "mall"),
]
# stores that get no stock (a new store still being set up)
EMPTY_STORES = {"sz-jinjihu"}

DEMO_MANAGER = {"username": "store_manager", "password": "manager-demo-2026", "store": "sh-jingan"}
DEMO_CLERK = {"username": "store_clerk", "password": "clerk-demo-2026", "store": "sh-jingan"}

STAFF_PERMISSIONS = [
    ("stores", "view_store"),
    ("stores", "view_stock"),
    ("stores", "change_stock"),
    ("stores", "view_stockmovement"),
    ("stores", "view_stockreservation"),
    ("stores", "view_transfer"),
    ("stores", "add_transfer"),
    ("stores", "change_transfer"),
    # stock documents (入库, 出库, 盘点): staff draft and count; posting takes a manager (stores.documents)
    ("stores", "view_stockdocument"),
    ("stores", "add_stockdocument"),
    ("stores", "change_stockdocument"),
    ("stores", "view_lowstockalert"),
    ("stores", "view_storenotification"),
    # points-mall goods are picked up in the store: staff see and verify (核销) their store's pickups
    ("marketing", "view_pointsexchange"),
    ("marketing", "change_pointsexchange"),
]


def _hours(kind):
    if kind == "mall":
        return [(day, time(10), time(22)) for day in range(7)]
    if kind == "late":  # open past midnight on Friday and Saturday
        rows = [(day, time(9), time(23)) for day in range(5)]
        return rows + [(5, time(9), time(2)), (6, time(9), time(2))]
    # weekday: lunch break, closed on Monday
    rows = []
    for day in range(1, 7):
        rows += [(day, time(9), time(12)), (day, time(13, 30), time(20))]
    return rows


def _user(username, password, nickname):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"nickname": nickname, "is_staff": True})
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, int(created)


def seed(out):
    rng = random.Random(4)
    changed = 0
    stores = {}
    for name, code, province, city, district, street, lat, lng, phone, kind in STORES:
        store, created = Store.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name, province=province, city=city, district=district, street=street, latitude=lat,
                longitude=lng, phone=phone, pickup_enabled=True, delivery_enabled=kind != "weekday",
                delivery_radius_km=5 if kind != "weekday" else 0,
                # 同城配送: 5 yuan within 5 km, from 39 yuan of goods; pickup ready 30 min after ordering
                delivery_fee=Decimal("5.00") if kind != "weekday" else Decimal("0.00"),
                delivery_min_order=Decimal("39.00") if kind != "weekday" else Decimal("0.00"),
                pickup_lead_minutes=30, pickup_slot_minutes=Store.PickupSlot.HOUR,
            ),
        )
        stores[code] = store
        if created:
            changed += 1
            StoreHours.objects.bulk_create(
                [StoreHours(store=store, weekday=d, opens=o, closes=c) for d, o, c in _hours(kind)]
            )
            changed += len(_hours(kind))

    # HQ group with the scope permission, and the store roles' model permissions
    hq, created = Group.objects.get_or_create(name=HQ_GROUP_NAME)  # also made by post_migrate (apps.py)
    changed += int(created)
    hq.permissions.add(*Permission.objects.filter(
        content_type__app_label="stores",
        codename__in=["hq_all_stores", "view_stockdocument", "add_stockdocument", "change_stockdocument"],
    ))
    staff_perms = [
        Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in STAFF_PERMISSIONS
    ]
    for spec, role, nickname in ((DEMO_MANAGER, StoreStaff.Role.MANAGER, "静安寺店长"),
                                 (DEMO_CLERK, StoreStaff.Role.CLERK, "静安寺店员")):
        user, created = _user(spec["username"], spec["password"], nickname)
        changed += created
        user.user_permissions.add(*staff_perms)  # a no-op when held; gives a seeded DB newer permissions
        _link, created = StoreStaff.objects.get_or_create(user=user, store=stores[spec["store"]],
                                                          defaults={"role": role})
        changed += int(created)

    # stock for every enabled SKU in most stores, received through the ledger
    from catalog.models import Sku

    sku_ids = list(Sku.objects.filter(is_enabled=True).order_by("pk").values_list("pk", flat=True))
    if not sku_ids:
        out("  stores: no SKUs in the catalogue yet, stock skipped")
    for code, store in stores.items():
        if code in EMPTY_STORES or not sku_ids:
            continue
        have = set(Stock.objects.filter(store=store).values_list("sku_id", flat=True))
        for sku_id in sku_ids:
            if sku_id in have:
                continue
            quantity = rng.randint(15, 120)
            # a few rows start low so the alert pages have something to show
            if rng.random() < 0.06:
                quantity = rng.randint(1, 3)
            services.receive_stock(store, sku_id, quantity, note="演示数据初始入库", reference="demo:seed")
            changed += 1
    changed += _seed_paperwork(stores, out)
    if changed:
        opened, _closed = services.sweep_low_stock()
        changed += opened
    out(f"  stores: {Store.objects.count()} stores, {Stock.objects.count()} stock rows")
    out(f"  store manager: {DEMO_MANAGER['username']} / {DEMO_MANAGER['password']}  (静安寺店, /backoffice/stores/)")
    out(f"  store clerk:   {DEMO_CLERK['username']} / {DEMO_CLERK['password']}  (静安寺店)")
    return changed


PAPERWORK_NOTE = "演示数据"


def _seed_paperwork(stores, out):
    """A day's paperwork at 静安寺店, so its back-office pages are not empty: a posted receipt from
    HQ, a stocktake being counted, a transfer on its way in from 徐家汇店 and one received short
    from it (a difference for HQ to settle). Made once, through the same services as the pages;
    nothing when the catalogue or the stock is not there."""
    from . import documents
    from .models import StockDocument, Transfer

    home, other = stores.get(DEMO_MANAGER["store"]), stores.get("sh-xujiahui")
    manager = get_user_model().objects.filter(username=DEMO_MANAGER["username"]).first()
    if home is None or other is None or manager is None:
        return 0
    if (StockDocument.objects.filter(store=home, note__startswith=PAPERWORK_NOTE).exists()
            or Transfer.objects.filter(note__startswith=PAPERWORK_NOTE).exists()):
        return 0
    shared = list(
        Stock.objects.filter(store=home, sku__in=Stock.objects.filter(store=other, on_hand__gte=10).values("sku"))
        .order_by("sku_id").values_list("sku_id", "on_hand")[:6]
    )
    if len(shared) < 6:
        return 0
    made = 0

    receipt = documents.create_document(home, StockDocument.Kind.RECEIPT, by=manager,
                                        source=StockDocument.Source.HQ, note=f"{PAPERWORK_NOTE}：总部配送到货")
    for sku_id, _on_hand in shared[:3]:
        documents.set_line(receipt, sku_id, 12, unit_cost="8.50", by=manager)
    documents.post_document(receipt, by=manager)
    made += 1

    count = documents.create_document(home, StockDocument.Kind.STOCKTAKE, by=manager,
                                      note=f"{PAPERWORK_NOTE}：月末盘点（清点中）")
    for sku_id, on_hand in shared[:2]:
        documents.record_count(count, sku_id, on_hand + 12 - 1, by=manager)  # one unit missing
    made += 1

    arriving = services.create_transfer(other, home, [(sku_id, 4) for sku_id, _q in shared[3:5]],
                                        note=f"{PAPERWORK_NOTE}：徐家汇店补货")
    services.dispatch_transfer(arriving)
    short = services.create_transfer(other, home, [(shared[5][0], 5)], note=f"{PAPERWORK_NOTE}：上周调拨")
    services.dispatch_transfer(short)
    line = short.lines.get()
    services.receive_transfer(short, {line.pk: 4}, by=manager, note="少一件，外箱破损")
    made += 2
    out(f"  stores: paperwork at {home.name}: receipt {receipt.number} posted, stocktake {count.number} "
        f"being counted, transfer {arriving} to receive, one received 1 short")
    return made


# a few stores show a gallery (门店相册): store code -> (view, caption) in order; the first is the cover
PHOTOS = {
    "sh-jingan": [("front", "门头"), ("shelves", "店内货架"), ("counter", "自提柜台")],
    "hz-wulin": [("front", "门头"), ("shelves", "店内")],
    "sz-guanqian": [("front", "观前街门头"), ("counter", "收银与自提")],
}


def seed_photos(out):
    """Demo galleries, through the service (so the worker makes their thumbnails after commit), by
    the demo manager at their store and an HQ superuser elsewhere (it runs after members.demo, which
    makes the admin). A store that has photos already is left as it is."""
    from django.core.files.base import ContentFile

    from .demo_art import store_picture
    from .photos import add_store_photos, set_cover

    User = get_user_model()
    hq = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    manager = User.objects.filter(username=DEMO_MANAGER["username"], is_active=True).first()
    changed = 0
    for code, views in PHOTOS.items():
        store = Store.objects.filter(code=code).first()
        if store is None or store.photos.exists():
            continue
        by = manager if code == DEMO_MANAGER["store"] and manager is not None else hq
        if by is None:
            out(f"  stores: no HQ user to add the demo photos of {store.name}; skipped")
            continue
        added = []
        for view, caption in views:
            picture = ContentFile(store_picture(store.name, code, view), name=f"demo-{code}-{view}.jpg")
            photos, _skipped = add_store_photos(store, [picture], by=by, caption=caption)
            added += photos
        changed += len(added)
        if added and not store.cover:
            set_cover(added[0], by=by)
            changed += 1
    if changed:
        out(f"  stores: {changed} demo gallery photos and covers")
    return changed
