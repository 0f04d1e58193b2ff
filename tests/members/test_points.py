from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from members import services
from members.models import Member, PointsEntry

from .factories import make_member

pytestmark = pytest.mark.django_db


def ledger_sum(member):
    return PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0


def balance(member):
    return Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)


def test_new_user_gets_a_member_profile_at_the_lowest_level():
    member = make_member()
    assert member.level.rank == 0
    assert member.points_balance == 0
    assert member.source == Member.Source.PHONE


def test_earn_is_idempotent_by_reference():
    member = make_member()
    first = services.earn_points(member, 30, PointsEntry.Kind.REVIEW, "review-1")
    again = services.earn_points(member, 30, PointsEntry.Kind.REVIEW, "review-1")
    assert first.pk == again.pk
    assert balance(member) == 30 == ledger_sum(member)


def test_spend_more_than_balance_changes_nothing():
    member = make_member(points=100)
    with pytest.raises(services.InsufficientPoints):
        services.spend_points(member, 101, PointsEntry.Kind.EXCHANGE, "x-1")
    assert balance(member) == 100
    assert PointsEntry.objects.filter(member=member).count() == 1


def test_spend_writes_a_ledger_row_with_balance_after():
    member = make_member(points=100)
    entry = services.spend_points(member, 40, PointsEntry.Kind.CHECKOUT, "order-1")
    assert entry.delta == -40 and entry.balance_after == 60
    assert balance(member) == 60 == ledger_sum(member)
    # the same order spending again is the same spend, not a second one
    assert services.spend_points(member, 40, PointsEntry.Kind.CHECKOUT, "order-1").pk == entry.pk
    assert balance(member) == 60


@pytest.mark.parametrize("amount", [0, -5, "10", 1.5, True])
def test_spend_refuses_non_positive_or_non_integer_amounts(amount):
    member = make_member(points=100)
    with pytest.raises(services.InvalidPoints):
        services.spend_points(member, amount, PointsEntry.Kind.EXCHANGE, "x")
    assert balance(member) == 100


def test_adjust_requires_a_reason_and_is_written_to_the_ledger():
    member = make_member()
    with pytest.raises(services.ReasonRequired):
        services.adjust_points(member, 50, "  ", None)
    assert balance(member) == 0
    entry = services.adjust_points(member, 50, "客服补偿", member.user)
    assert entry.kind == PointsEntry.Kind.ADJUST and entry.reason == "客服补偿" and entry.actor == member.user


def test_negative_adjustment_past_zero_is_refused():
    member = make_member(points=30)
    with pytest.raises(services.InsufficientPoints):
        services.adjust_points(member, -31, "扣回", None)
    assert balance(member) == 30 == ledger_sum(member)
    services.adjust_points(member, -30, "扣回", None)
    assert balance(member) == 0


def test_sign_in_once_per_day_with_streak_bonus(settings):
    settings.SIGN_IN_BASE_POINTS = 5
    settings.SIGN_IN_STREAK_BONUS = 1
    settings.SIGN_IN_STREAK_BONUS_MAX = 2
    member = make_member()
    day = date(2026, 3, 1)
    results = [services.sign_in(member, day + timedelta(days=i)) for i in range(4)]
    assert [r.points for r in results] == [5, 6, 7, 7]
    assert [r.streak for r in results] == [1, 2, 3, 4]
    again = services.sign_in(member, day + timedelta(days=3))
    assert not again.created and again.entry.pk == results[-1].entry.pk
    # a missed day restarts the streak
    assert services.sign_in(member, day + timedelta(days=6)).streak == 1
    assert balance(member) == 5 + 6 + 7 + 7 + 5 == ledger_sum(member)


def test_share_points_stop_at_the_daily_cap(settings):
    settings.SHARE_POINTS = 2
    settings.SHARE_DAILY_CAP = 2
    member = make_member()
    today = timezone.localdate()
    awarded = [services.award_share(member, f"share-{i}", today) for i in range(4)]
    assert [bool(a) for a in awarded] == [True, True, False, False]
    assert balance(member) == 4


def test_review_points_once_per_review(settings):
    settings.REVIEW_POINTS = 10
    member = make_member()
    services.award_review(member, "r1")
    services.award_review(member, "r1")
    services.award_review(member, "r2")
    assert balance(member) == 20


def test_checkout_quote_applies_rate_and_max_share(settings):
    settings.POINTS_PER_YUAN_DEDUCTION = 100
    settings.POINTS_MAX_DEDUCTION_RATIO = "0.5"
    member = make_member(points=10_000)
    quote = services.quote_checkout_deduction(member, Decimal("30.00"))
    assert (quote.points, quote.amount) == (1500, Decimal("15.00"))
    quote = services.quote_checkout_deduction(member, Decimal("30.00"), requested_points=250)
    assert (quote.points, quote.amount) == (250, Decimal("2.50"))
    with pytest.raises(services.InsufficientPoints):
        services.quote_checkout_deduction(member, Decimal("30.00"), requested_points=10_001)
    with pytest.raises(services.InvalidPoints):
        services.quote_checkout_deduction(member, Decimal("30.00"), requested_points=-1)


def test_checkout_quote_reads_the_balance_again_unless_the_caller_just_did(settings, django_assert_num_queries):
    settings.POINTS_PER_YUAN_DEDUCTION = 100
    settings.POINTS_MAX_DEDUCTION_RATIO = "0.5"
    member = make_member(points=1000)
    services.adjust_points(member.user, 500, "测试", None)  # the row in hand still says 1000
    with django_assert_num_queries(1):
        assert services.quote_checkout_deduction(member, Decimal("100.00")).points == 1500
    member = Member.objects.get(pk=member.pk)  # what a checkout reads (or locks) in its request
    with django_assert_num_queries(0):
        assert services.quote_checkout_deduction(member, Decimal("100.00"), balance_read=True).points == 1500


def test_checkout_quote_never_charges_points_for_a_fraction_of_a_fen(settings):
    settings.POINTS_PER_YUAN_DEDUCTION = 150
    member = make_member(points=1000)
    quote = services.quote_checkout_deduction(member, Decimal("100.00"), requested_points=151)
    assert quote.amount == Decimal("1.00") and quote.points == 150


def test_completed_order_earns_points_times_level_multiplier_once(settings):
    settings.POINTS_PER_YUAN_EARNED = 1
    member = make_member()
    services.change_level(member, member.level.__class__.objects.get(rank=2), "测试", None)  # x1.5
    entry = services.earn_for_completed_order(member, "order:SO1", Decimal("99.99"))
    assert entry.delta == 149  # floor(99.99 * 1.5 = 149.985)
    services.earn_for_completed_order(member, "order:SO1", Decimal("99.99"))
    member.refresh_from_db()
    assert member.points_balance == 149 and member.growth == 99
    # points and growth carry the order's reference verbatim
    assert entry.reference == "order:SO1"
    assert list(member.growth_entries.values_list("reference", flat=True)) == ["order:SO1"]


def test_check_points_command_reports_mismatches():
    member = make_member(points=10)
    call_command("check_points")
    Member.objects.filter(pk=member.pk).update(points_balance=11)  # simulate corruption
    with pytest.raises(CommandError):
        call_command("check_points")


def test_balance_equals_ledger_after_a_mix_of_operations():
    members = [make_member(points=100) for _ in range(3)]
    for i, member in enumerate(members):
        services.sign_in(member)
        services.spend_points(member, 10 + i, PointsEntry.Kind.EXCHANGE, f"ex-{i}")
        services.refund_points(member, 5, f"rf-{i}")
        services.earn_for_completed_order(member, f"order:o-{i}", "12.30")
    for member in members:
        assert balance(member) == ledger_sum(member)
    from members.selectors import points_mismatches

    assert points_mismatches() == []
