"""Points spending under real concurrency (PostgreSQL, one connection per thread)."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from members import services
from members.models import Member, PointsEntry

from .factories import make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(n, work):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _balance_and_ledger(member):
    balance = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    ledger = PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"]
    return balance, ledger


def test_twenty_concurrent_spends_of_100_from_1000_points_all_fit_exactly_once():
    member = make_member(points=1000)
    results = _race(
        20,
        lambda i: services.spend_points(
            Member.objects.get(pk=member.pk), 100, PointsEntry.Kind.EXCHANGE, f"ex-{i}"
        ),
    )
    ok = [r for r in results if isinstance(r, PointsEntry)]
    refused = [r for r in results if isinstance(r, services.InsufficientPoints)]
    assert len(ok) == 10 and len(refused) == 10, results
    assert _balance_and_ledger(member) == (0, 0)
    assert sorted(e.balance_after for e in ok) == list(range(0, 1000, 100))


def test_two_concurrent_spends_of_the_whole_balance_only_one_succeeds():
    member = make_member(points=500)
    results = _race(
        2,
        lambda i: services.spend_points(
            Member.objects.get(pk=member.pk), 500, PointsEntry.Kind.CHECKOUT, f"order-{i}"
        ),
    )
    assert sum(isinstance(r, PointsEntry) for r in results) == 1, results
    assert sum(isinstance(r, services.InsufficientPoints) for r in results) == 1
    assert _balance_and_ledger(member) == (0, 0)


def test_concurrent_sign_ins_on_the_same_day_award_once():
    member = make_member()
    results = _race(8, lambda i: services.sign_in(Member.objects.get(pk=member.pk)))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.created for r in results) == 1
    balance, ledger = _balance_and_ledger(member)
    assert balance == ledger == results[0].points


def test_same_order_completion_twice_concurrently_earns_once():
    member = make_member()
    results = _race(
        6, lambda i: services.earn_for_completed_order(Member.objects.get(pk=member.pk), "order:SO-1", "100.00")
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    member.refresh_from_db()
    assert member.points_balance == 100 and member.growth == 100
    assert _balance_and_ledger(member) == (100, 100)
