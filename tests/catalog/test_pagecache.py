"""Whole pages kept for visitors (catalog.pagecache): served without a query, each with its own CSRF
token and badge, kept apart per store, language and location, rebuilt precisely when what they show
changes (a product's stock, a store, the catalogue, HQ's home content, a schedule), and never kept
for a member, a visitor with messages, or a page that set something of its own."""

import re
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog import cache as catalog_cache
from catalog import pagecache
from stores import services as stock
from stores.context_processors import CHOSEN_COOKIE
from tests.stores.conftest import make_store

from .factories import category, product

pytestmark = pytest.mark.django_db


def fetch(client, url, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200, url
    return response, len(queries.captured_queries)


def state(response):
    return response.get("X-Page-Cache")


def shown_available(response):
    """The quantity stepper's max on a product page of a one-SKU product (the chosen store's stock)."""
    return re.findall(r'name="quantity" value="1" min="1" max="(\d+)"', response.content.decode())


@pytest.fixture
def shop(settings):
    """Two one-SKU products stocked in one store, chosen by the visitor's cookie; sold out means sold
    out (tests/catalog/conftest.py turns the stores app's provider off for the other tests)."""
    settings.CATALOG_IN_STOCK_PROVIDER = "stores.selectors.products_in_stock"
    store = make_store("人民广场店")
    tea = product(name="龙井茶")
    nuts = product(name="每日坚果")
    stock.receive_stock(store, tea.skus.get(), 10)
    stock.receive_stock(store, nuts.skus.get(), 10)
    client = Client()
    client.cookies[CHOSEN_COOKIE] = str(store.pk)
    return client, store, tea, nuts


def test_the_second_visit_is_served_whole_without_a_query(client):
    item = product(name="每日坚果")
    for url in ("/", f"/categories/{item.category_id}/", f"/products/{item.pk}/"):
        first, _n = fetch(client, url)
        again, queries = fetch(client, url)
        assert (state(first), state(again)) == ("miss", "hit"), url
        assert queries == 0, url
        assert "每日坚果" in again.content.decode()


def test_each_visitor_gets_a_token_of_their_own_that_the_csrf_check_accepts():
    item = product()
    url = f"/products/{item.pk}/"
    Client().get(url)  # kept
    tokens = set()
    for _ in range(3):
        visitor = Client(enforce_csrf_checks=True)
        response = visitor.get(url)
        assert state(response) == "hit"
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()).group(1)
        secret = visitor.cookies["csrftoken"].value
        assert _unmask_cipher_token(token) == secret  # the token belongs to this visitor's cookie
        tokens.add(token)
        # and the middleware takes it: clearing recent searches is a CSRF-protected POST
        accepted = visitor.post("/search/recent/clear/", {"csrfmiddlewaretoken": token})
        assert accepted.status_code != 403
        refused = Client(enforce_csrf_checks=True).post("/search/recent/clear/", {"csrfmiddlewaretoken": token})
        assert refused.status_code == 403  # another visitor cannot use it
    assert len(tokens) == 3
    assert pagecache.shell.CSRF_MARKER not in response.content.decode()


def test_a_visitor_with_a_csrf_cookie_gets_a_token_for_that_cookie():
    item = product()
    url = f"/products/{item.pk}/"
    Client().get(url)
    visitor = Client()
    visitor.get("/search/")  # any page that hands out a cookie
    secret = visitor.cookies["csrftoken"].value
    response = visitor.get(url)
    assert state(response) == "hit"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()).group(1)
    assert _unmask_cipher_token(token) == secret


def test_a_sale_rebuilds_only_the_pages_of_the_product_sold(shop):
    client, store, tea, nuts = shop
    tea_url, nuts_url = f"/products/{tea.pk}/", f"/products/{nuts.pk}/"
    for url in (tea_url, nuts_url, "/"):
        fetch(client, url)
    assert shown_available(fetch(client, tea_url)[0]) == ["10"]

    with transaction.atomic():
        stock.reserve_lines(store, [(tea.skus.get(), 3)], reference="order:T1:hold")

    after, _n = fetch(client, tea_url)
    assert state(after) == "miss" and shown_available(after) == ["7"]  # at once, in this process
    assert state(fetch(client, nuts_url)[0]) == "hit"  # the other product's page stayed kept
    assert state(fetch(client, "/")[0]) == "miss"  # the home page shows the tea (sold out or not)


def test_selling_out_takes_the_product_off_the_kept_home_page(shop):
    client, store, tea, _nuts = shop
    assert "龙井茶" in fetch(client, "/")[0].content.decode()
    with transaction.atomic():
        stock.reserve_lines(store, [(tea.skus.get(), 10)], reference="order:T2:hold")
    assert "龙井茶" not in Client().get("/").content.decode()  # a visitor with no store: sold out everywhere


def test_a_stock_change_shows_at_once_in_its_own_transaction(shop):
    client, store, tea, _nuts = shop
    url = f"/products/{tea.pk}/"
    fetch(client, url)
    with transaction.atomic():
        stock.receive_stock(store, tea.skus.get(), 5)
        inside, _n = fetch(client, url)  # the same connection reads the change: the kept page is old
        assert state(inside) == "miss" and shown_available(inside) == ["15"]


def test_another_process_bump_shows_within_the_recheck_time(shop, settings):
    client, _store, tea, _nuts = shop
    url = f"/products/{tea.pk}/"
    fetch(client, url)
    # another process (a worker) sold some: it bumped the version in Redis, not in this process
    cache.set(pagecache._dep_key(pagecache.stock_dep(tea.pk)), time.time_ns(), None)
    assert state(fetch(client, url)[0]) == "hit"  # checked less than CATALOG_PAGE_CACHE_RECHECK ago
    time.sleep(settings.CATALOG_PAGE_CACHE_RECHECK + 0.1)
    assert state(fetch(client, url)[0]) == "miss"


def test_a_store_change_rebuilds_pages_that_show_stores(shop):
    client, store, tea, _nuts = shop
    url = f"/products/{tea.pk}/"
    fetch(client, url)
    store.name = "南京路旗舰店"
    store.save()
    after = fetch(client, url)[0].content.decode()
    assert "南京路旗舰店" in after and "人民广场店" not in after


def test_a_catalogue_edit_rebuilds_every_kept_page(client):
    item = product(name="旧名字")
    urls = ["/", f"/categories/{item.category_id}/", f"/products/{item.pk}/"]
    for url in urls:
        fetch(client, url)
    item.name = "新名字"
    item.save()
    catalog_cache.bump()  # what the product editor's receivers do
    for url in urls:
        body = fetch(client, url)[0].content.decode()
        assert "新名字" in body and "旧名字" not in body, url


def test_pages_differ_by_store_location_language_and_htmx(shop):
    client, store, tea, _nuts = shop
    other = make_store("徐家汇店", lat=31.19, lng=121.43)
    stock.receive_stock(other, tea.skus.get(), 2)
    url = f"/products/{tea.pk}/"
    assert shown_available(fetch(client, url)[0]) == ["10"]
    elsewhere = Client()
    elsewhere.cookies[CHOSEN_COOKIE] = str(other.pk)
    assert shown_available(fetch(elsewhere, url)[0]) == ["2"]
    assert state(fetch(Client(), url)[0]) == "miss"  # no store chosen: a page of its own
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.cookies[CHOSEN_COOKIE] = str(store.pk)
    assert fetch(english, url)[0].content.decode() != fetch(client, url)[0].content.decode()
    located = Client()
    located.cookies["md_loc"] = "31.23040,121.47370"
    assert state(fetch(located, url)[0]) == "miss"


def test_members_and_visitors_with_messages_are_never_served_a_kept_page(shop, django_user_model):
    client, _store, tea, _nuts = shop
    url = f"/products/{tea.pk}/"
    fetch(client, url)
    member = django_user_model.objects.create_user(username="m1", password="pw-12345678")
    signed_in = Client()
    signed_in.force_login(member)
    assert state(fetch(signed_in, url)[0]) is None
    flashed = Client()
    flashed.cookies["messages"] = "x"
    assert state(fetch(flashed, url)[0]) is None


def test_a_query_the_page_does_not_read_is_served_but_not_kept():
    item = product()
    url = f"/products/{item.pk}/?utm_source=wechat&{'x' * 10}=1"
    for _ in range(2):
        assert state(fetch(Client(), url)[0]) is None
    long_value = f"/products/{item.pk}/?sku={'9' * 100}"
    assert state(fetch(Client(), long_value)[0]) is None


def test_a_banner_schedule_ends_the_kept_home_page(client, monkeypatch):
    from marketing.models import HomeNotice

    product(name="每日坚果")
    starts = timezone.now() + timedelta(minutes=5)
    HomeNotice.objects.create(text="周末全场满减", starts_at=starts)
    assert "周末全场满减" not in fetch(client, "/")[0].content.decode()
    assert state(fetch(client, "/")[0]) == "hit"
    later = starts + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    shown, _n = fetch(client, "/")
    assert state(shown) == "miss" and "周末全场满减" in shown.content.decode()


def test_a_session_cart_shows_its_own_badge(shop, settings):
    client, _store, tea, _nuts = shop
    url = f"/products/{tea.pk}/"
    fetch(client, url)  # kept with the badge left out
    settings.CATALOG_PAGE_CACHE_CART_COUNT = "tests.catalog.test_pagecache.three_in_cart"
    with_cart = Client()
    with_cart.cookies[CHOSEN_COOKIE] = client.cookies[CHOSEN_COOKIE].value
    session = with_cart.session
    session["anything"] = 1
    session.save()
    with_cart.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    home = fetch(with_cart, "/")[0]
    fetch(with_cart, "/")
    again = fetch(with_cart, "/")[0]
    assert state(again) == "hit"
    assert re.search(r"data-cart-badge[^>]*>3<", again.content.decode())
    assert re.search(r"data-cart-badge[^>]*hidden>0<", fetch(Client(), "/")[0].content.decode())
    assert home.status_code == 200


def three_in_cart(request):
    return 3


def test_nothing_is_kept_when_the_page_cache_is_off_or_redis_is_down(client, settings):
    item = product()
    settings.CATALOG_PAGE_CACHE = False
    url = f"/products/{item.pk}/"
    for _ in range(2):
        assert state(fetch(client, url)[0]) is None


def test_error_pages_are_not_kept_and_carry_no_marker(client):
    for url in ("/products/99999999/", "/categories/99999999/", f"/products/{2**70}/"):
        response = client.get(url)
        assert response.status_code == 404
        assert pagecache.shell.CSRF_MARKER not in response.content.decode()


def test_a_rolled_back_stock_change_costs_one_rebuild(shop):
    client, store, tea, _nuts = shop
    url = f"/products/{tea.pk}/"
    fetch(client, url)
    with pytest.raises(RuntimeError), transaction.atomic():
        stock.receive_stock(store, tea.skus.get(), 5)
        raise RuntimeError("rolled back")
    rebuilt = fetch(client, url)[0]
    assert state(rebuilt) == "miss" and shown_available(rebuilt) == ["10"]
    assert state(fetch(client, url)[0]) == "hit"


def test_categories_pages_with_a_sort_and_a_page_are_kept_apart():
    cat = category("零食")
    for n in range(25):
        product(name=f"零食{n:02d}", cat=cat, price=str(10 + n))
    first = fetch(Client(), f"/categories/{cat.pk}/?sort=price_asc")[0].content.decode()
    second = fetch(Client(), f"/categories/{cat.pk}/?sort=price_desc")[0].content.decode()
    assert first != second
    more = fetch(Client(), f"/categories/{cat.pk}/?page=2", HTTP_HX_REQUEST="true")[0]
    assert "<html" not in more.content.decode()
    full = fetch(Client(), f"/categories/{cat.pk}/?page=2")[0]
    assert "<html" in full.content.decode()


def test_a_bulk_stock_change_rebuilds_every_page_showing_stock(shop, monkeypatch):
    from stores import services as stores_services

    client, store, tea, nuts = shop
    category_url = f"/categories/{tea.category_id}/"
    for url in (f"/products/{tea.pk}/", f"/products/{nuts.pk}/", category_url):
        fetch(client, url)
    monkeypatch.setattr(stores_services, "BULK_STOCK_CHANGE", 0)  # a stocktake of thousands of lines, here one
    with transaction.atomic():
        stock.receive_stock(store, tea.skus.get(), 5)
    assert shown_available(fetch(client, f"/products/{tea.pk}/")[0]) == ["15"]
    assert state(fetch(client, f"/products/{nuts.pk}/")[0]) == "miss"  # every product's stock was bumped
    assert state(fetch(client, category_url)[0]) == "hit"  # a list shows no stock: kept
