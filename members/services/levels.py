"""Member levels and growth value.

Growth only grows through `add_growth` (once per reference) and reaching a threshold upgrades
automatically; nothing downgrades automatically (a refund's claw-back lowers growth, never the
level): only staff move a member down, with a reason, through `change_level`.
"""

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import GrowthEntry, LevelChange, Member, MemberLevel
from .base import InvalidPoints, ReasonRequired
from .profiles import _member

DEFAULT_LEVELS = [
    # name (data, stored in Chinese), rank, growth threshold, discount %, points multiplier, early minutes
    ("普通会员", 0, 0, Decimal("100.00"), Decimal("1.00"), 0),
    ("银卡会员", 1, 1000, Decimal("98.00"), Decimal("1.20"), 0),
    ("金卡会员", 2, 5000, Decimal("95.00"), Decimal("1.50"), 10),
    ("钻石会员", 3, 20000, Decimal("90.00"), Decimal("2.00"), 30),
]


def ensure_default_levels():
    """Create the four default levels where no level of that rank exists (the data migration
    does this once; a flushed database, such as after a transactional test, needs it again).
    Never changes a level staff have edited. Returns how many levels it created."""
    created = 0
    for name, rank, threshold, discount, multiplier, early in DEFAULT_LEVELS:
        _level, made = MemberLevel.objects.get_or_create(
            rank=rank,
            defaults={
                "name": name,
                "growth_threshold": threshold,
                "discount_percent": discount,
                "points_multiplier": multiplier,
                "flash_sale_early_minutes": early,
            },
        )
        created += made
    return created


def level_for_growth(growth):
    return MemberLevel.objects.filter(growth_threshold__lte=growth).order_by("-rank").first()


@transaction.atomic
def add_growth(member, amount, reference, *, reason=""):
    """Add growth value once per reference, then upgrade automatically. Never downgrades.

    Locks the member row; an upgrade writes a LevelChange. Returns the GrowthEntry (the earlier
    one when this reference was already counted).
    """
    member = _member(member)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidPoints(_("成长值必须是正整数"))
    locked = Member.objects.select_for_update(of=("self",)).select_related("level").get(pk=member.pk)
    existing = GrowthEntry.objects.filter(member=member, reference=reference).first()
    if existing:
        return existing
    growth = locked.growth + amount
    entry = GrowthEntry.objects.create(
        member=member, delta=amount, balance_after=growth, reference=reference, reason=reason
    )
    updates = {"growth": growth}
    target = level_for_growth(growth)
    current_rank = locked.level.rank if locked.level else -1
    if target and target.rank > current_rank:
        updates["level"] = target
        LevelChange.objects.create(
            member=member,
            from_level=locked.level,
            to_level=target,
            reason=_("成长值达到 %(growth)s，自动升级") % {"growth": growth},
        )
    Member.objects.filter(pk=member.pk).update(**updates)
    for field, value in updates.items():
        setattr(member, field, value)
    return entry


@transaction.atomic
def change_level(member, level, reason, actor):
    """Staff sets a member's level (up or down) with a required reason, recorded as a LevelChange."""
    member = _member(member)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(_("修改等级必须填写原因"))
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.level_id == level.pk:
        return None
    change = LevelChange.objects.create(
        member=member, from_level_id=locked.level_id, to_level=level, reason=reason, actor=actor
    )
    Member.objects.filter(pk=member.pk).update(level=level)
    member.level = level
    return change
