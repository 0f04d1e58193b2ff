"""The store workbench on the back-office home: low stock with 补货, transfers to dispatch and to
receive, each a link, only the user's stores (all of them for HQ), in a few queries."""

import pytest
from django.urls import reverse

from stores import services
from stores.models import Stock

from .conftest import make_sku, make_staff

pytestmark = pytest.mark.django_db


def test_a_clerk_sees_their_stores_work_and_restocks_in_one_tap(client, store_a, store_b, clerk_a, hq_user,
                                                               django_capture_on_commit_callbacks):
    low, fine, theirs = make_sku("龙井"), make_sku("普洱"), make_sku("白茶")
    services.receive_stock(store_a, low, 6)
    services.receive_stock(store_a, fine, 50)
    services.receive_stock(store_b, theirs, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(low, 3)], reference="order:W1")
        services.reserve_lines(store_b, [(theirs, 3)], reference="order:W2")
    services.create_transfer(store_a, store_b, [(fine, 2)], by=clerk_a)  # a draft to dispatch
    arriving = services.create_transfer(store_b, store_a, [(theirs, 1)], by=make_staff(store_b))
    services.dispatch_transfer(arriving)
    client.force_login(clerk_a)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert "低库存商品" in html and "需要补货" in html and "龙井" in html and "白茶" not in html
    assert f'{reverse("stores_bo:transfers")}?status=draft' in html
    for label in ("低库存商品", "调拨待发出", "调拨待收货"):
        assert f'{label}</p><p class="bo-card__value">1</p>' in html, label
    # 补货 opens a transfer into this store with the SKU and a quantity filled in
    restock = reverse("stores_bo:transfer_create") + f"?destination={store_a.pk}&amp;lines={low.code}+"
    assert restock in html
    form = client.get(reverse("stores_bo:transfer_create"), {"destination": store_a.pk, "lines": f"{low.code} 7"})
    assert f"{low.code} 7" in form.content.decode()

    client.force_login(hq_user)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert "龙井" in html and "白茶" in html and '低库存商品</p><p class="bo-card__value">2</p>' in html
    assert Stock.objects.get(store=store_a, sku=low).available == 3


def test_the_workbench_does_not_grow_with_rows(client, store_a, clerk_a, django_assert_max_num_queries):
    client.force_login(clerk_a)
    client.get(reverse("backoffice:dashboard"))
    for i in range(8):
        sku = make_sku(f"少货{i}")
        services.receive_stock(store_a, sku, 1)
        services.sweep_low_stock()
    with django_assert_max_num_queries(14):
        assert client.get(reverse("backoffice:dashboard")).status_code == 200
