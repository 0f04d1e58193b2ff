"""Selling does not empty the catalogue cache: add_sales bumps nothing, the pages that show
"已售N" stay cached (same query count as before the sale), and the figure they show catches up
within catalog.cache.SALES_STALENESS seconds (the fragments' own lifetime)."""

import re
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog import cache as catalog_cache
from catalog import services

from .factories import category, product

pytestmark = pytest.mark.django_db


def shown_sales(body):
    return [int(n) for n in re.findall(r"已售(\d+)", body)]


@pytest.fixture
def shelf():
    cat = category("坚果")
    item = product(name="每日坚果", cat=cat, tags="坚果", sales_base=10, options={"口味": ["原味", "盐焗"]})
    return item, [
        "/",  # home: recommended cards
        f"/categories/{cat.pk}/",  # list: cards
        "/search/?q=坚果",  # search: cards
        f"/products/{item.pk}/",  # product page
    ]


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries.captured_queries)


def test_a_sale_or_a_refund_does_not_change_the_catalogue_version(django_capture_on_commit_callbacks):
    item = product()
    before = catalog_cache.version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():  # as orders call it: inside the order's transaction
            assert services.add_sales(item.pk, 3) == 1
            assert services.add_sales(item.pk, -1) == 1
    assert callbacks == []  # nothing deferred to commit either
    assert catalog_cache.version() == before
    item.refresh_from_db()
    assert item.sales_count == 2


def test_a_sale_in_a_rolled_back_order_counts_nothing():
    item = product()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.add_sales(item.pk, 5)
        raise RuntimeError("checkout failed later")
    item.refresh_from_db()
    assert item.sales_count == 0


def test_pages_stay_cached_after_a_sale(client, shelf):
    item, urls = shelf
    warm = {}
    for url in urls:
        __, cold = _get(client, url)
        body, warm[url] = _get(client, url)
        assert warm[url] < cold, url  # served from the cached fragments
        assert 10 in shown_sales(body)

    services.add_sales(item.pk, 5)

    for url in urls:
        body, after_sale = _get(client, url)
        assert after_sale == warm[url], url  # nothing was thrown away: no query added
        assert 10 in shown_sales(body) and 15 not in shown_sales(body)  # the cached figure, within the bound


def test_the_shown_sales_figure_catches_up_within_the_documented_bound(client, shelf, monkeypatch):
    # the real bound is 120 s; shrink the lifetimes it is made of rather than wait for it
    monkeypatch.setattr(catalog_cache, "FRAGMENT_TIMEOUT", 1)
    monkeypatch.setattr(catalog_cache, "LOCAL_TTL", 1)
    monkeypatch.setattr(catalog_cache, "PAGE_TIMEOUT", 2)
    monkeypatch.setattr(catalog_cache, "SALES_STALENESS", 4)
    item, urls = shelf
    for url in urls:
        assert 10 in shown_sales(_get(client, url)[0])
    version = catalog_cache.version()

    services.add_sales(item.pk, 7)
    time.sleep(catalog_cache.SALES_STALENESS + 0.3)

    for url in urls:
        sales = shown_sales(_get(client, url)[0])
        assert 17 in sales and 10 not in sales, url
    assert catalog_cache.version() == version  # caught up by expiry, not by a bump


def test_the_documented_bound_is_the_fragment_and_page_lifetimes_and_at_most_five_minutes():
    assert catalog_cache.SALES_STALENESS == (
        catalog_cache.FRAGMENT_TIMEOUT + catalog_cache.LOCAL_TTL + catalog_cache.PAGE_TIMEOUT
    )
    assert catalog_cache.SALES_STALENESS <= 300


def test_sorting_by_sales_uses_the_database_figure_once_the_list_expires(client, monkeypatch):
    monkeypatch.setattr(catalog_cache, "FRAGMENT_TIMEOUT", 1)
    monkeypatch.setattr(catalog_cache, "LOCAL_TTL", 1)
    monkeypatch.setattr(catalog_cache, "PAGE_TIMEOUT", 2)
    cat = category("饮料")
    first = product(name="乌龙茶", cat=cat)
    second = product(name="柠檬茶", cat=cat)
    services.add_sales(first.pk, 2)
    url = f"/categories/{cat.pk}/?sort=sales"
    assert re.findall(r'shop-card__name">([^<]+)<', _get(client, url)[0]) == ["乌龙茶", "柠檬茶"]
    services.add_sales(second.pk, 9)
    time.sleep(4.3)
    assert re.findall(r'shop-card__name">([^<]+)<', _get(client, url)[0]) == ["柠檬茶", "乌龙茶"]
