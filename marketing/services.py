"""Every write to coupons and the points mall.

Guarantees (each use case is @transaction.atomic):
- A coupon's total and a mall item's quota only move by a conditional UPDATE (``… WHERE issued_count
  < total_quantity``), so however many shoppers race for the last copy, one gets it.
- A member's own decisions (per-member limits, one exchange per confirmation form) are taken with
  that member's profile row locked, so two tabs of the same shopper are serialised.
- Locks are always taken in the order member → exchange → coupon/stock row → mall item, so a
  cancellation and a new exchange can wait for each other but never deadlock. The mall item's
  quota, the row every exchanger of that item shares, is taken last and held only until commit.
- An exchange spends points under ``mall:<pk>`` and reserves stock under the same reference; the
  cancellation refunds and releases under it, so a retried task changes nothing twice.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.selectors import get_sellable_sku
from catalog.services import add_sales
from core.notify import notify
from core.numbers import parse_id
from members.models import Member, PointsEntry
from members.services import NEGATIVE_BALANCE_MESSAGE, ensure_member, refund_points, spend_points
from stores.errors import StockError
from stores.models import Store
from stores.scope import user_can_work_on
from stores.services import release_reserved, reserve_lines, sell_reserved

from . import mall_cache
from .errors import CouponUnavailable, ExchangeUnavailable, MarketingError, PickupError
from .models import Coupon, MemberCoupon, PointsExchange, PointsItem
from .selectors import held_exchanges

logger = logging.getLogger(__name__)
Status = PointsExchange.Status
PICKUP_CODE_ATTEMPTS = 20


def pickup_days():
    return int(getattr(settings, "POINTS_MALL_PICKUP_DAYS", 7))


def _lock_member(user):
    """The member's profile row, locked until the transaction ends."""
    member = ensure_member(user)
    return Member.objects.select_for_update().get(pk=member.pk)


# --- coupons ----------------------------------------------------------------------------------
@transaction.atomic
def issue_coupon(user, coupon, *, source, reference="", now=None, check_member_limit=False):
    """Give `user` one copy of `coupon`, taking it from the coupon's total.

    Idempotent by (coupon, source, reference) when a reference is given: a retried grant returns
    the copy already issued. Raises CouponUnavailable (nothing changed) when the coupon is
    inactive, past its dates or sold out, or, with `check_member_limit`, when the member already
    holds `per_member_limit` copies.
    """
    now = now or timezone.now()
    if source not in MemberCoupon.Source.values:
        raise MarketingError(_("未知的发券来源"), code="invalid_source")
    if reference:
        done = MemberCoupon.objects.filter(coupon=coupon, source=source, reference=reference).first()
        if done:
            return _same_holder(done, user)
    if not coupon.is_active:
        raise CouponUnavailable(_("该优惠券已停止发放"), code="inactive")
    if coupon.validity == Coupon.Validity.FIXED and coupon.valid_until <= now:
        raise CouponUnavailable(_("该优惠券已过期"), code="expired")
    if check_member_limit:
        _lock_member(user)
        held = MemberCoupon.objects.filter(coupon=coupon, user=user).count()
        if held >= coupon.per_member_limit:
            raise CouponUnavailable(
                _("每人限领 %(n)s 张，您已领取"), code="member_limit", params={"n": coupon.per_member_limit}
            )
    taken = (
        Coupon.objects.filter(pk=coupon.pk, is_active=True)
        .filter(Q(total_quantity__isnull=True) | Q(issued_count__lt=F("total_quantity")))
        .update(issued_count=F("issued_count") + 1)
    )
    if coupon.total_quantity is not None:
        mall_cache.bump()  # a mall card shows 已兑完 when its coupon has none left
    if not taken:
        if reference:  # a concurrent twin of this grant may have taken the last copy: that is ours
            done = MemberCoupon.objects.filter(coupon=coupon, source=source, reference=reference).first()
            if done:
                return _same_holder(done, user)
        raise CouponUnavailable(_("优惠券已被领完"), code="sold_out")
    valid_from, valid_until = coupon.window_for(now)
    try:
        with transaction.atomic():
            return MemberCoupon.objects.create(
                coupon=coupon, user=user, source=source, reference=reference,
                valid_from=valid_from, valid_until=valid_until, claimed_at=now,
            )
    except IntegrityError:
        # a concurrent grant with the same reference won; give our copy back to the total
        done = MemberCoupon.objects.filter(coupon=coupon, source=source, reference=reference).first()
        if done is None:
            raise
        Coupon.objects.filter(pk=coupon.pk).update(issued_count=F("issued_count") - 1)
        if coupon.total_quantity is not None:
            mall_cache.bump()
        return _same_holder(done, user)


def _same_holder(copy, user):
    """A retried grant returns its copy, but a reference reused for someone else is a caller's bug:
    refuse it rather than hand one member's coupon to another."""
    if copy.user_id != user.pk:
        raise MarketingError(_("该发券单号已用于其他会员"), code="reference_mismatch")
    return copy


def claim_coupon(user, coupon_id, *, now=None):
    """A shopper takes a free coupon from the coupon centre (领券中心), within its per-member limit."""
    try:
        coupon = Coupon.objects.filter(pk=parse_id(coupon_id), claimable=True).first()
    except (TypeError, ValueError):  # a tampered form: same answer as an unknown coupon
        coupon = None
    if coupon is None:
        raise CouponUnavailable(_("优惠券不存在或不可领取"), code="not_found")
    return issue_coupon(user, coupon, source=MemberCoupon.Source.CLAIM, now=now, check_member_limit=True)


@transaction.atomic
def use_coupon(member_coupon, *, reference, now=None):
    """Mark a copy used by an order (`reference`). One conditional UPDATE: of five orders racing
    for the same copy, one wins and the others get CouponUnavailable."""
    now = now or timezone.now()
    used = MemberCoupon.objects.filter(
        pk=member_coupon.pk, status=MemberCoupon.Status.UNUSED, valid_from__lte=now, valid_until__gt=now
    ).update(status=MemberCoupon.Status.USED, used_at=now, used_reference=reference[:64])
    if not used:
        retried = MemberCoupon.objects.filter(
            pk=member_coupon.pk, status=MemberCoupon.Status.USED, used_reference=reference[:64]
        )
        if reference and retried.exists():
            return member_coupon  # the same order retried
        raise CouponUnavailable(_("优惠券已使用或不在有效期内"), code="not_usable")
    member_coupon.refresh_from_db()
    return member_coupon


@transaction.atomic
def restore_coupon(member_coupon, *, reference, now=None):
    """Give a used copy back when its order is cancelled before payment. A copy whose dates have
    ended meanwhile comes back as expired, not usable. Only the order that used it can restore it."""
    now = now or timezone.now()
    used_by_it = MemberCoupon.objects.filter(
        pk=member_coupon.pk, status=MemberCoupon.Status.USED, used_reference=reference[:64]
    ).exclude(used_reference="")
    used_by_it.filter(valid_until__gt=now).update(status=MemberCoupon.Status.UNUSED, used_at=None, used_reference="")
    used_by_it.filter(valid_until__lte=now).update(
        status=MemberCoupon.Status.EXPIRED, used_at=None, used_reference=""
    )
    member_coupon.refresh_from_db()
    return member_coupon


def expire_member_coupons(now=None):
    """Mark unused copies past their end as expired (the wallet already hides them; this keeps
    counts and reports honest). Returns how many changed."""
    now = now or timezone.now()
    return MemberCoupon.objects.filter(status=MemberCoupon.Status.UNUSED, valid_until__lte=now).update(
        status=MemberCoupon.Status.EXPIRED
    )


# --- points mall ------------------------------------------------------------------------------
def _new_pickup_code():
    return f"{secrets.randbelow(1_000_000):06d}"


def _pickup_store(item, store_id):
    if not store_id:
        raise ExchangeUnavailable(_("请选择自提门店"), code="store_required")
    try:
        store = Store.objects.get(pk=parse_id(store_id), is_archived=False, status=Store.Status.OPEN, pickup_enabled=True)
    except (Store.DoesNotExist, TypeError, ValueError):
        raise ExchangeUnavailable(_("该门店不支持自提，请换一家门店"), code="store_unavailable") from None
    return store


@transaction.atomic
def exchange_points(user, item_id, *, request_id, store_id=None, expected_points=None, now=None):
    """Spend points on a mall item. Returns the PointsExchange.

    A coupon item issues the coupon at once (status done); a product item reserves one unit in
    the chosen store and gives a 6-digit pickup code, valid POINTS_MALL_PICKUP_DAYS days (status
    awaiting pickup). The same `request_id` again returns the first exchange and changes nothing.
    `expected_points` (the price the shopper confirmed) must equal the item's points, read under
    the member's lock, or nothing is spent.
    Short points, a sold-out item or store, a reached limit: a MarketingError/DomainError is raised
    and the whole exchange rolls back (no points spent, no quota or stock taken).
    """
    now = now or timezone.now()
    request_id = (request_id or "").strip()[:64]
    if not request_id or "\x00" in request_id:  # PostgreSQL cannot even compare a string holding NUL
        raise MarketingError(_("页面已过期，请刷新后重试"), code="request_id_required")
    done = PointsExchange.objects.filter(user=user, request_id=request_id).first()
    if done:
        return done
    member = _lock_member(user)
    done = PointsExchange.objects.filter(user=user, request_id=request_id).first()
    if done:  # the same form, submitted twice, waited for our lock
        return done

    try:
        item = PointsItem.objects.select_related("coupon", "sku").get(pk=parse_id(item_id))
    except (PointsItem.DoesNotExist, TypeError, ValueError):
        raise ExchangeUnavailable(_("兑换商品不存在"), code="not_found") from None
    if not item.is_open(now):
        raise ExchangeUnavailable(_("该商品当前不可兑换"), code="closed")
    if expected_points is not None and str(expected_points) != str(item.points):
        # the shopper confirmed another price than the item has now (staff changed it meanwhile)
        raise ExchangeUnavailable(
            _("兑换所需积分已变更为 %(n)s 积分，请确认后重新兑换"), code="price_changed", params={"n": item.points}
        )
    if item.per_member_limit:
        if held_exchanges(user, item) >= item.per_member_limit:
            raise ExchangeUnavailable(
                _("每人限兑 %(n)s 次，您已兑换"), code="member_limit", params={"n": item.per_member_limit}
            )
    if member.points_balance < 0:
        raise ExchangeUnavailable(NEGATIVE_BALANCE_MESSAGE, code="negative_balance")
    if member.points_balance < item.points:
        raise ExchangeUnavailable(
            _("积分不足：需要 %(need)s 积分，当前 %(have)s 积分"),
            code="insufficient_points", params={"need": item.points, "have": member.points_balance},
        )
    store = sku = None
    if item.kind == PointsItem.Kind.PRODUCT:
        store = _pickup_store(item, store_id)
        sku = get_sellable_sku(item.sku_id, now=now)

    if item.remaining == 0:
        raise ExchangeUnavailable(_("该商品已兑完"), code="sold_out")

    exchange = _create_exchange(user, item, request_id=request_id, store=store, sku=sku, now=now)
    spend_points(member, item.points, PointsEntry.Kind.EXCHANGE, exchange.reference, reason=item.title)
    if item.kind == PointsItem.Kind.COUPON:
        exchange.member_coupon = issue_coupon(
            user, item.coupon, source=MemberCoupon.Source.EXCHANGE, reference=exchange.reference, now=now
        )
        exchange.save(update_fields=["member_coupon"])
    else:
        reserve_lines(store, [(sku, 1)], reference=exchange.reference)
    # the item's quota is the gate everyone shares: taken last, so its row stays locked only for
    # this statement and the commit, not for the work above (a refusal here rolls all of it back)
    taken = (
        PointsItem.objects.filter(pk=item.pk)
        .filter(Q(quantity__isnull=True) | Q(exchanged_count__lt=F("quantity")))
        .update(exchanged_count=F("exchanged_count") + 1)
    )
    if not taken:
        raise ExchangeUnavailable(_("该商品已兑完"), code="sold_out")
    mall_cache.bump()  # the card's 剩N件 / 已兑完
    return exchange


def _create_exchange(user, item, *, request_id, store, sku, now):
    fields = dict(
        user=user, item=item, kind=item.kind, title=item.title, points=item.points, request_id=request_id,
    )
    if item.kind == PointsItem.Kind.COUPON:
        return PointsExchange.objects.create(status=Status.DONE, **fields)
    # a code must be unique among the store's open pickups; a clash (1 in a million per open
    # pickup) just draws again
    for _attempt in range(PICKUP_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                return PointsExchange.objects.create(
                    status=Status.AWAITING_PICKUP, store=store, sku=sku, pickup_code=_new_pickup_code(),
                    pickup_deadline=now + timedelta(days=pickup_days()), **fields,
                )
        except IntegrityError:
            continue
    raise MarketingError(_("自提码生成失败，请重试"), code="pickup_code")


@transaction.atomic
def verify_pickup(*, store, code, by, now=None):
    """Store staff hand over an exchanged product: the code must be an open pickup of THIS store.

    Locks the exchange row, turns the reservation into a sale under the exchange's reference and
    marks it done. A wrong, used, expired or other store's code raises PickupError and changes nothing.
    """
    now = now or timezone.now()
    if not user_can_work_on(by, store):
        raise PickupError(_("您不能核销该门店的自提单"), code="forbidden")
    if not by.has_perm("marketing.change_pointsexchange"):
        raise PickupError(_("您没有核销积分兑换的权限"), code="forbidden")
    code = str(code if code is not None else "").strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise PickupError(_("请输入 6 位数字自提码"), code="malformed")
    exchange = (
        PointsExchange.objects.select_for_update()
        .filter(store=store, pickup_code=code, status=Status.AWAITING_PICKUP)
        .first()
    )
    if exchange is None:
        raise PickupError(_("自提码无效、已核销或不属于本门店"), code="not_found")
    if exchange.pickup_deadline and exchange.pickup_deadline <= now:
        raise PickupError(_("该兑换已超过自提期限"), code="overdue")
    if sell_reserved(exchange.reference, by=by) != 1:  # its unit must still be held for it
        raise StockError(_("该兑换的预留库存已不存在"), code="insufficient_reserved")
    exchange.status = Status.DONE
    exchange.picked_up_at = now
    exchange.picked_up_by = by
    exchange.save(update_fields=["status", "picked_up_at", "picked_up_by"])
    sku = exchange.sku
    transaction.on_commit(lambda: add_sales(sku.product_id, 1))
    return exchange


def cancel_exchange(exchange_id, *, user=None, by=None, expired=False, now=None):
    """Undo a product exchange not yet picked up: the unit goes back to the store, the points and
    the item's quota back to the member. `user` (the shopper cancelling) must own it; `by` (staff
    cancelling at the member's request) must work at the exchange's store, and is recorded.

    Idempotent: cancelling an exchange already closed returns it unchanged. A picked-up or coupon
    exchange cannot be cancelled (ExchangeUnavailable).
    """
    exchange, _changed = _close_exchange(exchange_id, user=user, by=by, expired=expired, now=now)
    return exchange


@transaction.atomic
def _close_exchange(exchange_id, *, user, expired, now, by=None):
    now = now or timezone.now()
    try:
        exchange_id = parse_id(exchange_id)
    except (TypeError, ValueError):
        raise ExchangeUnavailable(_("兑换记录不存在"), code="not_found") from None
    owner_id, store_id = (
        PointsExchange.objects.filter(pk=exchange_id).values_list("user_id", "store_id").first() or (None, None)
    )
    if owner_id is None or (user is not None and owner_id != user.pk):
        raise ExchangeUnavailable(_("兑换记录不存在"), code="not_found")
    if by is not None and not (store_id and user_can_work_on(by, store_id)):
        raise ExchangeUnavailable(_("您不能取消该门店的兑换"), code="forbidden")
    member = Member.objects.select_for_update().get(user_id=owner_id)
    exchange = PointsExchange.objects.select_for_update().get(pk=exchange_id)
    if exchange.status in (Status.CANCELLED, Status.EXPIRED):
        return exchange, False
    if exchange.status != Status.AWAITING_PICKUP:
        raise ExchangeUnavailable(_("已完成的兑换不能取消"), code="not_cancellable")
    if release_reserved(exchange.reference, by=by) != 1:  # its unit must still be held for it
        raise StockError(_("该兑换的预留库存已不存在"), code="insufficient_reserved")
    PointsItem.objects.filter(pk=exchange.item_id, exchanged_count__gt=0).update(
        exchanged_count=F("exchanged_count") - 1
    )
    mall_cache.bump()
    if expired:
        reason = _("兑换过期未自提")
    elif by is not None:
        reason = _("门店取消兑换")
    else:
        reason = _("取消兑换")
    refund_points(member, exchange.points, exchange.reference, reason=reason)
    exchange.status = Status.EXPIRED if expired else Status.CANCELLED
    exchange.closed_at = now
    exchange.closed_by = by
    exchange.save(update_fields=["status", "closed_at", "closed_by"])
    return exchange, True


def expire_overdue_pickups(now=None):
    """Close every product exchange past its pickup deadline (the worker runs this), returning the
    points and the unit, and tell the member. Each one is its own transaction, so one failure does
    not hold back the rest. Returns how many expired."""
    now = now or timezone.now()
    due = list(
        PointsExchange.objects.filter(status=Status.AWAITING_PICKUP, pickup_deadline__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    expired = 0
    for pk in due:
        try:
            exchange, changed = _close_exchange(pk, user=None, expired=True, now=now)
        except Exception:  # a refusal or a database error on one must not stop the others; logged, retried next run
            logger.exception("points exchange %s could not expire", pk)
            continue
        if changed:
            expired += 1
            transaction.on_commit(lambda exchange=exchange: _tell_expired(exchange))
    return expired


def _tell_expired(exchange):
    subject = _("积分兑换已过期")
    body = _("您兑换的“%(title)s”超过自提期限未领取，%(points)s 积分已退回。") % {
        "title": exchange.title, "points": exchange.points,
    }
    notify(exchange.user, subject, body, kind="points_exchange_expired")
