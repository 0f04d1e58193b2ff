"""Demo data of the points mall: coupons, items, and the demo shopper's pickup that the demo clerk
verifies, as the README walks a newcomer through it."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from catalog import demo as catalog_demo
from marketing import demo
from marketing.models import Coupon, MemberCoupon, PointsExchange, PointsItem
from members import demo as members_demo
from members.models import PointsEntry
from members.selectors import points_mismatches
from stores import demo as stores_demo
from stores.models import Stock, StockMovement

pytestmark = pytest.mark.django_db


def _quiet(line):
    pass


@pytest.fixture
def seeded():
    lines = []
    for seeder in (catalog_demo.seed, stores_demo.seed, members_demo.seed):
        seeder(_quiet)
    changed = demo.seed(lines.append)
    return changed, lines


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (Coupon, MemberCoupon, PointsItem, PointsExchange, PointsEntry, StockMovement)
    }


def test_seed_creates_coupons_items_and_the_shopper_exchanges_once(seeded):
    changed, lines = seeded
    assert changed > 0
    assert set(Coupon.objects.values_list("kind", flat=True)) == set(Coupon.Kind.values)
    assert Coupon.objects.filter(claimable=True).count() >= 2
    assert Coupon.objects.filter(validity=Coupon.Validity.FIXED).count() == 1
    assert PointsItem.objects.filter(kind=PointsItem.Kind.COUPON).count() == 3
    assert PointsItem.objects.filter(kind=PointsItem.Kind.PRODUCT).count() == 3
    shopper = get_user_model().objects.get(phone=demo.SHOPPER_PHONE)
    coupon_exchange = PointsExchange.objects.get(user=shopper, kind=PointsItem.Kind.COUPON)
    assert coupon_exchange.status == PointsExchange.Status.DONE and coupon_exchange.member_coupon is not None
    pickup = PointsExchange.objects.get(user=shopper, kind=PointsItem.Kind.PRODUCT)
    assert pickup.status == PointsExchange.Status.AWAITING_PICKUP
    assert pickup.store.code == stores_demo.DEMO_CLERK["store"]
    assert any(pickup.pickup_code in line for line in lines)
    assert points_mismatches() == []

    before = _counts()
    assert demo.seed(_quiet) == 0
    assert stores_demo.seed(_quiet) == 0
    assert _counts() == before


def test_demo_clerk_verifies_the_demo_pickup_code(seeded, client):
    shopper = get_user_model().objects.get(phone=demo.SHOPPER_PHONE)
    pickup = PointsExchange.objects.select_related("store").get(user=shopper, kind=PointsItem.Kind.PRODUCT)
    stock = Stock.objects.get(store=pickup.store, sku=pickup.sku_id)
    assert client.login(username=stores_demo.DEMO_CLERK["username"], password=stores_demo.DEMO_CLERK["password"])
    menu = client.get(reverse("backoffice:dashboard")).content.decode()
    assert reverse("orders_bo:pickups") in menu  # the verification screen shared with pickup orders

    lookup = client.post(reverse("orders_bo:pickups"), {"store": pickup.store.pk, "code": pickup.pickup_code})
    assert lookup.status_code == 200 and lookup.context["exchange"].pk == pickup.pk
    response = client.post(
        reverse("marketing_bo:pickup_verify"),
        {"store": pickup.store.pk, "code": pickup.pickup_code, "exchange": pickup.pk},
    )
    assert response.status_code == 302
    pickup.refresh_from_db()
    assert pickup.status == PointsExchange.Status.DONE
    assert pickup.picked_up_by.username == stores_demo.DEMO_CLERK["username"]
    after = Stock.objects.get(pk=stock.pk)
    assert (after.on_hand, after.reserved) == (stock.on_hand - 1, stock.reserved - 1)
