"""Points expiry, first-in-first-out, and the notice before it.

A debit (spend, negative adjustment, expiry) consumes the oldest earned points first. Because
every earn's `expires_at` grows with its creation time (both in "yearly" and "rolling" mode), the
points still unspent among those expired by `now` are
max(0, earned-with-expires_at<=now - all debits so far): no per-earn bookkeeping is needed.

A refund of spent points undoes that debit (it keeps their old expiry); a refund's claw-back undoes
(part of) the order's earn: it carries that earn's expiry and shrinks that batch, so it neither
makes other points expire nor spares them. Expiry never takes more than the balance: a negative
balance (after a claw-back) expires nothing.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Member, PointsEntry
from .base import _setting
from .points import _debit


def _expiry_totals(until, member_ids=None, now=None):
    """Per member: points earned that expire by `until` (net of their claw-backs), and all debits
    so far (negative).

    A refund gives back points a debit took, so it counts as undoing that debit, not as new points
    with a fresh expiry: exchanging points about to expire and cancelling cannot extend them. A
    claw-back with an expiry undoes part of the earn of that expiry; one without (carried over by
    an account merge) is an ordinary debit."""
    refunded = Q(kind=PointsEntry.Kind.REFUND)
    earned = Q(delta__gt=0) & ~refunded
    undone_earn = Q(kind=PointsEntry.Kind.CLAWBACK, expires_at__isnull=False)
    rows = PointsEntry.objects.all()
    if member_ids is not None:
        rows = rows.filter(member_id__in=member_ids)
    return (
        rows.values("member_id")
        .annotate(
            expiring=Sum("delta", filter=(earned | undone_earn) & Q(expires_at__lte=until)),
            debits=Sum("delta", filter=(Q(delta__lt=0) & ~undone_earn) | refunded),
            next_at=Min("expires_at", filter=earned & Q(expires_at__gt=now or until, expires_at__lte=until)),
        )
        .filter(expiring__gt=0)
        .order_by("member_id")
    )


def _unspent(row):
    return max(0, (row["expiring"] or 0) + (row["debits"] or 0))


def expire_points(now=None):
    """Expire every member's points whose expiry has passed and that are still unspent (FIFO).

    Each member in its own transaction under a row lock, recomputed after locking, so a run that
    overlaps another (or is repeated) expires nothing twice. Never more than the balance, so a
    balance at or below zero is left alone. Returns the total points expired.
    """
    now = now or timezone.now()
    total = 0
    for row in _expiry_totals(now):
        if _unspent(row) <= 0:
            continue
        with transaction.atomic():
            member = Member.objects.select_for_update().get(pk=row["member_id"])
            fresh = _expiry_totals(now, [member.pk]).first()
            amount = min(_unspent(fresh) if fresh else 0, member.points_balance)
            if amount <= 0:
                continue
            _debit(member, amount, PointsEntry.Kind.EXPIRE, reason=_("积分到期"))
            total += amount
    return total


def notify_expiring_points(now=None, days=None):
    """Tell each member, once per expiry date, how many points expire within `days` days.

    Goes through core.notify (members.services._notify_member). Returns how many were told.
    """
    now = now or timezone.now()
    days = int(days if days is not None else _setting("POINTS_EXPIRY_NOTICE_DAYS", 30))
    horizon = now + timedelta(days=days)
    rows = {row["member_id"]: row for row in _expiry_totals(horizon, now=now) if _unspent(row) > 0}
    told = 0
    members = Member.objects.filter(pk__in=rows).select_related("user")
    notify_member = _notifier()
    for member in members:
        row = rows[member.pk]
        next_at = row["next_at"]
        if next_at is None or (member.expiry_notified_for and member.expiry_notified_for >= next_at):
            continue
        amount = min(_unspent(row), member.points_balance)
        if amount <= 0:
            continue
        notify_member(
            member.user,
            _("积分即将过期"),
            _("您有 %(points)s 积分将于 %(date)s 过期，请尽快使用。")
            % {"points": amount, "date": timezone.localtime(next_at).strftime("%Y-%m-%d")},
        )
        Member.objects.filter(pk=member.pk).update(expiry_notified_for=next_at)
        told += 1
    return told


def _notify_member(user, title, body):
    """The member hears through every configured channel (core.notify); a broken channel is logged there."""
    from core.notify import notify

    notify(user, str(title), str(body), kind="points_expiry")


def _notifier():
    # `members.services._notify_member` is the seam (tests replace it there, as before the split
    # into a package): read it from the package when the notices go out.
    from members import services

    return services._notify_member
