"""Query budgets of the back-office stock pages that had none: stock history, transfer detail and
the new-transfer form cost the same number of queries with 2 rows as with 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import services
from stores.models import Stock

from .conftest import make_sku

pytestmark = pytest.mark.django_db


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def test_stock_history_does_not_grow_with_movements(client, store_a, clerk_a):
    sku = make_sku("历史")
    services.receive_stock(store_a, sku, 5, reference="t:1")
    stock = Stock.objects.get(store=store_a, sku=sku)
    client.force_login(clerk_a)
    url = reverse("stores_bo:stock_history", args=[stock.pk])
    _queries(client, url)  # the first page of a session reads the permissions (core.permissions)
    few = _queries(client, url)
    for i in range(30):
        services.adjust_stock(stock, 1, reason="盘点", by=clerk_a, reference=f"t:a{i}")
    assert _queries(client, url) == few <= 12


def test_transfer_detail_does_not_grow_with_lines(client, store_a, store_b, clerk_a):
    client.force_login(clerk_a)

    def detail_queries(n):
        skus = [make_sku(f"调拨{n}-{i}") for i in range(n)]
        for sku in skus:
            services.receive_stock(store_a, sku, 10, reference=f"t:r{sku.pk}")
        transfer = services.create_transfer(store_a, store_b, [(sku, 1) for sku in skus], by=clerk_a)
        return _queries(client, reverse("stores_bo:transfer_detail", args=[transfer.pk]))

    assert detail_queries(2) == detail_queries(30) <= 12


def test_transfer_form_does_not_grow_with_stores_or_stock(client, store_a, clerk_a):
    from .conftest import make_store

    client.force_login(clerk_a)
    url = reverse("stores_bo:transfer_create")
    _queries(client, url)  # the first page of a session reads the permissions (core.permissions)
    few = _queries(client, url)
    for i in range(20):
        make_store(f"更多门店{i}")
        services.receive_stock(store_a, make_sku(f"表单{i}"), 3, reference=f"t:f{i}")
    assert _queries(client, url) == few <= 10
