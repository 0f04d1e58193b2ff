"""Member profiles: created once per user, the registration source, the referrer (bound once), the
shopper's own fields, and merging a duplicate account into the one its owner keeps."""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import Address, Member, MemberLevel, PointsEntry
from .base import MembersError


def default_level():
    """The level every new member starts at: the lowest rank."""
    return MemberLevel.objects.order_by("rank").first()


def ensure_member(user, *, source=None):
    """Return the user's Member profile, creating it (lowest level) if missing. Idempotent.

    `source` (Member.Source) is recorded only when the profile is created: the login code passes
    "wechat" or "phone"; the User post_save signal calls this for every new user, reading an
    optional `registration_source` attribute set on the unsaved user.
    """
    try:
        return user.member
    except Member.DoesNotExist:
        pass
    if source is None:
        source = Member.Source.ADMIN if user.is_staff else Member.Source.PHONE
    with transaction.atomic():
        member, _created = Member.objects.get_or_create(
            user=user, defaults={"source": source, "level": default_level()}
        )
    user.member = member
    return member


def _member(member_or_user):
    if isinstance(member_or_user, Member):
        return member_or_user
    return ensure_member(member_or_user)


@transaction.atomic
def set_registration_source(user, source):
    """Record how a new member arrived (wechat/phone/referral/admin). Only changes the profile field."""
    if source not in Member.Source.values:
        raise MembersError(_("未知的注册来源"), code="invalid_source")
    member = ensure_member(user)
    Member.objects.filter(pk=member.pk).update(source=source)
    member.source = source
    return member


@transaction.atomic
def set_referrer(user, referrer):
    """Bind the member who referred `user`, once: an existing referrer is never replaced.

    Returns True when this call set it. Self-referral is refused (returns False).
    """
    member = ensure_member(user)
    if referrer is None or referrer.pk == user.pk:
        return False
    updated = Member.objects.filter(pk=member.pk, referrer__isnull=True).update(referrer=referrer)
    if updated:
        member.referrer = referrer
    return bool(updated)


@transaction.atomic
def update_profile(user, *, nickname, gender, birthday, avatar=None, clear_avatar=False):
    """Change the shopper's own profile fields. Nothing else (level, points) can change here.

    `avatar` None keeps the current picture; `clear_avatar` removes it (a new upload wins)."""
    member = ensure_member(user)
    user.nickname = nickname
    fields = ["nickname"]
    if avatar is not None:
        user.avatar = avatar
        fields.append("avatar")
    elif clear_avatar:
        user.avatar = None
        fields.append("avatar")
    user.save(update_fields=fields)
    member.gender = gender
    member.birthday = birthday
    member.save(update_fields=["gender", "birthday"])
    return member


@transaction.atomic
def merge_member_into(from_user, to_user):
    """What a deactivated duplicate account kept moves to the account it was merged into (the
    WeChat-only account whose owner proved the phone of an older account: members.auth.merging).

    Points leave `from_user` and arrive at `to_user` through both ledgers (one debit, one credit,
    each with reference "merge:<from id>", so running this twice moves them once). A negative
    balance (points clawed back for a refund after they were spent) follows the same way, as a
    claw-back on `to_user`: merging cannot shed it. Growth is added once by the same reference;
    addresses move (the owner's default stays the default); the referrer is kept if the owner has
    none. Balance == sum of ledger on both sides.
    """
    # points and levels build on this module (ensure_member): imported here, not at the top
    from .levels import add_growth
    from .points import _credit, _debit

    source, target = ensure_member(from_user), ensure_member(to_user)
    reference = f"merge:{from_user.pk}"
    reason = _("账号合并")
    balance = Member.objects.select_for_update().values_list("points_balance", flat=True).get(pk=source.pk)
    if balance > 0:
        _debit(source, balance, PointsEntry.Kind.ADJUST, reference, reason=reason)
        _credit(target, balance, PointsEntry.Kind.ADJUST, reference, reason=reason)
    elif balance < 0:
        _credit(source, -balance, PointsEntry.Kind.ADJUST, reference, reason=reason)
        _debit(target, -balance, PointsEntry.Kind.CLAWBACK, reference, reason=reason, may_go_negative=True)
    if source.growth > 0:
        add_growth(target, source.growth, reference, reason=str(reason))
    moving = Address.objects.filter(user=from_user)
    if Address.objects.filter(user=to_user, is_default=True).exists():
        moving.update(is_default=False)
    moving.update(user=to_user)
    if source.referrer_id and source.referrer_id != to_user.pk:
        set_referrer(to_user, source.referrer)
    return target
