"""Points: the two ledger primitives and every use case that moves points.

`Member.points_balance` is a balance row, `PointsEntry` the append-only ledger; both change in the
same transaction, the balance only by a conditional UPDATE, so balance == sum(ledger) always and
two concurrent spends of the same points cannot both succeed.

A balance may be negative for one reason only: a refund took back the points its order earned
after they had been spent (`clawback_for_refund`; a refund is never blocked by spent points).
Every other debit is the conditional `points_balance >= amount` with a positive amount, which a
negative balance fails by itself: nothing but a claw-back ever takes a balance below zero, and a
negative balance is offset by the next points earned. The ledger's CHECK
`points_entry_only_clawback_goes_negative` holds the same rule in the database.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import ZERO, MoneyError, ceil_int, floor_fen, floor_int, to_money

from ..models import GrowthEntry, Member, PointsEntry
from .base import InsufficientPoints, InvalidPoints, ReasonRequired, _setting
from .levels import add_growth
from .profiles import _member

EARN_KINDS = {
    PointsEntry.Kind.PURCHASE,
    PointsEntry.Kind.SIGN_IN,
    PointsEntry.Kind.REVIEW,
    PointsEntry.Kind.SHARE,
    PointsEntry.Kind.REFUND,
    PointsEntry.Kind.BIRTHDAY,
}
SPEND_KINDS = {PointsEntry.Kind.EXCHANGE, PointsEntry.Kind.CHECKOUT}
NEGATIVE_BALANCE_MESSAGE = _("积分余额为负（因退款扣回），暂不能使用积分")
REFERENCE_MAX_LENGTH = PointsEntry._meta.get_field("reference").max_length


# --- the two primitives -----------------------------------------------------------------------
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
                # a refund undoes a debit and keeps the refunded points' old expiry (see expiry._expiry_totals)
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


def _short_of(member, amount):
    """The refusal for a debit the balance does not cover: a negative balance says why."""
    balance = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    if balance < 0:
        return InsufficientPoints(NEGATIVE_BALANCE_MESSAGE, code="negative_balance")
    return InsufficientPoints(_("积分不足：需要 %(need)s 积分"), params={"need": amount})


def _debit(
    member, amount, kind, reference="", *, reason="", actor=None, may_go_negative=False, expires_at=None
):
    """Take `amount` (> 0) points. Only when `may_go_negative` (a claw-back) is the UPDATE
    unconditional; every other debit needs `points_balance >= amount`."""
    if may_go_negative and kind != PointsEntry.Kind.CLAWBACK:
        raise InvalidPoints(_("只有退款扣回积分可以使余额为负"), code="invalid_kind")
    existing = _existing(member, kind, reference)
    if existing:
        if existing.delta != -amount:
            raise InvalidPoints(_("同一单号的积分扣减数量不一致"), code="reference_mismatch")
        return existing, False
    try:
        with transaction.atomic():
            rows = Member.objects.filter(pk=member.pk)
            if not may_go_negative:
                rows = rows.filter(points_balance__gte=amount)
            if not rows.update(points_balance=F("points_balance") - amount):
                raise _short_of(member, amount)
            balance = Member.objects.filter(pk=member.pk).values_list("points_balance", flat=True).get()
            entry = PointsEntry.objects.create(
                member=member,
                delta=-amount,
                balance_after=balance,
                kind=kind,
                reference=reference,
                reason=reason,
                actor=actor,
                expires_at=expires_at,
            )
    except IntegrityError:
        existing = _existing(member, kind, reference)
        if existing is None:
            raise
        return existing, False
    member.points_balance = balance
    return entry, True


# --- earning, spending, adjusting -------------------------------------------------------------
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

    Raises InsufficientPoints and writes nothing when the balance is short (code
    "negative_balance" when it is below zero), however many spends race. Idempotent by
    (member, kind, reference) when a reference is given.
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
            code=exc.code,
            params={"balance": Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)},
        ) from exc
    return entry


# --- sign-in, share, review -------------------------------------------------------------------
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


# --- checkout ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeductionQuote:
    points: int
    amount: Decimal
    max_points: int


def quote_checkout_deduction(member, order_total, requested_points=None, *, balance_read=False):
    """How many points an order may use and what they are worth. Reads only, writes nothing.

    Rate: POINTS_PER_YUAN_DEDUCTION points = 1 yuan; at most POINTS_MAX_DEDUCTION_RATIO of the
    order total; whole fen only (rounded down, and never more points than the fen bought).
    `requested_points=None` means "as many as allowed". Asking for more than the balance raises
    InsufficientPoints (code "negative_balance" when the balance is below zero); a negative
    request raises InvalidPoints. A balance of zero or less offers 0 points.
    `balance_read`: the caller read (or locked) the member row in this request, so its
    `points_balance` is used as it is, without reading it again.
    """
    member = _member(member)
    total = to_money(order_total)
    rate = int(_setting("POINTS_PER_YUAN_DEDUCTION", 100))
    ratio = Decimal(str(_setting("POINTS_MAX_DEDUCTION_RATIO", "0.5")))
    if balance_read:
        balance = member.points_balance
    else:
        balance = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    if requested_points is not None:
        if (
            isinstance(requested_points, bool)
            or not isinstance(requested_points, int)
            or requested_points < 0
        ):
            raise InvalidPoints(_("积分数量必须是正整数"))
        if requested_points > 0 and balance < 0:
            raise InsufficientPoints(NEGATIVE_BALANCE_MESSAGE, code="negative_balance")
        if requested_points > max(0, balance):
            raise InsufficientPoints(_("积分不足：当前余额 %(balance)s"), params={"balance": balance})
    usable_balance = max(0, balance)
    max_amount = max(ZERO, floor_fen(total * ratio))
    max_points = floor_int(max_amount * rate)
    usable = min(usable_balance, max_points, usable_balance if requested_points is None else requested_points)
    amount = min(floor_fen(Decimal(usable) / rate), max_amount)
    points = ceil_int(amount * rate)
    return DeductionQuote(points=points, amount=amount, max_points=min(max_points, usable_balance))


def points_value(points):
    """What `points` are worth at checkout, in yuan (rounded down to the fen)."""
    rate = int(_setting("POINTS_PER_YUAN_DEDUCTION", 100))
    return floor_fen(Decimal(points) / rate)


# --- orders: earning on completion, claw-back on refund ---------------------------------------
def _multiplier(value):
    if isinstance(value, bool | float):
        raise InvalidPoints(_("积分倍率无效"), code="invalid_multiplier")
    try:
        multiplier = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidPoints(_("积分倍率无效"), code="invalid_multiplier") from exc
    if not multiplier.is_finite() or multiplier < 0:
        raise InvalidPoints(_("积分倍率无效"), code="invalid_multiplier")
    return multiplier


@transaction.atomic
def earn_for_completed_order(member, reference, paid_amount, *, multiplier=None):
    """Points and growth for a completed order; the orders app calls this once per completion.

    `reference` is the order's reference ("order:<no>"), used verbatim for the PURCHASE points
    entry and the growth entry (clawback_for_refund finds both by it). Points = floor(paid yuan ×
    POINTS_PER_YUAN_EARNED × multiplier), where `multiplier` is the level's points multiplier
    snapshotted when the order was paid (None: the member's current level's); growth =
    floor(paid yuan × GROWTH_PER_YUAN). Both idempotent by the reference. Returns the points entry
    or None when the order earns no points.
    """
    member = _member(member)
    paid = to_money(paid_amount)
    if paid <= 0:
        return None
    reference = str(reference)
    if multiplier is None:
        # selectors import this package (ensure_member): imported here, not at the top
        from ..selectors import level_multiplier

        multiplier = level_multiplier(member)
    else:
        multiplier = _multiplier(multiplier)
    points = floor_int(paid * int(_setting("POINTS_PER_YUAN_EARNED", 1)) * multiplier)
    growth = floor_int(paid * int(_setting("GROWTH_PER_YUAN", 1)))
    reason = _("订单 %(ref)s 完成") % {"ref": _order_no(reference)}
    entry = None
    if points > 0:
        entry, _created = _credit(member, points, PointsEntry.Kind.PURCHASE, reference, reason=reason)
    if growth > 0:
        add_growth(member, growth, reference, reason=reason)
    return entry


def _order_no(reference):
    """What a shopper reads in the ledger: the order number, without the reference grammar's prefix."""
    return reference.removeprefix("order:")


def _reference(value):
    if not isinstance(value, str) or not value or len(value) > REFERENCE_MAX_LENGTH or "\x00" in value:
        raise InvalidPoints(_("业务单号无效"), code="invalid_reference")
    return value


def _amount(value):
    try:
        amount = to_money(value)
    except MoneyError as exc:
        raise InvalidPoints(_("金额无效"), code="invalid_amount") from exc
    if amount < 0:
        raise InvalidPoints(_("金额无效"), code="invalid_amount")
    return amount


def _due(earned, refunded, paid):
    """What the refunds of an order take back in total: all of it once the refunds reach what was
    paid, else floor(earned × refunded / paid)."""
    if earned <= 0:
        return 0
    if refunded >= paid:
        return earned
    return min(earned, floor_int(Decimal(earned) * refunded / paid))


@transaction.atomic
def clawback_for_refund(member, order_reference, *, refund_reference, refunded_total, paid_amount):
    """Take back, for a refund of a completed order, the points and growth that order earned.

    The order earned a PURCHASE points entry and a growth entry, both with reference
    `order_reference`. After this refund the total taken back for the order is
    floor(earned × refunded_total / paid_amount), all of it when refunded_total >= paid_amount;
    this call takes that minus what earlier refunds of the order took (`refunded_total` is the
    order's cumulative refunded amount, on the same base `paid_amount` the points were earned on).
    Written under `refund_reference`, which must read "<order_reference>:..." (the grammar's
    "order:<no>:refund:<id>"): a CLAWBACK points entry and a negative growth entry.

    A refund is never blocked because the points were spent: the claw-back may take the balance
    below zero (the next points earned offset it). Growth never goes below zero and the level is
    never lowered. Never more than earned in total; an order that earned nothing gives (0, 0).

    Locks the member row first (the system's lock order starts with the member); works with the
    lock already held by the caller's transaction. Idempotent by `refund_reference`: a retry
    changes nothing and returns the same figures. Returns (points taken, growth taken).
    """
    member = _member(member)
    order_reference = _reference(order_reference)
    refund_reference = _reference(refund_reference)
    prefix = f"{order_reference}:"
    if not refund_reference.startswith(prefix):
        raise InvalidPoints(_("退款单号不属于该订单"), code="reference_mismatch")
    refunded, paid = _amount(refunded_total), _amount(paid_amount)
    locked = Member.objects.select_for_update().only("id", "growth").get(pk=member.pk)
    reason = _("订单 %(ref)s 退款扣回") % {"ref": _order_no(order_reference)}
    points = _claw_back_points(member, order_reference, refund_reference, prefix, refunded, paid, reason)
    growth = _claw_back_growth(locked, order_reference, refund_reference, prefix, refunded, paid, reason)
    member.growth = locked.growth
    return points, growth


def _claw_back_points(member, order_reference, refund_reference, prefix, refunded, paid, reason):
    done = _existing(member, PointsEntry.Kind.CLAWBACK, refund_reference)
    if done:
        return -done.delta
    earned = (
        PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.PURCHASE, reference=order_reference)
        .values("delta", "expires_at")
        .first()
    )
    if earned is None:
        return 0
    taken = -(
        PointsEntry.objects.filter(
            member=member, kind=PointsEntry.Kind.CLAWBACK, reference__startswith=prefix
        ).aggregate(s=Sum("delta"))["s"]
        or 0
    )
    take = max(0, _due(earned["delta"], refunded, paid) - taken)
    if take == 0:
        return 0
    # the claw-back carries the earned points' expiry: it undoes that earn (see expiry._expiry_totals)
    _debit(
        member,
        take,
        PointsEntry.Kind.CLAWBACK,
        refund_reference,
        reason=reason,
        may_go_negative=True,
        expires_at=earned["expires_at"],
    )
    return take


def _claw_back_growth(locked, order_reference, refund_reference, prefix, refunded, paid, reason):
    done = (
        GrowthEntry.objects.filter(member=locked, reference=refund_reference)
        .values_list("delta", flat=True)
        .first()
    )
    if done is not None:
        return -done
    earned = (
        GrowthEntry.objects.filter(member=locked, reference=order_reference, delta__gt=0)
        .values_list("delta", flat=True)
        .first()
    )
    if not earned:
        return 0
    taken = -(
        GrowthEntry.objects.filter(member=locked, reference__startswith=prefix, delta__lt=0).aggregate(
            s=Sum("delta")
        )["s"]
        or 0
    )
    take = min(max(0, _due(earned, refunded, paid) - taken), locked.growth)
    if take == 0:
        return 0
    GrowthEntry.objects.create(
        member=locked,
        delta=-take,
        balance_after=locked.growth - take,
        reference=refund_reference,
        reason=reason,
    )
    Member.objects.filter(pk=locked.pk).update(growth=F("growth") - take)
    locked.growth -= take
    return take
