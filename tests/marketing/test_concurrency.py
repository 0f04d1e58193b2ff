"""Coupons and the points mall under real concurrency: threads, each with its own PostgreSQL
connection, released together by a barrier (REFERENCE.md: "a coupon with total 1 claimed 9 times
by 64 concurrent requests", "one coupon used on 5 concurrent orders")."""

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.db.models import Sum
from django.utils import timezone

from core.errors import DomainError
from marketing import services
from marketing.errors import CouponUnavailable, ExchangeUnavailable, PickupError
from marketing.models import Coupon, MemberCoupon, PointsExchange, PointsItem
from members.models import PointsEntry
from members.selectors import points_mismatches
from members.services import ensure_default_levels
from stores import services as stock_services
from stores.services import ledger_mismatches

from .conftest import balance_of, make_shopper, make_sku, make_staff, make_store, stock_of
from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
Status = PointsExchange.Status


@pytest.fixture(autouse=True)
def _levels():
    ensure_default_levels()  # an earlier transactional test flushed the data migration's levels


def race(n, work):
    """Run work(0..n-1) in n threads started together; each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def unexpected(results, *allowed):
    """Exceptions other than the allowed refusals (a deadlock, an IntegrityError, a 500)."""
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, allowed)]


def ledgers_consistent():
    assert points_mismatches() == []
    assert ledger_mismatches() == []


# (a) -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["coupon", "product"])
def test_last_mall_item_raced_by_twenty_members_goes_to_exactly_one(kind):
    if kind == "coupon":
        item = make_coupon_item(make_coupon(total=None), points=100, quantity=1)
        store_id = None
    else:
        store, sku = make_store(), make_sku()
        stock_services.receive_stock(store, sku, 10)
        item = make_product_item(sku, points=100, quantity=1)
        store_id = store.pk
    people = [make_shopper(points=300) for _ in range(20)]

    results = race(20, lambda i: services.exchange_points(people[i], item.pk, request_id=f"r{i}", store_id=store_id))

    won = [r for r in results if isinstance(r, PointsExchange)]
    assert len(won) == 1, results
    assert not unexpected(results, ExchangeUnavailable), results
    assert all(r.code == "sold_out" for r in results if isinstance(r, ExchangeUnavailable))
    assert PointsExchange.objects.count() == 1
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1
    balances = sorted(balance_of(p) for p in people)
    assert balances == [200] + [300] * 19
    assert balance_of(won[0].user) == 200
    if kind == "product":
        assert stock_of(store, sku) == (10, 1)
    else:
        assert MemberCoupon.objects.count() == 1
    ledgers_consistent()


def test_last_coupon_behind_an_unlimited_mall_item_goes_to_one_and_the_rest_keep_their_points():
    item = make_coupon_item(make_coupon(total=1), points=100, quantity=None)
    people = [make_shopper(points=100) for _ in range(20)]

    results = race(20, lambda i: services.exchange_points(people[i], item.pk, request_id=f"r{i}"))

    assert len([r for r in results if isinstance(r, PointsExchange)]) == 1, results
    assert not unexpected(results, CouponUnavailable), results
    assert sorted(balance_of(p) for p in people) == [0] + [100] * 19
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1
    assert PointsExchange.objects.count() == 1 == MemberCoupon.objects.count()
    ledgers_consistent()


# (b) -------------------------------------------------------------------------------------------
def test_coupon_with_total_one_claimed_by_64_concurrent_shoppers_is_issued_once():
    coupon = make_coupon(total=1, claimable=True)
    people = [make_shopper() for _ in range(64)]

    results = race(64, lambda i: services.claim_coupon(people[i], coupon.pk))

    assert len([r for r in results if isinstance(r, MemberCoupon)]) == 1, results
    assert not unexpected(results, CouponUnavailable), results
    assert MemberCoupon.objects.filter(coupon=coupon).count() == 1
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 1


def test_one_shopper_claiming_from_many_tabs_at_once_gets_the_per_member_limit():
    coupon = make_coupon(total=100, claimable=True, per_member_limit=2)
    shopper = make_shopper()

    results = race(10, lambda i: services.claim_coupon(shopper, coupon.pk))

    assert len([r for r in results if isinstance(r, MemberCoupon)]) == 2, results
    assert not unexpected(results, CouponUnavailable), results
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 2 == MemberCoupon.objects.filter(user=shopper).count()


def test_the_same_grant_sent_concurrently_for_the_last_copy_issues_it_once():
    coupon = make_coupon(total=1)
    shopper = make_shopper()

    results = race(
        8, lambda i: services.issue_coupon(shopper, coupon, source=MemberCoupon.Source.REWARD, reference="invite:1")
    )

    assert MemberCoupon.objects.count() == 1
    assert Coupon.objects.get(pk=coupon.pk).issued_count == 1
    copy = MemberCoupon.objects.get()
    assert all(isinstance(r, MemberCoupon) and r.pk == copy.pk for r in results), results


# (c) -------------------------------------------------------------------------------------------
def test_one_member_with_points_for_one_exchange_submitting_ten_forms_at_once_exchanges_once():
    item = make_coupon_item(make_coupon(total=None), points=100)
    shopper = make_shopper(points=100)

    results = race(10, lambda i: services.exchange_points(shopper, item.pk, request_id=f"tab-{i}"))

    assert len([r for r in results if isinstance(r, PointsExchange)]) == 1, results
    assert not unexpected(results, ExchangeUnavailable), results
    assert balance_of(shopper) == 0
    entries = PointsEntry.objects.filter(member__user=shopper)
    assert entries.filter(balance_after__lt=0).count() == 0
    assert entries.aggregate(s=Sum("delta"))["s"] == 0
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1
    ledgers_consistent()


# (d) -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["coupon", "product"])
def test_the_same_form_submitted_ten_times_at_once_exchanges_once(kind):
    shopper = make_shopper(points=1000)
    if kind == "coupon":
        item, store_id = make_coupon_item(points=100), None
    else:
        store, sku = make_store(), make_sku()
        stock_services.receive_stock(store, sku, 5)
        item, store_id = make_product_item(sku, points=100), store.pk

    results = race(10, lambda i: services.exchange_points(shopper, item.pk, request_id="form-1", store_id=store_id))

    assert not unexpected(results), results
    assert len({r.pk for r in results}) == 1
    assert PointsExchange.objects.count() == 1
    assert balance_of(shopper) == 900
    assert PointsEntry.objects.filter(member__user=shopper, kind=PointsEntry.Kind.EXCHANGE).count() == 1
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 1
    if kind == "product":
        assert stock_of(store, sku) == (5, 1)
    ledgers_consistent()


# (e) -------------------------------------------------------------------------------------------
def test_one_coupon_used_by_five_concurrent_orders_goes_to_one():
    shopper = make_shopper()
    copy = services.issue_coupon(shopper, make_coupon(), source=MemberCoupon.Source.GRANT)

    results = race(5, lambda i: services.use_coupon(MemberCoupon.objects.get(pk=copy.pk), reference=f"order:{i}"))

    won = [i for i, r in enumerate(results) if isinstance(r, MemberCoupon)]
    assert len(won) == 1, results
    assert not unexpected(results, CouponUnavailable), results
    copy.refresh_from_db()
    assert (copy.status, copy.used_reference) == (MemberCoupon.Status.USED, f"order:{won[0]}")


# (f) -------------------------------------------------------------------------------------------
def test_cancel_racing_pickup_verification_one_of_them_wins_each_round():
    store, sku = make_store(), make_sku()
    stock_services.receive_stock(store, sku, 50)
    clerk = make_staff(store)
    item = make_product_item(sku, points=100)
    outcomes = {"cancelled": 0, "done": 0}
    rounds = 15
    for n in range(rounds):
        shopper = make_shopper(points=100)
        exchange = services.exchange_points(shopper, item.pk, request_id=f"round-{n}", store_id=store.pk)

        def work(i, exchange=exchange, shopper=shopper):
            if i == 0:
                return services.cancel_exchange(exchange.pk, user=shopper)
            return services.verify_pickup(store=store, code=exchange.pickup_code, by=clerk)

        results = race(2, work)
        assert not unexpected(results, ExchangeUnavailable, PickupError), results
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1, results
        exchange.refresh_from_db()
        assert exchange.status in (Status.CANCELLED, Status.DONE)
        if exchange.status == Status.CANCELLED:
            assert isinstance(errors[0], PickupError)
            assert balance_of(shopper) == 100
            outcomes["cancelled"] += 1
        else:
            assert isinstance(errors[0], ExchangeUnavailable) and errors[0].code == "not_cancellable"
            assert balance_of(shopper) == 0
            outcomes["done"] += 1
    assert sum(outcomes.values()) == rounds
    on_hand, reserved = stock_of(store, sku)
    assert (on_hand, reserved) == (50 - outcomes["done"], 0)
    ledgers_consistent()


def test_two_expiry_runs_at_once_refund_each_exchange_once():
    store, sku = make_store(), make_sku()
    stock_services.receive_stock(store, sku, 10)
    item = make_product_item(sku, points=100)
    past = timezone.now() - timedelta(days=30)
    people = [make_shopper(points=100) for _ in range(6)]
    for n, person in enumerate(people):
        services.exchange_points(person, item.pk, request_id=f"r{n}", store_id=store.pk, now=past)

    results = race(3, lambda i: services.expire_overdue_pickups())

    assert not unexpected(results), results
    assert sum(results) == 6
    assert PointsExchange.objects.filter(status=Status.EXPIRED).count() == 6
    assert [balance_of(p) for p in people] == [100] * 6
    assert PointsEntry.objects.filter(kind=PointsEntry.Kind.REFUND).count() == 6
    assert stock_of(store, sku) == (10, 0)
    ledgers_consistent()


# (g) -------------------------------------------------------------------------------------------
def test_exchanges_cancellations_and_pickups_of_one_item_at_one_store_never_deadlock():
    store, sku = make_store(), make_sku()
    stock_services.receive_stock(store, sku, 100)
    clerk = make_staff(store)
    item = make_product_item(sku, points=100, quantity=60)
    holders = [make_shopper(points=100) for _ in range(16)]
    held = [services.exchange_points(p, item.pk, request_id="first", store_id=store.pk) for p in holders]
    newcomers = [make_shopper(points=300) for _ in range(16)]

    def work(i):
        if i < 16:
            return services.exchange_points(newcomers[i], item.pk, request_id=f"new-{i}", store_id=store.pk)
        if i < 28:
            j = i - 16
            return services.cancel_exchange(held[j].pk, user=holders[j])
        j = i - 16
        return services.verify_pickup(store=store, code=held[j].pickup_code, by=clerk)

    results = race(32, work)

    assert not [r for r in results if isinstance(r, OperationalError)], results
    assert not unexpected(results), results
    open_count = PointsExchange.objects.filter(status=Status.AWAITING_PICKUP).count()
    done_count = PointsExchange.objects.filter(status=Status.DONE).count()
    assert (open_count, done_count) == (16, 4)
    assert stock_of(store, sku) == (100 - done_count, open_count)
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == open_count + done_count
    ledgers_consistent()


def test_refusal_under_concurrency_leaves_no_trace():
    # 12 members race for 3 units at a store (item quota unlimited): 3 win, 9 are refused for stock
    store, sku = make_store(), make_sku()
    stock_services.receive_stock(store, sku, 3)
    item = make_product_item(sku, points=100)
    people = [make_shopper(points=100) for _ in range(12)]

    results = race(12, lambda i: services.exchange_points(people[i], item.pk, request_id="r", store_id=store.pk))

    assert len([r for r in results if isinstance(r, PointsExchange)]) == 3, results
    assert not unexpected(results, DomainError), results
    assert all(r.code == "insufficient_stock" for r in results if isinstance(r, DomainError))
    assert sorted(balance_of(p) for p in people) == [0] * 3 + [100] * 9
    assert PointsItem.objects.get(pk=item.pk).exchanged_count == 3
    assert stock_of(store, sku) == (3, 3)
    ledgers_consistent()
