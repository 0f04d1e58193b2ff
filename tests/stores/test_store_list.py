"""The shopper's store list: nearest first, exactly, from a bounding box on the (latitude, longitude)
index; by city and name without a location; 20 a page with 加载更多; a constant query count."""

import math
import random
import re
from datetime import time

import pytest
from django.test import Client
from django.urls import reverse

from stores.models import Store, StoreHours
from stores.selectors import SEARCH_RADII_KM, bounding_box, haversine_km, store_list
from tests.forms import form_data

from .conftest import make_store

pytestmark = pytest.mark.django_db

HERE = (31.2304, 121.4737)  # People's Square, Shanghai


def moved(lat, lng, km, bearing_deg):
    """The point `km` from (lat, lng) on the given bearing (great circle)."""
    d = km / 6371.0088
    p1, l1, b = math.radians(lat), math.radians(lng), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


def inside(box, lat, lng):
    return box[0] <= lat <= box[1] and box[2] <= lng <= box[3]


def walk(size, **where):
    """Every page of the list, in order: [(store id, distance), ...]."""
    rows, page = [], 1
    while True:
        result = store_list(page=page, size=size, **where)
        rows += [(s.pk, s.distance_km) for s in result.stores]
        if not result.has_next:
            return rows
        page += 1


@pytest.mark.parametrize("lat, lng", [HERE, (0, 0), (-33.87, 151.21), (69.6, 18.9), (-54.8, -68.3), (89.9, 10),
                                      (-89.95, 0), (10, 179.99), (-10, -179.95), (64.1, -21.9)])
def test_every_point_of_each_search_circle_is_inside_its_box(lat, lng):
    for radius in SEARCH_RADII_KM:
        box = bounding_box(lat, lng, radius)
        for bearing in range(0, 360, 5):
            point = moved(lat, lng, radius, bearing)
            assert inside(box, *point), (radius, bearing, point, box)


def test_a_store_just_outside_the_small_box_comes_before_one_in_its_corner():
    near = make_store("近店", lat=moved(*HERE, 0.1, 0)[0], lng=moved(*HERE, 0.1, 0)[1])
    corner_point = moved(*HERE, 2.6, 45)
    beyond_point = moved(*HERE, 2.05, 0)
    small = bounding_box(*HERE, SEARCH_RADII_KM[0])
    assert inside(small, *corner_point) and not inside(small, *beyond_point)
    corner = make_store("角落店", lat=corner_point[0], lng=corner_point[1])
    beyond = make_store("框外店", lat=beyond_point[0], lng=beyond_point[1])
    pages = [store_list(lat=HERE[0], lng=HERE[1], page=n, size=1) for n in (1, 2, 3)]
    assert [p.stores[0].pk for p in pages] == [near.pk, beyond.pk, corner.pk]
    assert [p.has_next for p in pages] == [True, True, False]
    assert pages[1].stores[0].distance_km == pytest.approx(2.05, abs=1e-6)
    # the same with the page that holds all three
    assert [s.pk for s in store_list(lat=HERE[0], lng=HERE[1]).stores] == [near.pk, beyond.pk, corner.pk]


def test_the_order_is_exact_over_every_page_against_a_plain_sort():
    rng = random.Random(13)
    stores = []
    for i in range(240):
        spread = rng.choice([0.05, 0.5, 3, 40])  # dense downtown, the suburbs, the province, far away
        lat = max(-89.0, min(89.0, HERE[0] + rng.uniform(-spread, spread)))
        lng = (HERE[1] + rng.uniform(-spread, spread) + 540) % 360 - 180
        stores.append(Store(name=f"随机{i}", code=f"rnd-{i}", province="上海市", city=rng.choice(["上海市", "苏州市", "杭州市"]),
                            street="路", latitude=lat, longitude=lng,
                            status=rng.choice(["open"] * 8 + ["paused", "closed"]), is_archived=rng.random() < 0.05))
    Store.objects.bulk_create(stores)
    visible = list(Store.objects.filter(is_archived=False).exclude(status="closed"))
    for lat, lng in [HERE, (31.5, 120.6), (30.0, 100.0), (-30.0, -60.0)]:
        for city in (None, "苏州市"):
            expected = sorted((haversine_km(lat, lng, s.latitude, s.longitude), s.pk) for s in visible
                               if city is None or s.city == city)
            for size in (7, 20):
                got = walk(size, lat=lat, lng=lng, city=city)
                assert [pk for pk, _km in got] == [pk for _km, pk in expected], (lat, lng, city, size)
                assert [km for _pk, km in got] == pytest.approx([km for km, _pk in expected], abs=1e-6)


def test_across_the_180th_meridian_the_nearest_store_is_on_the_other_side():
    west = make_store("日界线西", lat=-17.0, lng=179.95)
    east = make_store("日界线东", lat=-17.0, lng=-179.99)
    make_store("远店", lat=-17.0, lng=178.0)
    result = store_list(lat=-17.0, lng=-179.95)
    assert [s.pk for s in result.stores][:2] == [east.pk, west.pk]
    assert result.stores[1].distance_km == pytest.approx(10.6, abs=0.2)


def test_the_city_filter_keeps_the_distance_order_within_the_city(client):
    far_sh = make_store("上海远店", lat=31.40, lng=121.60)
    near_sh = make_store("上海近店", lat=31.2310, lng=121.4740)
    make_store("昆山店", city="苏州市", lat=31.2305, lng=121.4738)
    response = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1], "city": "上海市"})
    assert [s.pk for s in response.context["stores"]] == [near_sh.pk, far_sh.pk]
    assert response.context["located"]


def test_without_a_location_stores_are_by_city_then_name(client):
    b = make_store("B店", city="杭州市")
    a = make_store("A店", city="杭州市")
    sh = make_store("上海店", city="上海市")
    closed = make_store("停业店", city="南京市", status="closed")
    response = client.get(reverse("stores:list"))
    stores = response.context["stores"]
    assert [s.pk for s in stores] == [sh.pk, a.pk, b.pk]  # 上海市 sorts before 杭州市 by code point
    assert all(s.distance_km is None for s in stores)
    assert response.context["cities"] == ["上海市", "杭州市"] and closed.city not in response.context["cities"]
    assert [s.pk for s in client.get(reverse("stores:list"), {"city": "杭州市"}).context["stores"]] == [a.pk, b.pk]


@pytest.mark.parametrize("lat, lng", [
    ("91", "121.4"), ("31.2", "181"), ("1e5", "121"), ("9" * 5000, "121"), ("３１.２", "１２１.４"), ("٣١", "121"),
    ("nan", "121"), ("inf", "-inf"), ("3_1", "121"), ("31,2", "121,4"), ("", ""), ("31.2", ""), ("0x1f", "121"),
])
def test_bad_coordinates_are_ignored(client, lat, lng):
    store = make_store()
    response = client.get(reverse("stores:list"), {"lat": lat, "lng": lng, "page": "２"})
    assert response.status_code == 200
    assert not response.context["located"] and "md_loc" not in response.cookies
    assert [s.pk for s in response.context["stores"]] == [store.pk]  # "２" is not a page number: page 1
    assert response.context["stores"][0].distance_km is None


def test_a_nul_in_the_coordinates_or_the_city_is_refused_not_a_500(client):
    make_store()
    for params in ({"lat": "31.2\x00", "lng": "121.4"}, {"city": "上海\x00市"}):
        assert client.get(reverse("stores:list"), params).status_code == 400


def test_a_huge_page_number_or_city_is_an_empty_page_not_an_error(client):
    make_store()
    response = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1], "page": "99999"})
    assert response.status_code == 200 and response.context["stores"] == []  # page 1000, past the end
    response = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1], "page": "9" * 50})
    assert response.status_code == 200 and len(response.context["stores"]) == 1  # not a number: page 1
    response = client.get(reverse("stores:list"), {"city": "城" * 5000})
    assert response.status_code == 200 and response.context["stores"] == []


def _bulk(n, prefix):
    from stores.apps import stores_changed

    Store.objects.bulk_create([
        Store(name=f"{prefix}{i}", code=f"{prefix}-{i}", province="江苏省", city=f"城{i % 7}", street="路",
              latitude=30 + (i % 40) * 0.05, longitude=119.5 + (i // 40) * 0.08) for i in range(n)
    ])
    StoreHours.objects.bulk_create([StoreHours(store=s, weekday=d, opens=time(9), closes=time(21))
                                    for s in Store.objects.filter(code__startswith=f"{prefix}-") for d in range(7)])
    stores_changed()  # a bulk write sends no signal: its writer says the stores changed


REQUESTS = [
    ({"lat": HERE[0], "lng": HERE[1]}, {}),
    ({"lat": HERE[0], "lng": HERE[1], "city": "城3"}, {}),
    ({"lat": "30.5", "lng": "120.5", "page": "3"}, {}),
    ({"city": "城3"}, {}),
    ({}, {}),
    ({"lat": HERE[0], "lng": HERE[1], "page": "2"}, {"HTTP_HX_REQUEST": "true"}),
]


def test_the_query_count_does_not_grow_with_the_stores(django_assert_num_queries):
    """The page (its stores' hours for 营业中 included) and the cities: 2 queries with 60 stores or
    1,000, then 1 while the cities are kept (selectors.cities: until a store changes); an htmx page
    (加载更多, a city picked) does not ask for the cities."""
    from catalog import pagecache

    _bulk(60, "few")
    counts = []
    for n in (60, 1000):
        if n == 1000:
            _bulk(940, "many")
        for i, (params, headers) in enumerate(REQUESTS):
            expected = 1 if headers or (i > 0 and pagecache.enabled()) else 2
            with django_assert_num_queries(expected):
                response = Client().get(reverse("stores:list"), params, **headers)
            assert response.status_code == 200 and response.context["stores"]
            counts.append(len(response.context["stores"]))
    assert counts[len(REQUESTS):] == [20] * len(REQUESTS)  # full pages of 20


def test_open_now_comes_from_the_prefetched_hours(client, settings):
    from django.utils import timezone

    open_store = make_store("营业店", hours=False)
    now = timezone.localtime()
    StoreHours.objects.create(store=open_store, weekday=now.weekday(), opens=time(0), closes=time(0))
    make_store("休息店", hours=False)
    page = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1]})
    flags = {s.name: s.is_open_now for s in page.context["stores"]}
    assert flags == {"营业店": True, "休息店": False}
    html = page.content.decode()
    assert html.count("营业中") == 1 and html.count("休息中") == 1


def test_load_more_continues_at_the_same_location_without_repeats(client):
    _bulk(50, "more")
    first = client.get(reverse("stores:list"), {"lat": "30.51234567", "lng": "120.3", "next": "/orders/cart/"})
    html = first.content.decode()
    more_url = re.search(r'hx-get="([^"]+)"[^>]*>加载更多', html).group(1).replace("&amp;", "&")
    assert "lat=30.51234567" in more_url and "page=2" in more_url and "next=%2Forders%2Fcart%2F" in more_url
    second = client.get(more_url, HTTP_HX_REQUEST="true")
    third = client.get(re.search(r'hx-get="([^"]+)"', second.content.decode()).group(1).replace("&amp;", "&"),
                       HTTP_HX_REQUEST="true")
    shown = [s.pk for r in (first, second, third) for s in r.context["stores"]]
    assert len(shown) == len(set(shown)) == 50
    assert [pk for pk, _km in walk(50, lat=30.51234567, lng=120.3)] == shown
    assert not third.context["page_obj"].has_next and "加载更多" not in third.content.decode()
    assert b"<html" not in second.content


def test_choosing_a_store_from_the_list_goes_back_to_next(client):
    store = make_store("选我店")
    page = client.get(reverse("stores:list"), {"next": "/orders/checkout/"}).content.decode()
    action = re.search(r'form="stores-choose" formaction="([^"]+)"', page).group(1)
    assert action == reverse("stores:choose", args=[store.pk])
    data = form_data(page.encode(), "stores-choose")
    assert data["next"] == ["/orders/checkout/"]
    assert f'href="{reverse("stores:detail", args=[store.pk])}?next=%2Forders%2Fcheckout%2F"' in page
    response = client.post(action, {key: values[0] for key, values in data.items()})
    assert response.status_code == 302 and response["Location"] == "/orders/checkout/"
    listed = client.get(reverse("stores:list"))
    assert listed.context["chosen_id"] == store.pk and "当前门店" in listed.content.decode()


def _card(html, store):
    match = re.search(rf'<article class="stores-card[^"]*" data-store="{store.pk}">(.*?)</article>', html, re.S)
    assert match, store.pk
    return match.group(0)


def test_a_cached_card_shows_the_store_as_it_is_now(client, settings):
    from django.utils import timezone

    store = make_store("旧名店", hours=False)
    hours = StoreHours.objects.create(store=store, weekday=timezone.localtime().weekday(), opens=time(0), closes=time(0))
    where = {"lat": HERE[0], "lng": HERE[1]}
    first = _card(client.get(reverse("stores:list"), where).content.decode(), store)
    assert "旧名店" in first and "营业中" in first
    assert _card(client.get(reverse("stores:list"), where).content.decode(), store) == first  # from the cache
    Store.objects.filter(pk=store.pk).update(name="新名店", phone="021-99999999")  # no save(), no signal
    card = _card(client.get(reverse("stores:list"), where).content.decode(), store)
    assert "新名店" in card and "tel:021-99999999" in card and "旧名店" not in card
    hours.delete()
    card = _card(client.get(reverse("stores:list"), where).content.decode(), store)
    assert "休息中" in card and "营业中" not in card
    Store.objects.filter(pk=store.pk).update(status="paused")
    assert "暂停营业" in _card(client.get(reverse("stores:list"), where).content.decode(), store)


def test_shoppers_share_a_card_but_each_sees_their_own_distance_next_and_store():
    from django.core.cache import cache
    from django.utils import translation

    from stores.views import card_cache_key

    store = make_store("共享店", lat=31.2400, lng=121.4737)
    near, far = Client(), Client()
    near_html = near.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1], "next": "/orders/cart/"}).content.decode()
    far.post(reverse("stores:choose", args=[store.pk]))
    far_html = far.get(reverse("stores:list"), {"lat": "31.3304", "lng": HERE[1]}).content.decode()
    near_card, far_card = _card(near_html, store), _card(far_html, store)
    far_km = haversine_km(31.3304, HERE[1], store.latitude, store.longitude)
    assert ">1.1km<" in near_card and f">{far_km:.1f}km<" in far_card and 9.5 < far_km < 10.5
    assert "?next=%2Forders%2Fcart%2F" in near_card and "?next=" not in far_card
    assert "当前门店" in far_card and "is-chosen" in far_card and "当前门店" not in near_card
    listed = store_list(lat=HERE[0], lng=HERE[1]).stores[0]
    with translation.override("zh-hans"):
        assert cache.get(card_cache_key(listed, False, translation.get_language())) is not None


def test_the_list_answers_while_redis_is_down(client, settings):
    from core.cache import reset_breakers

    store = make_store("断缓存店")
    real = settings.CACHES["default"]
    if real["BACKEND"] != "core.cache.ResilientRedisCache":
        pytest.skip("needs the Redis cache backend (REDIS_URL)")
    reset_breakers()
    try:
        settings.CACHES = {"default": {**real, "LOCATION": "redis://127.0.0.1:6390/0"}}  # nothing listens there
        for _ in range(2):
            response = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1]})
            assert response.status_code == 200 and "断缓存店" in _card(response.content.decode(), store)
    finally:
        reset_breakers()


def test_the_distance_of_a_store_on_the_far_side_of_the_earth_is_half_its_circumference():
    """For these antipodal points haversine's `a` rounds to 1.0000000000000002 in PostgreSQL; its asin
    refuses anything past 1, so the expression clamps `a` as haversine_km does."""
    from stores.selectors import EARTH_RADIUS_KM, distance_expression

    store = make_store("antipode", lat=80.443, lng=127.063)
    km = Store.objects.filter(pk=store.pk).annotate(km=distance_expression(-80.443, -52.937)).get().km
    assert km == pytest.approx(math.pi * EARTH_RADIUS_KM, rel=1e-6)


def test_the_city_picker_lists_every_city_at_once_even_on_an_empty_page(client):
    """The cities are listed on an empty page too, and the page's body around the list is kept per
    process by its cities: a new city (or one whose last store closed) shows at once."""
    make_store("上海店")
    make_store("杭州店", city="杭州市", lat=30.27, lng=120.16)
    page = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1]})
    assert page.context["cities"] == ["上海市", "杭州市"] == sorted(page.context["cities"])
    empty = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1], "city": "无店市"})
    assert empty.context["stores"] == [] and empty.context["cities"] == ["上海市", "杭州市"]
    assert "附近暂无门店" in empty.content.decode()
    make_store("苏州店", city="苏州市", lat=31.30, lng=120.58)
    Store.objects.filter(city="杭州市").update(status="closed")
    html = client.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1]}).content.decode()
    assert '<option value="苏州市">苏州市</option>' in html and "杭州市" not in html
    picked = client.get(reverse("stores:list"), {"city": "苏州市", "next": "/orders/cart/"}).content.decode()
    assert '<option value="苏州市" selected>苏州市</option>' in picked
    assert 'name="next" value="/orders/cart/"' in picked
    assert 'name="next" value="/orders/cart/"' not in html


def test_the_cities_are_read_once_while_no_store_changes(client, settings, django_assert_num_queries):
    """The cities are kept in the process (one query fewer a page) while no store changes: a store
    saved here shows at once, a change another process made within the page cache's recheck time,
    and without the page cache (off, or Redis down) they are read on every page."""
    from django.core.cache import cache

    from catalog import pagecache

    if not pagecache.enabled():
        pytest.skip("needs the Redis cache backend (REDIS_URL)")
    make_store("上海店")
    url = reverse("stores:list")
    with django_assert_num_queries(2):
        assert client.get(url).context["cities"] == ["上海市"]
    with django_assert_num_queries(1):
        assert client.get(url).context["cities"] == ["上海市"]
    make_store("杭州店", city="杭州市", lat=30.27, lng=120.16)
    with django_assert_num_queries(2):
        assert client.get(url).context["cities"] == ["上海市", "杭州市"]
    # another process (the admin in another gunicorn worker) closed a store and bumped the version
    Store.objects.filter(city="杭州市").update(status="closed")
    cache.set(pagecache._dep_key(pagecache.STORES_DEP), 1, None)
    assert client.get(url).context["cities"] == ["上海市", "杭州市"]  # checked less than RECHECK ago
    settings.CATALOG_PAGE_CACHE_RECHECK = 0
    assert client.get(url).context["cities"] == ["上海市"]
    settings.CATALOG_PAGE_CACHE = False
    for _ in range(2):
        with django_assert_num_queries(2):
            client.get(url)


def test_a_kept_page_carries_each_request_s_own_csrf_token():
    from django.middleware.csrf import _unmask_cipher_token

    make_store("令牌店")
    tokens = []
    for _ in range(2):
        shopper = Client(enforce_csrf_checks=True)
        page = shopper.get(reverse("stores:list"), {"lat": HERE[0], "lng": HERE[1]})
        data = form_data(page.content, "stores-choose")
        secret = shopper.cookies["csrftoken"].value
        assert _unmask_cipher_token(data["csrfmiddlewaretoken"][0]) == secret
        action = re.search(r'form="stores-choose" formaction="([^"]+)"', page.content.decode()).group(1)
        assert shopper.post(action, {key: values[0] for key, values in data.items()}).status_code == 302
        tokens.append(secret)
    assert tokens[0] != tokens[1]


def test_the_listed_stores_are_built_as_django_builds_them_when_someone_listens_to_their_init():
    """Without listeners the list's stores skip Model.__init__; with one they are built by
    Model.from_db, which sends the signals. Either way a field not listed is read on demand."""
    from django.db.models.signals import post_init

    store = make_store("信号店")
    plain = store_list(lat=HERE[0], lng=HERE[1]).stores[0]
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Store)
    try:
        built = store_list(lat=HERE[0], lng=HERE[1]).stores[0]
    finally:
        post_init.disconnect(listener, sender=Store)
    assert [id(instance) for instance in seen] == [id(built)]
    assert plain.is_open_now == built.is_open_now
    for listed in (plain, built):
        assert (listed.pk, listed.name, listed.city, listed._state.adding) == (store.pk, "信号店", "上海市", False)
        assert {"code", "cover"} <= listed.get_deferred_fields() and "name" not in listed.get_deferred_fields()
        assert listed.code == store.code  # read on demand
