"""Reads for shopper pages, the back office and other apps (catalog's stock hook, orders)."""

import math
from datetime import datetime, timedelta

from django.db.models import F, FloatField, Prefetch, Q, Value
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt
from django.utils import timezone

from core.numbers import id_or_none

from .hours import SHANGHAI, is_open_at, open_intervals
from .models import Stock, StockMovement, StockReservation, Store, StoreHours

EARTH_RADIUS_KM = 6371.0088


def valid_coordinates(lat, lng):
    """(lat, lng) as floats when both parse and are in range, else None."""
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return lat, lng


def distance_expression(lat, lng):
    """Great-circle distance in km from (lat, lng) to each row, computed by the database
    (haversine with SQL functions: PostgreSQL has them, Django registers them on SQLite)."""
    lat1, lng1 = Radians(Value(float(lat), output_field=FloatField())), Radians(Value(float(lng), output_field=FloatField()))
    lat2, lng2 = Radians(F("latitude")), Radians(F("longitude"))
    a = Power(Sin((lat2 - lat1) / 2), 2) + Cos(lat1) * Cos(lat2) * Power(Sin((lng2 - lng1) / 2), 2)
    return Value(2 * EARTH_RADIUS_KM, output_field=FloatField()) * ASin(Sqrt(a), output_field=FloatField())


def haversine_km(lat1, lng1, lat2, lng2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def visible_stores():
    """Stores a shopper may see: not archived, not permanently closed."""
    return Store.objects.filter(is_archived=False).exclude(status=Store.Status.CLOSED)


def store_list(*, lat=None, lng=None, city=None, at=None):
    """Stores for the shopper list: nearest first when a location is known, else the chosen city's
    stores by name (else all by city). Hours are prefetched: two queries whatever the row count.
    Each store gets `.distance_km` (or None) and `.is_open_now`."""
    qs = visible_stores().prefetch_related(
        Prefetch("hours", queryset=StoreHours.objects.order_by("weekday", "opens"), to_attr="hour_list")
    )
    coords = valid_coordinates(lat, lng) if lat is not None else None
    if coords:
        qs = qs.annotate(distance_km=distance_expression(*coords)).order_by("distance_km", "pk")
        if city:
            qs = qs.filter(city=city)
    elif city:
        qs = qs.filter(city=city).order_by("name", "pk")
    else:
        qs = qs.order_by("city", "name", "pk")
    return qs


def decorate(stores, at=None):
    at = at or timezone.now()
    for store in stores:
        hours = store.hour_list if hasattr(store, "hour_list") else store.hours.all()
        store.is_open_now = is_open_at(hours, at, status=store.status, archived=store.is_archived)
        if not hasattr(store, "distance_km"):
            store.distance_km = None
    return stores


def cities():
    return list(visible_stores().order_by("city").values_list("city", flat=True).distinct())


def store_detail(pk):
    return visible_stores().prefetch_related("hours").get(pk=pk)


def store_stock(store, limit=60):
    """What a store has in stock (available > 0) for its detail page: one query."""
    return list(
        Stock.objects.filter(store=store, on_hand__gt=F("reserved"), sku__is_enabled=True,
                             sku__product__status="listed")
        .annotate(avail=F("on_hand") - F("reserved"))
        .select_related("sku__product")
        .order_by("sku__product__name", "sku__sort_order", "sku_id")[:limit]
    )


def stock_state(available, threshold):
    if available <= 0:
        return "out"
    if available < max(threshold, 1):
        return "low"
    return "in_stock"


def chosen_store_id(request):
    """The shopper's chosen store id from the session, else the long-lived cookie (no query)."""
    from .context_processors import CHOSEN_COOKIE, CHOSEN_SESSION_KEY

    raw = None
    session = getattr(request, "session", None)
    if session is not None:
        raw = session.get(CHOSEN_SESSION_KEY)
    if raw is None:
        raw = request.COOKIES.get(CHOSEN_COOKIE)
    return id_or_none(raw)


def stock_for_product(request, product, skus):
    """catalog's CATALOG_STOCK_PROVIDER hook: availability of these SKUs in the shopper's chosen
    store, {sku_id: {"available": n, "state": "in_stock"|"low"|"out"}}. One query; {} when no
    store is chosen (catalog then shows no per-store availability)."""
    store_id = chosen_store_id(request)
    if store_id is None:
        return {}
    sku_ids = [getattr(s, "pk", s) for s in skus]
    rows = dict(
        (sku_id, (on_hand - reserved, threshold))
        for sku_id, on_hand, reserved, threshold in Stock.objects.filter(
            store_id=store_id, sku_id__in=sku_ids, store__is_archived=False
        ).values_list("sku_id", "on_hand", "reserved", "low_threshold")
    )
    result = {}
    for sku_id in sku_ids:
        available, threshold = rows.get(sku_id, (0, 0))
        result[sku_id] = {"available": max(available, 0), "state": stock_state(available, threshold)}
    return result


def backoffice_stock(store, *, low_only=False, category=None, q=""):
    qs = (
        Stock.objects.filter(store=store)
        .annotate(avail=F("on_hand") - F("reserved"))
        .select_related("sku__product__category")
        .order_by("sku__product__name", "sku__sort_order", "sku_id")
    )
    if low_only:
        qs = qs.filter(avail__lt=F("low_threshold"))
    if category:
        qs = qs.filter(sku__product__category_id=category)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(sku__code__icontains=q) | Q(sku__product__name__icontains=q) | Q(sku__barcode=q))
    return qs


def movements_for(stock, limit=200):
    return list(StockMovement.objects.filter(stock=stock).select_related("actor").order_by("-id")[:limit])


def reservations_for(reference):
    """What `reference` reserved, one row per stock row, in SKU id order, with the stock row, its
    store and SKU loaded (one query). Each row's `.held` is what it still holds."""
    return list(
        StockReservation.objects.filter(reference=reference)
        .select_related("stock__store", "stock__sku__product")
        .order_by("stock__sku_id", "pk")
    )


def delivery_distance_km(store, lat, lng):
    """Great-circle distance in km from the store to (lat, lng); None when the coordinates do not
    parse or are out of range."""
    coords = valid_coordinates(lat, lng)
    if coords is None:
        return None
    return haversine_km(store.latitude, store.longitude, *coords)


def pickup_slots(store, *, now=None, days=3):
    """Pickup time slots a shopper may choose: [(start, end), ...] as aware Asia/Shanghai datetimes.

    Each slot is `store.pickup_slot_minutes` long and lies wholly inside the store's opening hours
    (stores.hours: overnight ranges, round-the-clock days and closed days; ranges that touch are
    joined, so a slot may run over midnight). Slots step from the start of each opening span, and
    the first one offered starts no earlier than `now` + `store.pickup_lead_minutes`, rounded up to
    that grid. Slots start today or on the next `days - 1` days (local dates). A store that is not
    open (paused, closed, archived) or does not offer pickup has none.
    """
    now = now or timezone.now()
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    if not store.accepts_orders or not store.pickup_enabled or days < 1:
        return []
    now = now.astimezone(SHANGHAI)
    today = now.date()
    last_day = today + timedelta(days=days - 1)
    slot = timedelta(minutes=store.pickup_slot_minutes)
    earliest = now + timedelta(minutes=store.pickup_lead_minutes)
    hours = store.hour_list if hasattr(store, "hour_list") else list(store.hours.all())
    # spans from yesterday (an overnight range reaches into today) to the last day's end
    begin = datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI) + slot
    slots = []
    for opens, closes in open_intervals(hours, begin, end):
        start = opens
        if start < earliest:  # round up to this span's grid
            steps = -(-(earliest - opens) // slot)
            start = opens + steps * slot
        while start + slot <= closes and start.date() <= last_day:
            if start.date() >= today:
                slots.append((start, start + slot))
            start += slot
    return slots
