"""Only a refund's claw-back takes a points balance below zero. Spending, exchanging, staff
adjustments and expiry never do, a negative balance blocks using points with a clear message,
and the next points earned offset it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core.errors import DomainError
from members import services
from members.models import Member, PointsEntry
from members.selectors import points_mismatches

from .factories import make_member, make_user

pytestmark = pytest.mark.django_db

NEGATIVE = "积分余额为负（因退款扣回），暂不能使用积分"


def balance(member):
    value = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    assert value == (PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0)
    return value


def snapshot(member):
    return balance(member), list(PointsEntry.objects.filter(member=member).values_list("id", "delta"))


def in_debt(owed=30, settings=None):
    """A member whose 100 order points were partly spent (100 - owed left) and then all clawed back."""
    member = make_member()
    services.earn_for_completed_order(member, "order:D1", Decimal("100.00"), multiplier=Decimal("1.00"))
    services.spend_points(member, owed, PointsEntry.Kind.EXCHANGE, "mall:debt")
    services.clawback_for_refund(
        member,
        "order:D1",
        refund_reference="order:D1:refund:1",
        refunded_total=Decimal("100.00"),
        paid_amount=Decimal("100.00"),
    )
    assert balance(member) == -owed
    return member


@pytest.fixture(autouse=True)
def _one_point_per_yuan(settings):
    settings.POINTS_PER_YUAN_EARNED = 1
    settings.GROWTH_PER_YUAN = 1


@pytest.mark.parametrize("kind", [PointsEntry.Kind.EXCHANGE, PointsEntry.Kind.CHECKOUT])
def test_a_negative_balance_blocks_spending_with_a_clear_message(kind):
    member = in_debt()
    before = snapshot(member)
    with pytest.raises(services.InsufficientPoints) as info:
        services.spend_points(member, 1, kind, "order:X1")
    assert info.value.code == "negative_balance" and str(info.value) == NEGATIVE
    assert snapshot(member) == before


def test_a_short_but_positive_balance_keeps_the_usual_message():
    member = make_member(points=10)
    with pytest.raises(services.InsufficientPoints) as info:
        services.spend_points(member, 11, PointsEntry.Kind.EXCHANGE, "mall:2")
    assert info.value.code == "insufficient_points" and "11" in str(info.value)


def test_spending_can_take_the_balance_to_zero_but_not_below():
    member = make_member(points=10)
    services.spend_points(member, 10, PointsEntry.Kind.CHECKOUT, "order:A")
    with pytest.raises(services.InsufficientPoints):
        services.spend_points(member, 1, PointsEntry.Kind.CHECKOUT, "order:B")
    assert balance(member) == 0


def test_staff_cannot_adjust_below_zero_nor_deepen_a_negative_balance():
    member = make_member(points=10)
    with pytest.raises(services.InsufficientPoints):
        services.adjust_points(member, -11, "扣回", None)
    assert balance(member) == 10
    member = in_debt()
    before = snapshot(member)
    with pytest.raises(services.InsufficientPoints) as info:
        services.adjust_points(member, -1, "扣回", None)
    assert info.value.code == "negative_balance" and "-30" in str(info.value)
    assert snapshot(member) == before
    services.adjust_points(member, 50, "客服补偿", None)  # a credit is fine and offsets the debt
    assert balance(member) == 20


def test_the_marketing_exchange_is_refused_on_a_negative_balance_and_spends_nothing():
    from marketing import services as marketing
    from tests.marketing.factories import make_coupon_item

    member = in_debt()
    item = make_coupon_item(points=1)
    before = snapshot(member)
    with pytest.raises(DomainError) as info:
        marketing.exchange_points(member.user, item.pk, request_id="neg-1")
    assert info.value.code in {"insufficient_points", "negative_balance"}
    assert snapshot(member) == before


def test_expiry_never_pushes_a_negative_balance_further_down():
    now = timezone.now()
    member = in_debt(owed=30)
    # older points that have expired by now, all consumed by the debt's spend and more
    entry = services.earn_points(member, 20, PointsEntry.Kind.REVIEW, "review:old")
    PointsEntry.objects.filter(pk=entry.pk).update(expires_at=now - timedelta(days=1))
    assert balance(member) == -10
    assert services.expire_points(now + timedelta(days=3650)) == 0
    assert balance(member) == -10


def test_a_negative_balance_is_not_told_its_points_expire(notices):
    now = timezone.now()
    member = in_debt(owed=30)
    entry = services.earn_points(member, 20, PointsEntry.Kind.REVIEW, "review:soon")
    PointsEntry.objects.filter(pk=entry.pk).update(expires_at=now + timedelta(days=2))
    assert services.notify_expiring_points(now, days=10) == 0
    assert notices == []


def test_a_clawback_undoes_its_own_earn_so_older_points_still_expire_in_full():
    """FIFO: 100 old points expire soon, an order earns 50 that expire later and is refunded. The
    claw-back takes the order's 50, not the old ones: all 100 old points expire, none are spared."""
    now = timezone.now()
    member = make_member()
    old = services.earn_points(member, 100, PointsEntry.Kind.REVIEW, "review:old")
    PointsEntry.objects.filter(pk=old.pk).update(expires_at=now + timedelta(days=1))
    services.earn_for_completed_order(member, "order:E1", Decimal("50.00"), multiplier=Decimal("1.00"))
    services.clawback_for_refund(
        member,
        "order:E1",
        refund_reference="order:E1:refund:1",
        refunded_total=Decimal("50.00"),
        paid_amount=Decimal("50.00"),
    )
    clawback = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.CLAWBACK)
    purchase = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.PURCHASE)
    assert clawback.expires_at == purchase.expires_at
    assert services.expire_points(now + timedelta(days=2)) == 100
    assert balance(member) == 0


def test_an_order_refunded_after_its_points_were_spent_lets_the_rest_expire_normally():
    now = timezone.now()
    member = make_member()
    services.earn_for_completed_order(member, "order:E2", Decimal("100.00"), multiplier=Decimal("1.00"))
    later = services.earn_points(member, 100, PointsEntry.Kind.REVIEW, "review:later")
    PointsEntry.objects.filter(pk=later.pk).update(expires_at=now + timedelta(days=400))
    services.spend_points(member, 150, PointsEntry.Kind.EXCHANGE, "mall:3")  # the order's 100 + 50 later
    services.clawback_for_refund(
        member,
        "order:E2",
        refund_reference="order:E2:refund:1",
        refunded_total=Decimal("100.00"),
        paid_amount=Decimal("100.00"),
    )
    assert balance(member) == -50
    # everything has expired by then: nothing is left unspent, the debt stays as it is
    assert services.expire_points(now + timedelta(days=4000)) == 0
    assert balance(member) == -50


def test_the_checkout_quote_offers_nothing_on_a_balance_of_zero_or_less():
    for member in (make_member(), in_debt()):
        quote = services.quote_checkout_deduction(member, Decimal("100.00"))
        assert (quote.points, quote.amount, quote.max_points) == (0, Decimal("0.00"), 0)
        zero = services.quote_checkout_deduction(member, Decimal("100.00"), requested_points=0)
        assert (zero.points, zero.amount) == (0, Decimal("0.00"))
    with pytest.raises(services.InsufficientPoints) as info:
        services.quote_checkout_deduction(member, Decimal("100.00"), requested_points=1)
    assert info.value.code == "negative_balance" and str(info.value) == NEGATIVE


def test_the_database_refuses_any_other_entry_that_ends_below_zero():
    member = in_debt()
    for kind in (
        PointsEntry.Kind.EXCHANGE,
        PointsEntry.Kind.CHECKOUT,
        PointsEntry.Kind.ADJUST,
        PointsEntry.Kind.EXPIRE,
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            PointsEntry.objects.create(member=member, delta=-1, balance_after=-31, kind=kind)
    # a credit may end below zero (it offsets the debt), and so may a claw-back
    PointsEntry.objects.create(member=member, delta=1, balance_after=-29, kind=PointsEntry.Kind.REVIEW)
    PointsEntry.objects.create(member=member, delta=-1, balance_after=-30, kind=PointsEntry.Kind.CLAWBACK)


def test_only_the_clawback_kind_may_debit_unconditionally():
    from members.services.points import _debit

    member = make_member(points=5)
    with pytest.raises(services.InvalidPoints):
        _debit(member, 10, PointsEntry.Kind.ADJUST, "x", may_go_negative=True)
    assert balance(member) == 5


def test_merging_carries_a_negative_balance_to_the_kept_account():
    debtor = in_debt(owed=30)
    owner = make_member(points=100)
    services.merge_member_into(debtor.user, owner.user)
    assert balance(debtor) == 0 and balance(owner) == 70
    services.merge_member_into(debtor.user, owner.user)  # twice: moved once
    assert balance(debtor) == 0 and balance(owner) == 70
    carried = PointsEntry.objects.get(member=owner, kind=PointsEntry.Kind.CLAWBACK)
    assert (carried.delta, carried.reference) == (-30, f"merge:{debtor.user_id}")
    assert points_mismatches() == []


def test_merging_a_negative_balance_into_an_empty_account_leaves_it_negative():
    debtor = in_debt(owed=30)
    owner = make_user().member
    services.merge_member_into(debtor.user, owner.user)
    assert balance(owner) == -30
    with pytest.raises(services.InsufficientPoints) as info:
        services.spend_points(owner, 1, PointsEntry.Kind.EXCHANGE, "mall:9")
    assert info.value.code == "negative_balance"
