"""Orders under real concurrency on PostgreSQL: threads with their own connections, released
together by a barrier. No oversell, paid exactly once, no deadlock between checkout, cancel,
payment, refund and the worker's sweeps (the one lock order: member -> order -> coupon copy ->
stock rows by SKU id -> quota rows)."""

import random
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import DomainError
from marketing.models import MemberCoupon
from marketing.services import issue_coupon
from members.selectors import points_mismatches
from members.services import adjust_points, ensure_default_levels
from orders import services
from orders.models import Order, PaymentAttempt, PaymentEvent, Refund
from orders.payments import dev
from orders.payments.services import start_payment
from orders.payments.views import handle_dev_notice
from stores.models import Stock
from stores.services import ledger_mismatches
from tests.marketing.factories import make_coupon

from .factories import checkout, make_order_staff, make_shopper, make_sku, make_store, pay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _levels(settings):
    settings.PAYMENT_DEV_GATEWAY = True
    ensure_default_levels()


def race(n, work):
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
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def unexpected(results):
    return [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]


def consistent():
    from orders.checks import check_orders

    assert ledger_mismatches() == []
    assert points_mismatches() == []
    assert [str(p) for p in check_orders()] == []


def test_thirty_shoppers_for_five_units_never_oversell():
    store = make_store()
    sku = make_sku(price="9.90", stock=5, store=store)
    shoppers = [make_shopper() for _ in range(30)]
    results = race(30, lambda i: checkout(shoppers[i], store, [(sku, 1)]))
    assert unexpected(results) == []
    placed = [r for r in results if isinstance(r, Order)]
    assert len(placed) == 5
    row = Stock.objects.get(store=store, sku=sku)
    assert (row.on_hand, row.reserved) == (5, 5)
    consistent()


def test_baskets_of_shared_skus_listed_in_any_order_never_oversell_nor_deadlock():
    store = make_store()
    skus = [make_sku(price="9.90", stock=6, store=store) for _ in range(3)]
    shoppers = [make_shopper() for _ in range(20)]

    def basket(i):  # each shopper lists the SKUs in another order, one to three of them
        ordered = skus[i % 3:] + skus[:i % 3]
        return [(sku, 1 + (i + k) % 2) for k, sku in enumerate(ordered[:1 + i % 3])]

    results = race(20, lambda i: checkout(shoppers[i], store, basket(i)))
    assert unexpected(results) == []
    placed = [r for r in results if isinstance(r, Order)]
    assert placed and len(placed) < 20
    for sku in skus:
        row = Stock.objects.get(store=store, sku=sku)
        sold = sum(line.quantity for order in placed for line in order.lines.all() if line.sku_id == sku.pk)
        assert row.on_hand == 6 and row.reserved == sold <= 6
    consistent()


def test_one_checkout_page_submitted_from_ten_tabs_is_one_order():
    store = make_store()
    sku = make_sku(stock=10, store=store)
    shopper = make_shopper()
    token = uuid.uuid4().hex
    results = race(10, lambda i: checkout(shopper, store, [(sku, 2)], token=token))
    assert unexpected(results) == []
    assert len({r.pk for r in results if isinstance(r, Order)}) == 1 and Order.objects.count() == 1
    assert Stock.objects.get(store=store, sku=sku).reserved == 2


def test_one_coupon_on_five_concurrent_orders_is_used_once():
    store = make_store()
    sku = make_sku(price="50.00", stock=20, store=store)
    shopper = make_shopper()
    copy = issue_coupon(shopper, make_coupon(amount="10.00", threshold="30.00"), source=MemberCoupon.Source.GRANT)
    results = race(5, lambda i: checkout(shopper, store, [(sku, 1)], coupon=str(copy.pk)))
    placed = [r for r in results if isinstance(r, Order)]
    assert unexpected(results) == []
    assert len(placed) == 1 and placed[0].coupon_discount == 10
    consistent()


def test_twenty_copies_of_one_notice_mark_paid_once_with_one_event():
    store = make_store()
    sku = make_sku(stock=5, store=store)
    shopper = make_shopper()
    order = checkout(shopper, store, [(sku, 1)])
    attempt = start_payment(order, user=shopper, channel="dev")
    body, signature = dev.make_notice(attempt)
    results = race(20, lambda i: handle_dev_notice(body, signature))
    assert unexpected(results) == []
    outcomes = sorted(r[1]["result"] for r in results)
    assert outcomes.count("paid") == 1 and outcomes.count("duplicate") == 19
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED).count() == 1
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.NOTIFIED).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.events.filter(to_status="paid").count() == 1


@pytest.mark.parametrize("seed", range(4))
def test_a_notice_racing_the_auto_cancel_is_paid_or_refunded_never_both_nor_neither(seed):
    store = make_store()
    sku = make_sku(stock=5, store=store)
    shopper = make_shopper()
    order = checkout(shopper, store, [(sku, 1)])
    attempt = start_payment(order, user=shopper, channel="dev")
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    body, signature = dev.make_notice(attempt)
    work = [lambda: handle_dev_notice(body, signature), lambda: services.cancel_overdue_orders()]
    random.Random(seed).shuffle(work)
    results = race(2, lambda i: work[i]())
    assert unexpected(results) == []
    order.refresh_from_db()
    refunds = list(Refund.objects.filter(order=order))
    if order.status == Order.Status.PAID:
        assert refunds == [] and Stock.objects.get(store=store, sku=sku).reserved == 1
    else:
        assert order.status == Order.Status.CANCELLED
        assert len(refunds) == 1 and refunds[0].state == Refund.State.SUCCEEDED
        assert refunds[0].amount_fen == attempt.amount_fen
        assert Stock.objects.get(store=store, sku=sku).reserved == 0
    consistent()


def test_checkout_cancel_pay_refund_and_sweeps_together_never_deadlock():
    """A mixed crowd on overlapping SKUs, each shopper's own orders moving at the same time as the
    worker's sweeps: everything either happens or is refused cleanly, and every ledger adds up."""
    store = make_store()
    skus = [make_sku(price=f"{10 + i}.00", stock=40, store=store) for i in range(6)]
    manager = make_order_staff(store)
    shoppers = [make_shopper() for _ in range(8)]
    for shopper in shoppers:
        adjust_points(shopper, 2000, "测试", None)
    # some paid orders to refund and some pending ones to cancel, made beforehand
    paid = []
    pending = []
    for i, shopper in enumerate(shoppers):
        order = checkout(shopper, store, [(skus[i % 6], 1), (skus[(i + 3) % 6], 2)], use_points=True)
        pay(order)
        paid.append(order)
        pending.append(checkout(shopper, store, [(skus[(i + 1) % 6], 1), (skus[(i + 4) % 6], 1)]))
    Order.objects.filter(pk__in=[o.pk for o in pending[::2]]).update(
        pay_deadline=timezone.now() - timedelta(seconds=1)
    )

    def work(i):
        rng = random.Random(i)
        shopper = shoppers[i % 8]
        kind = i % 5
        if kind == 0:  # a new multi-line order, lines in random order
            lines = rng.sample(skus, 3)
            return checkout(shopper, store, [(s, rng.randint(1, 3)) for s in lines], use_points=rng.random() < 0.5)
        if kind == 1:
            return services.cancel_order(pending[i % 8], by=pending[i % 8].user)
        if kind == 2:
            return services.staff_cancel_paid_order(paid[i % 8], by=manager, reason="缺货")
        if kind == 3:
            return pay(pending[(i + 1) % 8])
        return services.cancel_overdue_orders()

    results = race(30, work)
    assert unexpected(results) == [], unexpected(results)
    assert Refund.objects.exclude(state=Refund.State.SUCCEEDED).count() == 0
    consistent()
    for row in Stock.objects.filter(store=store):
        assert 0 <= row.reserved <= row.on_hand
    assert PaymentAttempt.objects.filter(is_order_payment=True).count() == Order.objects.filter(
        paid_at__isnull=False).count()
