"""A clerk of store A tries store B's ids on every stock, transfer and alert URL: all 404, nothing
changes. HQ sees both."""

import pytest
from django.urls import reverse

from stores import services
from stores.models import LowStockAlert, Stock, StockMovement, StoreNotification, Transfer
from stores.scope import get_scoped_object_or_404, is_hq, scope_queryset, stores_for

from .conftest import make_staff, make_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(store_a, store_b, sku, clerk_a, clerk_b, hq_user):
    services.receive_stock(store_a, sku, 10)
    services.receive_stock(store_b, sku, 10)
    stock_a, stock_b = Stock.objects.get(store=store_a), Stock.objects.get(store=store_b)
    services.set_threshold(stock_b, 50)  # opens an alert on B
    other = make_store("C店", code="store-c")
    services.receive_stock(other, sku, 10)
    transfer_b = services.create_transfer(store_b, other, [(sku, 1)], by=clerk_b)
    return {
        "stock_b": stock_b,
        "stock_a": stock_a,
        "transfer_b": transfer_b,
        "alert_b": LowStockAlert.objects.get(stock=stock_b),
        "movement_b": StockMovement.objects.filter(stock=stock_b).first(),
        "store_b": store_b,
    }


def bo(name, *args):
    return reverse(f"stores_bo:{name}", args=args)


def test_scope_helpers(world, clerk_a, hq_user, store_a):
    assert not is_hq(clerk_a) and is_hq(hq_user)
    assert list(stores_for(clerk_a)) == [store_a]
    assert stores_for(hq_user).count() == 3
    assert list(scope_queryset(Stock.objects.all(), clerk_a)) == [world["stock_a"]]
    from django.http import Http404

    with pytest.raises(Http404):
        get_scoped_object_or_404(Stock, clerk_a, pk=world["stock_b"].pk)
    with pytest.raises(Http404):
        get_scoped_object_or_404(Stock, clerk_a, pk="not-a-number")
    assert get_scoped_object_or_404(Stock, hq_user, pk=world["stock_b"].pk) == world["stock_b"]


def test_hq_group_exists_after_migrate_and_lifts_the_scope(world):
    from django.contrib.auth.models import Group

    from stores.scope import HQ_GROUP_NAME

    user = make_staff(None)
    user.groups.add(Group.objects.get(name=HQ_GROUP_NAME))
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user.pk)
    assert is_hq(user) and stores_for(user).count() == 3


def test_user_without_stores_or_not_staff_sees_nothing(world):
    loner = make_staff(None)
    assert not stores_for(loner).exists()
    assert not scope_queryset(Stock.objects.all(), loner).exists()


GET_URLS = [
    ("stock_history", "stock_b"),
    ("transfer_detail", "transfer_b"),
    ("alert_detail", "alert_b"),
]
POST_URLS = [
    ("stock_adjust", "stock_b", {"delta": "-1", "reason": "偷改"}),
    ("stock_threshold", "stock_b", {"low_threshold": "0"}),
    ("transfer_dispatch", "transfer_b", {}),
    ("transfer_receive", "transfer_b", {}),
    ("transfer_cancel", "transfer_b", {}),
]


@pytest.mark.parametrize("name,key", GET_URLS)
def test_clerk_gets_404_for_other_store_ids_in_back_office(client, world, clerk_a, name, key):
    client.force_login(clerk_a)
    assert client.get(bo(name, world[key].pk)).status_code == 404


@pytest.mark.parametrize("name,key,data", POST_URLS)
def test_clerk_cannot_act_on_other_store_rows(client, world, clerk_a, name, key, data):
    client.force_login(clerk_a)
    stock_b = world["stock_b"]
    stock_b.refresh_from_db()
    before = (stock_b.on_hand, stock_b.low_threshold, Transfer.objects.get(pk=world["transfer_b"].pk).status)
    response = client.post(bo(name, world[key].pk), data)
    assert response.status_code == 404
    stock_b.refresh_from_db()
    after = (stock_b.on_hand, stock_b.low_threshold, Transfer.objects.get(pk=world["transfer_b"].pk).status)
    assert before == after


def test_clerk_cannot_pick_another_store_in_stock_page_or_export(client, world, clerk_a):
    client.force_login(clerk_a)
    store_b = world["store_b"]
    assert client.get(bo("stock"), {"store": store_b.pk}).status_code == 404
    assert client.get(bo("stock_export"), {"store": store_b.pk}).status_code == 404


def test_lists_show_only_own_rows(client, world, clerk_a):
    client.force_login(clerk_a)
    assert world["transfer_b"].pk not in [t.pk for t in client.get(bo("transfers")).context["transfers"]]
    assert list(client.get(bo("alerts"), {"status": "all"}).context["alerts"]) == []


ADMIN_MODELS = [
    ("stock", "stock_b"),
    ("stockmovement", "movement_b"),
    ("transfer", "transfer_b"),
    ("lowstockalert", "alert_b"),
    ("store", "store_b"),
]


@pytest.mark.parametrize("model,key", ADMIN_MODELS)
def test_clerk_gets_404_for_other_store_ids_in_admin(client, world, clerk_a, model, key):
    client.force_login(clerk_a)
    pk = world[key].pk
    for view in ("change", "history", "delete"):
        url = reverse(f"admin:stores_{model}_{view}", args=[pk])
        assert client.get(url).status_code in (403, 404), (model, view)
    assert client.get(reverse(f"admin:stores_{model}_change", args=[pk])).status_code == 404


@pytest.mark.parametrize("model,key", ADMIN_MODELS)
def test_admin_changelists_are_scoped(client, world, clerk_a, hq_user, model, key):
    client.force_login(clerk_a)
    response = client.get(reverse(f"admin:stores_{model}_changelist"))
    assert response.status_code == 200
    ids = [obj.pk for obj in response.context["cl"].result_list]
    assert world[key].pk not in ids
    client.force_login(hq_user)
    response = client.get(reverse(f"admin:stores_{model}_changelist"))
    assert world[key].pk in [obj.pk for obj in response.context["cl"].result_list]


def test_clerk_sees_own_stock_in_admin_and_hq_sees_other_stores(client, world, clerk_a, hq_user):
    client.force_login(clerk_a)
    assert client.get(reverse("admin:stores_stock_change", args=[world["stock_a"].pk])).status_code == 200
    client.force_login(hq_user)
    assert client.get(reverse("admin:stores_stock_change", args=[world["stock_b"].pk])).status_code == 200
    assert client.get(bo("stock_history", world["stock_b"].pk)).status_code == 200


def test_notifications_are_per_user(client, world, clerk_a, clerk_b):
    n = StoreNotification.objects.create(user=clerk_b, store=world["store_b"], title="x")
    client.force_login(clerk_a)
    client.post(bo("notifications_read"), {"id": [n.pk]})
    n.refresh_from_db()
    assert n.read_at is None


def test_negative_threshold_in_admin_is_a_form_error(client, world, clerk_a):
    client.force_login(clerk_a)
    stock = world["stock_a"]
    response = client.post(reverse("admin:stores_stock_change", args=[stock.pk]), {"low_threshold": "-1"})
    assert response.status_code == 200 and response.context["adminform"].form.errors
    stock.refresh_from_db()
    assert stock.low_threshold == 5
    response = client.post(reverse("admin:stores_stock_change", args=[stock.pk]), {"low_threshold": "8"})
    assert response.status_code == 302
    stock.refresh_from_db()
    assert stock.low_threshold == 8


def test_hq_deletes_a_store_with_history_in_admin_and_it_is_archived(client, world, hq_user, clerk_a, store_a):
    client.force_login(clerk_a)
    assert client.get(reverse("admin:stores_store_add")).status_code == 403
    assert client.post(reverse("admin:stores_store_delete", args=[store_a.pk]), {"post": "yes"}).status_code == 403
    from django.contrib.auth.models import Group

    from stores.scope import HQ_GROUP_NAME

    hq_user.groups.add(Group.objects.get(name=HQ_GROUP_NAME))  # all stores permissions
    client.force_login(hq_user)
    response = client.post(reverse("admin:stores_store_delete", args=[store_a.pk]), {"post": "yes"})
    assert response.status_code == 302
    store_a.refresh_from_db()
    assert store_a.is_archived and store_a.status == "closed"
    empty = make_store("空店", code="empty")
    client.post(reverse("admin:stores_store_delete", args=[empty.pk]), {"post": "yes"})
    from stores.models import Store

    assert not Store.objects.filter(pk=empty.pk).exists()


def test_admin_store_filter_lists_only_the_clerks_stores(client, world, clerk_a):
    client.force_login(clerk_a)
    html = client.get(reverse("admin:stores_stock_changelist")).content.decode()
    # (with one store left the filter hides itself; before, it listed every store)
    assert f"store__id__exact={world['store_b'].pk}" not in html
    assert "B店" not in html


def test_the_working_stores_are_read_through_one_compiled_statement_with_the_orms_results(
        world, clerk_a, clerk_b, hq_user, store_a, store_b, django_assert_num_queries):
    from django.contrib.auth import get_user_model
    from django.http import Http404

    from stores.models import StoreStaff
    from stores.scope import choose_store, working_stores

    archived = make_store("D店", code="store-d", city="北京市")
    StoreStaff.objects.create(user=clerk_a, store=archived, role=StoreStaff.Role.CLERK)
    far = make_store("E店", code="store-e", city="北京市")
    StoreStaff.objects.create(user=clerk_a, store=far, role=StoreStaff.Role.MANAGER)
    archived.is_archived = True
    archived.save()
    for user in (clerk_a, clerk_b, hq_user):
        orm = list(stores_for(user).filter(is_archived=False).order_by("city", "name", "pk"))
        with django_assert_num_queries(1):
            stores = working_stores(user)
        assert stores == orm and [s.name for s in stores] == [s.name for s in orm]
        assert [s.__dict__.get("city") for s in stores] == [s.city for s in orm]
    assert set(working_stores(clerk_a)) == {far, store_a}  # the archived one left out
    assert archived not in working_stores(hq_user) and len(working_stores(hq_user)) == 4
    first = working_stores(clerk_a)[0]  # by city (the database's collation), name, id
    assert choose_store(clerk_a, None) == (first, working_stores(clerk_a))
    assert choose_store(clerk_a, str(store_a.pk))[0] == store_a
    for raw in (store_b.pk, archived.pk, "x"):
        with pytest.raises(Http404):
            choose_store(clerk_a, raw)
    outsider = get_user_model().objects.create_user("outsider", password="pw-12345678")
    StoreStaff.objects.create(user=outsider, store=store_a, role=StoreStaff.Role.CLERK)  # not is_staff
    with django_assert_num_queries(0):
        assert working_stores(outsider) == [] and choose_store(outsider, None) == (None, [])
