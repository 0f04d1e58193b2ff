"""Stock per store where shoppers look: the product page's store panel (chosen store and its state
for the selected SKU, nearby stores that have it, 切换到该店), the quantity stepper's max, sold-out
products (已售罄, off the home page), and the store page's paged stock list."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import cache as catalog_cache
from catalog.models import Sku
from stores import services
from stores.context_processors import CHOSEN_SESSION_KEY
from stores.models import Store
from stores.selectors import LOCATION_COOKIE, STORE_STOCK_PAGE_SIZE

from .conftest import make_sku, make_store

pytestmark = pytest.mark.django_db

PEOPLE_SQUARE = "31.23040,121.47370"
BAD_VALUES = ["", "１", "٣", "-1", "0", "1.5", "abc", "\x00", "9" * 30, str(2**63), "x" * 5000, "1\x00"]


def two_sku_product(name="双规格"):
    """A listed product with one option (杯型) and two SKUs: 小杯, 大杯."""
    from tests.catalog.factories import product

    item = product(name, options={"杯型": ["小杯", "大杯"]}, price="12.00")
    small, large = item.skus.order_by("sort_order", "id")
    assert (small.spec_text, large.spec_text) == ("小杯", "大杯")
    return small, large


def page_url(sku, selected=True):
    url = reverse("catalog:product", args=[sku.product_id])
    return f"{url}?sku={sku.pk}" if selected else url


def panel(html):
    return html.split('id="store-panel"', 1)[1].split("</section>", 1)[0]


def choose(client, store):
    client.post(reverse("stores:choose", args=[store.pk]))


def test_no_store_chosen_asks_for_one_instead_of_saying_in_stock(client, django_assert_num_queries, settings):
    # the queries of a page built for this visitor (a kept whole page costs none: tests/catalog/test_pagecache.py)
    settings.CATALOG_PAGE_CACHE = False
    sku = make_sku("龙井")
    services.receive_stock(make_store("有货店"), sku, 30)
    client.get(page_url(sku))  # the product's cached part
    catalog_cache.clear_local()
    with django_assert_num_queries(2):  # in stock anywhere, nearby stores (no store to read)
        html = client.get(page_url(sku)).content.decode()
    assert "请选择门店，查看是否有货" in panel(html)
    assert "有货店" in panel(html)  # listed as a nearby store that has it
    assert "选择门店查看库存" in html.split('id="sku-sheet"', 1)[1]  # the sheet's SKU state
    assert 'data-state="unknown"' not in html
    list_link = re.search(r'href="(/stores/\?next=[^"]+)"', panel(html)).group(1)
    assert "next=%2Fproducts%2F" in list_link


@pytest.mark.parametrize("on_hand,reserved,label,state", [
    (30, 0, "有货", "in_stock"), (6, 3, "仅剩 3 件", "low"), (2, 2, "缺货", "out"), (0, 0, "缺货", "out"),
])
def test_chosen_store_and_state_for_the_selected_sku(client, on_hand, reserved, label, state):
    store, other = make_store("静安店"), make_store("徐汇店", lat=31.19, lng=121.43)
    sku = make_sku("碧螺春")
    services.receive_stock(other, sku, 10)  # keeps the product from being sold out
    if on_hand:
        services.receive_stock(store, sku, on_hand)
    if reserved:
        services.reserve_lines(store, [(sku, reserved)], reference="order:T1")
    choose(client, store)
    html = client.get(page_url(sku)).content.decode()
    box = panel(html)
    assert 'data-testid="chosen-store">静安店<' in box
    assert re.search(rf'catalog-stock--{state}" data-store-state>{label}<', box)
    # the stepper stops at what the chosen store has; an out-of-stock SKU cannot be chosen
    quantity = re.search(r'<input type="number" name="quantity"[^>]*>', html).group(0)
    expected_max = on_hand - reserved if state != "out" else 999
    assert f'max="{expected_max}"' in quantity
    radio = re.search(rf'<input type="radio" name="sku_id" value="{sku.pk}"[^>]*>', html, re.S).group(0)
    assert ("disabled" in radio) == (state == "out")


def test_stepper_max_per_sku_in_data_attributes_and_picker_data(client):
    small, large = two_sku_product()
    store = make_store("杯子店")
    services.receive_stock(store, small, 4)
    services.receive_stock(store, large, 40)
    choose(client, store)
    html = client.get(page_url(small, selected=False)).content.decode()
    assert re.search(rf'value="{small.pk}"[^>]*data-max="4"', html, re.S)
    assert re.search(rf'value="{large.pk}"[^>]*data-max="40"', html, re.S)
    assert 'max="999"' in re.search(r'<input type="number" name="quantity"[^>]*>', html).group(0)  # none selected
    assert "请选择规格" in html.split('id="sku-sheet"', 1)[1]
    html = client.get(page_url(large)).content.decode()
    assert 'max="40"' in re.search(r'<input type="number" name="quantity"[^>]*>', html).group(0)
    assert re.search(rf'name="sku_id" value="{large.pk}" required checked', html)


def test_nearby_stores_have_the_selected_sku_nearest_first_in_one_query(client):
    small, large = two_sku_product()
    chosen = make_store("当前店", lat=31.2304, lng=121.4737)
    near = make_store("近店", lat=31.2320, lng=121.4750)
    mid = make_store("中店", lat=31.30, lng=121.50)
    far = make_store("远店", city="杭州市", lat=30.27, lng=120.16)
    only_large = make_store("只有大杯", lat=31.2310, lng=121.4740)
    sold = make_store("卖光了", lat=31.2305, lng=121.4738)
    paused = make_store("暂停店", status=Store.Status.PAUSED, lat=31.2306, lng=121.4739)
    closed = make_store("停业店", status=Store.Status.CLOSED)
    archived = make_store("归档店")
    for store in (chosen, near, mid, far, paused, closed, archived):
        services.receive_stock(store, small, 8)
    Store.objects.filter(pk=archived.pk).update(is_archived=True)
    services.receive_stock(only_large, large, 9)
    services.receive_stock(sold, small, 1)
    services.reserve_lines(sold, [(small, 1)], reference="order:T2")
    choose(client, chosen)
    client.cookies[LOCATION_COOKIE] = PEOPLE_SQUARE
    body = client.get(page_url(small)).content.decode()
    names = re.findall(r'class="catalog-nearby__name">([^<]+)<', panel(body))
    assert names == ["近店", "中店", "远店"]  # not the chosen store, not sold out, paused, closed or archived
    assert re.search(r'catalog-nearby__distance">\d+m<', panel(body))
    # switching posts to the store's choose URL and comes back to this product and SKU
    form = re.search(r'<form method="post" action="([^"]+)">.*?name="next" value="([^"]+)"', panel(body), re.S)
    assert form.group(1) == reverse("stores:choose", args=[near.pk])
    assert form.group(2) == page_url(small)
    # the other SKU has other stores; with none selected, stores having either
    large_names = re.findall(r'catalog-nearby__name">([^<]+)<', panel(client.get(page_url(large)).content.decode()))
    assert large_names == ["只有大杯"]
    both = re.findall(r'catalog-nearby__name">([^<]+)<', panel(client.get(page_url(small, False)).content.decode()))
    assert both[:2] == ["只有大杯", "近店"]  # 只有大杯 is the nearer
    # without a location: the chosen store's city first, then by city and name
    client.cookies.pop(LOCATION_COOKIE)
    body = client.get(page_url(small)).content.decode()
    names = re.findall(r'catalog-nearby__name">([^<]+)<', panel(body))
    assert names[-1] == "远店" and set(names) == {"近店", "中店", "远店"}
    assert "catalog-nearby__distance" not in panel(body)


def test_at_most_five_nearby_stores_and_the_query_count_does_not_grow(client):
    sku = make_sku("乌龙")
    chosen = make_store("我的店")
    services.receive_stock(chosen, sku, 3)
    choose(client, chosen)
    client.cookies[LOCATION_COOKIE] = PEOPLE_SQUARE
    url = page_url(sku)
    client.get(url)  # warm the cached part of the page

    def count():
        catalog_cache.clear_local()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode()

    few, _ = count()
    for i in range(12):
        services.receive_stock(make_store(f"分店{i:02d}", lat=31.2 + i / 100, lng=121.4), sku, 5)
    many, body = count()
    assert few == many == 4  # chosen store, in stock anywhere, its stock rows, nearby stores
    assert len(re.findall(r'catalog-nearby__name', panel(body))) == 5


def test_switching_from_the_nearby_list_returns_to_the_same_product(client):
    sku = make_sku("普洱")
    here, there = make_store("这家"), make_store("那家", lat=31.3, lng=121.5)
    services.receive_stock(there, sku, 20)
    choose(client, here)
    assert "缺货" in panel(client.get(page_url(sku)).content.decode())
    target = reverse("stores:choose", args=[there.pk])
    for _ in range(2):  # a second submit changes nothing more
        response = client.post(target, {"next": page_url(sku)})
        assert response.status_code == 302 and response["Location"] == page_url(sku)
    assert client.session[CHOSEN_SESSION_KEY] == there.pk
    box = panel(client.get(page_url(sku)).content.decode())
    assert 'chosen-store">那家<' in box and "有货" in box and "这家" not in box


def test_switching_to_a_closed_or_unknown_store_changes_nothing(client):
    sku = make_sku("白茶")
    mine = make_store("原店")
    services.receive_stock(mine, sku, 5)
    closed = make_store("关门店", status=Store.Status.CLOSED)
    choose(client, mine)
    for pk in (closed.pk, closed.pk + 999, 2**31, 2**63 + 5):
        response = client.post(f"/stores/{pk}/choose/", {"next": page_url(sku)})
        assert response.status_code == 404
    assert client.post("/stores/１/choose/").status_code == 404
    assert client.session[CHOSEN_SESSION_KEY] == mine.pk


def test_a_chosen_store_that_closed_since_is_asked_for_again(client):
    sku = make_sku("红茶")
    store = make_store("后来关了")
    services.receive_stock(make_store("别家"), sku, 5)
    services.receive_stock(store, sku, 5)
    choose(client, store)
    Store.objects.filter(pk=store.pk).update(status=Store.Status.CLOSED)
    box = panel(client.get(page_url(sku)).content.decode())
    assert "后来关了" not in box and "请选择门店" in box


@pytest.mark.parametrize("raw", BAD_VALUES)
def test_bad_or_foreign_sku_ids_select_nothing(client, raw):
    small, large = two_sku_product()
    stranger = make_sku("别的商品")
    store = make_store("门店")
    services.receive_stock(store, small, 5)
    choose(client, store)
    base = reverse("catalog:product", args=[small.product_id])
    for value in (raw, str(stranger.pk)):
        for url in (base, f"{base}stores/"):
            response = client.get(url, {"sku": value})
            if "\x00" in value:  # a NUL anywhere is refused before the view (core.middleware)
                assert response.status_code == 400
                continue
            assert response.status_code == 200
            body = response.content.decode()
            assert 'data-sku=""' in body  # the whole product, no SKU selected
            assert not re.search(r'name="sku_id"[^>]*checked', body)


def test_store_panel_endpoint_is_the_panel_alone_and_404_for_a_hidden_product(client):
    sku = make_sku("花茶")
    store = make_store("面板店")
    services.receive_stock(store, sku, 2)
    choose(client, store)
    url = reverse("catalog:product_stores", args=[sku.product_id])
    client.get(url)  # the product's cached part
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"sku": sku.pk}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and body.count('id="store-panel"') == 1
    assert "仅剩 2 件" in body and len(ctx.captured_queries) == 4
    sku.product.status = "draft"
    sku.product.save()
    assert client.get(url).status_code == 404
    assert client.get("/products/99999999999999999999/stores/").status_code == 404


def test_a_stock_change_shows_at_once_without_emptying_the_catalogue_cache(client):
    sku = make_sku("毛尖")
    store = make_store("变化店")
    services.receive_stock(store, sku, 30)
    choose(client, store)
    assert "有货" in panel(client.get(page_url(sku)).content.decode())
    version = catalog_cache.version()
    services.reserve_lines(store, [(sku, 27)], reference="order:T3")
    assert "仅剩 3 件" in panel(client.get(page_url(sku)).content.decode())
    assert catalog_cache.version() == version  # the cached pages of every product stay valid


def test_sold_out_product_shows_sold_out_and_is_not_featured_on_home(client):
    selling = make_sku("还有货的茶")
    gone = make_sku("卖完的茶")
    store = make_store("总店")
    closed = make_store("停业的店", status=Store.Status.CLOSED)
    services.receive_stock(store, selling, 10)
    services.receive_stock(store, gone, 1)
    services.receive_stock(closed, gone, 50)  # stock in a closed store does not count
    home = client.get("/").content.decode()
    assert "还有货的茶" in home and "卖完的茶" in home
    version = catalog_cache.version()
    services.reserve_lines(store, [(gone, 1)], reference="order:T4")
    home = client.get("/").content.decode()
    assert "还有货的茶" in home and "卖完的茶" not in home
    assert catalog_cache.version() == version
    html = client.get(page_url(gone)).content.decode()
    assert "data-sold-out>已售罄<" in html and "已售罄" in panel(html)
    assert "data-sheet-open" not in html.split('class="catalog-actionbar"', 1)[1].split("</div>", 1)[0]
    assert re.search(r'data-sheet-action="cart" disabled', html)
    assert "catalog-nearby__item" not in html
    services.release_reserved("order:T4")
    assert "卖完的茶" in client.get("/").content.decode()
    assert "已售罄" not in client.get(page_url(gone)).content.decode()


def test_home_query_count_does_not_grow_with_products(client):
    from catalog.models import Product

    store = make_store("首页店")
    for i in range(3):
        services.receive_stock(store, make_sku(f"首页{i}"), 5)
    client.get("/")

    def count():
        catalog_cache.clear_local()
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(25):
        services.receive_stock(store, make_sku(f"更多{i}"), 5)
    Product.objects.update(sort_weight=1)
    catalog_cache.bump()
    client.get("/")
    assert count() == few <= 3


# --- the store page's stock list ------------------------------------------------------------------
def stocked_store(rows):
    store = make_store("货架店")
    skus = [make_sku(f"货品{i:03d}") for i in range(rows)]
    for sku in skus:
        services.receive_stock(store, sku, 9)
    return store, skus


def test_store_stock_list_pages_and_rows_link_to_products(client):
    total = STORE_STOCK_PAGE_SIZE * 2 + 5
    store, skus = stocked_store(total)
    url = reverse("stores:detail", args=[store.pk])
    first = client.get(url).content.decode()
    assert first.count('class="stores-stock__row"') == STORE_STOCK_PAGE_SIZE
    assert f'href="/products/{skus[0].product_id}/?sku={skus[0].pk}"' in first
    assert f'hx-get="{url}?page=2"' in first and f'href="{url}?page=2"' in first
    second = client.get(url, {"page": "2"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in second and second.count('class="stores-stock__row"') == STORE_STOCK_PAGE_SIZE
    assert "货品020" in second and "货品019" not in second and "page=3" in second
    third = client.get(url, {"page": "3"}, HTTP_HX_REQUEST="true").content.decode()
    assert third.count('class="stores-stock__row"') == 5 and "page=4" not in third and "没有更多了" in third
    # without JavaScript ?page=2 is a whole page
    assert "<html" in client.get(url, {"page": "2"}).content.decode()
    # every row opens its product with the SKU selected
    product_page = client.get(f"/products/{skus[3].product_id}/?sku={skus[3].pk}")
    assert product_page.status_code == 200


def test_store_stock_list_leaves_out_what_cannot_be_sold(client):
    store, (listed, draft, disabled) = stocked_store(3)
    draft.product.status = "draft"
    draft.product.save()
    Sku.objects.filter(pk=disabled.pk).update(is_enabled=False)
    body = client.get(reverse("stores:detail", args=[store.pk])).content.decode()
    assert "货品000" in body and "货品001" not in body and "货品002" not in body


@pytest.mark.parametrize("raw", BAD_VALUES + ["1001", "99999999999"])
def test_store_stock_list_bad_page_is_the_first_page(client, raw):
    store, _skus = stocked_store(3)
    url = reverse("stores:detail", args=[store.pk])
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(url, {"page": raw}, **headers)
        if "\x00" in raw:  # refused before the view (core.middleware)
            assert response.status_code == 400
            continue
        assert response.status_code == 200
        assert "货品000" in response.content.decode()


def test_store_stock_list_query_count_does_not_grow_with_rows(client):
    few_store, _ = stocked_store(3)
    many_store, _ = stocked_store(STORE_STOCK_PAGE_SIZE * 3)

    def count(store, **params):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("stores:detail", args=[store.pk]), params).status_code == 200
        return len(ctx.captured_queries)

    # the store, its hours, its stock page and its photos (stores.selectors.store_photos)
    assert count(few_store) == count(many_store) == count(many_store, page=2) == 4
    # the htmx "load more" page: the store, its hours and the rows, no photos
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("stores:detail", args=[many_store.pk]), {"page": 2}, HTTP_HX_REQUEST="true")
    assert len(ctx.captured_queries) == 3


def test_a_product_left_without_enabled_skus_by_a_bulk_edit_still_renders(client):
    sku = make_sku("残留商品")
    store = make_store("某店")
    services.receive_stock(store, sku, 5)
    choose(client, store)
    Sku.objects.filter(pk=sku.pk).update(is_enabled=False)  # price range not refreshed
    for url in (page_url(sku, selected=False), reverse("catalog:product_stores", args=[sku.product_id])):
        response = client.get(url)
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            assert "已售罄" in panel(response.content.decode())
