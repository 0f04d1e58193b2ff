"""PostgreSQL-only behaviour: trigram search and concurrent SKU grid generation."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from catalog import selectors, services
from catalog.models import Sku

from .factories import category, product

pytestmark = pytest.mark.postgres


@pytest.mark.django_db
def test_trigram_indexes_exist():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_product'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"catalog_product_name_trgm", "catalog_product_subtitle_trgm", "catalog_product_tags_trgm"} <= names


@pytest.mark.django_db
def test_search_finds_chinese_substrings_and_latin_typos():
    cat = category()
    toothbrush = product(name="Philips 电动牙刷 HX2471", cat=cat)
    rice = product(name="五常大米稻花香", cat=cat, subtitle="东北新米")
    assert list(selectors.search_products("稻花")) == [rice]
    assert list(selectors.search_products("新米")) == [rice]
    assert list(selectors.search_products("Phillips")) == [toothbrush]  # misspelt
    assert list(selectors.search_products("'; DROP TABLE catalog_product; --")) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_grid_generation_creates_each_combination_once():
    item = product(status="draft", options=None, price="10.00")
    services.set_options(item, {"颜色": ["红", "蓝", "绿"], "尺码": ["S", "M"]})
    Sku.objects.filter(product=item).delete()
    errors = []
    barrier = threading.Barrier(4)

    def generate():
        try:
            barrier.wait()
            services.generate_sku_grid(item, price=Decimal("10.00"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=generate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Sku.objects.filter(product=item).count() == 6
    assert Sku.objects.filter(product=item).values("option_key").distinct().count() == 6
