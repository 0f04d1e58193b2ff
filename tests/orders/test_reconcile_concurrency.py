"""Reconciliation under real concurrency on PostgreSQL (threads with their own connections,
released together by a barrier): runs of one day take turns on the day's row, so the day ends with
the differences of exactly one comparison, never a mix or a double; staff clicking 对账 at once
start one run."""

import threading

import pytest
from django.db import connection

from orders.models import ReconciliationDay, ReconciliationDifference, ReconciliationRun
from orders.payments.reconcile import ReconcileError, reconcile_day, request_reconciliation

from .backoffice_support import make_hq
from .reconcile_support import (
    BILLS,
    DAY,
    after_ready,
    at,
    bill_payment,
    paid_attempt,
    pending_attempt,
    tea_for,
    use_fake_gateways,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def gateways(settings):
    settings.PAYMENT_DEV_GATEWAY = True
    use_fake_gateways(settings)


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


@pytest.fixture
def day_with_differences(store, shopper):
    sku = tea_for(store)
    paid = [paid_attempt(shopper, store, sku, "wechat_native", when=at(DAY, 9 + n)) for n in range(3)]
    unknown = pending_attempt(shopper, store, sku, "alipay_wap")
    # one amount differs, one missing there, one missing here
    BILLS["wechat"] = {DAY: [bill_payment(paid[0], fen=1), bill_payment(paid[1])]}
    BILLS["alipay"] = {DAY: [bill_payment(unknown)]}
    return paid


def test_eight_runs_of_one_day_at_once_leave_one_comparison(day_with_differences):
    results = race(8, lambda i: reconcile_day(DAY, now=after_ready(DAY)))
    assert all(isinstance(r, ReconciliationRun) for r in results), results
    assert {r.differences for r in results} == {3}
    found = list(ReconciliationDifference.objects.filter(day=DAY))
    assert len(found) == 3
    assert len({d.run_id for d in found}) == 1  # all of one run: the last to take the day's row
    state = ReconciliationDay.objects.get(day=DAY)
    assert state.differences == 3 and state.status == ReconciliationRun.Status.DIFFERENCES
    assert ReconciliationRun.objects.filter(day=DAY).count() == 8


def test_ten_clicks_on_the_button_at_once_start_one_run(day_with_differences):
    hq = make_hq()

    def click(_i):
        try:
            request_reconciliation(DAY, by=hq)
        except ReconcileError as exc:
            return exc.code
        return "started"

    results = race(10, click)
    assert sorted(results) == ["started"] + ["too_soon"] * 9, results
    run = ReconciliationRun.objects.get(day=DAY)  # the worker ran once (eager in the tests)
    assert run.trigger == ReconciliationRun.Trigger.STAFF and run.requested_by_id == hq.pk
    assert ReconciliationDifference.objects.filter(day=DAY).count() == 3
