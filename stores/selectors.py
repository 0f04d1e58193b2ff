"""Reads for shopper pages, the back office and other apps (catalog's stock hook, orders)."""

import math
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt
from django.urls import reverse
from django.utils import timezone

from core.numbers import id_or_none

from .hours import SHANGHAI, is_open_at, open_intervals
from .models import Stock, StockMovement, StockReservation, Store, StoreHours

EARTH_RADIUS_KM = 6371.0088
LOCATION_COOKIE = "md_loc"  # "lat,lng" the store list saved for a day (stores.views)
STORE_STOCK_PAGE_SIZE = 20  # rows of a store page's stock list per page (加载更多 for the next)
NEARBY_LIMIT = 5  # stores listed under a product as having the selected SKU


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


def store_stock(store):
    """What a store has in stock (available > 0) for its page, SKUs that can be sold now only (so
    every row links to a product page that opens), by product name: a queryset for paging."""
    from catalog.selectors import sellable_skus

    return (
        Stock.objects.filter(store=store, on_hand__gt=F("reserved"), sku__in=sellable_skus().values("pk"))
        .annotate(avail=F("on_hand") - F("reserved"))
        .select_related("sku__product")
        .only("id", "on_hand", "reserved", "low_threshold", "sku__id", "sku__spec_text", "sku__price",
              "sku__product__id", "sku__product__name")
        .order_by("sku__product__name", "sku__product_id", "sku__sort_order", "sku_id")
    )


def store_stock_page(store, raw_page):
    """One page of store_stock(): (rows, page number, whether there is a next page), without a
    COUNT (one row more is fetched). A page number that is not plain ASCII digits within
    1..1000 is page 1."""
    from core.numbers import int_or_none

    number = int_or_none(raw_page, minimum=1, maximum=1000) or 1
    start = (number - 1) * STORE_STOCK_PAGE_SIZE
    rows = list(store_stock(store)[start:start + STORE_STOCK_PAGE_SIZE + 1])
    return rows[:STORE_STOCK_PAGE_SIZE], number, len(rows) > STORE_STOCK_PAGE_SIZE


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


def saved_location(request):
    """The shopper's (lat, lng) that the store list saved in its cookie, or None."""
    raw = request.COOKIES.get(LOCATION_COOKIE, "")
    lat, _sep, lng = raw.partition(",")
    return valid_coordinates(lat, lng) if raw else None


def _chosen_store(request):
    from .context_processors import get_chosen_store

    return get_chosen_store(request)


def stock_for_product(request, product, skus):
    """catalog's CATALOG_STOCK_PROVIDER hook: availability of these SKUs in the shopper's chosen
    store, {sku_id: {"available": n, "state": "in_stock"|"low"|"out"}}. "low" (仅剩 N 件) is below
    the stock row's own low_threshold, the one that raises the staff's low-stock alert (default 5,
    0 turns it off). With no store chosen, or the chosen one closed or archived, every SKU is
    {"available": None, "state": "no_store"}: the page asks for a store rather than saying 有货.
    Two queries (the chosen store, read once per request, and its rows); none without a store."""
    sku_ids = [getattr(s, "pk", s) for s in skus]
    store = _chosen_store(request)
    if store is None:
        return {sku_id: {"available": None, "state": "no_store"} for sku_id in sku_ids}
    rows = dict(
        (sku_id, (on_hand - reserved, threshold))
        for sku_id, on_hand, reserved, threshold in Stock.objects.filter(
            store_id=store.pk, sku_id__in=sku_ids
        ).values_list("sku_id", "on_hand", "reserved", "low_threshold")
    )
    result = {}
    for sku_id in sku_ids:
        available, threshold = rows.get(sku_id, (0, 0))
        result[sku_id] = {"available": max(available, 0), "state": stock_state(available, threshold)}
    return result


def selling_stores():
    """Stores a shopper can buy from now: open and not archived."""
    return Store.objects.filter(status=Store.Status.OPEN, is_archived=False)


def products_in_stock(product_ids):
    """catalog's CATALOG_IN_STOCK_PROVIDER hook: the subset of `product_ids` with an enabled SKU
    available (on hand minus reserved) in a store that takes orders. One query. A product outside
    it shows 已售罄 and is left off the home page."""
    ids = [int(i) for i in product_ids]
    if not ids:
        return set()
    return set(
        Stock.objects.filter(
            sku__product_id__in=ids, sku__is_enabled=True, on_hand__gt=F("reserved"), store__in=selling_stores()
        ).values_list("sku__product_id", flat=True).distinct()
    )


def store_panel(request, product, sku_ids, next_url, limit=NEARBY_LIMIT):
    """catalog's CATALOG_STORE_PANEL_PROVIDER hook, for the product page's store panel:
    {"store": the chosen store or None, "list_url": the store list leading back to `next_url`,
     "nearby": [store, ...]}. `nearby` are the other stores taking orders that have these SKUs
    (available summed over them; one SKU is the selected one), at most `limit`: nearest first
    from the location the store list saved, else the chosen store's city first, then by city
    and name. Each has `.available`, `.distance_km` (or None) and `.choose_url` (POST, with
    `next`). One query, plus the chosen store when nothing on the page has read it yet."""
    from urllib.parse import urlencode

    store = _chosen_store(request)
    ids = [int(i) for i in sku_ids]
    nearby = []
    if ids:
        available = (
            Stock.objects.filter(store=OuterRef("pk"), sku_id__in=ids)
            .values("store")
            .annotate(total=Sum(F("on_hand") - F("reserved")))
            .values("total")
        )
        qs = (
            selling_stores()
            .annotate(available=Subquery(available, output_field=IntegerField()))
            .filter(available__gt=0)
            .only("id", "name", "city", "district", "street", "province", "latitude", "longitude")
        )
        if store is not None:
            qs = qs.exclude(pk=store.pk)
        coords = saved_location(request)
        if coords:
            qs = qs.annotate(distance_km=distance_expression(*coords)).order_by("distance_km", "pk")
        elif store is not None:
            same_city = Case(When(city=store.city, then=Value(0)), default=Value(1), output_field=IntegerField())
            qs = qs.annotate(same_city=same_city).order_by("same_city", "city", "name", "pk")
        else:
            qs = qs.order_by("city", "name", "pk")
        nearby = list(qs[:limit])
        for row in nearby:
            row.choose_url = reverse("stores:choose", args=[row.pk])
            if not hasattr(row, "distance_km"):
                row.distance_km = None
    return {
        "store": store,
        "list_url": reverse("stores:list") + "?" + urlencode({"next": next_url}),
        "store_url": reverse("stores:detail", args=[store.pk]) if store is not None else "",
        "nearby": nearby,
        "next": next_url,
    }


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


PICKER_LIMIT = 20


def clean_query(q):
    """What a person typed or a scanner sent, as text a query can hold: printable characters only
    (no NUL, which PostgreSQL refuses), trimmed, at most 64 characters."""
    return "".join(ch for ch in str(q or "") if ch.isprintable()).strip()[:64]


def picker_skus(store, q, *, limit=PICKER_LIMIT):
    """The product picker's matches: enabled SKUs whose barcode or code equals `q` (first, marked
    `.exact`), then those whose code starts with it, then those of the products whose name holds it
    (by name). Each SKU has `.available` (on_hand - reserved in `store`, None when the store has no
    row) and `.exact`. Drafts are included: HQ receives a new product before listing it.

    Two queries whatever the catalogue's size (search as you type runs this on every key): the ids,
    a UNION of three small index scans (barcode; UPPER(code) prefix; the first `limit` products by
    name through the trigram index, with their SKUs), then those SKUs with their stock. Scanning
    every SKU with an OR of the three (or upper-casing every code) took 40-130 ms at 10,000 SKUs
    (bench/benchmarks/store_documents.py); the indexes are catalog migration 0009's."""
    from django.db.models import BooleanField, Case, IntegerField, OuterRef, Subquery, When
    from django.db.models.functions import Upper

    from catalog.models import Product, Sku

    q = clean_query(q)
    if not q:
        return []
    exact = Q(barcode=q) | Q(code__iexact=q)
    # a name with no letter case (Chinese) is matched as typed, which the trigram index serves
    name = Q(name__icontains=q) if q.upper() != q.lower() else Q(name__contains=q)
    by_exact = Sku.objects.filter(exact).order_by().values("pk")
    by_code = Sku.objects.filter(code__istartswith=q).order_by(Upper("code")).values("pk")[:limit]
    products = Product.objects.filter(name).order_by("name", "pk").values("pk")[:limit]
    by_name = Sku.objects.filter(product__in=products).order_by().values("pk")
    ids = list(by_exact.union(by_code, by_name).values_list("pk", flat=True))
    if not ids:
        return []
    available = Stock.objects.filter(store=store, sku=OuterRef("pk")).annotate(
        avail=F("on_hand") - F("reserved")
    ).values("avail")[:1]
    return list(
        Sku.objects.filter(pk__in=ids, is_enabled=True)
        .annotate(
            exact=Case(When(exact, then=True), default=False, output_field=BooleanField()),
            by_code=Case(When(code__istartswith=q, then=True), default=False, output_field=BooleanField()),
            available=Subquery(available, output_field=IntegerField()),
        )
        .select_related("product")
        .only("code", "barcode", "spec_text", "sort_order", "is_enabled", "product__name", "product__unit")
        .order_by("-exact", "-by_code", "product__name", "sort_order", "pk")[:limit]
    )


def skus_for_code(q):
    """Enabled SKUs whose barcode or SKU code is exactly `q` (a scan): [] none, [one], or several."""
    from catalog.models import Sku

    q = clean_query(q)
    if not q:
        return []
    return list(Sku.objects.filter(is_enabled=True).filter(Q(barcode=q) | Q(code__iexact=q))
                .select_related("product").order_by("pk")[:5])


def documents_for(qs, *, kind=None, state=None):
    from django.db.models import Count

    from .models import StockDocument

    if kind in StockDocument.Kind.values:
        qs = qs.filter(kind=kind)
    if state in StockDocument.State.values:
        qs = qs.filter(state=state)
    return qs.select_related("store", "author").annotate(line_count=Count("lines")).order_by("-id")


def open_notifications(user):
    """The user's own notices still open: unread, and not about a low-stock alert that has since
    closed (the item was restocked: the notice closed with it)."""
    from .models import LowStockAlert, StoreNotification

    return StoreNotification.objects.filter(user_id=user.pk, read_at__isnull=True).exclude(
        alert__status=LowStockAlert.Status.CLOSED
    )


def notifications_for(user, *, only_open=False):
    """The user's own notices, newest first, each with its store and its alert's state (one query
    per page, whatever the rows)."""
    from .models import StoreNotification

    qs = open_notifications(user) if only_open else StoreNotification.objects.filter(user_id=user.pk)
    return qs.select_related("store", "alert").order_by("-id")
