"""Demo coupons and points mall, and two exchanges of the demo shopper (13800138000): a coupon, and
a bag of dried mango waiting to be picked up at 静安寺店, so the demo clerk (store_clerk) can verify
its code at /backoffice/orders/pickups/ (the pickup screen shared with orders).

Idempotent: coupons and items are found by name, the shopper's extra points carry a ledger
reference and the exchanges a request id, so a second run creates nothing. Everything that spends
points or reserves stock goes through the services, so ledgers and balances agree.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from . import services
from .models import Coupon, PointsExchange, PointsItem

PICKUP_STORE = "sh-jingan"
SHOPPER_PHONE = "+8613800138000"
SHOPPER_POINTS = 3000
SHOPPER_POINTS_REFERENCE = "demo:marketing-mall"
COUPON_REQUEST = "demo:mall-coupon"
PICKUP_REQUEST = "demo:mall-pickup"

FULL, DISCOUNT, NO_THRESHOLD = Coupon.Kind.FULL_REDUCTION, Coupon.Kind.DISCOUNT, Coupon.Kind.NO_THRESHOLD

# name -> fields; the fixed-date coupon's dates are set on the first run only
COUPONS = {
    "满100减10元券": dict(kind=FULL, amount="10", threshold="100", valid_days=30, total_quantity=1000,
                      claimable=True, description="全场通用，订单满100元可用"),
    "满200减30元券": dict(kind=FULL, amount="30", threshold="200", valid_days=30, total_quantity=500,
                      claimable=True, description="全场通用，订单满200元可用"),
    "8.8折券": dict(kind=DISCOUNT, discount_percent="88", max_discount="20", threshold="0", valid_days=15,
                  description="全场8.8折，最多优惠20元，积分兑换"),
    "无门槛5元券": dict(kind=NO_THRESHOLD, amount="5", threshold="0", valid_days=15,
                   description="无门槛立减5元，积分兑换"),
    "年终大促满300减50元券": dict(kind=FULL, amount="50", threshold="300", fixed_days=40, total_quantity=300,
                         claimable=True, description="年终大促专享，活动期内有效"),
}

# title -> (points, coupon name | product name, quantity, per-member limit, sort order)
COUPON_ITEMS = {
    "无门槛5元券": (200, "无门槛5元券", None, 5, 10),
    "满100减10元券": (300, "满100减10元券", 500, 2, 20),
    "8.8折券（最高减20元）": (500, "8.8折券", 200, 1, 30),
}
PRODUCT_ITEMS = {
    "百草味芒果干 120g（到店自提）": (800, "百草味芒果干", 100, 2, 40),
    "农夫山泉天然水 整箱（到店自提）": (1800, "农夫山泉饮用天然水 550ml×24瓶", 50, 1, 50),
    "雀巢咖啡1+2 48条装（到店自提）": (2500, "雀巢咖啡1+2原味 15g×48条", 30, 1, 60),
}
DEMO_COUPON_ITEM = "无门槛5元券"
DEMO_PICKUP_ITEM = "百草味芒果干 120g（到店自提）"


def seed(out):
    changed, coupons = _seed_coupons()
    items, n = _seed_items(coupons, out)
    changed += n
    changed += _seed_shopper_exchanges(items, out)
    out(f"  marketing: {Coupon.objects.count()} coupons, {PointsItem.objects.count()} points-mall items")
    return changed


def _seed_coupons():
    changed, coupons = 0, {}
    today = timezone.localdate()
    for name, spec in COUPONS.items():
        spec = dict(spec)
        fields = dict(
            kind=spec.pop("kind"), threshold=Decimal(spec.pop("threshold")),
            amount=Decimal(spec.pop("amount")) if "amount" in spec else None,
            discount_percent=Decimal(spec.pop("discount_percent")) if "discount_percent" in spec else None,
            max_discount=Decimal(spec.pop("max_discount")) if "max_discount" in spec else None,
        )
        fixed_days = spec.pop("fixed_days", None)
        if fixed_days:
            fields.update(
                validity=Coupon.Validity.FIXED,
                valid_from=timezone.make_aware(datetime.combine(today, time.min)),
                valid_until=timezone.make_aware(datetime.combine(today + timedelta(days=fixed_days), time.max)),
            )
        else:
            fields.update(validity=Coupon.Validity.RELATIVE, valid_days=spec.pop("valid_days"))
        fields.update(spec)
        coupon, created = Coupon.objects.get_or_create(name=name, defaults=fields)
        coupons[name] = coupon
        changed += int(created)
    return changed, coupons


def _sellable_sku_in_store(product_name, store):
    """The first enabled SKU of the product with a unit available in the store, or None."""
    from catalog.models import Sku
    from stores.models import Stock

    sku_ids = list(
        Sku.objects.filter(product__name=product_name, is_enabled=True).order_by("sort_order", "pk")
        .values_list("pk", flat=True)
    )
    if store is None or not sku_ids:
        return None
    for stock in Stock.objects.filter(store=store, sku_id__in=sku_ids).select_related("sku"):
        if stock.available >= 1:
            return stock.sku
    return None


def _seed_items(coupons, out):
    from stores.models import Store

    changed, items = 0, {}
    for title, (points, coupon_name, quantity, limit, order) in COUPON_ITEMS.items():
        item, created = PointsItem.objects.get_or_create(
            title=title,
            defaults=dict(kind=PointsItem.Kind.COUPON, coupon=coupons[coupon_name], points=points, quantity=quantity,
                          per_member_limit=limit, sort_order=order,
                          description=coupons[coupon_name].description),
        )
        items[title] = item
        changed += int(created)
    store = Store.objects.filter(code=PICKUP_STORE).first()
    for title, (points, product_name, quantity, limit, order) in PRODUCT_ITEMS.items():
        item = PointsItem.objects.filter(title=title).first()
        if item is None:
            sku = _sellable_sku_in_store(product_name, store)
            if sku is None:
                out(f"  marketing: no stock of “{product_name}” at {PICKUP_STORE}, item skipped")
                continue
            item = PointsItem.objects.create(
                kind=PointsItem.Kind.PRODUCT, title=title, sku=sku, points=points, quantity=quantity,
                per_member_limit=limit, sort_order=order,
                description="积分兑换后凭 6 位自提码到所选门店领取，7 天内有效",
            )
            changed += 1
        items[title] = item
    return items, changed


def _seed_shopper_exchanges(items, out):
    from members.models import PointsEntry
    from members.services import adjust_points, ensure_member
    from stores.models import Store

    shopper = get_user_model().objects.filter(phone=SHOPPER_PHONE).first()
    store = Store.objects.filter(code=PICKUP_STORE).first()
    if shopper is None or store is None or DEMO_PICKUP_ITEM not in items:
        out("  marketing: demo shopper, 静安寺店 or the pickup item missing; demo exchanges skipped")
        return 0
    changed = 0
    made = set(
        PointsExchange.objects.filter(user=shopper, request_id__in=[COUPON_REQUEST, PICKUP_REQUEST])
        .values_list("request_id", flat=True)
    )
    member = ensure_member(shopper)
    if not PointsEntry.objects.filter(member=member, reference=SHOPPER_POINTS_REFERENCE).exists():
        # enough for both exchanges whatever the shopper's history left; the reference makes it once
        adjust_points(member, SHOPPER_POINTS, "演示数据：积分商城体验积分", None, reference=SHOPPER_POINTS_REFERENCE)
        changed += 1
    if COUPON_REQUEST not in made:
        services.exchange_points(shopper, items[DEMO_COUPON_ITEM].pk, request_id=COUPON_REQUEST)
        changed += 1
    if PICKUP_REQUEST not in made:
        services.exchange_points(shopper, items[DEMO_PICKUP_ITEM].pk, request_id=PICKUP_REQUEST, store_id=store.pk)
        changed += 1
    pickup = PointsExchange.objects.get(user=shopper, request_id=PICKUP_REQUEST)
    if pickup.status == PointsExchange.Status.AWAITING_PICKUP:
        out(f"  points-mall pickup: code {pickup.pickup_code} at {store.name} for the demo shopper; "
            "store_clerk verifies it at /backoffice/orders/pickups/")
    else:
        out(f"  points-mall pickup of the demo shopper: {pickup.get_status_display()}")
    return changed
