"""Read queries of the members app: each page's data in a fixed, small number of queries."""

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.module_loading import import_string

from .models import Address, Member, MemberLevel, PointsEntry
from .services import ensure_member

POINTS_PAGE_SIZE = 20


@dataclass
class LevelProgress:
    level: MemberLevel | None
    next_level: MemberLevel | None
    growth: int
    needed: int
    percent: int


def member_with_level(user, *, with_addresses=False):
    """The member profile with its level and the next level's name and threshold, in one query.

    with_addresses also annotates the address count and the default (else newest) address's city
    and district, for the member centre. Creates a missing profile.
    """
    above = MemberLevel.objects.filter(rank__gt=Coalesce(OuterRef("level__rank"), Value(-1))).order_by("rank")
    annotations = {
        "next_level_id": Subquery(above.values("id")[:1]),
        "next_level_name": Subquery(above.values("name")[:1]),
        "next_level_threshold": Subquery(above.values("growth_threshold")[:1]),
    }
    if with_addresses:
        mine = Address.objects.filter(user_id=OuterRef("user_id"))
        first = mine.order_by("-is_default", "-updated_at", "-id")
        annotations.update(
            address_count=Coalesce(
                Subquery(mine.order_by().values("user_id").annotate(n=Count("id")).values("n")[:1]), Value(0)
            ),
            address_city=Subquery(first.values("city")[:1]),
            address_district=Subquery(first.values("district")[:1]),
        )
    member = Member.objects.select_related("level").annotate(**annotations).filter(user=user).first()
    return member or member_with_level(ensure_member(user).user, with_addresses=with_addresses)


def level_progress(member):
    """Where the member stands: current level, the next one and the growth still needed.

    No query when `member` comes from member_with_level (next level annotated), else one.
    """
    level = member.level
    if hasattr(member, "next_level_threshold"):
        next_level = None
        if member.next_level_id is not None:
            next_level = MemberLevel(
                id=member.next_level_id,
                name=member.next_level_name,
                growth_threshold=member.next_level_threshold,
            )
    else:
        rank = level.rank if level else -1
        next_level = MemberLevel.objects.filter(rank__gt=rank).order_by("rank").first()
    if next_level is None:
        return LevelProgress(level, None, member.growth, 0, 100)
    floor = level.growth_threshold if level else 0
    span = max(1, next_level.growth_threshold - floor)
    done = min(span, max(0, member.growth - floor))
    return LevelProgress(
        level,
        next_level,
        member.growth,
        max(0, next_level.growth_threshold - member.growth),
        done * 100 // span,
    )


def points_page(member, before=None, size=POINTS_PAGE_SIZE):
    """One page of the ledger, newest first, keyset-paginated by id (no COUNT). Returns (rows, next_cursor)."""
    rows = PointsEntry.objects.filter(member=member).order_by("-id")
    if before:
        rows = rows.filter(id__lt=before)
    rows = list(rows[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more and rows else None)


def address_summary(user):
    """(the default address or None, how many addresses) in one query (a user keeps at most 20)."""
    addresses = list(
        Address.objects.filter(user=user).only("id", "is_default", "province", "city", "district")
    )
    return (addresses[0] if addresses else None), len(addresses)


def address_count(user):
    return Address.objects.filter(user=user).count()


def addresses_for(user):
    return list(Address.objects.filter(user=user))


def member_centre_extras(request):
    """Context from higher apps (coupons, promoter status), through settings.MEMBER_CENTRE_EXTRAS."""
    extras = {}
    for dotted in getattr(settings, "MEMBER_CENTRE_EXTRAS", []):
        extras.update(import_string(dotted)(request) or {})
    return extras


def shoppers():
    """Members who shop: every Member except those of staff accounts (store clerks, HQ), which the
    back office neither lists nor counts as members."""
    return Member.objects.filter(user__is_staff=False, user__is_superuser=False)


def member_list(query="", level_id=None):
    """Back-office member list: search by phone (typed as the shopper knows it: 138 0013 8000,
    13800138000, +86…) or nickname, filter by level. Staff accounts are not members: never listed."""
    rows = shoppers().select_related("user", "level").order_by("-id")
    query = (query or "").strip()
    if query:
        digits = re.sub(r"[\s\-]", "", query).removeprefix("+86")
        rows = rows.filter(
            Q(user__phone__icontains=digits or query)
            | Q(user__nickname__icontains=query)
            | Q(user__username__icontains=query)
        )
    if level_id:
        rows = rows.filter(level_id=level_id)
    return rows


def points_mismatches():
    """Members whose balance differs from the sum of their ledger: [(member_id, balance, ledger_sum)]."""
    rows = (
        Member.objects.annotate(ledger=Coalesce(Sum("points_entries__delta"), 0))
        .exclude(points_balance=F("ledger"))
        .values_list("id", "points_balance", "ledger")
        .order_by("id")
    )
    return list(rows)


@dataclass(frozen=True)
class MemberBenefits:
    level_name: str
    discount_percent: Decimal
    points_multiplier: Decimal
    flash_sale_early_minutes: int


def benefits_for(user):
    """What the member's level gives at checkout and in flash sales (orders and marketing read this).

    One query; anonymous users and members without a level get no benefits (100%, x1, 0 minutes).
    """
    none = MemberBenefits("", Decimal("100.00"), Decimal("1.00"), 0)
    if not getattr(user, "is_authenticated", False):
        return none
    level = MemberLevel.objects.filter(members__user=user).first()
    if level is None:
        return none
    return MemberBenefits(
        level.name, level.discount_percent, level.points_multiplier, level.flash_sale_early_minutes
    )


NO_MULTIPLIER = Decimal("1.00")
NO_DISCOUNT = Decimal("100.00")


def _member_id(member):
    return member.pk if isinstance(member, Member) else ensure_member(member).pk


def level_multiplier(member) -> Decimal:
    """The points multiplier of the member's current level (Decimal, 1.00 without a level), read
    from the database in one query: orders snapshot it when an order is paid."""
    value = (
        MemberLevel.objects.filter(members__pk=_member_id(member))
        .values_list("points_multiplier", flat=True)
        .first()
    )
    return NO_MULTIPLIER if value is None else value


def level_discount_percent(member) -> Decimal:
    """The member price percentage of the member's current level (Decimal; 100.00 = no discount,
    also without a level), read from the database in one query: orders price with it at checkout."""
    value = (
        MemberLevel.objects.filter(members__pk=_member_id(member))
        .values_list("discount_percent", flat=True)
        .first()
    )
    return NO_DISCOUNT if value is None else value


def levels_for(member):
    """Every level, lowest first, for the levels and benefits page (one query), each marked for
    `member`: `is_current`, `reached` (below the member's level) and `gap` (growth still needed)."""
    levels = list(MemberLevel.objects.order_by("rank"))
    current_rank = member.level.rank if member.level else -1
    for level in levels:
        level.is_current = level.pk == member.level_id
        level.reached = level.rank < current_rank
        level.gap = max(0, level.growth_threshold - member.growth)
    return levels


def signed_days(member, month):
    """The days of `month` (a date on its first day) the member signed in on, as a set of day
    numbers: one query over the sign-in entries, whose reference is the local date (YYYY-MM-DD)."""
    prefix = month.strftime("%Y-%m-")
    references = PointsEntry.objects.filter(
        member=member, kind=PointsEntry.Kind.SIGN_IN, reference__startswith=prefix
    ).values_list("reference", flat=True)
    days = set()
    for reference in references:
        tail = reference.removeprefix(prefix)
        if tail.isascii() and tail.isdigit():
            days.add(int(tail))
    return days


@dataclass(frozen=True)
class CalendarDay:
    day: date | None  # None: a blank cell before the 1st or after the last day
    signed: bool = False
    is_today: bool = False
    is_future: bool = False


def sign_in_calendar(member, month, today):
    """The month grid of the sign-in page: weeks (Sunday first) of CalendarDay, the signed days
    marked (one query)."""
    signed = signed_days(member, month)
    weeks = []
    for week in calendar.Calendar(firstweekday=6).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            if day.month != month.month:
                row.append(CalendarDay(None))
            else:
                row.append(CalendarDay(day, day.day in signed, day == today, day > today))
        weeks.append(row)
    return weeks, len(signed)
