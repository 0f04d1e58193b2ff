"""Birthday gifts: the points HQ sets on a member level (`MemberLevel.birthday_points`), given to
each member of that level on their birthday, once per year.

The worker runs `grant_birthday_gifts` several times a day (members.tasks); every grant is an
earn under the reference `birthday:<member id>:<year>`, so a second run, a retry or two workers at
once give nothing more (the ledger's unique (member, kind, reference)); the member is told through
core.notify when the points are given. A member born on 29
February gets the gift on 28 February in a year without that day.
"""

import calendar

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.notify import notify

from ..models import Member, PointsEntry
from .points import _credit


def birthday_reference(member_id, year):
    return f"birthday:{member_id}:{year}"


def _born_on(day):
    born = Q(birthday__month=day.month, birthday__day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        born |= Q(birthday__month=2, birthday__day=29)
    return born


def grant_birthday_gifts(today=None):
    """Give today's birthday members their level's birthday points. Returns how many were given
    now (members already given this year's gift are not counted again)."""
    today = today or timezone.localdate()
    rows = (
        Member.objects.filter(_born_on(today), level__birthday_points__gt=0)
        .select_related("user", "level")
        .order_by("pk")
    )
    given = 0
    for member in rows.iterator():
        member_id, points = member.pk, member.level.birthday_points
        reference = birthday_reference(member_id, today.year)
        with transaction.atomic():
            _entry, created = _credit(
                Member(pk=member_id),
                points,
                PointsEntry.Kind.BIRTHDAY,
                reference,
                reason=_("%(year)s 年生日礼") % {"year": today.year},
            )
        if not created:  # given earlier this year (an earlier run, or another worker just now)
            continue
        given += 1
        # told once, after the points are in
        notify(
            member.user,
            _("生日快乐"),
            _("送您 %(n)s 积分生日礼，已存入您的积分，可在“积分明细”查看。") % {"n": points},
            kind="birthday_gift",
        )
    return given
