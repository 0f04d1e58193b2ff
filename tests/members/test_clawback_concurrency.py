"""Refund claw-backs under real concurrency (PostgreSQL, one connection per thread)."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum

from members import services
from members.models import GrowthEntry, Member, PointsEntry

from .factories import make_member
from .test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDER = "order:RACE1"


@pytest.fixture(autouse=True)
def _one_point_per_yuan(settings):
    settings.POINTS_PER_YUAN_EARNED = 1
    settings.GROWTH_PER_YUAN = 1


def _ledgers(member):
    row = Member.objects.values("points_balance", "growth").get(pk=member.pk)
    points = PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0
    growth = GrowthEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0
    return row["points_balance"], points, row["growth"], growth


def _clawback(member_pk, n, refunded="100.00"):
    return services.clawback_for_refund(
        Member.objects.get(pk=member_pk),
        ORDER,
        refund_reference=f"{ORDER}:refund:{n}",
        refunded_total=Decimal(refunded),
        paid_amount=Decimal("100.00"),
    )


def test_ten_concurrent_retries_of_one_refund_take_the_points_once():
    member = make_member(points=7)
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"), multiplier=Decimal("1.50"))
    results = _race(10, lambda i: _clawback(member.pk, 1, "60.00"))
    assert results == [(90, 60)] * 10, results
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.CLAWBACK).count() == 1
    assert GrowthEntry.objects.filter(member=member, delta__lt=0).count() == 1
    assert _ledgers(member) == (157 - 90, 157 - 90, 40, 40)


def test_concurrent_different_refunds_of_one_order_never_take_more_than_it_earned():
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    results = _race(6, lambda i: _clawback(member.pk, i, "100.00"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [(0, 0)] * 5 + [(100, 100)]
    assert _ledgers(member) == (0, 0, 0, 0)


def test_a_clawback_racing_spends_loses_no_update_and_the_ledger_sums():
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))

    def work(i):
        if i == 0:
            return _clawback(member.pk, 1)
        return services.spend_points(
            Member.objects.get(pk=member.pk), 60, PointsEntry.Kind.CHECKOUT, f"order:SPEND{i}"
        )

    results = _race(5, work)
    assert results[0] == (100, 100), results
    spent = [r for r in results[1:] if isinstance(r, PointsEntry)]
    refused = [r for r in results[1:] if isinstance(r, services.InsufficientPoints)]
    assert len(spent) + len(refused) == 4, results
    assert len(spent) <= 1  # 100 points cover one spend of 60, and only before the claw-back
    balance, ledger, growth, growth_ledger = _ledgers(member)
    assert balance == ledger == 100 - 100 - 60 * len(spent)
    assert growth == growth_ledger == 0
    # no entry but the claw-back ever ended below zero
    assert (
        not PointsEntry.objects.filter(member=member, balance_after__lt=0)
        .exclude(kind=PointsEntry.Kind.CLAWBACK)
        .exists()
    )


def test_a_clawback_under_the_callers_member_lock_racing_retries_takes_once():
    """Orders take the member lock first, then call the claw-back in the same transaction."""
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))

    def work(i):
        with transaction.atomic():
            locked = Member.objects.select_for_update().get(pk=member.pk)
            return services.clawback_for_refund(
                locked,
                ORDER,
                refund_reference=f"{ORDER}:refund:1",
                refunded_total=Decimal("50.00"),
                paid_amount=Decimal("100.00"),
            )

    results = _race(8, work)
    assert results == [(50, 50)] * 8, results
    assert _ledgers(member) == (50, 50, 50, 50)
