"""Starting payments, taking confirmations, and sending money back.

Guarantees:
- An order becomes paid exactly once however many confirmations arrive, in any order, at once:
  `confirm_payment` locks the member and order rows (the system's lock order), then the attempt,
  and moves the order by the one transition function; every notice is recorded once per
  (attempt, kind, gateway reference).
- A confirmation whose amount differs from the attempt's is recorded and alerts staff; it never
  marks anything paid.
- Money that arrives for an order already cancelled, already paid by another attempt, or whose price
  was changed after the attempt began is recorded, refunded in full, and staff are told: it never
  revives or changes the order silently.
- A refund is counted on its payment attempt (conditional UPDATE, CHECK constraint) before the
  gateway is called, so refunds in flight can never add up to more than was paid; its out_refund_no
  is fixed first, so a retried call refunds once. Its effects on the order (amounts per line, stock
  back to the shelf, points back, earned points clawed back, coupon back) happen once, when the
  gateway says it succeeded.
"""

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.services import add_sales
from core.money import ZERO, fen_to_yuan, floor_int, to_money, yuan_to_fen
from core.prepared import convert_row, execute, field_converters
from core.references import order_step_ref
from marketing.services import restore_coupon
from members.models import Member, MemberLevel
from members.services import clawback_for_refund, refund_points
from stores.models import StoreNotification, StoreStaff
from stores.services import release_reserved, return_stock

from ..errors import Code, OrderError
from ..models import AfterSale, Order, OrderEvent, OrderLine, PaymentAttempt, PaymentEvent, Refund
from ..services.base import (
    enqueue_on_commit,
    lock_order,
    record_event,
    send_on_commit,
    tell_shopper,
    transition,
)
from ..services.numbers import out_refund_no, out_trade_no
from ..signals import order_paid, order_refunded
from .gateways import GatewayError, available_channels, get_gateway

logger = logging.getLogger("orders.payments")
REFUND_MAX_TRIES = 10


@dataclass
class Outcome:
    """What a confirmation did: "paid", "duplicate" (already counted), "amount_mismatch",
    "refunded" (money for a closed or already-paid order, sent back)."""

    result: str
    order: Order
    attempt: PaymentAttempt


def _record(attempt, kind, *, reference="", amount_fen=None, detail=None, then=None):
    """Record a payment event, once per gateway reference, in one statement (INSERT … ON CONFLICT
    DO NOTHING: no savepoint), when the caller does not need to know whether it was new. `then`:
    a second kind recorded by the same statement (same reference and amount, no detail)."""
    reference = (reference or "")[:128]
    events = [PaymentEvent(attempt=attempt, order_id=attempt.order_id, kind=kind, gateway_reference=reference,
                           amount_fen=amount_fen, detail=detail or {})]
    if then:
        events.append(PaymentEvent(attempt=attempt, order_id=attempt.order_id, kind=then,
                                   gateway_reference=reference, amount_fen=amount_fen, detail={}))
    PaymentEvent.objects.bulk_create(events, ignore_conflicts=True)


def _event_once(attempt, kind, *, reference="", amount_fen=None, detail=None):
    """Record a payment event; with a gateway reference, once (a repeat returns None)."""
    try:
        with transaction.atomic():
            return PaymentEvent.objects.create(
                attempt=attempt, order_id=attempt.order_id, kind=kind, gateway_reference=(reference or "")[:128],
                amount_fen=amount_fen, detail=detail or {},
            )
    except IntegrityError:
        return None


def tell_staff(order, title, body, *, kind):
    """A back-office notice to the managers of the order's store (and a message through core.notify,
    sent by the worker). Used for money that needs a person: mismatches, late payments, failed refunds."""
    managers = list(
        StoreStaff.objects.filter(store_id=order.store_id, role=StoreStaff.Role.MANAGER, user__is_active=True)
        .values_list("user_id", flat=True)
    )
    StoreNotification.objects.bulk_create(
        [StoreNotification(user_id=uid, store_id=order.store_id, kind=kind, title=str(title)[:128], body=str(body))
         for uid in managers]
    )
    logger.warning("staff notice %s for order %s: %s %s", kind, order.number, title, body)
    from .. import tasks

    if managers:
        enqueue_on_commit(tasks.notify_staff, managers, str(title), str(body), kind)


# --- starting a payment -----------------------------------------------------------------------
@transaction.atomic
def start_payment(order, *, user, channel, in_wechat=False, mobile=True, now=None):
    """The attempt the shopper pays now: the pending one of this channel when its amount and
    deadline still match the order, else a new one with a new out_trade_no (the old one is closed
    at its gateway by the worker). Only the buyer, only an unpaid order within its deadline, only
    through a channel offered where the shopper is (in WeChat or not, on a phone or a desktop)."""
    now = now or timezone.now()
    order = lock_order(order)
    if order.user_id != getattr(user, "pk", None):
        raise OrderError(_("订单不存在"), code=Code.NOT_FOUND)
    if order.status != Order.Status.PENDING_PAYMENT:
        raise OrderError(_("订单%(status)s，无需支付"), code=Code.NOT_PAYABLE,
                         params={"status": order.get_status_display()})
    if order.pay_deadline and order.pay_deadline <= now:
        raise OrderError(_("订单已超过支付时间，请重新下单"), code=Code.NOT_PAYABLE)
    if channel not in available_channels(in_wechat=in_wechat, mobile=mobile):
        raise OrderError(_("该支付方式暂不可用"), code=Code.PAYMENT_UNAVAILABLE)
    fen = yuan_to_fen(order.pay_amount)
    current = PaymentAttempt.objects.filter(
        order=order, channel=channel, state=PaymentAttempt.State.PENDING, amount_fen=fen,
        expires_at=order.pay_deadline, close_requested=False,
    ).order_by("-pk").first()
    if current is not None:
        return current
    stale = PaymentAttempt.objects.filter(order=order, state=PaymentAttempt.State.PENDING).exclude(
        amount_fen=fen, expires_at=order.pay_deadline
    )
    if stale.update(close_requested=True):
        from .. import tasks

        enqueue_on_commit(tasks.close_payment_attempts)
    sequence = PaymentAttempt.objects.filter(order=order).count() + 1
    attempt = PaymentAttempt.objects.create(
        order=order, channel=channel, out_trade_no=out_trade_no(order.number, sequence), amount_fen=fen,
        expires_at=order.pay_deadline, next_query_at=now + timedelta(minutes=2),
    )
    _event_once(attempt, PaymentEvent.Kind.CREATED, amount_fen=fen)
    return attempt


def begin(attempt, *, request=None):
    """Ask the attempt's gateway how the shopper pays (outside any transaction: may call out)."""
    return get_gateway(attempt.channel).start(attempt, request=request)


# --- confirmations ---------------------------------------------------------------------------
def find_attempt(out_trade_no):
    """The attempt row a confirmation needs before it locks anything (pk, order, buyer, channel),
    or None. Exactly ours: a longer string never matches by its first 32 characters."""
    out_trade_no = str(out_trade_no or "")
    if not 0 < len(out_trade_no) <= 32:
        return None
    return PaymentAttempt.objects.filter(out_trade_no=out_trade_no).values(
        "pk", "order_id", "channel", "order__user_id").first()


def _for_update(alias=""):
    """The locking clause of this database (SQLite has none: its writers take turns anyway)."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {alias}" if alias and features.has_select_for_update_of else " FOR UPDATE"


@functools.cache
def _columns(model, vendor):
    """`model`'s concrete columns as a select list, their attribute names, and the converters the
    ORM would apply to each (once per process: the hot path below builds its instances from rows of
    statements written out, without a RawQuerySet working them out on every run)."""
    qn = connection.ops.quote_name
    fields = model._meta.concrete_fields
    converters = field_converters(fields, model._meta.db_table, connection)
    return ", ".join(qn(field.column) for field in fields), [field.attname for field in fields], converters


def _instance(model, row):
    """An instance of `model` from a row of its _columns, as the ORM's iterator makes it."""
    _select, names, converters = _columns(model, connection.vendor)
    return model.from_db(connection.alias, names, convert_row(row, converters, connection))


@functools.cache
def _lock_sql(vendor):
    qn = connection.ops.quote_name
    member, level = qn(Member._meta.db_table), qn(MemberLevel._meta.db_table)
    return (
        f"SELECT m.{qn('id')}, l.{qn('points_multiplier')} FROM {member} m LEFT OUTER JOIN {level} l"
        f" ON l.{qn('id')} = m.{qn('level_id')} WHERE m.{qn('user_id')} = %s{_for_update('m')}",
        f"SELECT {_columns(Order, vendor)[0]} FROM {qn(Order._meta.db_table)} WHERE {qn('id')} = %s{_for_update()}",
    )


def _lock_for_confirmation(row):
    """member -> order, the system's lock order, in two short statements written out (this is the
    hot path of every payment: the ORM's query building cost more than the database), prepared on
    the server once per connection (core.prepared.execute): the member's row (read with its level's
    points multiplier, the snapshot a payment takes), then the order, on the connection that holds
    the transaction (never a replica). Returns (order, multiplier)."""
    member_sql, order_sql = _lock_sql(connection.vendor)
    with connection.cursor() as cursor:
        execute(cursor, member_sql, [row["order__user_id"]])
        locked = cursor.fetchone()
        execute(cursor, order_sql, [row["order_id"]])
        found = cursor.fetchone()
    multiplier = locked[1] if locked else None
    if found is None:
        raise OrderError(_("支付单不存在"), code=Code.NOT_FOUND)
    order = _instance(Order, found)
    if multiplier is not None:
        multiplier = Decimal(multiplier).quantize(Decimal("0.01"))  # SQLite answers a float
    return order, multiplier


def _lock_attempt(pk):
    attempt = next(iter(PaymentAttempt.objects.raw(
        f"SELECT * FROM {connection.ops.quote_name(PaymentAttempt._meta.db_table)}"
        f" WHERE {connection.ops.quote_name('id')} = %s{_for_update()}", [pk], using=connection.alias)), None)
    if attempt is None:
        raise OrderError(_("支付单不存在"), code=Code.NOT_FOUND)
    return attempt


def _succeed(pk, *, amount_fen, gateway_reference, payer, now, keeps, kind, detail):
    """The attempt succeeds if it has not and its amount is `amount_fen`: one conditional UPDATE
    (the order's lock is held: every other change of an attempt's state takes it first), which
    returns the attempt, or None when the condition failed (a repeat, or another amount).

    The same statement records what the gateway said (`kind`, with `detail`) and that the attempt
    succeeded, once per gateway reference (ON CONFLICT DO NOTHING, as _record): its INSERT takes
    the attempt from the UPDATE's RETURNING, so nothing is recorded when the condition failed."""
    qn = connection.ops.quote_name
    at = connection.ops.adapt_datetimefield_value(now)
    if connection.vendor != "postgresql":  # no UPDATE inside WITH (SQLite): two statements
        attempt = next(iter(PaymentAttempt.objects.raw(
            f"UPDATE {qn(PaymentAttempt._meta.db_table)} SET {qn('state')} = %s, {qn('gateway_trade_no')} = %s,"
            f" {qn('succeeded_at')} = %s, {qn('payer_reference')} = %s, {qn('close_requested')} = %s,"
            f" {qn('updated_at')} = %s, {qn('is_order_payment')} = %s"
            f" WHERE {qn('id')} = %s AND {qn('amount_fen')} = %s AND {qn('state')} <> %s RETURNING *",
            [PaymentAttempt.State.SUCCEEDED.value, str(gateway_reference)[:64], at, str(payer)[:128], False, at,
             keeps, pk, amount_fen, PaymentAttempt.State.SUCCEEDED.value],
            using=connection.alias,
        )), None)
        if attempt is not None:
            _record(attempt, kind, reference=gateway_reference, amount_fen=amount_fen, detail=detail,
                    then=PaymentEvent.Kind.SUCCEEDED)
        return attempt
    field = PaymentEvent._meta.get_field("detail")
    reference = str(gateway_reference or "")[:128]
    with connection.cursor() as cursor:
        execute(cursor, _succeed_sql(connection.vendor), [
            PaymentAttempt.State.SUCCEEDED.value, str(gateway_reference)[:64], at, str(payer)[:128], False, at, keeps,
            pk, amount_fen, PaymentAttempt.State.SUCCEEDED.value,
            reference, amount_fen, at,
            str(kind), field.get_db_prep_save(detail or {}, connection),
            PaymentEvent.Kind.SUCCEEDED.value, field.get_db_prep_save({}, connection),
        ])
        found = cursor.fetchone()
    return None if found is None else _instance(PaymentAttempt, found)


@functools.cache
def _succeed_sql(vendor):
    """_succeed's one statement on PostgreSQL (the same text every time: prepared on the server)."""
    qn = connection.ops.quote_name
    columns = _columns(PaymentAttempt, vendor)[0]
    return (
        f"WITH a AS (UPDATE {qn(PaymentAttempt._meta.db_table)} SET {qn('state')} = %s, {qn('gateway_trade_no')} = %s,"
        f" {qn('succeeded_at')} = %s, {qn('payer_reference')} = %s, {qn('close_requested')} = %s,"
        f" {qn('updated_at')} = %s, {qn('is_order_payment')} = %s"
        f" WHERE {qn('id')} = %s AND {qn('amount_fen')} = %s AND {qn('state')} <> %s RETURNING {columns}),"
        f" e AS (INSERT INTO {qn(PaymentEvent._meta.db_table)} ({qn('attempt_id')}, {qn('order_id')}, {qn('kind')},"
        f" {qn('gateway_reference')}, {qn('amount_fen')}, {qn('detail')}, {qn('created_at')})"
        f" SELECT a.{qn('id')}, a.{qn('order_id')}, v.kind, %s, %s, v.detail, %s FROM a,"
        f" (VALUES (%s, %s::jsonb), (%s, %s::jsonb)) AS v (kind, detail) ON CONFLICT DO NOTHING)"
        f" SELECT {columns} FROM a"
    )


def confirm_payment(*, out_trade_no, amount_fen, gateway_reference, channel, source="notify", payer="",
                    detail=None, now=None, found=None):
    """A gateway says `out_trade_no` was paid `amount_fen` (already verified: signature, app and
    merchant ids). Returns an Outcome; raises OrderError(not_found) for a trade that is not ours.
    `found` is find_attempt's row when the caller read it already (saves that read).

    Locks member -> order -> attempt; decides on the locked attempt's state, so a repeat, however
    concurrent, is recorded and changes nothing. Outside a caller's transaction a pickup code that
    clashes (a partial unique index) rolls the whole confirmation back and it runs once more, which
    saves a savepoint on every payment; inside one, a savepoint per draw."""
    if found is None:
        found = find_attempt(out_trade_no)
    if found is None or found["channel"] != channel:
        raise OrderError(_("支付单不存在"), code=Code.NOT_FOUND)
    arguments = dict(amount_fen=amount_fen, gateway_reference=gateway_reference, channel=channel, source=source,
                     payer=payer, detail=detail, now=now or timezone.now())
    if transaction.get_connection().in_atomic_block:
        return _confirm(found, savepoint=True, **arguments)
    for _draw in range(PICKUP_DRAWS - 1):
        try:
            with transaction.atomic():
                return _confirm(found, savepoint=False, **arguments)
        except _PickupCodeTaken:
            continue
    with transaction.atomic():
        return _confirm(found, savepoint=True, **arguments)


PICKUP_DRAWS = 20


class _PickupCodeTaken(Exception):
    """The drawn pickup code is open at the store already: the transaction is rolled back."""


def _confirm(row, *, amount_fen, gateway_reference, channel, source, payer, detail, now, savepoint):
    order, multiplier = _lock_for_confirmation(row)
    kind = PaymentEvent.Kind.NOTIFIED if source == "notify" else PaymentEvent.Kind.QUERIED
    whole_fen = isinstance(amount_fen, int) and not isinstance(amount_fen, bool)
    attempt = None
    if whole_fen:  # the usual case first: a payment of the attempt's amount, not yet counted
        keeps = order.status == Order.Status.PENDING_PAYMENT and yuan_to_fen(order.pay_amount) == amount_fen
        attempt = _succeed(row["pk"], amount_fen=amount_fen, gateway_reference=gateway_reference, payer=payer,
                           now=now, keeps=keeps, kind=kind, detail=detail)
    if attempt is not None:
        return _succeeded(order, attempt, kind=kind, keeps=keeps, amount_fen=amount_fen,
                          gateway_reference=gateway_reference, detail=detail, now=now, multiplier=multiplier,
                          savepoint=savepoint, recorded=True)
    attempt = _lock_attempt(row["pk"])
    if not whole_fen or amount_fen != attempt.amount_fen:
        if _event_once(attempt, PaymentEvent.Kind.AMOUNT_MISMATCH, reference=gateway_reference,
                       amount_fen=amount_fen if isinstance(amount_fen, int) else None, detail=detail):
            tell_staff(order, _("支付金额不符：订单 %(no)s") % {"no": order.number},
                       _("支付平台通知金额 %(got)s 分，应为 %(want)s 分，未确认支付，请核对。")
                       % {"got": amount_fen, "want": attempt.amount_fen}, kind="payment_mismatch")
        return Outcome("amount_mismatch", order, attempt)
    if attempt.state == PaymentAttempt.State.SUCCEEDED:
        _record(attempt, kind, reference=gateway_reference, amount_fen=amount_fen, detail=detail)
        return Outcome("duplicate", order, attempt)
    # not reached while every change of an attempt's state holds its order's lock; decided anyway
    price_changed = yuan_to_fen(order.pay_amount) != attempt.amount_fen
    keeps = order.status == Order.Status.PENDING_PAYMENT and not price_changed
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        state=PaymentAttempt.State.SUCCEEDED, gateway_trade_no=str(gateway_reference)[:64], succeeded_at=now,
        payer_reference=str(payer)[:128], close_requested=False, updated_at=now, is_order_payment=keeps,
    )
    attempt.state = PaymentAttempt.State.SUCCEEDED
    return _succeeded(order, attempt, kind=kind, keeps=keeps, amount_fen=amount_fen,
                      gateway_reference=gateway_reference, detail=detail, now=now, multiplier=multiplier,
                      savepoint=savepoint)


def _succeeded(order, attempt, *, kind, keeps, amount_fen, gateway_reference, detail, now, multiplier, savepoint,
               recorded=False):
    """The attempt has just succeeded (under the order's lock): the order is paid, or the money
    it cannot keep goes back. `recorded`: _succeed's statement wrote both events already."""
    if not recorded:  # what the gateway said, then that it succeeded: one INSERT for both
        _record(attempt, kind, reference=gateway_reference, amount_fen=amount_fen, detail=detail,
                then=PaymentEvent.Kind.SUCCEEDED)
    if keeps:
        _mark_paid(order, attempt, now, multiplier=multiplier, savepoint=savepoint)
        return Outcome("paid", order, attempt)
    # money we cannot keep: the order is cancelled or closed, was already paid, or costs something else now
    if order.status == Order.Status.PENDING_PAYMENT:
        cause, why = Refund.Cause.LATE_PAYMENT, _("付款时订单金额已变更")
    elif order.status in (Order.Status.CANCELLED, Order.Status.CLOSED):
        cause, why = Refund.Cause.LATE_PAYMENT, _("付款到账时订单状态为“%(s)s”") % {"s": order.get_status_display()}
    else:
        cause, why = Refund.Cause.DUPLICATE_PAYMENT, _("订单已通过其他支付单付款")
    _record(attempt, PaymentEvent.Kind.LATE_PAYMENT if cause == Refund.Cause.LATE_PAYMENT
            else PaymentEvent.Kind.DUPLICATE_PAYMENT, reference=gateway_reference, amount_fen=amount_fen)
    create_refund(order, attempt=attempt, amount=fen_to_yuan(attempt.amount_fen), cause=cause,
                  reason=str(why), counts_for_order=False)
    tell_staff(order, _("订单 %(no)s 收到无法入账的付款，已自动退款") % {"no": order.number},
               _("%(why)s；¥%(amount)s 已原路退回。") % {"why": why, "amount": fen_to_yuan(attempt.amount_fen)},
               kind="late_payment")
    return Outcome("refunded", order, attempt)


def _channel_label(channel):
    """get_channel_display() without its dict of every choice made on each call."""
    try:
        return str(PaymentAttempt.Channel(channel).label)
    except ValueError:
        return channel


def _mark_paid(order, attempt, now, *, multiplier, savepoint=True):
    """The order is paid, in as few statements as the hot path of a sale allows: the transition
    with its pickup code and the level's multiplier snapshot (read with the member's lock) is one
    UPDATE and one event; the buyer's message goes to the worker. Store staff hear of the new order
    from the back office's new-order banner, which reads paid orders
    (orders.backoffice.queue.new_orders). Without `savepoint`, a pickup code that clashes raises
    _PickupCodeTaken and the caller rolls back and runs again."""
    from ..services.numbers import pickup_code
    fields = dict(
        paid_at=now, paid_amount=fen_to_yuan(attempt.amount_fen), payment_channel=attempt.channel,
        points_multiplier=multiplier,
    )
    note = _("支付成功 ¥%(amount)s（%(channel)s）") % {
        "channel": _channel_label(attempt.channel), "amount": fen_to_yuan(attempt.amount_fen)}
    if order.is_pickup and not savepoint:
        try:
            transition(order, Order.Status.PAID, by=None, note=note, pickup_code=pickup_code(), **fields)
        except IntegrityError as exc:
            raise _PickupCodeTaken from exc
    elif order.is_pickup:
        # a code unique among the store's open pickups (a partial unique index): a clash draws again
        for _attempt in range(PICKUP_DRAWS):
            try:
                with transaction.atomic():
                    transition(order, Order.Status.PAID, by=None, note=note, pickup_code=pickup_code(), **fields)
                break
            except IntegrityError:
                order.status = Order.Status.PENDING_PAYMENT
        else:
            raise OrderError(_("自提码生成失败，请重试"), code=Code.PICKUP_INVALID)
    else:
        transition(order, Order.Status.PAID, by=None, note=note, **fields)
    send_on_commit(order_paid, order=order)
    tell_shopper(order, "paid")


@transaction.atomic
def record_payment_failure(*, out_trade_no, channel, reason="", gateway_reference=""):
    """The gateway says this attempt failed or was closed on its side: recorded; the order stays
    payable (the shopper may try again) until its deadline. Locks member -> order -> attempt."""
    out_trade_no = str(out_trade_no or "")
    row = None
    if 0 < len(out_trade_no) <= 32:
        row = PaymentAttempt.objects.filter(out_trade_no=out_trade_no, channel=channel).values(
            "pk", "order_id").first()
    if row is None:
        raise OrderError(_("支付单不存在"), code=Code.NOT_FOUND)
    lock_order(row["order_id"])
    attempt = PaymentAttempt.objects.select_for_update().get(pk=row["pk"])
    if attempt.state != PaymentAttempt.State.PENDING:
        return attempt  # paid, closed or failed already: a late failure says nothing new
    PaymentAttempt.objects.filter(pk=attempt.pk).update(state=PaymentAttempt.State.FAILED)
    attempt.state = PaymentAttempt.State.FAILED
    _event_once(attempt, PaymentEvent.Kind.FAILED, reference=gateway_reference, detail={"reason": str(reason)[:200]})
    return attempt


@transaction.atomic
def _record_closed(attempt_id, now):
    """Under the order's lock (the system's lock order: the insert of the event checks its foreign
    keys at commit, which must never wait behind a payment confirmation holding that order)."""
    order_id = PaymentAttempt.objects.filter(pk=attempt_id).values_list("order_id", flat=True).first()
    lock_order(order_id)
    attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt_id)
    if attempt.state != PaymentAttempt.State.PENDING:
        return False  # paid (or failed) meanwhile: what the gateway says next decides
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        state=PaymentAttempt.State.CLOSED, closed_at=now, close_requested=False
    )
    _event_once(attempt, PaymentEvent.Kind.CLOSED, reference=f"close:{attempt.out_trade_no}")
    return True


CLOSE_BATCH = 200


def close_payment_attempts(now=None):
    """The worker: close at their gateways the attempts we no longer want paid (order cancelled,
    price changed). A gateway that refuses for now (WeChat: not within 5 minutes of creation) is
    asked again next run. The gateway is called outside any lock. Returns how many closed.

    At most CLOSE_BATCH a run, the longest waiting first; one not closed this time goes to the back
    of the line, so a trade that keeps failing never holds up the others."""
    now = now or timezone.now()
    closed = 0
    waiting = PaymentAttempt.objects.filter(close_requested=True, state=PaymentAttempt.State.PENDING)
    for attempt in waiting.order_by("updated_at", "pk")[:CLOSE_BATCH]:
        try:
            gateway = get_gateway(attempt.channel)
            done = gateway.close(attempt)
        except GatewayError:
            logger.warning("could not close %s at its gateway yet", attempt.out_trade_no)
            done = False
        if done:
            closed += bool(_record_closed(attempt.pk, now))
            continue
        waiting.filter(pk=attempt.pk).update(updated_at=timezone.now())
        # a trade that cannot be closed may have been paid (its notice lost): ask, and let the
        # confirmation decide (an order cancelled meanwhile gets the money refunded)
        _confirm_if_paid(attempt)
    return closed


def _confirm_if_paid(attempt):
    try:
        result = get_gateway(attempt.channel).query(attempt)
    except GatewayError:
        return None
    if result.state != "paid":
        return None
    try:
        return confirm_payment(out_trade_no=attempt.out_trade_no, amount_fen=result.amount_fen,
                               gateway_reference=result.reference, channel=attempt.channel, source="query",
                               detail=result.detail)
    except OrderError:
        logger.exception("attempt %s reported paid but could not be confirmed", attempt.out_trade_no)
        return None


QUERY_AFTER = timedelta(minutes=2)
QUERY_BACKOFF_MAX = timedelta(minutes=30)
QUERY_GRACE = timedelta(minutes=15)  # a payment made in the last seconds before expiry still gets asked about


def _next_query(now, count):
    return now + min(QUERY_BACKOFF_MAX, QUERY_AFTER * (2 ** min(count, 10)))


def query_pending_payments(now=None):
    """The worker asks the gateways about attempts still pending (a notification may be lost:
    WeChat and Alipay do not promise delivery): first 2 minutes after creation, then backing off
    (4, 8 … at most 30 minutes), until the attempt expired QUERY_GRACE ago; then it is closed at
    its gateway. A payment found is confirmed through the same `confirm_payment` as a notice.
    Returns {"asked", "paid", "closed"}."""
    now = now or timezone.now()
    asked = paid = closed = 0
    due = PaymentAttempt.objects.filter(
        state=PaymentAttempt.State.PENDING, next_query_at__lte=now, close_requested=False
    ).order_by("next_query_at")[:200]
    for attempt in due:
        asked += 1
        try:
            result = get_gateway(attempt.channel).query(attempt)
        except GatewayError as exc:
            logger.warning("query of %s failed: %s", attempt.out_trade_no, exc)
            result = None
        if result is not None and result.state == "paid":
            try:
                outcome = confirm_payment(
                    out_trade_no=attempt.out_trade_no, amount_fen=result.amount_fen,
                    gateway_reference=result.reference, channel=attempt.channel, source="query", detail=result.detail,
                )
            except OrderError:
                logger.exception("query of %s: confirmation refused", attempt.out_trade_no)
                continue
            paid += outcome.result == "paid"
            continue
        if result is not None and result.state in ("closed", "failed"):
            try:
                record_payment_failure(out_trade_no=attempt.out_trade_no, channel=attempt.channel,
                                       reason=result.state, gateway_reference=result.reference)
            except OrderError:
                pass
            continue
        if attempt.expires_at + QUERY_GRACE <= now:
            # nobody paid it in time: close it at the gateway so it cannot be paid any more
            PaymentAttempt.objects.filter(pk=attempt.pk, state=PaymentAttempt.State.PENDING).update(close_requested=True)
            closed += 1
            continue
        PaymentAttempt.objects.filter(pk=attempt.pk).update(
            query_count=F("query_count") + 1, next_query_at=_next_query(now, attempt.query_count + 1)
        )
    if closed:
        close_payment_attempts(now=now)
    return {"asked": asked, "paid": paid, "closed": closed}


# --- refunds ----------------------------------------------------------------------------------
def order_payment(order):
    """The attempt whose money became the order's."""
    return PaymentAttempt.objects.filter(order=order, is_order_payment=True).first()


def refunds_in_flight(order):
    return Refund.objects.filter(
        order=order, counts_for_order=True,
        state__in=[Refund.State.PENDING, Refund.State.PROCESSING, Refund.State.ABNORMAL],
    ).aggregate(total=Sum("amount"))["total"] or ZERO


def create_refund(order, *, amount, cause, reason="", by=None, lines=None, after_sale=None, restock=False,
                  includes_delivery_fee=False, counts_for_order=True, attempt=None):
    """A refund of `amount` yuan through the gateway that took the money; the caller holds the
    order's lock (lock_order). `lines` is {order line id: (quantity, Decimal amount)}. Refused, with
    nothing changed, when it would take the refunds past what was paid."""
    amount = to_money(amount)
    if amount <= 0:
        raise OrderError(_("退款金额必须大于 0"), code=Code.REFUND_INVALID)
    attempt = attempt or order_payment(order)
    if attempt is None:
        raise OrderError(_("订单没有可退款的支付"), code=Code.REFUND_INVALID)
    fen = yuan_to_fen(amount)
    if counts_for_order and order.refunded_amount + refunds_in_flight(order) + amount > order.paid_amount:
        raise OrderError(_("退款金额超过可退金额 ¥%(left)s"), code=Code.REFUND_INVALID,
                         params={"left": order.paid_amount - order.refunded_amount - refunds_in_flight(order)})
    taken = PaymentAttempt.objects.filter(
        pk=attempt.pk, refund_committed_fen__lte=F("amount_fen") - fen
    ).update(refund_committed_fen=F("refund_committed_fen") + fen)
    if not taken:
        raise OrderError(_("退款金额超过该笔支付的可退金额"), code=Code.REFUND_INVALID)
    sequence = Refund.objects.filter(order=order).count() + 1
    refund = Refund.objects.create(
        order=order, attempt=attempt, after_sale=after_sale, cause=cause, out_refund_no=out_refund_no(order.number, sequence),
        amount=amount, amount_fen=fen, restock=restock, includes_delivery_fee=includes_delivery_fee,
        counts_for_order=counts_for_order, reason=str(reason)[:200],
        requested_by=by if getattr(by, "pk", None) else None,
        lines={str(pk): [int(q), str(a)] for pk, (q, a) in (lines or {}).items()},
    )
    _event_once(attempt, PaymentEvent.Kind.REFUND_REQUESTED, reference=refund.out_refund_no, amount_fen=fen)
    record_event(order, kind=OrderEvent.Kind.REFUND, by=by,
                 note=_("申请退款 ¥%(amount)s（%(reason)s）") % {"amount": amount, "reason": refund.get_cause_display()})
    from .. import tasks

    enqueue_on_commit(tasks.execute_refund, refund.pk)
    return refund


def execute_refund(refund_id, now=None):
    """The worker asks the gateway to refund (or, for one in progress, how it went). Idempotent:
    the gateway refunds one out_refund_no once; a refund already settled is left alone."""
    now = now or timezone.now()
    refund = Refund.objects.select_related("attempt", "order").filter(pk=refund_id).first()
    if refund is None or refund.state in (Refund.State.SUCCEEDED, Refund.State.FAILED):
        return refund
    Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1)
    try:
        gateway = get_gateway(refund.attempt.channel)
        if refund.state == Refund.State.PENDING:
            result = gateway.refund(refund)
        else:
            result = gateway.query_refund(refund)
    except GatewayError as exc:
        logger.warning("refund %s: gateway error %s", refund.out_refund_no, exc)
        tries = refund.attempts + 1
        if tries >= REFUND_MAX_TRIES:
            return refund_failed(refund.pk, abnormal=True, detail={"error": str(exc)[:200]})
        Refund.objects.filter(pk=refund.pk).update(next_try_at=now + timedelta(minutes=min(60, 2**tries)))
        return refund
    return apply_refund_result(refund.pk, result, now=now)


def apply_refund_result(refund_id, result, now=None):
    now = now or timezone.now()
    if result.state == "succeeded":
        return refund_succeeded(refund_id, gateway_refund_id=result.reference, detail=result.detail, now=now)
    if result.state == "processing":
        Refund.objects.filter(pk=refund_id, state=Refund.State.PENDING).update(
            state=Refund.State.PROCESSING, gateway_refund_id=(result.reference or "")[:64],
        )
        Refund.objects.filter(pk=refund_id).update(next_try_at=now + timedelta(minutes=5))
        return Refund.objects.get(pk=refund_id)
    return refund_failed(refund_id, abnormal=result.state == "abnormal", detail=result.detail)


@transaction.atomic
def refund_failed(refund_id, *, abnormal=False, detail=None):
    """The gateway says no (final), or the refund needs a person (abnormal: e.g. the shopper's card
    was closed). A final failure gives the amount back to what can still be refunded; both tell staff."""
    order_id = Refund.objects.filter(pk=refund_id).values_list("order_id", flat=True).first()
    order = lock_order(order_id)
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if refund.state in (Refund.State.SUCCEEDED, Refund.State.FAILED):
        return refund
    if abnormal:
        if refund.state == Refund.State.ABNORMAL:
            return refund
        Refund.objects.filter(pk=refund.pk).update(state=Refund.State.ABNORMAL)
        refund.state = Refund.State.ABNORMAL
        _event_once(refund.attempt, PaymentEvent.Kind.REFUND_ABNORMAL, reference=refund.out_refund_no, detail=detail)
        tell_staff(order, _("退款异常：%(no)s") % {"no": refund.out_refund_no},
                   _("订单 %(order)s 的退款 ¥%(amount)s 需要人工处理。") % {"order": order.number, "amount": refund.amount},
                   kind="refund_abnormal")
        return refund
    Refund.objects.filter(pk=refund.pk).update(state=Refund.State.FAILED)
    refund.state = Refund.State.FAILED
    PaymentAttempt.objects.filter(pk=refund.attempt_id).update(
        refund_committed_fen=F("refund_committed_fen") - refund.amount_fen
    )
    _event_once(refund.attempt, PaymentEvent.Kind.REFUND_FAILED, reference=refund.out_refund_no, detail=detail)
    record_event(order, kind=OrderEvent.Kind.REFUND, note=_("退款失败 ¥%(amount)s") % {"amount": refund.amount})
    tell_staff(order, _("退款失败：%(no)s") % {"no": refund.out_refund_no},
               _("订单 %(order)s 的退款 ¥%(amount)s 被支付平台拒绝，请重新发起。") % {
                   "order": order.number, "amount": refund.amount}, kind="refund_failed")
    return refund


@transaction.atomic
def refund_succeeded(refund_id, *, gateway_refund_id="", detail=None, now=None):
    """The money is back with the buyer: apply the refund to the order, once."""
    now = now or timezone.now()
    order_id = Refund.objects.filter(pk=refund_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise OrderError(_("退款单不存在"), code=Code.NOT_FOUND)
    order = lock_order(order_id)
    refund = Refund.objects.select_for_update().select_related("attempt").get(pk=refund_id)
    if refund.state == Refund.State.SUCCEEDED:
        return refund
    if refund.state == Refund.State.FAILED:  # a late success after a failure we recorded: count it again
        recommitted = PaymentAttempt.objects.filter(
            pk=refund.attempt_id, refund_committed_fen__lte=F("amount_fen") - refund.amount_fen
        ).update(refund_committed_fen=F("refund_committed_fen") + refund.amount_fen)
        if not recommitted:
            logger.critical("refund %s succeeded after failing and exceeds the payment", refund.out_refund_no)
    Refund.objects.filter(pk=refund.pk).update(
        state=Refund.State.SUCCEEDED, succeeded_at=now, gateway_refund_id=(gateway_refund_id or "")[:64]
    )
    refund.state = Refund.State.SUCCEEDED
    _event_once(refund.attempt, PaymentEvent.Kind.REFUND_SUCCEEDED, reference=refund.out_refund_no,
                amount_fen=refund.amount_fen, detail=detail)
    per_line = {}
    if refund.counts_for_order:
        per_line = _apply_to_order(order, refund, now)
    else:
        record_event(order, kind=OrderEvent.Kind.REFUND,
                     note=_("无法入账的付款 ¥%(amount)s 已退回") % {"amount": refund.amount})
    if refund.after_sale_id:
        AfterSale.objects.filter(pk=refund.after_sale_id, status=AfterSale.Status.REFUNDING).update(
            status=AfterSale.Status.REFUNDED, closed_at=now
        )
    send_on_commit(order_refunded, order=order, refund=refund, lines=per_line)
    tell_shopper(order, f"refunded:{refund.pk}")
    return refund


def _points_share(points_used, quantity, refunded_quantity):
    """Points of a line given back once `refunded_quantity` of its `quantity` units are refunded."""
    if refunded_quantity >= quantity:
        return points_used
    return floor_int(points_used * refunded_quantity / quantity)


def _apply_to_order(order, refund, now):
    """Amounts per line, stock, points, coupon and the order's status, for a succeeded refund."""
    from ..services.lifecycle import complete_order

    member = order.user.member
    updated = Order.objects.filter(pk=order.pk, refunded_amount__lte=F("paid_amount") - refund.amount).update(
        refunded_amount=F("refunded_amount") + refund.amount, updated_at=now
    )
    if not updated:
        raise OrderError(_("退款金额超过实付金额"), code=Code.REFUND_INVALID)
    order.refunded_amount += refund.amount
    lines = {line.pk: line for line in OrderLine.objects.select_for_update().filter(order=order).order_by("sku_id")}
    per_line, release, points_back, restock = {}, {}, 0, {}
    for raw_pk, (quantity, amount) in sorted(refund.lines.items(), key=lambda kv: lines[int(kv[0])].sku_id):
        line = lines[int(raw_pk)]
        quantity, amount = int(quantity), to_money(amount)
        released = min(quantity, line.held_quantity)
        changed = OrderLine.objects.filter(
            pk=line.pk, refunded_amount__lte=F("paid_amount") - amount,
            refunded_quantity__lte=F("quantity") - quantity,
        ).update(
            refunded_amount=F("refunded_amount") + amount, refunded_quantity=F("refunded_quantity") + quantity,
            released_quantity=F("released_quantity") + released,
        )
        if not changed:
            raise OrderError(_("退款超过该商品的实付金额或数量"), code=Code.REFUND_INVALID)
        before = line.refunded_quantity
        points_back += _points_share(line.points_used, line.quantity, before + quantity) - _points_share(
            line.points_used, line.quantity, before)
        line.refunded_amount += amount
        line.refunded_quantity += quantity
        line.released_quantity += released
        per_line[line.pk] = amount
        if released:
            release[line.sku_id] = release.get(line.sku_id, 0) + released
        if refund.restock and quantity - released > 0:
            restock[line.sku_id] = restock.get(line.sku_id, 0) + quantity - released
    step = f"refund:{refund.pk}"
    if release:
        release_reserved(order.reference, quantities=release, step=step)
    for sku_id, quantity in restock.items():
        return_stock(order.store_id, sku_id, quantity, reference=order_step_ref(order.number, step),
                     note=_("售后退货入库"))
    if points_back > 0:
        refund_points(member, points_back, refund.reference, reason=_("订单 %(no)s 退款，退回积分") % {"no": order.number})
    if order.status == Order.Status.COMPLETED:
        # points were earned on what the goods cost at completion; refunds before it are not theirs
        goods_paid = sum((line.paid_amount for line in lines.values()), ZERO)
        goods_refunded = sum((line.refunded_amount for line in lines.values()), ZERO)
        kept = order.completed_goods_amount if order.completed_goods_amount is not None else goods_paid
        refunded_since = goods_refunded - (goods_paid - kept)
        if kept > 0 and refunded_since > 0:
            clawback_for_refund(member, order.reference, refund_reference=refund.reference,
                                refunded_total=min(refunded_since, kept), paid_amount=kept)
        for line in lines.values():
            quantity = int(refund.lines.get(str(line.pk), [0])[0])
            if quantity:
                transaction.on_commit(lambda p=line.product_id, q=quantity: add_sales(p, -q))
    record_event(order, kind=OrderEvent.Kind.REFUND, note=_("退款成功 ¥%(amount)s") % {"amount": refund.amount})
    # closed only when every unit went back, not merely every yuan: a free gift line still gets delivered.
    # Goods that left the store keep the delivery fee, so "every unit back" closes the order even when
    # the fee was not refunded: nothing is left to deliver, complete or ask after.
    every_unit_back = all(line.refunded_quantity >= line.quantity for line in lines.values())
    fully = order.refunded_amount >= order.paid_amount and every_unit_back
    nothing_left_the_store = not any(line.fulfilled_quantity for line in lines.values())
    if fully and order.member_coupon_id and nothing_left_the_store:
        restore_coupon(order.member_coupon, reference=order.reference, now=now)
    if fully:
        transition(order, Order.Status.CLOSED, note=_("全额退款，交易关闭"), closed_at=now)
    elif every_unit_back and order.status != Order.Status.CLOSED:
        transition(order, Order.Status.CLOSED, note=_("商品已全部退货退款，交易关闭（运费不退）"), closed_at=now)
    elif order.status in (Order.Status.PAID, Order.Status.READY_FOR_PICKUP) and order.is_pickup and not any(
        line.held_quantity for line in lines.values()
    ) and any(line.fulfilled_quantity for line in lines.values()):
        complete_order(order, note=_("其余商品已提货"))
    return per_line


def retry_refunds(now=None):
    """The worker: refunds waiting for a retry or still processing at the gateway are asked again."""
    now = now or timezone.now()
    due = list(
        Refund.objects.filter(state__in=[Refund.State.PENDING, Refund.State.PROCESSING])
        .filter(next_try_at__lte=now).values_list("pk", flat=True)[:200]
    )
    stuck = list(
        Refund.objects.filter(state=Refund.State.PENDING, next_try_at__isnull=True,
                              created_at__lte=now - timedelta(minutes=10)).values_list("pk", flat=True)[:200]
    )
    for pk in due + stuck:
        try:
            execute_refund(pk, now=now)
        except Exception:
            logger.exception("refund %s retry failed", pk)
    return len(due) + len(stuck)
