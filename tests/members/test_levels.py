import pytest

from members import services
from members.models import LevelChange, MemberLevel
from members.selectors import level_progress

from .factories import make_member

pytestmark = pytest.mark.django_db


def test_default_levels_exist_in_rank_order():
    assert list(MemberLevel.objects.values_list("name", flat=True)) == [
        "普通会员",
        "银卡会员",
        "金卡会员",
        "钻石会员",
    ]


def test_growth_upgrades_automatically_and_counts_each_reference_once():
    member = make_member()
    services.add_growth(member, 600, "order:1")
    services.add_growth(member, 600, "order:1")
    member.refresh_from_db()
    assert member.growth == 600 and member.level.rank == 0
    services.add_growth(member, 5000, "order:2")
    member.refresh_from_db()
    assert member.growth == 5600 and member.level.rank == 2  # skips silver straight to gold
    change = LevelChange.objects.get(member=member)
    assert change.from_level.rank == 0 and change.to_level.rank == 2 and change.actor is None


def test_levels_never_go_down_by_themselves():
    member = make_member()
    services.add_growth(member, 1200, "order:1")
    MemberLevel.objects.filter(rank=1).update(growth_threshold=5000)  # staff raise the bar
    services.add_growth(member, 1, "order:2")
    member.refresh_from_db()
    assert member.level.rank == 1


def test_staff_level_change_needs_a_reason_and_is_recorded():
    member = make_member()
    gold = MemberLevel.objects.get(rank=2)
    with pytest.raises(services.ReasonRequired):
        services.change_level(member, gold, "", None)
    member.refresh_from_db()
    assert member.level.rank == 0
    services.change_level(member, gold, "VIP 客户", member.user)
    services.change_level(member, MemberLevel.objects.get(rank=0), "误操作恢复", member.user)
    assert LevelChange.objects.filter(member=member).count() == 2


def test_progress_to_next_level():
    member = make_member()
    services.add_growth(member, 1500, "order:1")  # silver (1000), next gold (5000)
    member.refresh_from_db()
    progress = level_progress(member)
    assert progress.level.rank == 1 and progress.next_level.rank == 2
    assert progress.needed == 3500 and progress.percent == 12
    services.add_growth(member, 50000, "order:2")
    member.refresh_from_db()
    top = level_progress(member)
    assert top.next_level is None and top.percent == 100


def test_referrer_is_set_once_and_never_to_oneself():
    member = make_member()
    other = make_member()
    assert not services.set_referrer(member.user, member.user)
    assert services.set_referrer(member.user, other.user)
    assert not services.set_referrer(member.user, make_member().user)
    member.refresh_from_db()
    assert member.referrer == other.user


def test_registration_source_can_be_recorded():
    member = make_member()
    services.set_registration_source(member.user, "wechat")
    member.refresh_from_db()
    assert member.source == "wechat"
    with pytest.raises(services.MembersError):
        services.set_registration_source(member.user, "martian")


def test_benefits_follow_the_level():
    from decimal import Decimal

    from django.contrib.auth.models import AnonymousUser

    from members.selectors import benefits_for

    member = make_member()
    assert benefits_for(AnonymousUser()).discount_percent == Decimal("100.00")
    services.change_level(member, MemberLevel.objects.get(rank=3), "VIP", None)
    benefits = benefits_for(member.user)
    assert benefits.level_name == "钻石会员" and benefits.discount_percent == Decimal("90.00")
    assert benefits.points_multiplier == Decimal("2.00") and benefits.flash_sale_early_minutes == 30


def test_progress_is_the_same_from_the_one_query_member():
    from members.selectors import member_with_level

    member = make_member()
    services.add_growth(member, 1500, "order:1")
    member.refresh_from_db()
    annotated = member_with_level(member.user)
    a, b = level_progress(annotated), level_progress(member)
    assert (a.level, a.next_level.pk, a.next_level.name, a.needed, a.percent) == (
        b.level,
        b.next_level.pk,
        b.next_level.name,
        b.needed,
        b.percent,
    )
    services.add_growth(member, 50000, "order:2")
    assert level_progress(member_with_level(member.user)).next_level is None


def test_ensure_default_levels_restores_a_flushed_table_and_keeps_edits():
    MemberLevel.objects.filter(rank__gt=0).delete()
    MemberLevel.objects.filter(rank=0).update(name="自定义")
    assert services.ensure_default_levels() == 3
    names = list(MemberLevel.objects.order_by("rank").values_list("name", flat=True))
    assert names == ["自定义", "银卡会员", "金卡会员", "钻石会员"]
    assert services.ensure_default_levels() == 0



@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_add_growth_called_outside_any_transaction_works_on_postgresql():
    # select_for_update outside a transaction is an error on PostgreSQL (SQLite lets it pass):
    # the service must open its own transaction
    services.ensure_default_levels()  # an earlier transactional test may have flushed them
    member = make_member()
    services.add_growth(member, 1200, "order:pg-1")
    member.refresh_from_db()
    assert member.growth == 1200 and member.level.rank == 1
