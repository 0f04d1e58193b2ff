"""Django admin for coupons and the points mall: query budgets, store scope, the grant page and the
cancel action."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketing import services
from marketing.models import Coupon, MemberCoupon, PointsExchange, PointsItem
from stores import services as stock_services
from tests.stores.conftest import make_staff as make_store_staff

from .conftest import balance_of, make_shopper, make_sku, make_staff, make_store, stock_of
from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = pytest.mark.django_db

CHANGELISTS = ["coupon", "membercoupon", "pointsitem", "pointsexchange"]


def url(model, view="changelist", *args):
    return reverse(f"admin:marketing_{model}_{view}", args=args)


@pytest.fixture
def hq(client):
    user = get_user_model().objects.create_user("mall-admin", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def sku(db):
    return make_sku("积分好礼")


@pytest.fixture
def store_a(sku):
    store = make_store("A店", code="adm-a")
    stock_services.receive_stock(store, sku, 30)
    return store


@pytest.fixture
def store_b(sku):
    store = make_store("B店", code="adm-b")
    stock_services.receive_stock(store, sku, 30)
    return store


@pytest.fixture
def clerk_a(store_a):
    user = make_staff(store_a, username="adm_clerk_a")
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="marketing", codename__in=["view_pointsexchange", "change_pointsexchange"]
    ))
    return get_user_model().objects.get(pk=user.pk)


def mall_rows(n, store_a, store_b, sku):
    """n coupons with a copy each, a coupon item and a goods item, and n exchanges of each kind."""
    product = make_product_item(sku, points=10)
    for i in range(n):
        coupon = make_coupon()
        item = make_coupon_item(coupon, points=10)
        shopper = make_shopper(points=500)
        services.exchange_points(shopper, item.pk, request_id=f"c{i}")
        services.exchange_points(shopper, product.pk, request_id=f"p{i}", store_id=(store_a, store_b)[i % 2].pk)


def changelist_queries(client, model):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url(model))
    assert response.status_code == 200, model
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_load_for_hq_in_constant_queries(client, hq, store_a, store_b, sku, model):
    mall_rows(1, store_a, store_b, sku)
    one, _response = changelist_queries(client, model)
    mall_rows(9, store_a, store_b, sku)
    ten, response = changelist_queries(client, model)
    assert response.context["cl"].result_count >= 10
    assert one == ten
    assert ten <= 12


def test_store_clerk_sees_only_own_store_goods_exchanges(client, clerk_a, store_a, store_b, sku):
    mall_rows(4, store_a, store_b, sku)
    client.force_login(clerk_a)
    response = client.get(url("pointsexchange"))
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert len(shown) == 2
    assert {e.store_id for e in shown} == {store_a.pk}
    assert all(e.kind == PointsItem.Kind.PRODUCT for e in shown)
    theirs = PointsExchange.objects.filter(store=store_b).first()
    coupon_exchange = PointsExchange.objects.filter(kind=PointsItem.Kind.COUPON).first()
    assert client.get(url("pointsexchange", "change", theirs.pk)).status_code == 404
    assert client.get(url("pointsexchange", "change", coupon_exchange.pk)).status_code == 404
    ours = shown[0]
    page = client.get(url("pointsexchange", "change", ours.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert ours.pickup_code not in html  # the clerk asks the shopper for it
    phone = ours.user.phone.removeprefix("+86")
    assert phone not in html and f"{phone[:3]}****{phone[-4:]}" in html
    # coupons and copies are HQ marketing data
    assert client.get(url("coupon")).status_code == 403
    assert client.get(url("membercoupon")).status_code == 403


def test_hq_cannot_add_or_delete_exchanges_in_the_admin(client, hq, store_a, store_b, sku):
    mall_rows(1, store_a, store_b, sku)
    assert client.get(url("pointsexchange", "add")).status_code == 403
    exchange = PointsExchange.objects.first()
    assert client.post(url("pointsexchange", "delete", exchange.pk), {"post": "yes"}).status_code == 403
    assert PointsExchange.objects.count() == 2


def test_exchange_record_is_read_only_even_with_change_permission(client, clerk_a, store_a, store_b, sku):
    mall_rows(1, store_a, store_b, sku)
    ours = PointsExchange.objects.get(store=store_a)
    client.force_login(clerk_a)
    response = client.post(url("pointsexchange", "change", ours.pk), {"status": "done", "points": 1})
    assert response.status_code == 403
    ours.refresh_from_db()
    assert ours.status == PointsExchange.Status.AWAITING_PICKUP and ours.points == 10


def test_cancel_action_returns_points_and_stock_of_awaiting_exchanges_only(client, clerk_a, store_a, store_b, sku):
    item = make_product_item(sku, points=100)
    shopper = make_shopper(points=500)
    waiting = services.exchange_points(shopper, item.pk, request_id="w", store_id=store_a.pk)
    done = services.exchange_points(shopper, item.pk, request_id="d", store_id=store_a.pk)
    services.verify_pickup(store=store_a, code=done.pickup_code, by=clerk_a)
    theirs = services.exchange_points(shopper, item.pk, request_id="b", store_id=store_b.pk)
    assert balance_of(shopper) == 200 and stock_of(store_a, sku) == (29, 1)
    client.force_login(clerk_a)
    response = client.post(url("pointsexchange"), {
        "action": "cancel_awaiting", "_selected_action": [waiting.pk, done.pk, theirs.pk],
    })
    assert response.status_code == 302
    waiting.refresh_from_db()
    done.refresh_from_db()
    theirs.refresh_from_db()
    assert waiting.status == PointsExchange.Status.CANCELLED
    assert done.status == PointsExchange.Status.DONE
    assert theirs.status == PointsExchange.Status.AWAITING_PICKUP  # another store's: not in the clerk's queryset
    assert balance_of(shopper) == 300
    assert stock_of(store_a, sku) == (29, 0) and stock_of(store_b, sku) == (30, 1)
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("已取消 1 个兑换" in t for t in texts) and any("1 个兑换不是待自提状态" in t for t in texts)


def test_cancel_action_needs_the_change_permission(client, store_a, sku):
    item = make_product_item(sku, points=100)
    waiting = services.exchange_points(make_shopper(points=500), item.pk, request_id="w", store_id=store_a.pk)
    viewer = make_store_staff(store_a, username="adm_viewer")  # no marketing permission but view
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="marketing",
                                                       codename="view_pointsexchange"))
    client.force_login(get_user_model().objects.get(pk=viewer.pk))
    assert client.get(url("pointsexchange")).status_code == 200
    client.post(url("pointsexchange"), {"action": "cancel_awaiting", "_selected_action": [waiting.pk]})
    waiting.refresh_from_db()
    assert waiting.status == PointsExchange.Status.AWAITING_PICKUP


# --- granting coupons by phone --------------------------------------------------------------------
def test_grant_page_grants_once_per_form_and_reports_unknown_and_invalid_phones(client, hq):
    coupon = make_coupon("补偿券", total=10)
    alice = make_shopper(phone="+8613700000001")
    bob = make_shopper(phone="+8613700000002")
    request_id = str(uuid.uuid4())
    form = {
        "phones": "13700000001\n137 0000 0002, 13700000001；13999999999\nhello",
        "request_id": request_id,
    }
    response = client.post(url("coupon", "grant", coupon.pk), form)
    assert response.status_code == 200
    result = response.context["result"]
    assert result["granted"] == ["13700000001", "13700000002"]
    assert result["unknown"] == ["13999999999"] and result["invalid"] == ["hello"]
    assert MemberCoupon.objects.filter(coupon=coupon, source=MemberCoupon.Source.GRANT).count() == 2
    html = response.content.decode()
    assert "13999999999" in html and "hello" in html
    # the next form is a new grant
    assert str(response.context["form"]["request_id"].value()) != request_id

    again = client.post(url("coupon", "grant", coupon.pk), form)  # the browser re-sends the POST
    assert again.context["result"]["granted"] == []
    assert again.context["result"]["again"] == ["13700000001", "13700000002"]
    assert MemberCoupon.objects.filter(coupon=coupon).count() == 2
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 2
    assert {c.user_id for c in MemberCoupon.objects.filter(coupon=coupon)} == {alice.pk, bob.pk}


def test_grant_reports_each_phone_the_service_refuses(client, hq):
    coupon = make_coupon("限量券", total=1)
    make_shopper(phone="+8613700000011")
    make_shopper(phone="+8613700000012")
    response = client.post(url("coupon", "grant", coupon.pk), {
        "phones": "13700000011\n13700000012", "request_id": str(uuid.uuid4()),
    })
    result = response.context["result"]
    assert result["granted"] == ["13700000011"]
    assert result["failed"] == [("13700000012", "优惠券已被领完")]
    assert "优惠券已被领完" in response.content.decode()


def test_grant_action_opens_the_grant_page_for_one_coupon(client, hq):
    coupon = make_coupon()
    other = make_coupon()
    response = client.post(url("coupon"), {"action": "grant_to_members", "_selected_action": [coupon.pk]})
    assert response.status_code == 302 and response["Location"] == url("coupon", "grant", coupon.pk)
    response = client.post(url("coupon"), {"action": "grant_to_members", "_selected_action": [coupon.pk, other.pk]})
    assert response.status_code == 302 and response["Location"].endswith(url("coupon"))
    assert client.get(url("coupon", "grant", coupon.pk)).status_code == 200


def test_grant_page_needs_the_coupon_change_permission(client, store_a):
    coupon = make_coupon()
    make_shopper(phone="+8613700000021")
    viewer = make_staff(store_a, username="coupon_viewer")
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="marketing", codename="view_coupon"))
    client.force_login(get_user_model().objects.get(pk=viewer.pk))
    response = client.post(url("coupon", "grant", coupon.pk), {"phones": "13700000021",
                                                                "request_id": str(uuid.uuid4())})
    assert response.status_code == 403
    assert not MemberCoupon.objects.exists()


# --- forms --------------------------------------------------------------------------------------------
def test_points_item_form_shows_the_model_rules(client, hq, sku):
    coupon = make_coupon()
    response = client.post(url("pointsitem", "add"), {
        "kind": "coupon", "title": "错配", "description": "", "points": 100, "sku": sku.pk,
        "quantity": "", "per_member_limit": "", "sort_order": 0, "is_active": "on",
    })
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "请选择兑换的优惠券" in errors["coupon"] and "优惠券兑换不需要选择商品" in errors["sku"]
    assert not PointsItem.objects.exists()
    response = client.post(url("pointsitem", "add"), {
        "kind": "coupon", "title": "5元券", "description": "", "points": 100, "coupon": coupon.pk,
        "quantity": "", "per_member_limit": "", "sort_order": 0, "is_active": "on",
    })
    assert response.status_code == 302
    assert PointsItem.objects.get().coupon == coupon


def test_issued_coupon_keeps_its_value(client, hq):
    coupon = make_coupon(amount="10.00", threshold="100.00")
    services.issue_coupon(make_shopper(), coupon, source=MemberCoupon.Source.GRANT, reference="x")
    page = client.get(url("coupon", "change", coupon.pk))
    assert "amount" not in page.context["adminform"].form.fields
    assert page.status_code == 200
