"""Write use cases of the members app: profiles, levels and growth, points, addresses.

Points rules (DESIGN.md): `Member.points_balance` is a balance row, `PointsEntry` the append-only
ledger; both change in the same transaction, the balance only by a conditional UPDATE, so
balance == sum(ledger) always and two concurrent spends of the same points cannot both succeed.

Expiry is first-in-first-out: a debit (spend, negative adjustment, expiry) consumes the oldest
earned points first. Because every earn's `expires_at` grows with its creation time (both in
"yearly" and "rolling" mode), the points still unspent among those expired by `now` are
max(0, earned-with-expires_at<=now - all debits so far): no per-earn bookkeeping is needed.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.money import ZERO, ceil_int, floor_fen, floor_int, to_money

from .models import Address, GrowthEntry, LevelChange, Member, MemberLevel, PointsEntry

log = logging.getLogger(__name__)

EARN_KINDS = {
    PointsEntry.Kind.PURCHASE,
    PointsEntry.Kind.SIGN_IN,
    PointsEntry.Kind.REVIEW,
    PointsEntry.Kind.SHARE,
    PointsEntry.Kind.REFUND,
}
SPEND_KINDS = {PointsEntry.Kind.EXCHANGE, PointsEntry.Kind.CHECKOUT}


class MembersError(DomainError):
    code = "members_error"


class InsufficientPoints(MembersError):
    code = "insufficient_points"


class InvalidPoints(MembersError):
    code = "invalid_points"


class ReasonRequired(MembersError):
    code = "reason_required"


class AddressLimitReached(MembersError):
    code = "address_limit"


def _setting(name, default):
    return getattr(settings, name, default)


# --- levels -----------------------------------------------------------------------------------
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


# --- profiles ---------------------------------------------------------------------------------
def default_level():
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


# --- points: the two primitives ---------------------------------------------------------------
def points_expiry_for(moment):
    """When points earned at `moment` expire, by settings.POINTS_EXPIRY_MODE.

    "yearly": earned in year Y, expire at the end of Y+1 (local time); "rolling": POINTS_EXPIRY_DAYS
    later; "never": None.
    """
    mode = _setting("POINTS_EXPIRY_MODE", "yearly")
    if mode == "never":
        return None
    if mode == "rolling":
        return moment + timedelta(days=int(_setting("POINTS_EXPIRY_DAYS", 365)))
    local = timezone.localtime(moment)
    return timezone.make_aware(
        datetime.combine(local.date().replace(year=local.year + 2, month=1, day=1), time())
    )


def _positive_int(amount):
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidPoints(_("积分数量必须是正整数"))
    return amount


def _existing(member, kind, reference):
    if not reference:
        return None
    return PointsEntry.objects.filter(member=member, kind=kind, reference=reference).first()


def _credit(member, amount, kind, reference="", *, reason="", actor=None):
    existing = _existing(member, kind, reference)
    if existing:
        return existing, False
    now = timezone.now()
    try:
        with transaction.atomic():
            Member.objects.filter(pk=member.pk).update(points_balance=F("points_balance") + amount)
            balance = Member.objects.filter(pk=member.pk).values_list("points_balance", flat=True).get()
            entry = PointsEntry.objects.create(
                member=member,
                delta=amount,
                balance_after=balance,
                kind=kind,
                reference=reference,
                reason=reason,
                actor=actor,
                # a refund undoes a debit and keeps the refunded points' old expiry (see _expiry_totals)
                expires_at=None if kind == PointsEntry.Kind.REFUND else points_expiry_for(now),
            )
    except IntegrityError:
        # a concurrent call with the same reference won; the savepoint undid our balance change
        existing = _existing(member, kind, reference)
        if existing is None:
            raise
        return existing, False
    member.points_balance = balance
    return entry, True


def _debit(member, amount, kind, reference="", *, reason="", actor=None):
    existing = _existing(member, kind, reference)
    if existing:
        if existing.delta != -amount:
            raise InvalidPoints(_("同一单号的积分扣减数量不一致"), code="reference_mismatch")
        return existing, False
    try:
        with transaction.atomic():
            updated = Member.objects.filter(pk=member.pk, points_balance__gte=amount).update(
                points_balance=F("points_balance") - amount
            )
            if not updated:
                raise InsufficientPoints(_("积分不足：需要 %(need)s 积分"), params={"need": amount})
            balance = Member.objects.filter(pk=member.pk).values_list("points_balance", flat=True).get()
            entry = PointsEntry.objects.create(
                member=member,
                delta=-amount,
                balance_after=balance,
                kind=kind,
                reference=reference,
                reason=reason,
                actor=actor,
            )
    except IntegrityError:
        existing = _existing(member, kind, reference)
        if existing is None:
            raise
        return existing, False
    member.points_balance = balance
    return entry, True


# --- points: use cases ------------------------------------------------------------------------
@transaction.atomic
def earn_points(member, amount, kind, reference, *, reason="", actor=None):
    """Credit `amount` points of an earning kind. Idempotent by (member, kind, reference).

    Returns the ledger entry (the earlier one when the reference was already credited).
    """
    member = _member(member)
    amount = _positive_int(amount)
    if kind not in EARN_KINDS:
        raise InvalidPoints(_("不是积分获得类型"), code="invalid_kind")
    entry, _created = _credit(member, amount, kind, reference or "", reason=reason, actor=actor)
    return entry


@transaction.atomic
def spend_points(member, amount, kind, reference, *, reason=""):
    """Debit `amount` points (exchange or checkout) by a conditional UPDATE.

    Raises InsufficientPoints and writes nothing when the balance is short, however many spends
    race. Idempotent by (member, kind, reference) when a reference is given.
    """
    member = _member(member)
    amount = _positive_int(amount)
    if kind not in SPEND_KINDS:
        raise InvalidPoints(_("不是积分使用类型"), code="invalid_kind")
    entry, _created = _debit(member, amount, kind, reference or "", reason=reason)
    return entry


@transaction.atomic
def refund_points(member, amount, reference, *, reason=""):
    """Give back points spent on an order that was cancelled or refunded. Idempotent by reference."""
    member = _member(member)
    entry, _created = _credit(
        member, _positive_int(amount), PointsEntry.Kind.REFUND, reference, reason=reason
    )
    return entry


@transaction.atomic
def adjust_points(member, delta, reason, actor, *, reference=""):
    """Staff adjustment, positive or negative, with a required reason written to the ledger.

    A negative adjustment larger than the balance is refused (InsufficientPoints): nothing changes.
    """
    member = _member(member)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(_("调整积分必须填写原因"))
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise InvalidPoints(_("调整数量必须是非零整数"))
    if delta > 0:
        entry, _created = _credit(
            member, delta, PointsEntry.Kind.ADJUST, reference, reason=reason, actor=actor
        )
        return entry
    try:
        entry, _created = _debit(
            member, -delta, PointsEntry.Kind.ADJUST, reference, reason=reason, actor=actor
        )
    except InsufficientPoints as exc:
        raise InsufficientPoints(
            _("扣减后积分不能为负：当前余额 %(balance)s"),
            params={"balance": Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)},
        ) from exc
    return entry


@dataclass
class SignInResult:
    entry: PointsEntry
    created: bool
    streak: int
    points: int


def sign_in_points(streak):
    base = int(_setting("SIGN_IN_BASE_POINTS", 5))
    bonus = int(_setting("SIGN_IN_STREAK_BONUS", 1)) * (streak - 1)
    return base + min(bonus, int(_setting("SIGN_IN_STREAK_BONUS_MAX", 5)))


@transaction.atomic
def sign_in(member, today=None):
    """Daily sign-in: once per local day (row lock + unique reference), with a streak bonus.

    Signing in again the same day returns the day's entry with created=False and changes nothing.
    Missing a day restarts the streak at 1.
    """
    member = _member(member)
    today = today or timezone.localdate()
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.last_sign_in_on == today:
        entry = _existing(member, PointsEntry.Kind.SIGN_IN, today.isoformat())
        return SignInResult(entry, False, locked.sign_in_streak, entry.delta if entry else 0)
    if locked.last_sign_in_on == today - timedelta(days=1):
        streak = locked.sign_in_streak + 1
    else:
        streak = 1
    points = sign_in_points(streak)
    entry, created = _credit(
        member,
        points,
        PointsEntry.Kind.SIGN_IN,
        today.isoformat(),
        reason=_("连续签到第 %(n)s 天") % {"n": streak},
    )
    Member.objects.filter(pk=member.pk).update(sign_in_streak=streak, last_sign_in_on=today)
    member.sign_in_streak, member.last_sign_in_on = streak, today
    return SignInResult(entry, created, streak, points)


def _local_day_bounds(day):
    start = timezone.make_aware(datetime.combine(day, time()))
    return start, start + timedelta(days=1)


@transaction.atomic
def award_share(member, reference, today=None):
    """Points for a share, at most SHARE_DAILY_CAP awards per local day (counted under a row lock).

    Returns the entry, or None when today's cap is reached. Idempotent by reference.
    """
    member = _member(member)
    if not reference:
        raise InvalidPoints(_("缺少分享单号"), code="reference_required")
    existing = _existing(member, PointsEntry.Kind.SHARE, reference)
    if existing:
        return existing
    Member.objects.select_for_update().filter(pk=member.pk).values_list("pk", flat=True).get()
    start, end = _local_day_bounds(today or timezone.localdate())
    awarded = PointsEntry.objects.filter(
        member=member, kind=PointsEntry.Kind.SHARE, created_at__gte=start, created_at__lt=end
    ).count()
    if awarded >= int(_setting("SHARE_DAILY_CAP", 3)):
        return None
    entry, _created = _credit(
        member, int(_setting("SHARE_POINTS", 2)), PointsEntry.Kind.SHARE, reference, reason=_("分享商品")
    )
    return entry


@transaction.atomic
def award_review(member, review_reference):
    """REVIEW_POINTS for a product review, once per review reference."""
    member = _member(member)
    if not review_reference:
        raise InvalidPoints(_("缺少评价单号"), code="reference_required")
    entry, _created = _credit(
        member,
        int(_setting("REVIEW_POINTS", 10)),
        PointsEntry.Kind.REVIEW,
        review_reference,
        reason=_("商品评价"),
    )
    return entry


@dataclass(frozen=True)
class DeductionQuote:
    points: int
    amount: Decimal
    max_points: int


def quote_checkout_deduction(member, order_total, requested_points=None):
    """How many points an order may use and what they are worth. Reads only, writes nothing.

    Rate: POINTS_PER_YUAN_DEDUCTION points = 1 yuan; at most POINTS_MAX_DEDUCTION_RATIO of the
    order total; whole fen only (rounded down, and never more points than the fen bought).
    `requested_points=None` means "as many as allowed". Asking for more than the balance raises
    InsufficientPoints; a negative request raises InvalidPoints.
    """
    member = _member(member)
    total = to_money(order_total)
    rate = int(_setting("POINTS_PER_YUAN_DEDUCTION", 100))
    ratio = Decimal(str(_setting("POINTS_MAX_DEDUCTION_RATIO", "0.5")))
    balance = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    if requested_points is not None:
        if (
            isinstance(requested_points, bool)
            or not isinstance(requested_points, int)
            or requested_points < 0
        ):
            raise InvalidPoints(_("积分数量必须是正整数"))
        if requested_points > balance:
            raise InsufficientPoints(_("积分不足：当前余额 %(balance)s"), params={"balance": balance})
    max_amount = max(ZERO, floor_fen(total * ratio))
    max_points = floor_int(max_amount * rate)
    usable = min(balance, max_points, balance if requested_points is None else requested_points)
    amount = min(floor_fen(Decimal(usable) / rate), max_amount)
    points = ceil_int(amount * rate)
    return DeductionQuote(points=points, amount=amount, max_points=min(max_points, balance))


# --- growth and levels ------------------------------------------------------------------------
def level_for_growth(growth):
    return MemberLevel.objects.filter(growth_threshold__lte=growth).order_by("-rank").first()


@transaction.atomic
def merge_member_into(from_user, to_user):
    """What a deactivated duplicate account kept moves to the account it was merged into (the
    WeChat-only account whose owner proved the phone of an older account: members.auth.merging).

    Points leave `from_user` and arrive at `to_user` through both ledgers (one debit, one credit,
    each with reference "merge:<from id>", so running this twice moves them once); growth is
    added once by the same reference; addresses move (the owner's default stays the default);
    the referrer is kept if the owner has none. Balance == sum of ledger on both sides.
    """
    source, target = ensure_member(from_user), ensure_member(to_user)
    reference = f"merge:{from_user.pk}"
    reason = _("账号合并")
    balance = Member.objects.select_for_update().values_list("points_balance", flat=True).get(pk=source.pk)
    if balance > 0:
        _debit(source, balance, PointsEntry.Kind.ADJUST, reference, reason=reason)
        _credit(target, balance, PointsEntry.Kind.ADJUST, reference, reason=reason)
    if source.growth > 0:
        add_growth(target, source.growth, reference, reason=str(reason))
    moving = Address.objects.filter(user=from_user)
    if Address.objects.filter(user=to_user, is_default=True).exists():
        moving.update(is_default=False)
    moving.update(user=to_user)
    if source.referrer_id and source.referrer_id != to_user.pk:
        set_referrer(to_user, source.referrer)
    return target


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


@transaction.atomic
def earn_for_completed_order(member, order_ref, paid_amount):
    """Points and growth for a completed order; the orders app calls this once per completion.

    Points = floor(paid yuan × POINTS_PER_YUAN_EARNED × level multiplier); growth = floor(paid yuan
    × GROWTH_PER_YUAN). Both idempotent by the order reference. Returns the points entry or None
    when the order earns no points.
    """
    member = _member(member)
    paid = to_money(paid_amount)
    if paid <= 0:
        return None
    reference = str(order_ref)
    level = MemberLevel.objects.filter(members__pk=member.pk).first()
    multiplier = level.points_multiplier if level else Decimal(1)
    points = floor_int(paid * int(_setting("POINTS_PER_YUAN_EARNED", 1)) * multiplier)
    growth = floor_int(paid * int(_setting("GROWTH_PER_YUAN", 1)))
    entry = None
    if points > 0:
        entry, _created = _credit(
            member,
            points,
            PointsEntry.Kind.PURCHASE,
            reference,
            reason=_("订单 %(ref)s 完成") % {"ref": reference},
        )
    if growth > 0:
        add_growth(member, growth, f"order:{reference}", reason=_("订单 %(ref)s 完成") % {"ref": reference})
    return entry


# --- expiry -----------------------------------------------------------------------------------
def _expiry_totals(until, member_ids=None, now=None):
    """Per member: points earned that expire by `until`, and all debits so far (negative).

    A refund gives back points a debit took, so it counts as undoing that debit, not as new points
    with a fresh expiry: exchanging points about to expire and cancelling cannot extend them."""
    refunded = Q(kind=PointsEntry.Kind.REFUND)
    earned = Q(delta__gt=0) & ~refunded
    rows = PointsEntry.objects.all()
    if member_ids is not None:
        rows = rows.filter(member_id__in=member_ids)
    return (
        rows.values("member_id")
        .annotate(
            expiring=Sum("delta", filter=earned & Q(expires_at__lte=until)),
            debits=Sum("delta", filter=Q(delta__lt=0) | refunded),
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
    overlaps another (or is repeated) expires nothing twice. Returns the total points expired.
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

    Uses core.notify.notify when that module exists, else logs. Returns how many were told.
    """
    now = now or timezone.now()
    days = int(days if days is not None else _setting("POINTS_EXPIRY_NOTICE_DAYS", 30))
    horizon = now + timedelta(days=days)
    rows = {row["member_id"]: row for row in _expiry_totals(horizon, now=now) if _unspent(row) > 0}
    told = 0
    members = Member.objects.filter(pk__in=rows).select_related("user")
    for member in members:
        row = rows[member.pk]
        next_at = row["next_at"]
        if next_at is None or (member.expiry_notified_for and member.expiry_notified_for >= next_at):
            continue
        amount = min(_unspent(row), member.points_balance)
        if amount <= 0:
            continue
        _notify_member(
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


# --- addresses --------------------------------------------------------------------------------
MAX_ADDRESSES = 20


@transaction.atomic
def save_address(user, address, *, make_default=False):
    """Create or update one of the user's addresses; the first one, or make_default, becomes default.

    One default per user is also a database constraint; the others are unset in the same
    transaction, after locking the user's address rows.
    """
    if address.pk is None:
        address.user = user
        if Address.objects.filter(user=user).count() >= MAX_ADDRESSES:
            raise AddressLimitReached(_("最多保存 %(n)s 个收货地址"), params={"n": MAX_ADDRESSES})
    elif address.user_id != user.pk:
        raise MembersError(_("地址不存在"), code="not_found")
    list(Address.objects.select_for_update().filter(user=user).values_list("pk", flat=True))
    has_default = Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).exists()
    want_default = make_default or not has_default
    if want_default:
        Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).update(is_default=False)
    address.is_default = want_default or (address.is_default and not has_default)
    address.save()
    return address


@transaction.atomic
def set_default_address(user, address_id):
    """Make one of the user's addresses the default (404-style MembersError for another user's)."""
    address = Address.objects.select_for_update().filter(user=user, pk=address_id).first()
    if address is None:
        raise MembersError(_("地址不存在"), code="not_found")
    Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).update(is_default=False)
    if not address.is_default:
        address.is_default = True
        address.save(update_fields=["is_default", "updated_at"])
    return address


@transaction.atomic
def delete_address(user, address_id):
    """Delete one of the user's addresses; when it was the default, the newest other one becomes default."""
    address = Address.objects.select_for_update().filter(user=user, pk=address_id).first()
    if address is None:
        raise MembersError(_("地址不存在"), code="not_found")
    was_default = address.is_default
    address.delete()
    if was_default:
        successor = Address.objects.filter(user=user).order_by("-updated_at", "-id").first()
        if successor:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])


def points_value(points):
    """What `points` are worth at checkout, in yuan (rounded down to the fen)."""
    rate = int(_setting("POINTS_PER_YUAN_DEDUCTION", 100))
    return floor_fen(Decimal(points) / rate)
