from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from members import services
from members.models import Member, PointsEntry

from .factories import make_member

pytestmark = pytest.mark.django_db


def at(*args):
    return timezone.make_aware(datetime(*args))


def test_yearly_mode_expires_at_the_end_of_the_following_year(settings):
    settings.POINTS_EXPIRY_MODE = "yearly"
    assert services.points_expiry_for(at(2026, 3, 5, 12)) == at(2028, 1, 1)
    assert services.points_expiry_for(at(2026, 12, 31, 23, 59)) == at(2028, 1, 1)


def test_rolling_mode_expires_n_days_later(settings):
    settings.POINTS_EXPIRY_MODE = "rolling"
    settings.POINTS_EXPIRY_DAYS = 30
    assert services.points_expiry_for(at(2026, 3, 5)) == at(2026, 4, 4)


def _earn(member, amount, ref, expires_at):
    entry = services.earn_points(member, amount, PointsEntry.Kind.REVIEW, ref)
    PointsEntry.objects.filter(pk=entry.pk).update(expires_at=expires_at)


def test_expiry_takes_only_unspent_points_first_in_first_out():
    member = make_member()
    now = timezone.now()
    _earn(member, 100, "old", now - timedelta(days=1))
    _earn(member, 50, "new", now + timedelta(days=100))
    services.spend_points(member, 70, PointsEntry.Kind.EXCHANGE, "ex")  # consumes 70 of the old 100
    assert services.expire_points(now) == 30
    member.refresh_from_db()
    assert member.points_balance == 50
    # running again expires nothing more
    assert services.expire_points(now) == 0
    entry = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.EXPIRE)
    assert entry.delta == -30 and entry.balance_after == 50


def test_fully_spent_points_expire_nothing():
    member = make_member()
    now = timezone.now()
    _earn(member, 100, "old", now - timedelta(days=1))
    services.spend_points(member, 100, PointsEntry.Kind.EXCHANGE, "ex")
    assert services.expire_points(now) == 0


def test_members_are_told_once_before_points_expire(monkeypatch):
    told = []
    monkeypatch.setattr(
        services, "_notify_member", lambda user, title, body: told.append((user.pk, str(body)))
    )
    member = make_member()
    now = timezone.now()
    _earn(member, 80, "soon", now + timedelta(days=5))
    _earn(member, 20, "later", now + timedelta(days=300))
    assert services.notify_expiring_points(now, days=7) == 1
    assert told[0][0] == member.user_id and "80" in told[0][1]
    assert services.notify_expiring_points(now, days=7) == 0
    assert Member.objects.get(pk=member.pk).expiry_notified_for is not None


def test_worker_tasks_run_the_services():
    from members import tasks

    member = make_member()
    _earn(member, 10, "x", timezone.now() - timedelta(seconds=1))
    assert tasks.expire_points.delay().get() == 10
    assert tasks.notify_expiring_points.delay().get() == 0
