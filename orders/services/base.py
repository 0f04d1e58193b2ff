"""The pieces every order use case shares: the lock order, the one transition function, the
timeline, and side effects after commit.

Locks (the system's one order, DESIGN.md): member → order (or after-sale) → coupon copy → stock
rows by SKU id → shared quota rows → promoter wallet. `lock_order` takes the first two; the
services below it (marketing's coupon, stores' reservations, members' points) take theirs in turn.
"""

import functools
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.prepared import execute
from members.models import Member

from .. import list_cache
from ..errors import Code, OrderError
from ..models import Order, OrderEvent

logger = logging.getLogger("orders")

SYSTEM = "system"


def setting(name, default):
    return getattr(settings, name, default)


def actor_label(by):
    """How the timeline names who acted: 买家, the staff member, or 系统."""
    if by is None or by == SYSTEM:
        return str(_("系统"))
    if getattr(by, "is_staff", False):
        return by.staff_label if hasattr(by, "staff_label") else by.get_username()
    return str(_("买家"))


def _actor(by):
    return by if getattr(by, "pk", None) else None


def lock_order(order_or_id, *, user_id=None):
    """The order's member row, then the order row, locked until the transaction ends; returns the
    fresh order. Must run inside a transaction. `user_id` (the buyer, when the caller read it
    already) saves a query. Whoever locks an order may change it: the member's cached order list
    is dropped (orders.list_cache)."""
    order_id = getattr(order_or_id, "pk", order_or_id)
    if user_id is None:
        user_id = Order.objects.filter(pk=order_id).values_list("user_id", flat=True).first()
    if user_id is None:
        raise OrderError(_("订单不存在"), code=Code.NOT_FOUND)
    list(Member.objects.select_for_update().filter(user_id=user_id).values_list("pk", flat=True))
    list_cache.changed(user_id)
    return Order.objects.select_for_update(of=("self",)).select_related("store", "user").get(pk=order_id)


def _event_values(order, *, kind, by, note, from_status, to_status, visible):
    return dict(
        order=order, kind=kind, actor=_actor(by), actor_label=actor_label(by)[:64], note=str(note)[:255],
        from_status=from_status, to_status=to_status, visible_to_shopper=visible,
    )


def record_event(order, *, kind=OrderEvent.Kind.STATUS, by=None, note="", from_status="", to_status="",
                 visible=True):
    return OrderEvent.objects.create(**_event_values(
        order, kind=kind, by=by, note=note, from_status=from_status, to_status=to_status, visible=visible))


def transition(order, new_status, *, by=None, note="", **fields):
    """Move a (locked) order to `new_status`: allowed by Order.PIPELINE, applied by a conditional
    UPDATE on the status it had, recorded as an OrderEvent in the same transaction. Extra `fields`
    are written by the same UPDATE. Raises OrderError(invalid_transition) and changes nothing when
    the move is not allowed or the order changed meanwhile.

    On PostgreSQL the UPDATE and the event's INSERT are one statement (the INSERT takes its row
    from the UPDATE's RETURNING, so no event is written when the condition failed): every paid
    order, shipment and cancellation runs it while it holds the order's lock."""
    old = order.status
    if new_status not in Order.PIPELINE.get(old, set()):
        raise OrderError(
            _("订单当前状态（%(status)s）不能执行此操作"), code=Code.INVALID_TRANSITION,
            params={"status": order.get_status_display()},
        )
    now = timezone.now()
    event = _event_values(order, kind=OrderEvent.Kind.STATUS, by=by, note=note, from_status=old,
                          to_status=new_status, visible=True)
    if connection.vendor == "postgresql" and not any(hasattr(v, "resolve_expression") for v in fields.values()):
        changed = _update_and_record(order.pk, old, {"status": new_status, "updated_at": now, **fields}, event, now)
    else:
        changed = Order.objects.filter(pk=order.pk, status=old).update(status=new_status, updated_at=now, **fields)
        if changed:
            OrderEvent.objects.create(**event)
    if not changed:
        raise OrderError(_("订单状态已变化，请刷新后重试"), code=Code.INVALID_TRANSITION)
    order.status = new_status
    for name, value in fields.items():
        setattr(order, name, value)
    list_cache.changed(order.user_id)  # the payment confirmation locks without lock_order
    return order


def _db_value(model, name, value):
    """`value` of `model`'s field `name` as the database takes it (what QuerySet.update and a model
    save send): a related object as its key, a date in the backend's form, a Decimal checked."""
    field = model._meta.get_field(name)
    if hasattr(value, "prepare_database_save"):
        value = value.prepare_database_save(field)
    return field.column, field.get_db_prep_save(value, connection=connection)


def _update_and_record(order_id, old, changes, event, now):
    """The order's conditional UPDATE and its event's INSERT as one statement; True when it changed."""
    sets = [_db_value(Order, name, value) for name, value in changes.items()]
    inserted = [_db_value(OrderEvent, name, value) for name, value in event.items() if name != "order"]
    inserted.append(_db_value(OrderEvent, "created_at", now))
    sql = _update_and_record_sql(connection.vendor, tuple(column for column, _v in sets),
                                 tuple(column for column, _v in inserted))
    with connection.cursor() as cursor:
        # the text depends only on which fields change: prepared on the server once per connection
        execute(cursor, sql, [*(v for _c, v in sets), order_id, old, *(v for _c, v in inserted)])
        return cursor.fetchone() is not None


@functools.lru_cache(maxsize=64)
def _update_and_record_sql(vendor, set_columns, inserted_columns):
    qn = connection.ops.quote_name
    return (
        f"WITH changed AS (UPDATE {qn(Order._meta.db_table)} SET "
        + ", ".join(f"{qn(column)} = %s" for column in set_columns)
        + f" WHERE {qn('id')} = %s AND {qn('status')} = %s RETURNING {qn('id')})"
        f" INSERT INTO {qn(OrderEvent._meta.db_table)} ({qn('order_id')}, "
        + ", ".join(qn(column) for column in inserted_columns)
        + ") SELECT changed.id, " + ", ".join(["%s"] * len(inserted_columns)) + f" FROM changed RETURNING {qn('id')}"
    )


def send_on_commit(signal, **kwargs):
    """Announce after commit, to every receiver; one failing receiver is logged, not raised (the
    order's change is already committed, and the others must still hear of it)."""

    def send():
        for receiver, result in signal.send_robust(sender=Order, **kwargs):
            if isinstance(result, Exception):
                logger.error("receiver %r of %s failed: %r", receiver, signal, result, exc_info=result)

    transaction.on_commit(send)


ARGSREPR_MAX = 200


def enqueue_on_commit(task, *args):
    """Hand slow work (messages, gateway calls) to the worker once the transaction commits. A broker
    that is down is logged; the periodic sweeps pick the work up again."""

    def enqueue():
        try:
            # what `celery inspect` shows of the arguments (ids and kinds) made here: Celery's safe
            # repr of them cost more than the rest of the message
            shown = repr(args)
            if len(shown) <= ARGSREPR_MAX:
                task.apply_async(args, argsrepr=shown, kwargsrepr="{}")
            else:
                task.apply_async(args)
        except Exception:
            logger.exception("could not enqueue %s%r", getattr(task, "name", task), args)

    transaction.on_commit(enqueue)


def tell_shopper(order, kind):
    """A notice to the buyer (paid, shipped, ready for pickup, refund result), sent by the worker."""
    from .. import tasks

    enqueue_on_commit(tasks.notify_shopper, order.pk, kind)
