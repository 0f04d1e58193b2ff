"""What orders call: earning on completion (by the order's reference, with the multiplier snapshotted
at payment), the level readers, and the claw-back of points and growth when an order is refunded."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum

from members import services
from members.models import GrowthEntry, LevelChange, Member, MemberLevel, PointsEntry
from members.selectors import level_discount_percent, level_multiplier, points_mismatches

from .factories import make_member

pytestmark = pytest.mark.django_db

ORDER = "order:SO100"


def state(member):
    """(balance, growth, level id) read fresh, and the ledgers' sums checked against them."""
    row = Member.objects.values("points_balance", "growth", "level_id").get(pk=member.pk)
    ledger = PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0
    growth = GrowthEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0
    assert row["points_balance"] == ledger, "balance != sum of the points ledger"
    assert row["growth"] == growth, "growth != sum of the growth ledger"
    return row["points_balance"], row["growth"], row["level_id"]


def refund(member, n, refunded, paid="100.00", order=ORDER):
    return services.clawback_for_refund(
        member,
        order,
        refund_reference=f"{order}:refund:{n}",
        refunded_total=Decimal(refunded),
        paid_amount=Decimal(paid),
    )


@pytest.fixture
def settings_1x(settings):
    settings.POINTS_PER_YUAN_EARNED = 1
    settings.GROWTH_PER_YUAN = 1
    return settings


# --- earning ----------------------------------------------------------------------------------
def test_points_and_growth_are_earned_under_the_orders_reference_verbatim(settings_1x):
    member = make_member()
    entry = services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    assert (entry.kind, entry.reference, entry.delta) == (PointsEntry.Kind.PURCHASE, ORDER, 100)
    assert list(GrowthEntry.objects.filter(member=member).values_list("reference", "delta")) == [(ORDER, 100)]
    assert "SO100" in entry.reason and "order:" not in entry.reason  # the shopper reads the order number


def test_the_multiplier_snapshotted_at_payment_wins_over_the_current_level(settings_1x):
    member = make_member()  # 普通会员, x1.00 now
    entry = services.earn_for_completed_order(member, ORDER, Decimal("100.00"), multiplier=Decimal("1.50"))
    assert entry.delta == 150
    assert state(member)[:2] == (150, 100)  # growth does not multiply


def test_no_multiplier_means_the_current_levels():
    member = make_member()
    services.change_level(member, MemberLevel.objects.get(rank=3), "测试", None)  # x2.00
    assert services.earn_for_completed_order(member, ORDER, Decimal("10.00")).delta == 20


@pytest.mark.parametrize("bad", [1.5, True, "abc", "NaN", Decimal("-1"), Decimal("Infinity")])
def test_a_bad_multiplier_is_refused_and_nothing_is_earned(bad):
    member = make_member()
    with pytest.raises(services.InvalidPoints) as info:
        services.earn_for_completed_order(member, ORDER, Decimal("10.00"), multiplier=bad)
    assert info.value.code == "invalid_multiplier"
    assert state(member)[:2] == (0, 0)


def test_completion_twice_earns_once(settings_1x):
    member = make_member()
    first = services.earn_for_completed_order(member, ORDER, "88.00", multiplier=Decimal("1.00"))
    again = services.earn_for_completed_order(member, ORDER, "88.00", multiplier=Decimal("2.00"))
    assert first.pk == again.pk
    assert state(member)[:2] == (88, 88)


def test_level_readers_give_decimals_and_neutral_values_without_a_level():
    member = make_member()
    services.change_level(member, MemberLevel.objects.get(rank=2), "测试", None)
    assert level_multiplier(member) == Decimal("1.50") and isinstance(level_multiplier(member), Decimal)
    assert level_discount_percent(member) == Decimal("95.00")
    assert level_multiplier(member.user) == Decimal("1.50")  # a User works too
    Member.objects.filter(pk=member.pk).update(level=None)
    assert level_multiplier(member) == Decimal("1.00")
    assert level_discount_percent(member) == Decimal("100.00")


def test_level_readers_read_the_database_not_a_stale_instance(django_assert_num_queries):
    member = make_member()
    Member.objects.filter(pk=member.pk).update(level=MemberLevel.objects.get(rank=3))
    with django_assert_num_queries(1):
        assert level_multiplier(member) == Decimal("2.00")
    with django_assert_num_queries(1):
        assert level_discount_percent(member) == Decimal("90.00")


# --- claw-back --------------------------------------------------------------------------------
def test_a_full_refund_takes_back_everything_the_order_earned(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"), multiplier=Decimal("1.50"))
    assert refund(member, 1, "100.00") == (150, 100)
    assert state(member)[:2] == (0, 0)
    entry = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.CLAWBACK)
    assert (entry.delta, entry.reference, entry.balance_after) == (-150, f"{ORDER}:refund:1", 0)
    assert entry.get_kind_display() == "退款扣回积分"
    growth = GrowthEntry.objects.get(member=member, reference=f"{ORDER}:refund:1")
    assert (growth.delta, growth.balance_after) == (-100, 0)


def test_partial_refunds_take_back_in_proportion_and_round_down(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("99.99"), multiplier=Decimal("1.50"))  # 149 / 99
    # 1/3 refunded: floor(149/3)=49 points, floor(99/3)=33 growth
    assert refund(member, 1, "33.33", paid="99.99") == (49, 33)
    # 2/3 cumulative: floor(149*2/3)=99 in total, 50 more; growth 66 in total, 33 more
    assert refund(member, 2, "66.66", paid="99.99") == (50, 33)
    # the rest: all of it, whatever rounding left behind
    assert refund(member, 3, "99.99", paid="99.99") == (50, 33)
    assert state(member)[:2] == (0, 0)
    taken = PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.CLAWBACK).aggregate(
        s=Sum("delta")
    )
    assert taken["s"] == -149


def test_never_more_than_earned_even_when_refunds_exceed_what_was_paid(settings_1x):
    member = make_member(points=500)
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    assert refund(member, 1, "100.00") == (100, 100)
    assert refund(member, 2, "150.00") == (0, 0)  # a second "full" refund finds nothing left
    assert state(member)[:2] == (500, 0)


def test_a_retried_refund_changes_nothing_and_returns_the_same_figures(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    first = refund(member, 1, "40.00")
    before = state(member)
    assert refund(member, 1, "40.00") == first == (40, 40)
    assert refund(member, 1, "100.00") == first  # same refund id: same refund, whatever it says now
    assert state(member) == before
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.CLAWBACK).count() == 1
    assert GrowthEntry.objects.filter(member=member, delta__lt=0).count() == 1


def test_an_order_that_earned_nothing_gives_nothing_back():
    member = make_member(points=50)
    assert refund(member, 1, "100.00") == (0, 0)
    assert state(member)[:2] == (50, 0)
    assert not PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.CLAWBACK).exists()


def test_only_this_orders_earn_is_taken_back(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, "order:SO1", Decimal("10.00"))
    services.earn_for_completed_order(member, "order:SO12", Decimal("20.00"))
    # order:SO1's refunds do not count order:SO12's (a prefix of the other's number)
    assert refund(member, 1, "20.00", paid="20.00", order="order:SO12") == (20, 20)
    assert refund(member, 1, "10.00", paid="10.00", order="order:SO1") == (10, 10)
    assert state(member)[:2] == (0, 0)


def test_a_refund_of_spent_points_takes_the_balance_below_zero_and_is_never_blocked(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    services.spend_points(member, 80, PointsEntry.Kind.EXCHANGE, "mall:1")
    assert refund(member, 1, "100.00") == (100, 100)
    assert state(member)[0] == -80
    assert points_mismatches() == []
    # new points offset the debt first
    services.earn_points(member, 30, PointsEntry.Kind.REVIEW, "review:1")
    assert state(member)[0] == -50


def test_growth_goes_down_but_the_level_never_drops_automatically(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("1200.00"))  # 1200 growth: 银卡
    member.refresh_from_db()
    silver = member.level
    assert silver.rank == 1
    changes = LevelChange.objects.filter(member=member).count()
    assert refund(member, 1, "1200.00", paid="1200.00")[1] == 1200
    assert state(member) == (0, 0, silver.pk)
    assert LevelChange.objects.filter(member=member).count() == changes


def test_growth_never_goes_below_zero(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    Member.objects.filter(pk=member.pk).update(growth=30)  # e.g. lowered by staff tooling
    GrowthEntry.objects.create(member=member, delta=-70, balance_after=30, reference="staff:fix")
    assert refund(member, 1, "100.00") == (100, 30)
    assert state(member)[:2] == (0, 0)


def test_the_clawback_works_with_the_member_lock_already_held(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    with transaction.atomic():
        Member.objects.select_for_update().get(pk=member.pk)  # orders took the member lock first
        assert refund(member, 1, "50.00") == (50, 50)
    assert state(member)[:2] == (50, 50)


def test_the_clawback_rolls_back_with_the_callers_transaction(settings_1x):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    with pytest.raises(RuntimeError), transaction.atomic():
        refund(member, 1, "100.00")
        raise RuntimeError("the refund failed later on")
    assert state(member)[:2] == (100, 100)
    assert refund(member, 1, "100.00") == (100, 100)  # and can run again


@pytest.mark.parametrize(
    "order, refund_reference, refunded, paid, code",
    [
        (ORDER, "order:SO999:refund:1", "10.00", "100.00", "reference_mismatch"),
        (ORDER, ORDER, "10.00", "100.00", "reference_mismatch"),  # the earn's own reference
        (ORDER, "", "10.00", "100.00", "invalid_reference"),
        ("", ":refund:1", "10.00", "100.00", "invalid_reference"),
        (ORDER, f"{ORDER}:refund:\x00", "10.00", "100.00", "invalid_reference"),
        (ORDER, f"{ORDER}:refund:" + "9" * 64, "10.00", "100.00", "invalid_reference"),
        (ORDER, f"{ORDER}:refund:1", "-1.00", "100.00", "invalid_amount"),
        (ORDER, f"{ORDER}:refund:1", 10.0, "100.00", "invalid_amount"),  # no float money
        (ORDER, f"{ORDER}:refund:1", "10.00", "abc", "invalid_amount"),
    ],
)
def test_bad_claw_back_input_is_refused_and_changes_nothing(
    settings_1x, order, refund_reference, refunded, paid, code
):
    member = make_member()
    services.earn_for_completed_order(member, ORDER, Decimal("100.00"))
    with pytest.raises(services.InvalidPoints) as info:
        services.clawback_for_refund(
            member, order, refund_reference=refund_reference, refunded_total=refunded, paid_amount=paid
        )
    assert info.value.code == code and str(info.value)
    assert state(member)[:2] == (100, 100)


def test_balance_equals_ledger_after_every_clawback(settings_1x):
    members = [make_member(points=20 * i) for i in range(1, 4)]
    for i, member in enumerate(members):
        order = f"order:MIX{i}"
        services.earn_for_completed_order(member, order, Decimal("77.70"), multiplier=Decimal("1.20"))
        services.spend_points(member, 50, PointsEntry.Kind.CHECKOUT, f"order:NEXT{i}")
        for n, refunded in enumerate(["10.00", "50.50", "77.70"]):
            refund(member, n, refunded, paid="77.70", order=order)
            state(member)  # asserts balance == ledger and growth == growth ledger
    assert points_mismatches() == []
