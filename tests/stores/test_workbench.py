"""The store workbench on the back-office home: low stock with 补货, transfers to dispatch and to
receive, each a link, only the user's stores (all of them for HQ), in a few queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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
    client.force_login(hq_user)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    # 补货 opens a transfer into this store with the SKU and a quantity filled in (for a one-store
    # clerk, a receipt: test_restock_for_a_one_store_clerk_brings_goods_into_their_store)
    restock = reverse("stores_bo:transfer_create") + f"?destination={store_a.pk}&amp;lines={low.code}+"
    assert restock in html
    form = client.get(reverse("stores_bo:transfer_create"), {"destination": store_a.pk, "lines": f"{low.code} 7"})
    assert f"{low.code} 7" in form.content.decode() and form.context["form"]["destination"].value() == str(store_a.pk)
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


def _short_transfer(source, destination):
    sku = make_sku("差异茶")
    services.receive_stock(source, sku, 5)
    transfer = services.create_transfer(source, destination, [(sku, 3)])
    services.dispatch_transfer(transfer)
    services.receive_transfer(transfer, {transfer.lines.get().pk: 1})
    return transfer


def test_stocktakes_in_progress_and_open_differences_are_numbers_that_link(client, store_a, store_b, clerk_a,
                                                                          manager_a):
    from stores import documents

    documents.create_document(store_a, "stocktake", by=manager_a)
    documents.create_document(store_b, "stocktake", by=make_staff(store_b))  # not clerk_a's
    posted = documents.create_document(store_a, "receipt", by=manager_a)  # not a stocktake
    assert posted.kind == "receipt"
    _short_transfer(store_b, store_a)
    client.force_login(clerk_a)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert "盘点进行中" not in html  # a number the clerk could not open is not shown
    from django.contrib.auth.models import Permission

    clerk_a.user_permissions.add(Permission.objects.get(codename="view_stockdocument"))
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    for label in ("盘点进行中", "调拨差异待处理"):
        assert f'{label}</p><p class="bo-card__value">1</p>' in html, label
    assert reverse("stores_bo:documents") + "?kind=stocktake&amp;state=draft" in html
    assert reverse("stores_bo:transfers") + "?difference=open" in html
    assert 'data-testid="wb-per-store"' not in html  # the per-store table is HQ's
    listing = client.get(reverse("stores_bo:documents"), {"kind": "stocktake", "state": "draft"}).content.decode()
    assert listing.count("PD") >= 1


def test_hq_gets_every_store_and_the_chain_totals_in_constant_queries(client, store_a, store_b, hq_user):
    from stores import documents

    from .conftest import make_store

    def hq_page():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("backoffice:dashboard"))
        assert response.status_code == 200
        return response.content.decode(), len(captured.captured_queries)

    _short_transfer(store_a, store_b)
    documents.create_document(store_a, "stocktake", by=hq_user)
    client.force_login(hq_user)
    client.get(reverse("backoffice:dashboard"))
    html, few = hq_page()
    assert 'data-testid="wb-per-store"' in html and "全部门店合计" in html
    # B's row: one difference to settle, linked to B's filtered list; A's: one stocktake
    assert f'href="{reverse("stores_bo:transfers")}?difference=open&amp;destination={store_b.pk}">1</a>' in html
    assert f'href="{reverse("stores_bo:documents")}?kind=stocktake&amp;state=draft&amp;store={store_a.pk}">1</a>' in html
    for i in range(6):
        store = make_store(f"加开{i}")
        _short_transfer(store_a, store)
        documents.create_document(store, "stocktake", by=hq_user)
    html, many = hq_page()
    assert many == few
    assert html.count('<tr data-store="') == 8
    assert f'href="{reverse("stores_bo:transfers")}?difference=open">7</a>' in html  # the chain's total
    assert f'href="{reverse("stores_bo:documents")}?kind=stocktake&amp;state=draft">7</a>' in html
    # every per-store link opens a list that holds what it counts
    listing = client.get(reverse("stores_bo:transfers"), {"difference": "open", "destination": store_b.pk})
    assert listing.content.decode().count('class="obo-cell-main"><a href=') == 1


def test_restock_for_a_one_store_clerk_brings_goods_into_their_store(client, store_a, store_b, clerk_a, hq_user,
                                                                     django_capture_on_commit_callbacks):
    """A one-store clerk sends transfers only from their store (the form chooses it and never offers it as
    the destination), so 补货 for them starts a receipt into the store, never a transfer out of it.
    Someone who can send from another store (HQ, a two-store manager) still gets the transfer into it."""
    from django.contrib.auth.models import Permission

    low = make_sku("龙井")
    services.receive_stock(store_a, low, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(low, 3)], reference="order:W1")
    clerk_a.user_permissions.add(Permission.objects.get(codename="add_stockdocument"))
    client.force_login(clerk_a)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    receipt = f'{reverse("stores_bo:document_create", args=["receipt"])}?store={store_a.pk}'
    assert receipt in html and f"{reverse('stores_bo:transfer_create')}?destination=" not in html
    assert client.get(receipt).context["form"]["store"].value() == store_a.pk

    clerk_a.user_permissions.remove(Permission.objects.get(codename="add_stockdocument"))
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert "龙井" in html and ">补货</a>" not in html  # nothing they could start: no button

    two_stores = make_staff(store_b, role="manager")
    from stores.models import StoreStaff

    StoreStaff.objects.create(user=two_stores, store=store_a, role="manager")
    for user in (hq_user, two_stores):
        client.force_login(user)
        html = client.get(reverse("backoffice:dashboard")).content.decode()
        assert f"{reverse('stores_bo:transfer_create')}?destination={store_a.pk}&amp;lines={low.code}+" in html


def test_the_alerts_list_offers_restock_on_each_open_alert_as_the_workbench_does(client, store_a, store_b,
                                                                                 manager_a, hq_user,
                                                                                 django_capture_on_commit_callbacks):
    """The workbench shows five low items; the list its number opens gives 补货 on every open alert
    (a receipt for a one-store manager, a transfer into the store for HQ), and none on a closed one."""
    from django.contrib.auth.models import Permission

    from stores.models import LowStockAlert

    skus = [make_sku(f"缺货{i}") for i in range(7)]
    for sku in skus:
        services.receive_stock(store_a, sku, 6)
    with django_capture_on_commit_callbacks(execute=True):
        for i, sku in enumerate(skus):
            services.reserve_lines(store_a, [(sku, 3)], reference=f"order:AL{i}")
    services.receive_stock(store_a, skus[0], 20)  # restocked: its alert closes
    assert LowStockAlert.objects.filter(status="open").count() == 6
    manager_a.user_permissions.add(Permission.objects.get(codename="add_stockdocument"))
    client.force_login(manager_a)
    html = client.get(reverse("stores_bo:alerts")).content.decode()
    receipt = f'{reverse("stores_bo:document_create", args=["receipt"])}?store={store_a.pk}'
    assert html.count(f'href="{receipt}"') == 6
    assert f'{reverse("stores_bo:transfer_create")}?destination=' not in html
    html = client.get(reverse("stores_bo:alerts"), {"status": "closed"}).content.decode()
    assert "缺货0" in html and ">补货</a>" not in html
    client.force_login(hq_user)
    html = client.get(reverse("stores_bo:alerts")).content.decode()
    assert html.count(f'{reverse("stores_bo:transfer_create")}?destination={store_a.pk}&amp;lines=') == 6


def test_restock_into_a_store_shows_the_picker_the_stock_of_another_store(client, store_a, store_b, hq_user):
    """补货 fills in only the destination; the picker then shows what a store that could send has, not
    the low store's own stock."""
    for destination, other in ((store_a, store_b), (store_b, store_a)):
        client.force_login(hq_user)
        response = client.get(reverse("stores_bo:transfer_create"), {"destination": destination.pk})
        assert response.context["picker_store"] == other
