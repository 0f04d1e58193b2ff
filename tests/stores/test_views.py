import hashlib
from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import services
from stores.context_processors import CHOSEN_COOKIE, CHOSEN_SESSION_KEY
from stores.models import Stock, StockMovement, StoreHours, Transfer
from stores.selectors import haversine_km, stock_for_product, store_list
from stores.wechat import jsapi_signature

from .conftest import make_sku, make_store

pytestmark = pytest.mark.django_db

PEOPLE_SQUARE = (31.2304, 121.4737)


def make_stores(n, city="上海市"):
    for i in range(n):
        make_store(f"批量{i}", code=f"bulk-{city}-{i}", city=city, lat=31.0 + i * 0.01, lng=121.0 + i * 0.01)


def list_queries(client, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("stores:list"), params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_store_list_is_nearest_first_with_distances(client, db):
    far = make_store("远店", lat=30.27, lng=120.16, city="杭州市")
    near = make_store("近店", lat=31.2310, lng=121.4740)
    mid = make_store("中店", lat=31.30, lng=121.50)
    response = client.get(reverse("stores:list"), {"lat": PEOPLE_SQUARE[0], "lng": PEOPLE_SQUARE[1]})
    stores = response.context["stores"]
    assert [s.pk for s in stores] == [near.pk, mid.pk, far.pk]
    sql_km = stores[2].distance_km
    assert sql_km == pytest.approx(haversine_km(*PEOPLE_SQUARE, far.latitude, far.longitude), rel=1e-6)
    assert 160 < sql_km < 175  # Shanghai to Hangzhou, straight line
    html = response.content.decode()
    assert "tel:021-12345678" in html and "uri.amap.com/marker?position=121.474" in html


def test_store_list_query_count_does_not_grow_with_stores(client, db):
    from django.test import Client

    make_stores(3)
    few, _ = list_queries(Client(), lat=31.2, lng=121.4)
    from stores.apps import stores_changed
    from stores.models import Store

    Store.objects.bulk_create([
        Store(name=f"千店{i}", code=f"k{i}", province="江苏省", city="苏州市", street="路", latitude=30 + i / 1000,
              longitude=120 + i / 1000) for i in range(1000)
    ])
    stores_changed()  # a bulk write sends no signal: its writer says the stores changed
    many, response = list_queries(Client(), lat=31.2, lng=121.4)
    assert few == many
    assert many == 2  # the page with its hours, the cities (read again: the stores changed)
    assert response.context["cities"] == ["上海市", "苏州市"]
    assert len(response.context["stores"]) == 20  # first page
    assert response.context["page_obj"].has_next
    again, _ = list_queries(client, lat=31.2, lng=121.4, page=3)
    assert again <= many


def test_store_list_falls_back_to_the_city_and_ignores_bad_coordinates(client, db):
    sh = make_store("上海店")
    hz = make_store("杭州店", city="杭州市", lat=30.27, lng=120.16)
    response = client.get(reverse("stores:list"), {"city": "杭州市"})
    assert [s.pk for s in response.context["stores"]] == [hz.pk]
    assert set(response.context["cities"]) == {"上海市", "杭州市"}
    response = client.get(reverse("stores:list"), {"lat": "999", "lng": "abc"})
    assert response.status_code == 200
    assert {s.pk for s in response.context["stores"]} == {sh.pk, hz.pk}
    assert response.context["stores"][0].distance_km is None


def test_location_is_remembered_in_a_cookie_for_the_detail_page(client, db):
    store = make_store(lat=31.2400, lng=121.4737)
    response = client.get(reverse("stores:list"), {"lat": PEOPLE_SQUARE[0], "lng": PEOPLE_SQUARE[1]})
    assert response.cookies["md_loc"].value == "31.23040,121.47370"
    assert client.get(reverse("stores:list")).context["located"]
    detail = client.get(reverse("stores:detail", args=[store.pk]))
    assert detail.context["store"].distance_km == pytest.approx(1.07, abs=0.05)


def test_htmx_request_gets_only_the_list_partial(client, db):
    make_store()
    response = client.get(reverse("stores:list"), {"lat": 31.2, "lng": 121.4}, HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b"stores-card" in response.content


def test_open_status_shown_from_hours(client, db, settings):
    always = make_store("全天店", hours=False)
    StoreHours.objects.bulk_create([StoreHours(store=always, weekday=d, opens=time(0), closes=time(0)) for d in range(7)])
    never = make_store("无营业时间店", hours=False)
    paused = make_store("暂停店", status="paused", hours=False)
    StoreHours.objects.create(store=paused, weekday=0, opens=time(0), closes=time(0))
    stores = {s.pk: s for s in client.get(reverse("stores:list")).context["stores"]}
    assert stores[always.pk].is_open_now and not stores[never.pk].is_open_now
    assert not stores[paused.pk].is_open_now


def test_archived_and_closed_stores_are_hidden(client, db):
    make_store("归档", is_archived=True)
    make_store("停业", status="closed")
    visible = make_store("正常")
    assert [s.pk for s in client.get(reverse("stores:list")).context["stores"]] == [visible.pk]
    assert client.get(reverse("stores:detail", args=[visible.pk + 999])).status_code == 404


def test_store_detail_shows_hours_map_and_stock(client, db, django_assert_num_queries):
    store = make_store("详情店")
    sku = make_sku("龙井茶")
    empty = make_sku("没货的")
    services.receive_stock(store, sku, 3)
    services.receive_stock(store, empty, 1)
    services.reserve_lines(store, [(empty, 1)], reference="order:1")
    with django_assert_num_queries(4):  # the store, its hours, its stock page, its photos
        response = client.get(reverse("stores:detail", args=[store.pk]))
    html = response.content.decode()
    assert "龙井茶" in html and "没货的" not in html
    assert "uri.amap.com/marker" in html and "09:00-21:00" in html


def test_choose_store_remembers_it_and_home_shows_it(client, db):
    store = make_store("我的店")
    response = client.post(reverse("stores:choose", args=[store.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session[CHOSEN_SESSION_KEY] == store.pk
    assert response.cookies[CHOSEN_COOKIE].value == str(store.pk)
    home = client.get("/")
    assert "我的店" in home.content.decode()


def test_choose_unknown_or_archived_store_is_404(client, db):
    archived = make_store(is_archived=True)
    assert client.post(reverse("stores:choose", args=[archived.pk])).status_code == 404
    assert client.get(reverse("stores:choose", args=[archived.pk])).status_code == 405


def test_cookie_alone_restores_the_chosen_store(client, db):
    store = make_store("饼干店")
    client.cookies[CHOSEN_COOKIE] = str(store.pk)
    assert "饼干店" in client.get("/").content.decode()
    client.cookies[CHOSEN_COOKIE] = "garbage"
    assert client.get("/").status_code == 200


def test_pages_not_using_the_chosen_store_do_not_query_it(client, db):
    store = make_store("懒店")
    client.post(reverse("stores:choose", args=[store.pk]))
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("stores:wechat_jssdk_config"))  # 404 page: no store lookup
    assert not any("stores_store" in q["sql"] for q in ctx.captured_queries)


def test_stock_for_product_in_the_chosen_store(rf, db, django_assert_num_queries):
    store = make_store()
    a, b, c = make_sku(), make_sku(), make_sku()
    services.receive_stock(store, a, 50)
    services.receive_stock(store, b, 2)
    request = rf.get("/")
    request.session = {CHOSEN_SESSION_KEY: store.pk}
    request.COOKIES = {}
    with django_assert_num_queries(2):  # the chosen store (kept on the request), its rows
        result = stock_for_product(request, a.product, [a, b, c])
    assert result[a.pk] == {"available": 50, "state": "in_stock"}
    assert result[b.pk]["state"] == "low"
    assert result[c.pk] == {"available": 0, "state": "out"}
    with django_assert_num_queries(1):
        stock_for_product(request, a.product, [a])
    request = rf.get("/")
    request.session, request.COOKIES = {}, {}
    with django_assert_num_queries(0):  # no store chosen: the page asks for one
        assert stock_for_product(request, a.product, [a]) == {a.pk: {"available": None, "state": "no_store"}}


def test_jssdk_signature_matches_the_documented_example():
    # the example of WeChat's JS-SDK documentation (appendix 1)
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    signature = jsapi_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#frag")
    assert signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    raw = f"jsapi_ticket={ticket}&noncestr=Wm3WZYTPz0wzccnW&timestamp=1414587457&url=http://mp.weixin.qq.com?params=value"
    assert signature == hashlib.sha1(raw.encode()).hexdigest()


def test_jssdk_config_is_404_without_wechat_and_signed_with_it(client, settings, db):
    url = reverse("stores:wechat_jssdk_config")
    settings.WECHAT_APP_ID = ""
    assert client.get(url, {"url": "http://testserver/stores/"}).status_code == 404
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx123", "secret"
    from django.core.cache import cache

    from stores.views import JSAPI_TICKET_CACHE_KEY

    cache.set(JSAPI_TICKET_CACHE_KEY, "TICKET")
    body = client.get(url, {"url": "http://testserver/stores/?a=1#x"}).json()
    assert body["appId"] == "wx123"
    assert body["signature"] == jsapi_signature("TICKET", body["nonceStr"], body["timestamp"], "http://testserver/stores/?a=1")
    assert client.get(url, {"url": "https://evil.example/"}).status_code == 400


def test_jsapi_ticket_fetched_once_and_cached(settings, db):
    from stores.views import get_jsapi_ticket

    calls = []

    class FakeJsapi:
        def get_ticket(self):
            calls.append(1)
            return {"ticket": "T1", "expires_in": 7200}

    class FakeClient:
        jsapi = FakeJsapi()

    assert get_jsapi_ticket(FakeClient()) == "T1"
    assert get_jsapi_ticket(FakeClient()) == "T1"
    assert len(calls) == 1


# --- back office ----------------------------------------------------------------------------------
def test_stock_page_filters_and_query_count(client, store_a, clerk_a, django_assert_max_num_queries):
    skus = [make_sku(f"商品{i}") for i in range(3)]
    for s in skus:
        services.receive_stock(store_a, s, 20)
    low = skus[0]
    services.adjust_stock(Stock.objects.get(store=store_a, sku=low), -18, reason="报损")
    client.force_login(clerk_a)
    url = reverse("stores_bo:stock")
    client.get(url)  # the first page of a session reads the permissions (core.permissions)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(20):
        services.receive_stock(store_a, make_sku(f"更多{i}"), 5)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(few.captured_queries) == len(many.captured_queries)
    assert response.status_code == 200
    low_rows = client.get(url, {"low": "1"}).context["rows"]
    assert [r.sku_id for r in low_rows if r.sku_id in {s.pk for s in skus}] == [low.pk]
    found = client.get(url, {"q": "商品1"}).context["rows"]
    assert [r.sku_id for r in found] == [skus[1].pk]


def test_inline_adjust_requires_a_reason(client, store_a, clerk_a, sku):
    services.receive_stock(store_a, sku, 10)
    stock = Stock.objects.get(store=store_a, sku=sku)
    client.force_login(clerk_a)
    url = reverse("stores_bo:stock_adjust", args=[stock.pk])
    response = client.post(url, {"delta": "-2", "reason": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"bo-errors" in response.content
    stock.refresh_from_db()
    assert stock.on_hand == 10
    response = client.post(url, {"delta": "-20", "reason": "报损"}, HTTP_HX_REQUEST="true")
    assert b"bo-errors" in response.content
    response = client.post(url, {"delta": "-2", "reason": "报损"}, HTTP_HX_REQUEST="true")
    assert b"bo-errors" not in response.content
    stock.refresh_from_db()
    assert stock.on_hand == 8
    history = client.get(reverse("stores_bo:stock_history", args=[stock.pk]))
    assert "报损" in history.content.decode()
    response = client.post(reverse("stores_bo:stock_threshold", args=[stock.pk]), {"low_threshold": "-1"},
                           HTTP_HX_REQUEST="true")
    assert b"bo-errors" in response.content


def test_csv_export_streams_the_filtered_rows(client, store_a, clerk_a, sku):
    services.receive_stock(store_a, sku, 7)
    client.force_login(clerk_a)
    response = client.get(reverse("stores_bo:stock_export"), {"store": store_a.pk})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert len(lines) == 2 and sku.code in lines[1] and ",7," in lines[1]


def test_transfer_flow_in_the_back_office(client, store_a, store_b, sku, clerk_a, clerk_b):
    services.receive_stock(store_a, sku, 10)
    client.force_login(clerk_a)
    response = client.post(reverse("stores_bo:transfer_create"), {
        "source": store_a.pk, "destination": store_a.pk, "lines": f"{sku.code} 3"})
    assert response.status_code == 200 and not Transfer.objects.exists()  # same store refused
    response = client.post(reverse("stores_bo:transfer_create"), {
        "source": store_b.pk, "destination": store_a.pk, "lines": f"{sku.code} 3"})
    assert not Transfer.objects.exists()  # not their store: not a valid choice
    response = client.post(reverse("stores_bo:transfer_create"), {
        "source": store_a.pk, "destination": store_b.pk, "lines": f"{sku.code} 3\nNOPE 1"})
    assert not Transfer.objects.exists()
    response = client.post(reverse("stores_bo:transfer_create"), {
        "source": store_a.pk, "destination": store_b.pk, "lines": f"{sku.code} 3"})
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    client.post(reverse("stores_bo:transfer_dispatch", args=[transfer.pk]))
    transfer.refresh_from_db()
    assert transfer.status == "dispatched"
    # the source cannot receive: a message, no change
    client.post(reverse("stores_bo:transfer_receive", args=[transfer.pk]))
    transfer.refresh_from_db()
    assert transfer.status == "dispatched"
    client.force_login(clerk_b)
    line = transfer.lines.get()
    client.post(reverse("stores_bo:transfer_receive", args=[transfer.pk]), {f"received_{line.pk}": "2"})
    transfer.refresh_from_db()
    assert transfer.status == "received"
    assert Stock.objects.get(store=store_b, sku=sku).on_hand == 2
    detail = client.get(reverse("stores_bo:transfer_detail", args=[transfer.pk]))
    assert detail.status_code == 200 and b"-1" in detail.content


def test_transfer_list_and_alerts_query_counts(client, store_a, store_b, clerk_a, manager_a,
                                               django_capture_on_commit_callbacks):
    def counts():
        out = []
        for name in ("stores_bo:transfers", "stores_bo:alerts"):
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(reverse(name), {"status": "all"} if "alerts" in name else {}).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    client.force_login(manager_a)

    def add(n):
        for _ in range(n):
            s = make_sku()
            services.receive_stock(store_a, s, 6)
            with django_capture_on_commit_callbacks(execute=True):
                services.reserve_lines(store_a, [(s, 3)], reference=f"order:{s.pk}")
            services.create_transfer(store_a, store_b, [(s, 1)], by=clerk_a)

    add(1)
    counts()  # the first page of a session reads the permissions (core.permissions)
    few = counts()
    add(6)
    assert counts() == few


def test_badge_counts_unread_notifications_with_one_query(client, store_a, manager_a, sku,
                                                          django_capture_on_commit_callbacks):
    services.receive_stock(store_a, sku, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(sku, 2)], reference="order:1")
    client.force_login(manager_a)
    html = client.get(reverse("stores_bo:transfers")).content.decode()
    assert 'class="bo-badge">1<' in html
    client.post(reverse("stores_bo:notifications_read"))
    html = client.get(reverse("stores_bo:transfers")).content.decode()
    assert 'class="bo-badge"' not in html


def test_shopper_pages_run_no_badge_query(client, db):
    make_store()
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("stores:list"))
    assert not any("stores_storenotification" in q["sql"] for q in ctx.captured_queries)


def test_store_list_helper_pages_nearest_first(db):
    make_stores(5)
    first = store_list(lat=31.0, lng=121.0, size=3)
    assert [s.name for s in first.stores] == ["批量0", "批量1", "批量2"] and first.has_next
    assert first.stores[0].distance_km == pytest.approx(0, abs=1e-6)
    assert [s.name for s in store_list(lat=31.0, lng=121.0, size=3, page=2).stores] == ["批量3", "批量4"]


def test_product_page_shows_availability_in_the_chosen_store(client, db, settings):
    assert settings.CATALOG_STOCK_PROVIDER == "stores.selectors.stock_for_product"
    store = make_store("有货店")
    sku = make_sku("库存商品")
    services.receive_stock(store, sku, 2)  # under the threshold of 5: low
    url = reverse("catalog:product", args=[sku.product_id])
    assert client.get(url).context["sku_stock"] == {sku.pk: {"available": None, "state": "no_store"}}
    client.post(reverse("stores:choose", args=[store.pk]))
    assert client.get(url).context["sku_stock"] == {sku.pk: {"available": 2, "state": "low"}}
    services.reserve_lines(store, [(sku, 2)], reference="order:1")
    assert client.get(url).context["sku_stock"][sku.pk]["state"] == "out"


def test_a_resent_inline_adjustment_applies_once(client, store_a, clerk_a, sku):
    services.receive_stock(store_a, sku, 10)
    stock = Stock.objects.get(store=store_a, sku=sku)
    client.force_login(clerk_a)
    page = client.get(reverse("stores_bo:stock"), {"store": store_a.pk}).content.decode()
    row_html = page.split(f'id="stock-{stock.pk}"', 1)[1]
    request_id = row_html.split('name="request_id" value="', 1)[1].split('"', 1)[0]
    url = reverse("stores_bo:stock_adjust", args=[stock.pk])
    form = {"delta": "-2", "reason": "报损", "request_id": request_id}
    for _ in range(3):  # double click, then the browser re-sends
        client.post(url, form, HTTP_HX_REQUEST="true")
    stock.refresh_from_db()
    assert stock.on_hand == 8
    assert stock.movements.filter(reason=StockMovement.Reason.ADJUST).count() == 1


def test_staff_who_may_only_look_cannot_adjust_stock_or_move_transfers(client, store_a, sku):
    from django.contrib.auth.models import Permission

    from .conftest import make_staff

    services.receive_stock(store_a, sku, 10)
    stock = Stock.objects.get(store=store_a, sku=sku)
    viewer = make_staff(store_a)
    viewer.user_permissions.remove(
        *Permission.objects.filter(codename__in=["change_stock", "add_transfer", "change_transfer"])
    )
    client.force_login(viewer)
    assert client.get(reverse("stores_bo:stock"), {"store": store_a.pk}).status_code == 200
    response = client.post(reverse("stores_bo:stock_adjust", args=[stock.pk]), {"delta": "5", "reason": "盘盈"})
    assert response.status_code == 403
    stock.refresh_from_db()
    assert stock.on_hand == 10
    assert client.post(reverse("stores_bo:transfer_create"), {}).status_code == 403


def test_choosing_a_store_from_the_cart_goes_back_to_the_cart(client, db):
    from tests.forms import form_data

    store = make_store("回车店")
    page = client.get(reverse("stores:list") + "?next=/orders/cart/")
    assert 'value="/orders/cart/"' in page.content.decode()
    detail = client.get(reverse("stores:detail", args=[store.pk]) + "?next=/orders/cart/")
    data = form_data(detail.content, None)
    response = client.post(reverse("stores:choose", args=[store.pk]), {"next": data.get("next", [""])[0]})
    assert response.status_code == 302 and response["Location"] == "/orders/cart/"


@pytest.mark.parametrize("target", ["abc", "//evil.example/x", "https://evil.example/", "/\\evil", "javascript:x",
                                    "/ok\n", "\\\\evil", " /x", "/" + "a" * 2000])
def test_a_next_that_is_not_a_path_here_goes_home_after_choosing(client, db, target):
    store = make_store()
    response = client.post(reverse("stores:choose", args=[store.pk]), {"next": target})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session[CHOSEN_SESSION_KEY] == store.pk
    page = client.get(reverse("stores:list"), {"next": target})
    assert page.status_code == 200


@pytest.mark.parametrize("target", ["java\x00script:x", "/ok\x00"])
def test_a_next_holding_a_nul_is_refused_before_anything_is_saved(client, db, target):
    """A NUL is never input here (core.middleware): the whole request is a 400 page."""
    store = make_store()
    response = client.post(reverse("stores:choose", args=[store.pk]), {"next": target})
    assert response.status_code == 400 and CHOSEN_SESSION_KEY not in client.session
