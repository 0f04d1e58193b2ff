"""Defects found in review: counters the admin wrote back, stores with stock hidden behind the first
50, and 500s on tampered input."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse

from marketing import services
from marketing.admin import CouponAdmin, PointsItemAdmin
from marketing.models import Coupon, MemberCoupon, PointsExchange, PointsItem
from members.models import PointsEntry
from stores.services import receive_stock
from tests.members.factories import make_member

from .conftest import balance_of, make_shopper, make_sku, make_store
from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq(client):
    user = get_user_model().objects.create_user("review-hq", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def _coupon_form(coupon, **changes):
    data = {
        "name": coupon.name, "description": coupon.description, "is_active": "on", "kind": coupon.kind,
        "amount": str(coupon.amount), "discount_percent": "", "max_discount": "", "threshold": str(coupon.threshold),
        "validity": coupon.validity, "valid_days": str(coupon.valid_days), "valid_from_0": "", "valid_from_1": "",
        "valid_until_0": "", "valid_until_1": "", "total_quantity": str(coupon.total_quantity),
        "per_member_limit": str(coupon.per_member_limit), "scope": coupon.scope, "_save": "Save",
    }
    data.update(changes)
    return data


# --- the admin must not write back a counter it read before a shopper moved it ------------------------
def test_editing_a_coupon_in_the_admin_keeps_the_copies_claimed_while_it_was_saved(client, hq, monkeypatch):
    coupon = make_coupon(total=10, claimable=True)
    claimer = make_shopper()
    loaded = CouponAdmin.get_object

    def load_then_a_shopper_claims(self, request, object_id, from_field=None):
        obj = loaded(self, request, object_id, from_field)
        if request.method == "POST":
            services.claim_coupon(claimer, coupon.pk)  # between the admin's read and its write
        return obj

    monkeypatch.setattr(CouponAdmin, "get_object", load_then_a_shopper_claims)
    response = client.post(reverse("admin:marketing_coupon_change", args=[coupon.pk]),
                           _coupon_form(coupon, name="改名后的券"))
    assert response.status_code == 302, getattr(response, "context", None) and response.context["errors"]
    coupon.refresh_from_db()
    assert coupon.name == "改名后的券"
    assert coupon.issued_count == MemberCoupon.objects.filter(coupon=coupon).count() == 1


def test_saving_a_mall_item_in_the_admin_list_keeps_the_exchanges_made_meanwhile(hq):
    item = make_coupon_item(points=10, quantity=3)
    stale = PointsItem.objects.get(pk=item.pk)  # what the changelist form loaded
    services.exchange_points(make_shopper(points=100), item.pk, request_id="meanwhile")
    stale.sort_order = 5
    request = RequestFactory().post("/")
    request.user = hq
    PointsItemAdmin(PointsItem, admin.site).save_model(request, stale, form=None, change=True)
    item.refresh_from_db()
    assert item.sort_order == 5 and item.exchanged_count == 1


# --- the item page offers the stores that have the unit, however many stores there are --------------
def test_a_store_with_stock_is_offered_even_behind_fifty_stores_without(client):
    sku = make_sku("积分好礼")
    for i in range(51):
        make_store(f"A空店{i:02d}", city="上海市")
    stocked = make_store("Z有货店", city="上海市")
    receive_stock(stocked, sku, 2)
    item = make_product_item(sku, points=100)
    client.force_login(make_member(points=1000, phone_verified=True).user)
    response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    assert stocked.pk in [s.pk for s in response.context["stores"]]
    assert response.context["any_stock"] is True and response.context["chosen_store_id"] == stocked.pk
    assert "门店暂无库存" not in response.content.decode()


# --- tampered input gets an answer, not a 500 ----------------------------------------------------------
def test_an_absurd_page_number_of_exchange_records_is_not_a_server_error(client):
    client.force_login(make_shopper(points=10))
    response = client.get(reverse("marketing:exchanges"), {"page": "9" * 30})
    assert response.status_code == 200 and response.context["exchanges"] == []


@pytest.mark.parametrize("dates", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"date_to": "0001-01-01"}])
def test_coupon_statistics_refuse_dates_out_of_range_with_a_message(client, hq, dates):
    make_coupon()
    response = client.get(reverse("marketing_bo:coupons"), dates)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_a_tampered_exchange_id_on_the_verify_form_is_answered_not_crashed(client, hq):
    store = make_store("核销店", code="rv-verify")
    response = client.post(reverse("marketing_bo:pickup_verify"), {"store": store.pk, "code": "123456", "exchange": "²"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["自提码无效、已核销或不属于本门店"]


def test_a_request_id_with_a_nul_character_is_refused_and_spends_nothing(client):
    item = make_coupon_item(points=10)
    shopper = make_shopper(points=100)
    client.force_login(shopper)
    response = client.post(reverse("marketing:mall_exchange", args=[item.pk]), {"request_id": "a\x00b"})
    assert response.status_code == 400  # refused before the view (core.middleware): the 请求无效 page
    assert "请求无效" in response.content.decode()
    assert balance_of(shopper) == 100 and not PointsExchange.objects.exists()
    assert not PointsEntry.objects.filter(kind=PointsEntry.Kind.EXCHANGE).exists()
    assert Coupon.objects.get(pk=item.coupon_id).issued_count == 0


# --- the points spent are the points the shopper confirmed ------------------------------------------
def test_an_exchange_confirmed_at_the_old_points_price_is_refused_after_the_price_changed(client):
    item = make_coupon_item(points=100)
    shopper = make_member(points=1000, phone_verified=True).user
    client.force_login(shopper)
    page = client.get(reverse("marketing:mall_item", args=[item.pk])).content.decode()
    assert 'name="points" value="100"' in page
    PointsItem.objects.filter(pk=item.pk).update(points=800)  # HQ raised the price meanwhile
    response = client.post(reverse("marketing:mall_exchange", args=[item.pk]), {"request_id": "r-1", "points": "100"})
    assert response.status_code == 400
    assert "兑换所需积分已变更为 800 积分，请确认后重新兑换" in response.content.decode()
    assert balance_of(shopper) == 1000 and not PointsExchange.objects.exists()
    response = client.post(reverse("marketing:mall_exchange", args=[item.pk]), {"request_id": "r-2", "points": "800"})
    assert response.status_code == 302 and balance_of(shopper) == 200


# --- one exchange that cannot expire does not hold back the others ----------------------------------
def test_an_unexpected_error_on_one_overdue_pickup_does_not_stop_the_sweep(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    sku = make_sku("积分好礼")
    store = make_store("过期店", code="rv-expire")
    receive_stock(store, sku, 5)
    item = make_product_item(sku, points=100)
    first, second = make_shopper(points=100), make_shopper(points=100)
    for n, user in enumerate((first, second)):
        services.exchange_points(user, item.pk, request_id=f"exp-{n}", store_id=store.pk)
    broken = PointsExchange.objects.get(user=first)
    real_release = services.release_reserved

    def release(reference, **kwargs):
        if reference == broken.reference:
            raise RuntimeError("database hiccup")
        return real_release(reference, **kwargs)

    monkeypatch.setattr(services, "release_reserved", release)
    later = timezone.now() + timedelta(days=30)
    assert services.expire_overdue_pickups(later) == 1
    assert PointsExchange.objects.get(user=second).status == PointsExchange.Status.EXPIRED
    assert balance_of(second) == 100
    assert PointsExchange.objects.get(user=first).status == PointsExchange.Status.AWAITING_PICKUP
    assert balance_of(first) == 0
