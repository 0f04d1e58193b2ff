"""A refund gives back points a debit took: it keeps their old expiry, it does not renew them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from members import services
from members.models import Member, PointsEntry

from .factories import make_member

pytestmark = pytest.mark.django_db


def _earn(member, amount, ref, expires_at):
    entry = services.earn_points(member, amount, PointsEntry.Kind.REVIEW, ref)
    PointsEntry.objects.filter(pk=entry.pk).update(expires_at=expires_at)


def _balance(member):
    return Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)


def test_spending_points_about_to_expire_and_getting_them_refunded_does_not_extend_them():
    member = make_member()
    now = timezone.now()
    _earn(member, 100, "soon", now + timedelta(days=2))
    services.spend_points(member, 100, PointsEntry.Kind.EXCHANGE, "mall:1")
    refund = services.refund_points(member, 100, "mall:1")
    assert refund.expires_at is None  # no fresh expiry date on a refund
    assert services.expire_points(now + timedelta(days=3)) == 100
    assert _balance(member) == 0


def test_a_refund_of_points_still_valid_keeps_them_until_their_own_date():
    member = make_member()
    now = timezone.now()
    _earn(member, 100, "later", now + timedelta(days=30))
    services.spend_points(member, 60, PointsEntry.Kind.EXCHANGE, "mall:2")
    services.refund_points(member, 60, "mall:2")
    assert services.expire_points(now + timedelta(days=3)) == 0 and _balance(member) == 100
    assert services.expire_points(now + timedelta(days=31)) == 100 and _balance(member) == 0


def test_the_expiry_notice_counts_refunded_points_under_their_old_date(settings):
    settings.NOTIFIER_BACKENDS = []
    member = make_member()
    now = timezone.now()
    _earn(member, 80, "soon", now + timedelta(days=5))
    services.spend_points(member, 80, PointsEntry.Kind.EXCHANGE, "mall:3")
    services.refund_points(member, 80, "mall:3")
    assert services.notify_expiring_points(now, days=10) == 1  # the 80 still expire in 5 days


def test_the_expiry_notice_reaches_the_configured_channels(notices):
    """Not mocked: the notice goes through core.notify with its real signature."""
    member = make_member()
    now = timezone.now()
    _earn(member, 30, "soon", now + timedelta(days=5))
    assert services.notify_expiring_points(now, days=10) == 1
    assert [(uid, kind) for uid, _s, _b, kind in notices] == [(member.user_id, "points_expiry")]
    assert "30" in notices[0][2]
