"""Rules added after review: who may cancel for a member, grant references, restored coupons,
and the mall item's quota taken last."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from marketing import services
from marketing.errors import ExchangeUnavailable, MarketingError
from marketing.models import MemberCoupon, PointsExchange
from members.models import PointsEntry

from .conftest import balance_of, make_shopper, make_staff, make_store, stock_of
from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = pytest.mark.django_db


def _exchange(shopper, sku, store, points=300):
    item = make_product_item(sku, points=points, quantity=3)
    return item, services.exchange_points(shopper, item.pk, request_id="form-1", store_id=store.pk)


def test_store_staff_cancelling_for_a_member_is_recorded_in_the_exchange_and_the_ledger(shopper, stocked, clerk):
    store, sku = stocked
    item, exchange = _exchange(shopper, sku, store)
    done = services.cancel_exchange(exchange.pk, by=clerk)
    assert done.status == PointsExchange.Status.CANCELLED and done.closed_by == clerk
    refund = PointsEntry.objects.get(kind=PointsEntry.Kind.REFUND, reference=exchange.reference)
    assert refund.reason == "门店取消兑换" and balance_of(shopper) == 1000
    assert stock_of(store, sku) == (5, 0)
    item.refresh_from_db()
    assert item.exchanged_count == 0


def test_staff_of_another_store_cannot_cancel_and_nothing_changes(shopper, stocked):
    store, sku = stocked
    _item, exchange = _exchange(shopper, sku, store)
    outsider = make_staff(make_store("别的店", code="other-store"))
    with pytest.raises(ExchangeUnavailable) as caught:
        services.cancel_exchange(exchange.pk, by=outsider)
    assert caught.value.code == "forbidden"
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.AWAITING_PICKUP and exchange.closed_by is None
    assert balance_of(shopper) == 700 and stock_of(store, sku) == (5, 1)


def test_a_grant_reference_reused_for_another_member_is_refused_not_shared():
    coupon = make_coupon()
    first, second = make_shopper(), make_shopper()
    copy = services.issue_coupon(first, coupon, source=MemberCoupon.Source.GRANT, reference="grant:f1")
    assert services.issue_coupon(first, coupon, source=MemberCoupon.Source.GRANT, reference="grant:f1") == copy
    with pytest.raises(MarketingError) as caught:
        services.issue_coupon(second, coupon, source=MemberCoupon.Source.GRANT, reference="grant:f1")
    assert caught.value.code == "reference_mismatch"
    assert list(MemberCoupon.objects.values_list("user_id", flat=True)) == [first.pk]
    coupon.refresh_from_db()
    assert coupon.issued_count == 1


def test_a_coupon_restored_after_its_end_comes_back_expired_not_usable():
    coupon = make_coupon(valid_days=1)
    shopper = make_shopper()
    start = timezone.now()
    copy = services.issue_coupon(shopper, coupon, source=MemberCoupon.Source.CLAIM, now=start)
    services.use_coupon(copy, reference="order:1", now=start)
    services.restore_coupon(copy, reference="order:1", now=start + timedelta(days=2))
    copy.refresh_from_db()
    assert copy.status == MemberCoupon.Status.EXPIRED and copy.used_reference == ""


def test_a_coupon_restored_within_its_dates_is_usable_again_but_only_by_its_order():
    coupon = make_coupon()
    shopper = make_shopper()
    copy = services.issue_coupon(shopper, coupon, source=MemberCoupon.Source.CLAIM)
    services.use_coupon(copy, reference="order:1")
    services.restore_coupon(copy, reference="order:2")  # another order cannot give it back
    copy.refresh_from_db()
    assert copy.status == MemberCoupon.Status.USED
    services.restore_coupon(copy, reference="order:1")
    copy.refresh_from_db()
    assert copy.status == MemberCoupon.Status.UNUSED and copy.is_usable()


def test_the_last_unit_of_quota_still_refuses_a_second_exchange_with_nothing_spent():
    item = make_coupon_item(points=100, quantity=1)
    first, second = make_shopper(points=500), make_shopper(points=500)
    services.exchange_points(first, item.pk, request_id="a")
    with pytest.raises(ExchangeUnavailable) as caught:
        services.exchange_points(second, item.pk, request_id="b")
    assert caught.value.code == "sold_out"
    assert balance_of(second) == 500 and not MemberCoupon.objects.filter(user=second).exists()
    item.coupon.refresh_from_db()
    assert item.coupon.issued_count == 1


def test_a_pickup_code_typed_as_a_number_is_read_not_crashed(shopper, stocked, clerk, monkeypatch):
    store, sku = stocked
    monkeypatch.setattr(services, "_new_pickup_code", lambda: "123456")
    _item, exchange = _exchange(shopper, sku, store)
    done = services.verify_pickup(store=store, code=123456, by=clerk)
    assert done.status == PointsExchange.Status.DONE and stock_of(store, sku) == (4, 0)


def test_the_service_refuses_a_price_other_than_the_one_confirmed_and_spends_nothing():
    item = make_coupon_item(points=100)
    shopper = make_shopper(points=1000)
    with pytest.raises(ExchangeUnavailable) as caught:
        services.exchange_points(shopper, item.pk, request_id="r", expected_points="80")
    assert caught.value.code == "price_changed" and "100" in str(caught.value)
    assert balance_of(shopper) == 1000 and not PointsExchange.objects.exists()
    done = services.exchange_points(shopper, item.pk, request_id="r", expected_points=100)
    assert done.points == 100 and balance_of(shopper) == 900


def test_granting_by_phone_skips_an_inactive_account_and_says_why():
    from marketing.admin import grant_coupon_by_phones

    coupon = make_coupon(total=5)
    active, closed = make_shopper(), make_shopper()
    type(closed).objects.filter(pk=closed.pk).update(is_active=False)
    granted, again, unknown, failed = grant_coupon_by_phones(coupon, [active.phone, closed.phone], request_id=uuid.uuid4())
    assert granted == [active.phone] and [(p, str(m)) for p, m in failed] == [(closed.phone, "该账号已停用")]
    assert not MemberCoupon.objects.filter(user=closed).exists()


def test_a_coupon_item_whose_coupon_is_sold_out_or_stopped_shows_as_exchanged_out(client):
    from django.urls import reverse

    coupon = make_coupon(total=1)
    item = make_coupon_item(coupon, points=10)  # the item itself is unlimited
    assert not item.is_exhausted
    services.issue_coupon(make_shopper(), coupon, source=MemberCoupon.Source.GRANT)
    item = type(item).objects.select_related("coupon").get(pk=item.pk)
    assert item.is_exhausted
    client.force_login(make_shopper(points=100))
    page = client.get(reverse("marketing:mall_item", args=[item.pk]))
    assert page.context["sold_out"] and "已兑完" in page.content.decode()
    assert "已兑完" in client.get(reverse("marketing:mall")).content.decode()
    coupon.total_quantity = None
    coupon.is_active = False
    coupon.save()
    item = type(item).objects.select_related("coupon").get(pk=item.pk)
    assert item.is_exhausted  # stopped


def test_claiming_without_a_session_sends_htmx_to_the_login_page_instead_of_swapping_it_in(client):
    from django.urls import reverse

    coupon = make_coupon(claimable=True)
    url = reverse("marketing:coupon_claim", args=[coupon.pk])
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/?next=") and not response.content
    plain = client.post(url)
    assert plain.status_code == 302 and "/accounts/login/" in plain["Location"]
    assert not MemberCoupon.objects.exists()
