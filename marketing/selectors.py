"""Read queries for coupon and points-mall pages. Each returns a queryset or a small list whose
query count does not grow with the rows shown."""

from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from core.fixed_urls import fixed_url
from stores.selectors import visible_stores

from .models import Coupon, MemberCoupon, PointsExchange, PointsItem

WALLET_TABS = ("unused", "used", "expired")


def open_items(now=None, kind=None):
    """Mall items a shopper may see now, with what their cards show."""
    now = now or timezone.now()
    qs = (
        PointsItem.objects.filter(is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("coupon", "sku__product", "sku__image")
    )
    if kind in PointsItem.Kind.values:
        qs = qs.filter(kind=kind)
    return qs


def mall_grid_items(kind=None, now=None):
    """The mall's cards (open_items, product covers joined) and the first moment after `now` at which
    one of them changes by itself (a window opens or closes, a fixed-date coupon ends; epoch
    seconds), for marketing.mall_cache: one query, items not open yet included and left out here."""
    now = now or timezone.now()
    qs = (
        PointsItem.objects.filter(is_active=True)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("coupon", "sku__product__cover", "sku__image")
    )
    if kind in PointsItem.Kind.values:
        qs = qs.filter(kind=kind)
    moments, items = [], []
    for item in qs:
        if item.starts_at is not None and item.starts_at > now:
            moments.append(item.starts_at)
            continue
        items.append(item)
        if item.ends_at is not None:
            moments.append(item.ends_at)
        coupon = item.coupon
        if coupon is not None and coupon.validity == Coupon.Validity.FIXED and coupon.valid_until:
            if coupon.valid_until > now:
                moments.append(coupon.valid_until)
    good_until = min(moments).timestamp() if moments else now.timestamp() + 24 * 3600
    return items, good_until


def get_open_item(pk, now=None):
    return open_items(now).filter(pk=pk).first()


def pickup_stores(item, limit=50):
    """Stores where a product item can be picked up, with the unit in stock first (by available
    stock, descending), each with `.available` (0 when none)."""
    from stores.models import Stock

    stock = {
        row["store_id"]: row["available"]
        for row in Stock.objects.filter(sku_id=item.sku_id)
        .annotate(available=F("on_hand") - F("reserved"))
        .values("store_id", "available")
    }
    # stores with the unit come first in the query itself, so the limit never cuts them off
    in_stock = [store_id for store_id, available in stock.items() if available > 0]
    stores = list(
        visible_stores().filter(pickup_enabled=True, status="open")
        .annotate(no_stock=Case(When(pk__in=in_stock, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("no_stock", "city", "name", "pk")[:limit]
    )
    for store in stores:
        store.available = max(stock.get(store.pk, 0), 0)
    stores.sort(key=lambda s: (s.available <= 0, s.city, s.name))
    return stores


def wallet(user, tab="unused", now=None):
    """The member's coupons under one tab: usable (soonest to end first), used, or expired/void."""
    now = now or timezone.now()
    qs = MemberCoupon.objects.filter(user=user).select_related("coupon")
    if tab == "used":
        return qs.filter(status=MemberCoupon.Status.USED).order_by("-used_at", "-pk")
    if tab == "expired":
        return qs.filter(
            Q(status__in=[MemberCoupon.Status.EXPIRED, MemberCoupon.Status.VOID])
            | Q(status=MemberCoupon.Status.UNUSED, valid_until__lte=now)
        ).order_by("-valid_until", "-pk")
    return qs.filter(status=MemberCoupon.Status.UNUSED, valid_until__gt=now).order_by("valid_until", "pk")


def usable_coupon_count(user, now=None):
    now = now or timezone.now()
    return MemberCoupon.objects.filter(
        user=user, status=MemberCoupon.Status.UNUSED, valid_until__gt=now
    ).count()


def claimable_coupons(user, now=None):
    """Coupons in the coupon centre, each with `.held` (copies the user holds)."""
    from django.db.models import Count

    now = now or timezone.now()
    qs = (
        Coupon.objects.filter(is_active=True, claimable=True)
        .filter(Q(validity=Coupon.Validity.RELATIVE) | Q(valid_until__gt=now))
        .order_by("threshold", "-pk")
    )
    if user.is_authenticated:
        qs = qs.annotate(held=Count("copies", filter=Q(copies__user=user)))
    return qs


def held_exchanges(user, item):
    """How many of the item's exchanges count against its per-member limit (cancelled and expired
    ones do not), as marketing.services.exchange_points counts them: one query."""
    return (
        PointsExchange.objects.filter(user=user, item=item)
        .exclude(status__in=[PointsExchange.Status.CANCELLED, PointsExchange.Status.EXPIRED])
        .count()
    )


def exchanges_for(user):
    return PointsExchange.objects.filter(user=user).select_related("store", "member_coupon__coupon")


def member_centre_counts():
    """The member centre's usable-coupon count as a column of its one statement
    (settings.MEMBER_CENTRE_COUNTS; members.centre): counted at the moment the statement runs."""
    from django.db.models import Count, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce, Now

    usable = MemberCoupon.objects.filter(
        user_id=OuterRef("user_id"), status=MemberCoupon.Status.UNUSED, valid_until__gt=Now()
    )
    return {"coupon_count": Coalesce(
        Subquery(usable.order_by().values("user_id").annotate(n=Count("pk")).values("n")[:1]), Value(0)
    )}


def member_centre_extras(request):
    """The member centre's coupon count and points-mall entry (settings.MEMBER_CENTRE_EXTRAS); the
    count comes from the member centre's one statement when it read it (member_centre_counts)."""
    counted = getattr(request, "member_centre_counts", None) or {}
    return {
        "coupon_count": counted["coupon_count"] if "coupon_count" in counted else usable_coupon_count(request.user),
        "coupon_url": fixed_url("marketing:coupons"),
        "points_mall_url": fixed_url("marketing:mall"),
        "coupon_centre_url": fixed_url("marketing:coupon_centre"),
    }


def open_pickups(stores):
    """Exchanges waiting to be picked up at these stores, oldest first."""
    return (
        PointsExchange.objects.filter(store__in=stores, status=PointsExchange.Status.AWAITING_PICKUP)
        .select_related("store", "user", "sku")
        .order_by("pickup_deadline", "pk")
    )
