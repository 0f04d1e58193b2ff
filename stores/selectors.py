"""Reads for shopper pages, the back office and other apps (catalog's stock hook, orders)."""

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import (
    Case,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    signals,
)
from django.db.models.base import ModelState
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt
from django.urls import reverse
from django.utils import timezone

from catalog import pagecache
from core.numbers import id_or_none
from core.prepared import PreparedSQL, convert_row, field_converters

from .hours import SHANGHAI, is_open_at, open_intervals
from .models import Stock, StockMovement, StockReservation, Store, StoreHours

EARTH_RADIUS_KM = 6371.0088
LOCATION_COOKIE = "md_loc"  # "lat,lng" the store list saved for a day (stores.views)
STORE_STOCK_PAGE_SIZE = 20  # rows of a store page's stock list per page (加载更多 for the next)
STORE_LIST_PAGE_SIZE = 20  # stores a page of the store list shows (加载更多 for the next)
NEARBY_LIMIT = 5  # stores listed under a product as having the selected SKU


_COORDINATE = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,15})?")


def _coordinate(raw):
    """A degree value spelt in plain ASCII: an optional "-", at most three digits, an optional
    fraction. Anything else (non-ASCII digits, exponents, "nan", underscores, a 10,000-digit
    string) is None, as float() would have accepted some of them."""
    if isinstance(raw, int | float | Decimal):
        return float(raw) if math.isfinite(raw) else None
    if not isinstance(raw, str) or not _COORDINATE.fullmatch(raw.strip()):
        return None
    return float(raw.strip())


def valid_coordinates(lat, lng):
    """(lat, lng) as floats when both parse and are in range, else None."""
    lat, lng = _coordinate(lat), _coordinate(lng)
    if lat is None or lng is None:
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
    # rounding can put `a` a hair above 1 for points on opposite sides of the earth, and PostgreSQL's
    # asin refuses anything past 1 (an error, where Python's haversine_km clamps the same way)
    a = Least(a, Value(1.0, output_field=FloatField()))
    return Value(2 * EARTH_RADIUS_KM, output_field=FloatField()) * ASin(Sqrt(a), output_field=FloatField())


def haversine_km(lat1, lng1, lat2, lng2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def visible_stores():
    """Stores a shopper may see: not archived, not permanently closed."""
    return Store.objects.filter(is_archived=False).exclude(status=Store.Status.CLOSED)


# The store list looks for a page's stores in boxes around the shopper of these radii (km), each
# tried only when the one before held too few, then in the whole set.
SEARCH_RADII_KM = (2, 8, 32, 128, 512, 2048)
# what a card shows; any other field of a listed store is deferred
LIST_FIELDS = ("id", "name", "province", "city", "district", "street", "latitude", "longitude", "phone",
               "status", "pickup_enabled", "delivery_enabled", "delivery_radius_km", "is_archived")


def bounding_box(lat, lng, radius_km):
    """(lat_lo, lat_hi, lng_lo, lng_hi) in degrees: a box holding every point within `radius_km`
    of (lat, lng) on the sphere, with a little to spare for rounding. Near a pole, or across the
    180th meridian, it spans every longitude."""
    d = radius_km / EARTH_RADIUS_KM * (1 + 1e-9) + 1e-12
    lat_lo, lat_hi = lat - math.degrees(d), lat + math.degrees(d)
    if lat_lo <= -90 or lat_hi >= 90:
        return max(lat_lo, -90.0), min(lat_hi, 90.0), -180.0, 180.0
    # the widest longitude of the circle (it is reached north or south of `lat`, not at it)
    spread = math.sin(d) / math.cos(math.radians(lat))
    if spread >= 1:
        return lat_lo, lat_hi, -180.0, 180.0
    dlng = math.degrees(math.asin(spread))
    if lng - dlng < -180 or lng + dlng > 180:
        return lat_lo, lat_hi, -180.0, 180.0
    return lat_lo, lat_hi, lng - dlng, lng + dlng


@dataclass
class StorePage:
    stores: list  # each with .distance_km (or None) and .is_open_now
    number: int
    has_next: bool

    @property
    def next_page_number(self):
        return self.number + 1


def store_list(*, lat=None, lng=None, city=None, page=1, size=STORE_LIST_PAGE_SIZE, at=None):
    """One page of the shopper's store list: nearest first with the distance when (lat, lng) is a
    valid location, else by city and name (one city's by name). `city` narrows it to one city
    either way. Each store has `.distance_km` (or None), `.hour_list` and `.is_open_now` at `at`.
    One query whatever the number of stores (see _page_rows)."""
    coords = valid_coordinates(lat, lng) if lat is not None else None
    number = max(1, int(page))
    rows = _page_rows(coords, city or None, (number - 1) * size, size + 1)
    stores = rows[:size]
    for store in stores:
        store.hour_list = _read_hours(store.hours_text)
        store.distance_km = _half_chord_km(store.half_chord) if coords else None
    return StorePage(stores=decorate(stores, at), number=number, has_next=len(rows) > size)


def _page_rows(coords, city, start, count):
    """`count` visible stores from the `start`-th, in one statement that reads only the rows it
    needs (see _page_sql); the stores are built straight from its rows."""
    params = {"closed": Store.Status.CLOSED, "city": city, "start": start, "count": count}
    if coords:
        lat, lng = coords
        params.update(lat=math.radians(lat), lng=math.radians(lng), coslat=math.cos(math.radians(lat)),
                      skip=start + count - 1)
        for i, radius in enumerate(SEARCH_RADII_KM):
            box = bounding_box(lat, lng, radius)
            params.update({f"h{i}": math.sin(radius / EARTH_RADIUS_KM / 2) ** 2,
                           f"a{i}": box[0], f"b{i}": box[1], f"c{i}": box[2], f"d{i}": box[3]})
    statement, names, converters = _page_sql(connection.vendor, bool(coords), bool(city))
    with connection.cursor() as cursor:
        statement.execute(cursor, params)
        rows = cursor.fetchall()
    plain = not (signals.pre_init.has_listeners(Store) or signals.post_init.has_listeners(Store))
    alias = connection.alias
    stores = []
    for row in rows:
        row = convert_row(row, converters, connection)
        stores.append(_listed_store(names, row, plain, alias))
    return stores


def _listed_store(names, row, plain, alias):
    """A Store from a row of _page_sql: its list fields loaded, the others deferred, as
    Model.from_db builds it, plus `half_chord` and `hours_text`. When nothing listens to Store's
    init signals, without Model.__init__'s work per field (it cost more than the rest of the page's
    Python): the state of a loaded instance and the values, which is what __init__ would set."""
    width = len(names) - 2
    if plain:
        store = Store.__new__(Store)
        state = store._state = ModelState()
        state.adding, state.db = False, alias
        store.__dict__.update(zip(names, row, strict=True))
        return store
    store = Store.from_db(alias, names[:width], row[:width])
    store.half_chord, store.hours_text = row[width], row[width + 1]
    return store


@functools.cache
def _page_sql(vendor, located, by_city):
    """(the statement, the names of its rows' values, core.prepared.field_converters) for _page_rows:
    without a location, an index range on (city, name, id); with one, nearest first (ties by id).
    The statement is prepared on the server (core.prepared.PreparedSQL): parsing and planning it
    cost PostgreSQL more than running it (~1 ms of a 1.6 ms round trip at 1,000 stores).

    Near a location, the statement first picks the smallest of SEARCH_RADII_KM whose circle holds at
    least start + count stores, then sorts only the stores in that circle's bounding box, an index
    range on (latitude, longitude). The order is exact: the page's farthest store is within the
    circle, so every store nearer than it is in the box. When no circle holds enough (a sparse set,
    a deep page) it sorts the whole set. Stores are compared by the haversine's half-chord term,
    which grows with the distance (the distance itself is worked out for the few shown).

    The circles are rows of one VALUES list, each probed by the same correlated EXISTS (... LIMIT 1
    OFFSET start + count - 1), which stops at that many stores: one subquery to plan rather than one
    per circle (planning the statement cost more than running it).

    Each row ends with `half_chord` and `hours_text`, its opening hours as text (read by
    _read_hours), gathered for the rows of the page only. (cities() stays a statement of its own:
    joined to this one, the whole cost PostgreSQL more to plan than the two apart.)"""
    quote = connection.ops.quote_name
    table = quote(Store._meta.db_table)
    hours_table = quote(StoreHours._meta.db_table)
    concat = "string_agg" if vendor == "postgresql" else "group_concat"
    hours = (f"(SELECT {concat}(h.weekday || ' ' || h.opens || ' ' || h.closes, ',')"
             f" FROM {hours_table} h WHERE h.store_id = s.id)")
    fields = [f for f in Store._meta.concrete_fields if f.attname in LIST_FIELDS]  # from_db wants them in order
    columns = ", ".join(f"s.{quote(f.column)}" for f in fields)
    visible = "NOT s.is_archived AND s.status <> %(closed)s" + (" AND s.city = %(city)s" if by_city else "")
    ctes = []
    if not located:
        order = "s.name, s.id" if by_city else "s.city, s.name, s.id"
        select = (f"SELECT {columns}, NULL AS half_chord, {hours} AS hours_text FROM {table} s"  # noqa: S608 - names, not input
                  f" WHERE {visible} ORDER BY {order} LIMIT %(count)s OFFSET %(start)s")
    else:
        half_chord = ("POWER(SIN((RADIANS(s.latitude) - %(lat)s) / 2), 2) + %(coslat)s * COS(RADIANS(s.latitude))"
                      " * POWER(SIN((RADIANS(s.longitude) - %(lng)s) / 2), 2)")
        circles = [f"({i}, %(h{i})s, %(a{i})s, %(b{i})s, %(c{i})s, %(d{i})s)" for i in range(len(SEARCH_RADII_KM))]
        whole = len(SEARCH_RADII_KM)
        circles.append(f"({whole}, 1.0, -90.0, 90.0, -180.0, 180.0)")
        # the first row's casts give the columns their type (a bare 31.2 would be numeric on PostgreSQL)
        circles[0] = "(0, " + ", ".join(f"CAST(%({k}0)s AS DOUBLE PRECISION)" for k in "habcd") + ")"
        order = "half_chord, s.id"
        ctes += [
            f"circle (n, h, lat_lo, lat_hi, lng_lo, lng_hi) AS (VALUES {', '.join(circles)})",
            f"pick AS (SELECT c.* FROM circle c WHERE c.n = {whole} OR EXISTS (SELECT 1 FROM {table} s"  # noqa: S608 - names, not input
            f" WHERE {visible} AND s.latitude BETWEEN c.lat_lo AND c.lat_hi AND s.longitude BETWEEN c.lng_lo AND c.lng_hi"
            f" AND {half_chord} <= c.h LIMIT 1 OFFSET %(skip)s) ORDER BY c.n LIMIT 1)",
        ]
        select = (
            f"SELECT {columns}, {half_chord} AS half_chord, {hours} AS hours_text FROM {table} s"  # noqa: S608 - names, not input
            f" JOIN pick b ON s.latitude BETWEEN b.lat_lo AND b.lat_hi AND s.longitude BETWEEN b.lng_lo AND b.lng_hi"
            f" WHERE {visible} ORDER BY {order} LIMIT %(count)s OFFSET %(start)s"
        )
    sql = f"WITH {', '.join(ctes)} {select}" if ctes else select
    converters = field_converters(fields, Store._meta.db_table, connection)
    return PreparedSQL(sql), (*(f.attname for f in fields), "half_chord", "hours_text"), converters


def _half_chord_km(half_chord):
    """The haversine's distance from its half-chord term (rounding may push that a hair over 1)."""
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, half_chord))))


@functools.lru_cache(maxsize=1024)
def _read_hours(text):
    """((weekday, opens, closes), ...) from _page_rows' "0 09:00:00 21:00:00,1 ..." (() for None),
    sorted. Kept by text: the stores of a chain mostly share a few weeks."""
    ranges = []
    for part in (text or "").split(","):
        if part:
            weekday, opens, closes = part.split(" ")
            ranges.append((int(weekday), time.fromisoformat(opens), time.fromisoformat(closes)))
    return tuple(sorted(ranges))


def decorate(stores, at=None):
    """Set `is_open_now` (at `at`, now by default), `distance_km` (None unless set) and
    `distance_text` on each store."""
    at = at or timezone.now()
    open_by_week = {}  # the list's stores share their weeks (_read_hours): each week checked once
    for store in stores:
        hours = store.hour_list if hasattr(store, "hour_list") else store.hours.all()
        if isinstance(hours, tuple) and store.status == Store.Status.OPEN and not store.is_archived:
            if hours not in open_by_week:
                open_by_week[hours] = is_open_at(hours, at)
            store.is_open_now = open_by_week[hours]
        else:
            store.is_open_now = is_open_at(hours, at, status=store.status, archived=store.is_archived)
        if not hasattr(store, "distance_km"):
            store.distance_km = None
        store.distance_text = _distance_text(store.distance_km)
    return stores


def _distance_text(km):
    """"850m" under a kilometre, else "1.2km"; "" when unknown."""
    if km is None:
        return ""
    return f"{round(km * 1000)}m" if km < 1 else f"{km:.1f}km"


def cities():
    """The cities that have a visible store, in order: kept in this process while no store changes
    (catalog.pagecache.kept_value, STORES_DEP: a store's save, delete, archiving and the admin's
    bulk actions bump it; the store list asks on every request). Read by one query that reads one
    index entry per city (a loose scan of the (city, name, id) index: each step asks for the first
    visible store of a city after the last one found) rather than every store."""
    return pagecache.kept_value(("stores.cities", connection.alias), [pagecache.STORES_DEP], _read_cities)


def _read_cities():
    with connection.cursor() as cursor:
        _cities_sql(connection.vendor).execute(cursor, {"closed": Store.Status.CLOSED})
        return [row[0] for row in cursor.fetchall()]


@functools.cache
def _cities_sql(vendor):
    table = connection.ops.quote_name(Store._meta.db_table)
    visible = "NOT s.is_archived AND s.status <> %(closed)s"
    return PreparedSQL(
        f"WITH RECURSIVE c (city) AS ("  # noqa: S608 - names, not input
        f" SELECT MIN(s.city) FROM {table} s WHERE {visible}"
        f" UNION ALL SELECT (SELECT MIN(s.city) FROM {table} s WHERE s.city > c.city AND {visible})"
        f" FROM c WHERE c.city IS NOT NULL)"
        f" SELECT city FROM c WHERE city IS NOT NULL ORDER BY city"
    )


def store_detail(pk):
    return visible_stores().prefetch_related("hours").get(pk=pk)


def store_photos(store):
    """The store's gallery in its order, for its page: one query, whatever the number of photos."""
    from .models import StorePhoto

    return list(
        StorePhoto.objects.filter(store_id=store.pk)
        .only("id", "image", "width", "height", "caption", "position", "thumbnails")
        .order_by("position", "pk")
    )


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


def page_cache_vary(request):
    """catalog's CATALOG_PAGE_CACHE_VARY hook: what a shop page kept for visitors differs by here,
    the chosen store and the saved location (no query)."""
    coords = saved_location(request)
    where = f"{coords[0]},{coords[1]}" if coords else ""
    return f"store={chosen_store_id(request) or ''};at={where}"


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


def pickup_slots(store, *, now=None, days=3, limit=None):
    """Pickup time slots a shopper may choose: [(start, end), ...] as aware Asia/Shanghai datetimes.

    Each slot is `store.pickup_slot_minutes` long and lies wholly inside the store's opening hours
    (stores.hours: overnight ranges, round-the-clock days and closed days; ranges that touch are
    joined, so a slot may run over midnight). Slots step from the start of each opening span, and
    the first one offered starts no earlier than `now` + `store.pickup_lead_minutes`, rounded up to
    that grid. Slots start today or on the next `days - 1` days (local dates). A store that is not
    open (paused, closed, archived) or does not offer pickup has none. `limit`: at most that many,
    the earliest (an order placed without a chosen slot needs only the first).
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
                if limit is not None and len(slots) >= limit:
                    return slots
            start += slot
    return slots


PICKER_LIMIT = 20


def clean_query(q):
    """What a person typed or a scanner sent, as text a query can hold: printable characters only
    (no NUL, which PostgreSQL refuses), trimmed, at most 64 characters."""
    return "".join(ch for ch in str(q or "") if ch.isprintable()).strip()[:64]


class PickerSku(NamedTuple):
    """One row of the product picker: what its button shows and carries."""

    pk: int
    code: str
    barcode: str
    spec_text: str
    name: str  # the product's
    unit: str  # the product's
    available: int | None  # on_hand - reserved in the store; None when the store has no row
    exact: bool  # the barcode or code is exactly what was typed (a scanner's Enter picks it)


# The store check (one of the user's working stores, as choose_store) and the search in one
# statement, written once: the rows, or no row at all when the store is refused. The matches are a
# UNION of three small index scans (barcode or UPPER(code) equal; UPPER(code) prefix; the SKUs of
# the first `limit` products by name, through the trigram index for a name without letter case),
# each with the SKU's columns and its product's name as read there (no SKU is looked up again);
# the first `limit` enabled ones are then given their product's unit and the store's stock (20
# lookups of each, rather than one per match).
_PICKER_SQL = """
WITH picker_store AS (
    SELECT id FROM stores_store
    WHERE id = %(store)s AND NOT is_archived
      AND (%(hq)s OR id IN (SELECT store_id FROM stores_storestaff WHERE user_id = %(user)s))
), matched AS (
    SELECT k.id, k.code, k.barcode, k.spec_text, k.sort_order, k.is_enabled, k.product_id, p.name
    FROM catalog_sku k JOIN catalog_product p ON p.id = k.product_id
    WHERE k.barcode = %(q)s OR UPPER(k.code) = UPPER(%(q)s)
    UNION
    SELECT k.id, k.code, k.barcode, k.spec_text, k.sort_order, k.is_enabled, k.product_id, p.name
    FROM (
        SELECT id, code, barcode, spec_text, sort_order, is_enabled, product_id FROM catalog_sku
        WHERE {code_range}UPPER(code) LIKE UPPER(%(code_prefix)s) ESCAPE '\\'
        ORDER BY UPPER(code) LIMIT %(limit)s
    ) k JOIN catalog_product p ON p.id = k.product_id
    UNION
    SELECT k.id, k.code, k.barcode, k.spec_text, k.sort_order, k.is_enabled, k.product_id, by_name.name
    FROM (
        SELECT id, name FROM catalog_product WHERE {name_matches} ORDER BY name, id LIMIT %(limit)s
    ) by_name JOIN catalog_sku k ON k.product_id = by_name.id
), found AS (
    SELECT m.id, m.code, m.barcode, m.spec_text, m.sort_order, m.product_id, m.name,
           (m.barcode = %(q)s OR UPPER(m.code) = UPPER(%(q)s)) AS exact,
           UPPER(m.code) LIKE UPPER(%(code_prefix)s) ESCAPE '\\' AS by_code
    FROM matched m
    WHERE m.is_enabled
    ORDER BY exact DESC, by_code DESC, m.name, m.sort_order, m.id
    LIMIT %(limit)s
)
SELECT picker_store.id, shown.id, shown.code, shown.barcode, shown.spec_text, shown.name, shown.unit,
       shown.available, shown.exact
FROM picker_store LEFT JOIN (
    SELECT f.id, f.code, f.barcode, f.spec_text, f.name, p.unit, st.on_hand - st.reserved AS available,
           f.exact, f.by_code, f.sort_order
    FROM found f
    JOIN catalog_product p ON p.id = f.product_id
    LEFT JOIN stores_stock st ON st.sku_id = f.id AND st.store_id = %(store)s
) shown ON 1 = 1
ORDER BY shown.exact DESC, shown.by_code DESC, shown.name, shown.sort_order, shown.id
"""

_PICKER_STORE_SQL = """
SELECT id FROM stores_store
WHERE id = %s AND NOT is_archived
  AND (%s OR id IN (SELECT store_id FROM stores_storestaff WHERE user_id = %s))
"""


@functools.cache
def _picker_statement(vendor, cased):
    """The picker's statement for a database and a query with or without letter case. A name with
    letter case is matched as Django's icontains does (UPPER both sides); one without (Chinese) as
    typed, which the trigram index serves.

    On PostgreSQL the statement is prepared on the server (core.prepared.PreparedSQL): planning it
    cost more than running it. The code prefix is also written as the range of the UPPER(code)
    index it reads (from the query, upper-cased, to the query followed by the last code point),
    which a plan made without the values can use too: with the LIKE alone, only a plan made for
    each query's pattern could, and PostgreSQL planned the statement on every run. The range holds
    every code the LIKE matches (bar one that goes on with U+10FFFF, a noncharacter); the LIKE
    still decides."""
    name_matches = "UPPER(name) LIKE UPPER(%(name_pattern)s) ESCAPE '\\'" if cased else (
        "name LIKE %(name_pattern)s ESCAPE '\\'")
    code_range = ""
    if vendor == "postgresql":
        code_range = "UPPER(code) ~>=~ UPPER(%(q)s) AND UPPER(code) ~<~ (UPPER(%(q)s) || chr(1114111)) AND "
    return PreparedSQL(_PICKER_SQL.format(name_matches=name_matches, code_range=code_range))


def picker_skus(store_id, q, *, user, limit=PICKER_LIMIT):
    """The product picker's matches in the store `store_id`, or None when the store is not one of
    `user`'s working stores (not archived; HQ: any), as choose_store refuses it. The matches are
    enabled SKUs whose barcode or code equals `q` (first, `.exact`), then those whose code starts
    with it, then those of the products whose name holds it (by name, then the SKU's sort order),
    at most `limit`, as PickerSku rows with the store's available stock. Drafts are included: HQ
    receives a new product before listing it.

    One query whatever the catalogue's size (search as you type runs this on every key), its SQL
    written once (_PICKER_SQL): built by the ORM (a UNION of ids, then the SKUs with a CASE and a
    stock subquery) it cost ~10 ms of Python a request, more than running it. Scanning every SKU with
    an OR of the three (or upper-casing every code) took 40-130 ms at 10,000 SKUs
    (bench/benchmarks/store_documents.py); the indexes are catalog migration 0009's."""
    from .scope import is_hq

    hq = is_hq(user)
    q = clean_query(q)
    with connection.cursor() as cursor:
        if not q:
            cursor.execute(_PICKER_STORE_SQL, [store_id, hq, user.pk])
            return [] if cursor.fetchone() else None
        like = connection.ops.prep_for_like_query(q)
        cased = q.upper() != q.lower()
        _picker_statement(connection.vendor, cased).execute(cursor, {
            "store": store_id, "hq": hq, "user": user.pk, "q": q, "code_prefix": f"{like}%",
            "name_pattern": f"%{like}%", "limit": limit,
        })
        rows = cursor.fetchall()
    if not rows:
        return None
    return [PickerSku(*row[1:8], bool(row[8])) for row in rows if row[1] is not None]


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
