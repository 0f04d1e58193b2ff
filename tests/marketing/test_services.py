"""marketing.services: coupons issued, used and expired; the points mall's exchanges, pickups,
cancellations and expiry. A refusal must leave every balance, counter and ledger as it was."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Product, Sku
from core.errors import DomainError
from marketing import services
from marketing.errors import CouponUnavailable, ExchangeUnavailable, MarketingError, PickupError
from marketing.models import Coupon, MemberCoupon, PointsExchange, PointsItem
from members.models import Member, PointsEntry
from stores import services as stock_services
from stores.models import Stock, StockMovement, Store

from .conftest import balance_of, make_shopper, make_sku, make_staff, make_store, stock_of
from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = pytest.mark.django_db
Status = PointsExchange.Status
Source = MemberCoupon.Source


def snapshot():
    """Everything an exchange, a pickup or a cancellation may touch."""
    return {
        "balances": dict(Member.objects.values_list("pk", "points_balance")),
        "ledger": list(PointsEntry.objects.order_by("pk").values_list("pk", "delta", "kind", "reference")),
        "items": dict(PointsItem.objects.values_list("pk", "exchanged_count")),
        "coupons": dict(Coupon.objects.values_list("pk", "issued_count")),
        "stock": sorted(Stock.objects.values_list("pk", "on_hand", "reserved")),
        "movements": StockMovement.objects.count(),
        "exchanges": list(PointsExchange.objects.order_by("pk").values_list("pk", "status", "picked_up_by")),
        "copies": list(MemberCoupon.objects.order_by("pk").values_list("pk", "status")),
        "sales": dict(Product.objects.values_list("pk", "sales_count")),
    }


def refused(error_type, call, code=None):
    """Run `call`, expect `error_type` (with `code`), and prove nothing changed."""
    before = snapshot()
    with pytest.raises(error_type) as info:
        call()
    if code:
        assert info.value.code == code, (info.value.code, str(info.value))
    assert str(info.value)  # a message a person can read
    assert snapshot() == before
    return info.value


def ledger_sum(user):
    return PointsEntry.objects.filter(member__user=user).aggregate(s=Sum("delta"))["s"] or 0


# --- issue / claim ----------------------------------------------------------------------------
def test_issue_coupon_gives_a_copy_valid_for_its_days_and_counts_it(shopper):
    coupon = make_coupon(total=5, valid_days=7)
    now = timezone.now()
    copy = services.issue_coupon(shopper, coupon, source=Source.GRANT, now=now)
    assert (copy.user, copy.status, copy.source) == (shopper, MemberCoupon.Status.UNUSED, Source.GRANT)
    assert (copy.valid_from, copy.valid_until) == (now, now + timedelta(days=7))
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 1


def test_issue_coupon_with_the_same_reference_twice_issues_once(shopper):
    coupon = make_coupon(total=5)
    first = services.issue_coupon(shopper, coupon, source=Source.REWARD, reference="invite:7")
    again = services.issue_coupon(shopper, coupon, source=Source.REWARD, reference="invite:7")
    assert again.pk == first.pk
    assert MemberCoupon.objects.filter(coupon=coupon).count() == 1
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 1


def test_issue_coupon_sold_out_is_refused_and_counts_unchanged(shopper):
    coupon = make_coupon(total=1)
    services.issue_coupon(shopper, coupon, source=Source.GRANT)
    other = make_shopper()
    refused(CouponUnavailable, lambda: services.issue_coupon(other, coupon, source=Source.GRANT), "sold_out")
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 1
    assert not MemberCoupon.objects.filter(user=other).exists()


def test_unlimited_coupon_keeps_issuing(shopper):
    coupon = make_coupon(total=None)
    for i in range(3):
        services.issue_coupon(shopper, coupon, source=Source.GRANT, reference=f"g{i}")
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 3


def test_inactive_coupon_is_not_issued(shopper):
    coupon = make_coupon(total=5, is_active=False)
    refused(CouponUnavailable, lambda: services.issue_coupon(shopper, coupon, source=Source.GRANT), "inactive")


def test_fixed_date_coupon_already_ended_is_not_issued(shopper):
    coupon = make_coupon(validity=Coupon.Validity.FIXED, valid_until=timezone.now() + timedelta(days=1))
    later = timezone.now() + timedelta(days=2)
    refused(CouponUnavailable, lambda: services.issue_coupon(shopper, coupon, source=Source.GRANT, now=later),
            "expired")


def test_fixed_date_coupon_copy_carries_the_coupon_dates(shopper):
    start, end = timezone.now() + timedelta(days=1), timezone.now() + timedelta(days=5)
    coupon = make_coupon(validity=Coupon.Validity.FIXED, valid_from=start, valid_until=end)
    copy = services.issue_coupon(shopper, coupon, source=Source.GRANT)
    assert (copy.valid_from, copy.valid_until) == (start, end)
    assert not copy.is_usable()  # not started yet


def test_unknown_source_is_refused(shopper):
    coupon = make_coupon(total=5)
    refused(MarketingError, lambda: services.issue_coupon(shopper, coupon, source="gift"), "invalid_source")


def test_claim_coupon_within_the_per_member_limit(shopper):
    coupon = make_coupon(total=10, claimable=True, per_member_limit=2)
    services.claim_coupon(shopper, coupon.pk)
    services.claim_coupon(shopper, coupon.pk)
    error = refused(CouponUnavailable, lambda: services.claim_coupon(shopper, coupon.pk), "member_limit")
    assert "2" in str(error)
    assert MemberCoupon.objects.filter(user=shopper, coupon=coupon, source=Source.CLAIM).count() == 2
    # another member still may
    services.claim_coupon(make_shopper(), coupon.pk)
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 3


def test_claim_limit_counts_copies_from_any_source(shopper):
    coupon = make_coupon(total=10, claimable=True, per_member_limit=1)
    services.issue_coupon(shopper, coupon, source=Source.GRANT)
    refused(CouponUnavailable, lambda: services.claim_coupon(shopper, coupon.pk), "member_limit")


def test_non_claimable_coupon_cannot_be_claimed(shopper):
    coupon = make_coupon(total=10, claimable=False)
    refused(CouponUnavailable, lambda: services.claim_coupon(shopper, coupon.pk), "not_found")


@pytest.mark.parametrize("garbage", [None, "", "abc", "1.5", -1, 10**20])
def test_claim_with_a_garbage_coupon_id_is_refused(shopper, garbage):
    make_coupon(total=10, claimable=True)
    refused(CouponUnavailable, lambda: services.claim_coupon(shopper, garbage), "not_found")


def test_claim_of_a_sold_out_coupon_is_refused(shopper):
    coupon = make_coupon(total=1, claimable=True)
    services.claim_coupon(make_shopper(), coupon.pk)
    refused(CouponUnavailable, lambda: services.claim_coupon(shopper, coupon.pk), "sold_out")


# --- use / restore / expire -------------------------------------------------------------------
def test_coupon_is_used_once(shopper):
    copy = services.issue_coupon(shopper, make_coupon(), source=Source.GRANT)
    used = services.use_coupon(copy, reference="order:1")
    assert (used.status, used.used_reference) == (MemberCoupon.Status.USED, "order:1")
    assert used.used_at is not None
    refused(CouponUnavailable, lambda: services.use_coupon(copy, reference="order:2"), "not_usable")
    assert MemberCoupon.objects.get(pk=copy.pk).used_reference == "order:1"


def test_same_order_retrying_use_coupon_is_fine(shopper):
    copy = services.issue_coupon(shopper, make_coupon(), source=Source.GRANT)
    services.use_coupon(copy, reference="order:1")
    again = services.use_coupon(copy, reference="order:1")
    assert again.pk == copy.pk
    assert MemberCoupon.objects.get(pk=copy.pk).status == MemberCoupon.Status.USED


def test_expired_or_not_started_copy_cannot_be_used(shopper):
    copy = services.issue_coupon(shopper, make_coupon(valid_days=3), source=Source.GRANT)
    refused(CouponUnavailable,
            lambda: services.use_coupon(copy, reference="o1", now=timezone.now() + timedelta(days=4)), "not_usable")
    refused(CouponUnavailable,
            lambda: services.use_coupon(copy, reference="o1", now=timezone.now() - timedelta(days=1)), "not_usable")
    assert MemberCoupon.objects.get(pk=copy.pk).status == MemberCoupon.Status.UNUSED


def test_use_without_an_order_reference_is_not_mistaken_for_a_retry(shopper):
    # an unused copy has an empty used_reference too: an empty reference must not pass as "retried"
    copy = services.issue_coupon(shopper, make_coupon(valid_days=3), source=Source.GRANT)
    later = timezone.now() + timedelta(days=4)
    refused(CouponUnavailable, lambda: services.use_coupon(copy, reference="", now=later), "not_usable")
    services.use_coupon(copy, reference="")
    refused(CouponUnavailable, lambda: services.use_coupon(copy, reference=""), "not_usable")


def test_restore_gives_the_copy_back_only_to_the_order_that_used_it(shopper):
    copy = services.issue_coupon(shopper, make_coupon(), source=Source.GRANT)
    services.use_coupon(copy, reference="order:1")
    services.restore_coupon(copy, reference="order:9")  # another order: nothing happens
    assert MemberCoupon.objects.get(pk=copy.pk).status == MemberCoupon.Status.USED
    restored = services.restore_coupon(copy, reference="order:1")
    assert (restored.status, restored.used_reference, restored.used_at) == (MemberCoupon.Status.UNUSED, "", None)
    services.use_coupon(copy, reference="order:2")  # usable again
    assert MemberCoupon.objects.get(pk=copy.pk).used_reference == "order:2"


def test_copy_restored_after_its_end_comes_back_expired_and_unusable(shopper):
    copy = services.issue_coupon(shopper, make_coupon(valid_days=1), source=Source.GRANT)
    services.use_coupon(copy, reference="order:1")
    later = timezone.now() + timedelta(days=2)
    restored = services.restore_coupon(copy, reference="order:1", now=later)
    assert restored.status == MemberCoupon.Status.EXPIRED and not restored.is_usable(later)
    refused(CouponUnavailable, lambda: services.use_coupon(copy, reference="order:2", now=later), "not_usable")
    assert services.expire_member_coupons(later) == 0  # nothing left for the sweep


def test_expire_member_coupons_marks_only_unused_copies_past_their_end(shopper):
    now = timezone.now()
    coupon = make_coupon(valid_days=1)
    old = services.issue_coupon(shopper, coupon, source=Source.GRANT, reference="a", now=now - timedelta(days=2))
    used_old = services.issue_coupon(shopper, coupon, source=Source.GRANT, reference="b", now=now - timedelta(days=2))
    MemberCoupon.objects.filter(pk=used_old.pk).update(status=MemberCoupon.Status.USED)
    fresh = services.issue_coupon(shopper, coupon, source=Source.GRANT, reference="c", now=now)
    assert services.expire_member_coupons(now) == 1
    statuses = dict(MemberCoupon.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "expired", used_old.pk: "used", fresh.pk: "unused"}
    assert services.expire_member_coupons(now) == 0


# --- points mall: coupon items ----------------------------------------------------------------
def test_exchanging_points_for_a_coupon_spends_points_and_issues_the_copy(shopper):
    coupon = make_coupon(total=10)
    item = make_coupon_item(coupon, points=300, quantity=5)
    exchange = services.exchange_points(shopper, item.pk, request_id="r1")
    assert (exchange.status, exchange.kind, exchange.points) == (Status.DONE, "coupon", 300)
    assert balance_of(shopper) == 700 == ledger_sum(shopper)
    entry = PointsEntry.objects.get(member__user=shopper, kind=PointsEntry.Kind.EXCHANGE)
    assert (entry.delta, entry.reference) == (-300, f"mall:{exchange.pk}")
    copy = exchange.member_coupon
    assert (copy.user, copy.coupon, copy.source, copy.reference) == (shopper, coupon, Source.EXCHANGE, entry.reference)
    assert PointsExchange.objects.get(pk=exchange.pk).member_coupon_id == copy.pk
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 1


def test_same_request_twice_exchanges_once(shopper):
    item = make_coupon_item(points=100)
    first = services.exchange_points(shopper, item.pk, request_id="form-1")
    again = services.exchange_points(shopper, item.pk, request_id="form-1")
    assert again.pk == first.pk
    assert balance_of(shopper) == 900
    assert PointsEntry.objects.filter(member__user=shopper, kind="exchange").count() == 1
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1


def test_exchange_needs_a_request_id(shopper):
    item = make_coupon_item(points=100)
    refused(MarketingError, lambda: services.exchange_points(shopper, item.pk, request_id="  "), "request_id_required")


def test_coupon_exchange_refused_when_the_coupon_is_sold_out(shopper):
    item = make_coupon_item(make_coupon(total=0), points=100)
    refused(CouponUnavailable, lambda: services.exchange_points(shopper, item.pk, request_id="r"), "sold_out")


def test_coupon_exchange_refused_when_the_coupon_is_inactive(shopper):
    item = make_coupon_item(make_coupon(total=5, is_active=False), points=100)
    refused(CouponUnavailable, lambda: services.exchange_points(shopper, item.pk, request_id="r"), "inactive")


# --- points mall: refusals change nothing -----------------------------------------------------
def test_short_points_are_refused(db):
    poor = make_shopper(points=99)
    item = make_coupon_item(points=100)
    error = refused(ExchangeUnavailable, lambda: services.exchange_points(poor, item.pk, request_id="r"),
                    "insufficient_points")
    assert "100" in str(error) and "99" in str(error)


def test_sold_out_item_is_refused(shopper):
    item = make_coupon_item(points=100, quantity=1)
    services.exchange_points(make_shopper(points=500), item.pk, request_id="r")
    refused(ExchangeUnavailable, lambda: services.exchange_points(shopper, item.pk, request_id="r"), "sold_out")


def test_per_member_limit_counts_open_and_done_exchanges_but_not_cancelled_ones(shopper, stocked):
    store, sku = stocked
    item = make_product_item(sku, points=100, per_member_limit=1)
    first = services.exchange_points(shopper, item.pk, request_id="r1", store_id=store.pk)
    refused(ExchangeUnavailable,
            lambda: services.exchange_points(shopper, item.pk, request_id="r2", store_id=store.pk), "member_limit")
    services.cancel_exchange(first.pk, user=shopper)
    again = services.exchange_points(shopper, item.pk, request_id="r3", store_id=store.pk)
    assert again.status == Status.AWAITING_PICKUP


@pytest.mark.parametrize(
    "fields",
    [
        {"is_active": False},
        {"starts_at": timezone.now() + timedelta(days=1)},
        {"ends_at": timezone.now() - timedelta(minutes=1)},
    ],
    ids=["off-shelf", "not-started", "ended"],
)
def test_closed_item_is_refused(shopper, fields):
    item = make_coupon_item(points=100, **fields)
    refused(ExchangeUnavailable, lambda: services.exchange_points(shopper, item.pk, request_id="r"), "closed")


@pytest.mark.parametrize("garbage", [None, "", "abc", "1.5", "1 OR 1=1", -1, 10**20])
def test_garbage_item_id_is_refused(shopper, garbage):
    make_coupon_item(points=100)
    refused(ExchangeUnavailable, lambda: services.exchange_points(shopper, garbage, request_id="r"), "not_found")


def test_delisted_product_is_refused(shopper, stocked):
    store, sku = stocked
    item = make_product_item(sku, points=100)
    Product.objects.filter(pk=sku.product_id).update(status=Product.Status.DELISTED)
    refused(DomainError, lambda: services.exchange_points(shopper, item.pk, request_id="r", store_id=store.pk),
            "not_sellable")


def test_disabled_sku_is_refused(shopper, stocked):
    store, sku = stocked
    item = make_product_item(sku, points=100)
    Sku.objects.filter(pk=sku.pk).update(is_enabled=False)
    refused(DomainError, lambda: services.exchange_points(shopper, item.pk, request_id="r", store_id=store.pk),
            "not_sellable")


def test_product_exchange_without_a_store_is_refused(shopper, stocked):
    item = make_product_item(stocked[1], points=100)
    refused(ExchangeUnavailable, lambda: services.exchange_points(shopper, item.pk, request_id="r"), "store_required")


@pytest.mark.parametrize("change", ["missing", "garbage", "archived", "paused", "closed", "no_pickup"])
def test_product_exchange_at_an_unusable_store_is_refused(shopper, stocked, change):
    store, sku = stocked
    item = make_product_item(sku, points=100)
    store_id = store.pk
    if change == "missing":
        store_id = store.pk + 1000
    elif change == "garbage":
        store_id = "x1"
    elif change == "archived":
        Store.objects.filter(pk=store.pk).update(is_archived=True)
    elif change == "paused":
        Store.objects.filter(pk=store.pk).update(status=Store.Status.PAUSED)
    elif change == "closed":
        Store.objects.filter(pk=store.pk).update(status=Store.Status.CLOSED)
    else:
        Store.objects.filter(pk=store.pk).update(pickup_enabled=False)
    refused(ExchangeUnavailable,
            lambda: services.exchange_points(shopper, item.pk, request_id="r", store_id=store_id), "store_unavailable")


def test_product_exchange_at_a_store_without_the_unit_is_refused(shopper, stocked):
    store, sku = stocked
    item = make_product_item(sku, points=100)
    empty = make_store(code="empty-store")  # no stock row at all
    refused(DomainError, lambda: services.exchange_points(shopper, item.pk, request_id="r", store_id=empty.pk),
            "insufficient_stock")
    # all 5 units reserved by others: none available
    stock_services.reserve_lines(store, [(sku, 5)], reference="order:other")
    refused(DomainError, lambda: services.exchange_points(shopper, item.pk, request_id="r", store_id=store.pk),
            "insufficient_stock")


# --- points mall: product items -----------------------------------------------------------------
def test_product_exchange_reserves_one_unit_and_gives_a_pickup_code(shopper, stocked, settings):
    settings.POINTS_MALL_PICKUP_DAYS = 3
    store, sku = stocked
    item = make_product_item(sku, points=400, quantity=10)
    now = timezone.now()
    exchange = services.exchange_points(shopper, str(item.pk), request_id="r1", store_id=str(store.pk), now=now)
    exchange.refresh_from_db()
    assert (exchange.status, exchange.store, exchange.sku, exchange.points) == (Status.AWAITING_PICKUP, store, sku, 400)
    assert len(exchange.pickup_code) == 6 and exchange.pickup_code.isdigit()
    assert exchange.pickup_deadline == now + timedelta(days=3)
    assert exchange.member_coupon is None
    assert stock_of(store, sku) == (5, 1)
    movement = StockMovement.objects.get(reference=exchange.reference)
    assert (movement.reason, movement.reserved_delta, movement.quantity) == ("reserve", 1, 0)
    assert balance_of(shopper) == 600 == ledger_sum(shopper)
    assert PointsEntry.objects.get(reference=exchange.reference).kind == PointsEntry.Kind.EXCHANGE
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1


def test_pickup_codes_differ_among_a_stores_open_pickups(stocked):
    store, sku = stocked
    item = make_product_item(sku, points=10)
    codes = {
        services.exchange_points(make_shopper(points=10), item.pk, request_id="r", store_id=store.pk).pickup_code
        for _ in range(5)
    }
    assert len(codes) == 5


def test_a_clashing_pickup_code_is_drawn_again(shopper, stocked, monkeypatch):
    store, sku = stocked
    item = make_product_item(sku, points=10)
    draws = iter(["111111", "111111", "222222"])
    monkeypatch.setattr(services, "_new_pickup_code", lambda: next(draws))
    first = services.exchange_points(shopper, item.pk, request_id="a", store_id=store.pk)
    second = services.exchange_points(shopper, item.pk, request_id="b", store_id=store.pk)
    assert (first.pickup_code, second.pickup_code) == ("111111", "222222")


def test_item_opens_at_its_start_and_closes_at_its_end(shopper):
    now = timezone.now()
    item = make_coupon_item(points=10, starts_at=now, ends_at=now + timedelta(hours=1))
    assert services.exchange_points(shopper, item.pk, request_id="a", now=now).status == Status.DONE
    refused(ExchangeUnavailable,
            lambda: services.exchange_points(shopper, item.pk, request_id="b", now=now + timedelta(hours=1)), "closed")


def test_cancel_gives_back_what_was_taken_even_after_staff_edit_the_item(pickup, store, sku):
    # the exchange remembers its points and SKU: a later price or SKU change on the item must not
    # change the refund or release another SKU's stock
    other_sku = make_sku()
    stock_services.receive_stock(store, other_sku, 2)
    PointsItem.objects.filter(pk=pickup.item_id).update(points=999, sku=other_sku)
    services.cancel_exchange(pickup.pk, user=pickup.user)
    assert balance_of(pickup.user) == 1000
    assert stock_of(store, sku) == (5, 0)
    assert stock_of(store, other_sku) == (2, 0)


# --- verify_pickup ------------------------------------------------------------------------------
@pytest.fixture
def pickup(shopper, stocked):
    """An exchange awaiting pickup at `store`."""
    store, sku = stocked
    item = make_product_item(sku, points=300, quantity=3)
    return services.exchange_points(shopper, item.pk, request_id="pickup", store_id=store.pk)


def test_right_code_hands_the_unit_over(pickup, clerk, store, sku, django_capture_on_commit_callbacks):
    sales_before = Product.objects.get(pk=sku.product_id).sales_count
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        done = services.verify_pickup(store=store, code=pickup.pickup_code, by=clerk)
        assert Product.objects.get(pk=sku.product_id).sales_count == sales_before  # not before commit
    assert callbacks
    done.refresh_from_db()
    assert (done.status, done.picked_up_by) == (Status.DONE, clerk)
    assert done.picked_up_at is not None
    assert stock_of(store, sku) == (4, 0)
    sale = StockMovement.objects.get(reference=pickup.reference, reason="sale")
    assert (sale.quantity, sale.reserved_delta, sale.actor) == (-1, -1, clerk)
    assert Product.objects.get(pk=sku.product_id).sales_count == sales_before + 1
    assert balance_of(pickup.user) == 700  # points stay spent


def test_code_with_spaces_around_is_accepted(pickup, clerk, store):
    done = services.verify_pickup(store=store, code=f" {pickup.pickup_code}\n", by=clerk)
    assert done.status == Status.DONE


def test_hq_may_verify_any_store(pickup, store):
    from django.contrib.auth.models import Permission

    from tests.stores.conftest import make_hq

    hq = make_hq()
    hq.user_permissions.add(Permission.objects.get(content_type__app_label="marketing",
                                                   codename="change_pointsexchange"))
    hq = type(hq).objects.get(pk=hq.pk)
    done = services.verify_pickup(store=store, code=pickup.pickup_code, by=hq)
    assert done.status == Status.DONE


def _other_code(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.mark.parametrize("bad", ["wrong", "", None, "12345", "1234567", "12a456", "１２３４５６"])
def test_wrong_or_malformed_code_is_refused(pickup, clerk, store, bad):
    code = _other_code(pickup.pickup_code) if bad == "wrong" else bad
    refused(PickupError, lambda: services.verify_pickup(store=store, code=code, by=clerk))
    assert PointsExchange.objects.get(pk=pickup.pk).status == Status.AWAITING_PICKUP


def test_code_of_another_store_is_refused(pickup, sku):
    other = make_store(code="other-store")
    stock_services.receive_stock(other, sku, 5)
    other_clerk = make_staff(other)
    refused(PickupError, lambda: services.verify_pickup(store=other, code=pickup.pickup_code, by=other_clerk),
            "not_found")


def test_staff_of_another_store_cannot_verify(pickup, store):
    stranger = make_staff(make_store(code="elsewhere"))
    refused(PickupError, lambda: services.verify_pickup(store=store, code=pickup.pickup_code, by=stranger),
            "forbidden")


def test_non_staff_user_cannot_verify(pickup, store):
    refused(PickupError, lambda: services.verify_pickup(store=store, code=pickup.pickup_code, by=pickup.user),
            "forbidden")
    stranger = make_shopper()
    refused(PickupError, lambda: services.verify_pickup(store=store, code=pickup.pickup_code, by=stranger),
            "forbidden")


def test_overdue_pickup_is_refused(pickup, clerk, store):
    late = pickup.pickup_deadline + timedelta(seconds=1)
    refused(PickupError, lambda: services.verify_pickup(store=store, code=pickup.pickup_code, by=clerk, now=late),
            "overdue")


def test_second_verify_of_the_same_code_is_refused(pickup, clerk, store, sku):
    services.verify_pickup(store=store, code=pickup.pickup_code, by=clerk)
    refused(PickupError, lambda: services.verify_pickup(store=store, code=pickup.pickup_code, by=clerk), "not_found")
    assert stock_of(store, sku) == (4, 0)


# --- cancel_exchange ---------------------------------------------------------------------------
def test_owner_cancels_and_gets_points_stock_and_quota_back(pickup, store, sku):
    cancelled = services.cancel_exchange(pickup.pk, user=pickup.user)
    assert cancelled.status == Status.CANCELLED and cancelled.closed_at is not None
    assert balance_of(pickup.user) == 1000 == ledger_sum(pickup.user)
    refund = PointsEntry.objects.get(reference=pickup.reference, kind=PointsEntry.Kind.REFUND)
    assert refund.delta == 300
    assert stock_of(store, sku) == (5, 0)
    assert StockMovement.objects.get(reference=pickup.reference, reason="release").reserved_delta == -1
    assert PointsItem.objects.get(pk=pickup.item_id).exchanged_count == 0


def test_another_user_cannot_cancel(pickup):
    stranger = make_shopper(points=50)
    refused(ExchangeUnavailable, lambda: services.cancel_exchange(pickup.pk, user=stranger), "not_found")


@pytest.mark.parametrize("garbage", [None, "abc", -1, 10**20])
def test_cancel_with_a_garbage_id_is_refused(pickup, garbage):
    refused(ExchangeUnavailable, lambda: services.cancel_exchange(garbage, user=pickup.user), "not_found")


def test_cancel_twice_refunds_once(pickup, store, sku):
    services.cancel_exchange(pickup.pk, user=pickup.user)
    before = snapshot()
    again = services.cancel_exchange(pickup.pk, user=pickup.user)
    assert again.status == Status.CANCELLED
    assert snapshot() == before
    assert PointsEntry.objects.filter(reference=pickup.reference, kind="refund").count() == 1


def test_picked_up_exchange_cannot_be_cancelled(pickup, clerk, store):
    services.verify_pickup(store=store, code=pickup.pickup_code, by=clerk)
    refused(ExchangeUnavailable, lambda: services.cancel_exchange(pickup.pk, user=pickup.user), "not_cancellable")


def test_coupon_exchange_cannot_be_cancelled(shopper):
    exchange = services.exchange_points(shopper, make_coupon_item(points=100).pk, request_id="r")
    refused(ExchangeUnavailable, lambda: services.cancel_exchange(exchange.pk, user=shopper), "not_cancellable")


# --- expire_overdue_pickups -------------------------------------------------------------------
def test_only_overdue_pickups_expire_and_the_member_is_told_once(
    shopper, stocked, notices, django_capture_on_commit_callbacks
):
    store, sku = stocked
    item = make_product_item(sku, points=200, title="保温杯")
    now = timezone.now()
    old = services.exchange_points(shopper, item.pk, request_id="old", store_id=store.pk,
                                   now=now - timedelta(days=services.pickup_days(), seconds=1))
    fresh_owner = make_shopper(points=500)
    fresh = services.exchange_points(fresh_owner, item.pk, request_id="new", store_id=store.pk, now=now)
    assert stock_of(store, sku) == (5, 2)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_overdue_pickups(now) == 1
    statuses = dict(PointsExchange.objects.values_list("pk", "status"))
    assert statuses == {old.pk: Status.EXPIRED, fresh.pk: Status.AWAITING_PICKUP}
    assert balance_of(shopper) == 1000 == ledger_sum(shopper)
    assert balance_of(fresh_owner) == 300
    assert stock_of(store, sku) == (5, 1)
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1
    assert len(notices) == 1
    user_id, subject, body, kind = notices[0]
    assert (user_id, kind) == (shopper.pk, "points_exchange_expired")
    assert "保温杯" in body and "200" in body and subject

    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_overdue_pickups(now) == 0
    assert snapshot() == before
    assert len(notices) == 1


def test_picked_up_and_cancelled_exchanges_past_their_deadline_are_left_alone(
    stocked, clerk, notices, django_capture_on_commit_callbacks
):
    store, sku = stocked
    item = make_product_item(sku, points=100)
    picked = services.exchange_points(make_shopper(points=100), item.pk, request_id="a", store_id=store.pk)
    services.verify_pickup(store=store, code=picked.pickup_code, by=clerk)
    cancelled_owner = make_shopper(points=100)
    cancelled = services.exchange_points(cancelled_owner, item.pk, request_id="b", store_id=store.pk)
    services.cancel_exchange(cancelled.pk, user=cancelled_owner)
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_overdue_pickups(timezone.now() + timedelta(days=365)) == 0
    assert snapshot() == before
    assert notices == []


def test_nothing_is_told_before_the_expiry_commits(pickup, notices, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.expire_overdue_pickups(pickup.pickup_deadline)
    assert notices == [] and callbacks


def test_expiry_skips_an_exchange_it_cannot_close_and_goes_on(shopper, stocked, django_capture_on_commit_callbacks):
    store, sku = stocked
    item = make_product_item(sku, points=100)
    other = make_store(code="drained")
    stock_services.receive_stock(other, sku, 1)
    past = timezone.now() - timedelta(days=30)
    broken = services.exchange_points(shopper, item.pk, request_id="a", store_id=other.pk, now=past)
    fine_owner = make_shopper(points=100)
    fine = services.exchange_points(fine_owner, item.pk, request_id="b", store_id=store.pk, now=past)
    # someone released the first one's reservation outside the mall: its expiry finds no unit held
    stock_services.release_reserved(broken.reference)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_overdue_pickups() == 1
    statuses = dict(PointsExchange.objects.values_list("pk", "status"))
    assert statuses == {broken.pk: Status.AWAITING_PICKUP, fine.pk: Status.EXPIRED}
    assert balance_of(shopper) == 900 == ledger_sum(shopper)  # the failed one rolled back whole
    assert balance_of(fine_owner) == 100 == ledger_sum(fine_owner)


# --- the ledgers agree after a mixed day ------------------------------------------------------
def test_ledgers_stay_consistent_after_a_mixed_scenario(stocked, clerk, django_capture_on_commit_callbacks):
    store, sku = stocked
    product_item = make_product_item(sku, points=100, quantity=4)
    coupon_item = make_coupon_item(make_coupon(total=3), points=50)
    people = [make_shopper(points=400) for _ in range(4)]
    exchanges = [
        services.exchange_points(person, product_item.pk, request_id="p", store_id=store.pk) for person in people
    ]
    for person in people[:3]:
        services.exchange_points(person, coupon_item.pk, request_id="c")
    with pytest.raises(DomainError):
        services.exchange_points(people[3], coupon_item.pk, request_id="c")  # coupon sold out
    services.verify_pickup(store=store, code=exchanges[0].pickup_code, by=clerk)
    services.cancel_exchange(exchanges[1].pk, user=people[1])
    PointsExchange.objects.filter(pk=exchanges[2].pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.expire_overdue_pickups()

    out = StringIO()
    call_command("check_points", stdout=out)
    assert "match" in out.getvalue()
    out = StringIO()
    call_command("check_stock", stdout=out)
    assert "OK" in out.getvalue()
    assert stock_of(store, sku) == (4, 1)  # one sold, one still awaiting
    assert [balance_of(p) for p in people] == [250, 350, 350, 300]
    assert PointsItem.objects.get(pk=product_item.pk).exchanged_count == 2
    assert Coupon.objects.get(pk=coupon_item.coupon_id).issued_count == 3


def test_a_negative_balance_says_why_the_mall_refuses(store):
    from members.models import Member

    from .factories import make_coupon_item

    item = make_coupon_item(points=10)
    shopper = make_shopper(points=0)
    Member.objects.filter(user=shopper).update(points_balance=-30)
    with pytest.raises(ExchangeUnavailable) as caught:
        services.exchange_points(shopper, item.pk, request_id="neg")
    assert caught.value.code == "negative_balance" and "余额为负" in str(caught.value)
