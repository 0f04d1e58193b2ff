"""A WeChat-only account merged into an older phone account keeps nothing behind."""

import pytest
from django.db.models import Sum

from members import services
from members.auth.merging import accounts_merged
from members.models import Address, Member, PointsEntry

from .factories import make_member, make_user

pytestmark = pytest.mark.django_db


def _ledger(member):
    return PointsEntry.objects.filter(member=member).aggregate(s=Sum("delta"))["s"] or 0


def _address(user, *, default):
    return Address.objects.create(
        user=user, receiver="张三", phone="13800138000", province="上海市", city="上海市",
        district="徐汇区", detail="漕溪北路 88 号", is_default=default,
    )


def test_merge_moves_points_growth_addresses_and_referrer_once():
    referrer = make_user()
    wechat = make_member(points=120)
    services.add_growth(wechat, 300, "order:1")
    services.set_referrer(wechat.user, referrer)
    _address(wechat.user, default=True)
    owner = make_member(points=50)
    _address(owner.user, default=True)

    for _ in range(2):  # a retried merge moves nothing twice
        accounts_merged.send(sender=None, from_user=wechat.user, to_user=owner.user)

    wechat.refresh_from_db()
    owner.refresh_from_db()
    assert (wechat.points_balance, owner.points_balance) == (0, 170)
    assert _ledger(wechat) == 0 and _ledger(owner) == 170
    assert owner.growth == 300
    assert owner.referrer_id == referrer.pk
    assert Address.objects.filter(user=owner.user).count() == 2
    assert Address.objects.filter(user=owner.user, is_default=True).count() == 1
    assert not Address.objects.filter(user=wechat.user).exists()


def test_merge_of_an_empty_account_changes_nothing():
    wechat, owner = make_member(), make_member(points=10)
    accounts_merged.send(sender=None, from_user=wechat.user, to_user=owner.user)
    assert Member.objects.get(pk=owner.pk).points_balance == 10
    assert PointsEntry.objects.filter(member__in=[wechat, owner], reason="账号合并").count() == 0
