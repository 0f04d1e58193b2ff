"""Every write to stores, stock, transfers and alerts.

Stock guarantees (each function below is @transaction.atomic):
- A change is ONE conditional ``UPDATE stock SET ... WHERE id = ... AND <enough> RETURNING ...``:
  under READ COMMITTED a concurrent update waits for the row lock and re-evaluates the WHERE, so
  two buyers can never take the same last unit and no update is lost. Nothing is read first and
  written back from Python. When the WHERE does not match, nothing changed and a StockError says why.
- The same transaction appends a StockMovement carrying the deltas and the values after them
  (from RETURNING), so on_hand == sum(quantity) and reserved == sum(reserved_delta), always.
- A change that takes available under the row's threshold opens one LowStockAlert (a partial
  unique index makes a second open alert impossible); the one that brings it back closes it.
  Managers are notified by a Celery task enqueued on commit, never for a rolled-back change.
- Multi-row operations (transfers) touch rows in SKU id order, so two of them cannot deadlock.
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, ProtectedError, Q, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import StockError, TransferError, insufficient
from .models import (
    LowStockAlert,
    Stock,
    StockMovement,
    Store,
    StoreNotification,
    StoreStaff,
    Transfer,
    TransferEvent,
    TransferLine,
)
from .scope import user_can_work_on

logger = logging.getLogger(__name__)
Reason = StockMovement.Reason


def _positive(quantity):
    if isinstance(quantity, bool):
        raise StockError(_("数量必须是正整数"), code="invalid_quantity")
    if isinstance(quantity, float) and not quantity.is_integer():
        raise StockError(_("数量必须是正整数"), code="invalid_quantity")
    if not isinstance(quantity, int):
        try:
            quantity = int(quantity)
        except (TypeError, ValueError) as exc:
            raise StockError(_("数量必须是正整数"), code="invalid_quantity") from exc
    if quantity <= 0:
        raise StockError(_("数量必须是正整数"), code="invalid_quantity")
    return quantity


def _id(obj):
    return getattr(obj, "pk", obj)


# --- the one statement that changes a stock row ---------------------------------------------
def _apply(*, d_on_hand=0, d_reserved=0, stock_id=None, store_id=None, sku_id=None,
           need_available=0, need_reserved=0):
    """Apply deltas to one stock row if its condition holds. Returns (id, on_hand, reserved,
    low_threshold) after the change, or None when the row is missing or the condition failed."""
    qn = connection.ops.quote_name
    table = qn(Stock._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"UPDATE {table} SET {qn('on_hand')} = {qn('on_hand')} + %s, "
        f"{qn('reserved')} = {qn('reserved')} + %s, {qn('updated_at')} = %s WHERE "
    )
    params = [d_on_hand, d_reserved, now]
    if stock_id is not None:
        sql += f"{qn('id')} = %s"
        params.append(stock_id)
    else:
        sql += f"{qn('store_id')} = %s AND {qn('sku_id')} = %s"
        params += [store_id, sku_id]
    if need_available:
        sql += f" AND {qn('on_hand')} - {qn('reserved')} >= %s"
        params.append(need_available)
    if need_reserved:
        sql += f" AND {qn('reserved')} >= %s"
        params.append(need_reserved)
    sql += f" RETURNING {qn('id')}, {qn('on_hand')}, {qn('reserved')}, {qn('low_threshold')}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _record(row, reason, *, d_on_hand, d_reserved, by=None, note="", reference=""):
    stock_id, on_hand, reserved, threshold = row
    movement = StockMovement.objects.create(
        stock_id=stock_id,
        reason=reason,
        quantity=d_on_hand,
        reserved_delta=d_reserved,
        on_hand_after=on_hand,
        reserved_after=reserved,
        actor=by if getattr(by, "pk", None) else None,
        note=note[:255],
        reference=reference[:64],
    )
    after = on_hand - reserved
    before = after - (d_on_hand - d_reserved)
    _sync_alert(stock_id, before=before, after=after, threshold=threshold)
    return movement


def _change(reason, *, d_on_hand=0, d_reserved=0, need_available=0, need_reserved=0, by=None,
            note="", reference="", stock_id=None, store_id=None, sku_id=None):
    """Apply one change and write its movement. For the idempotent reasons a non-empty
    `reference` names one intent: if a movement of that reason and reference exists on the row
    (a retried task, a re-sent form), nothing changes and that movement is returned. A reference
    is therefore never reused for a new intent (orders use one per order line and attempt)."""
    if reference and reason in StockMovement.IDEMPOTENT_REASONS:
        done = _done_before(reason, reference, stock_id=stock_id, store_id=store_id, sku_id=sku_id)
        if done is not None:
            return done
        try:
            with transaction.atomic():  # a concurrent twin commits first: undo our UPDATE too
                return _change_once(reason, d_on_hand=d_on_hand, d_reserved=d_reserved,
                                    need_available=need_available, need_reserved=need_reserved, by=by,
                                    note=note, reference=reference, stock_id=stock_id, store_id=store_id,
                                    sku_id=sku_id)
        except IntegrityError:
            done = _done_before(reason, reference, stock_id=stock_id, store_id=store_id, sku_id=sku_id)
            if done is None:
                raise
            return done
    return _change_once(reason, d_on_hand=d_on_hand, d_reserved=d_reserved, need_available=need_available,
                        need_reserved=need_reserved, by=by, note=note, reference=reference,
                        stock_id=stock_id, store_id=store_id, sku_id=sku_id)


def _done_before(reason, reference, *, stock_id=None, store_id=None, sku_id=None):
    qs = StockMovement.objects.filter(reason=reason, reference=reference[:64])
    qs = qs.filter(stock_id=stock_id) if stock_id is not None else qs.filter(
        stock__store_id=store_id, stock__sku_id=sku_id
    )
    return qs.first()


def _change_once(reason, *, d_on_hand=0, d_reserved=0, need_available=0, need_reserved=0, by=None,
                 note="", reference="", stock_id=None, store_id=None, sku_id=None):
    row = _apply(
        d_on_hand=d_on_hand, d_reserved=d_reserved, stock_id=stock_id, store_id=store_id, sku_id=sku_id,
        need_available=need_available, need_reserved=need_reserved,
    )
    if row is None:
        return None
    return _record(row, reason, d_on_hand=d_on_hand, d_reserved=d_reserved, by=by, note=note, reference=reference)


def _why_not(stock_id=None, store_id=None, sku_id=None, *, reserved=False):
    """Explain a failed conditional update (read after the fact; decides nothing)."""
    qs = Stock.objects.filter(pk=stock_id) if stock_id else Stock.objects.filter(store_id=store_id, sku_id=sku_id)
    row = qs.values("on_hand", "reserved").first()
    if row is None:
        return StockError(_("该门店没有这个商品的库存"), code="insufficient_stock")
    if reserved:
        return StockError(_("预留数量不足"), code="insufficient_reserved")
    return insufficient(row["on_hand"] - row["reserved"])


# --- alerts -----------------------------------------------------------------------------------
def _sync_alert(stock_id, *, before, after, threshold):
    if after < threshold <= before:
        _open_alert(stock_id, available=after, threshold=threshold)
    elif before < threshold <= after:
        LowStockAlert.objects.filter(stock_id=stock_id, status=LowStockAlert.Status.OPEN).update(
            status=LowStockAlert.Status.CLOSED, closed_at=timezone.now()
        )


def _open_alert(stock_id, *, available, threshold):
    try:
        with transaction.atomic():
            alert = LowStockAlert.objects.create(
                stock_id=stock_id, available_at_open=available, threshold=threshold
            )
    except IntegrityError:
        return None  # one is already open: never a second
    transaction.on_commit(lambda: _enqueue_notice(alert.pk))
    return alert


def _enqueue_notice(alert_id):
    from . import tasks

    try:
        tasks.notify_low_stock.delay(alert_id)
    except Exception:  # broker down: the change is committed; the periodic sweep retries the notice
        logger.exception("could not enqueue the low-stock notice for alert %s", alert_id)


def _check_alert_state(stock):
    """After a threshold change: open or close the alert to match the row as it is now."""
    if stock.available < stock.low_threshold:
        if not LowStockAlert.objects.filter(stock=stock, status=LowStockAlert.Status.OPEN).exists():
            _open_alert(stock.pk, available=stock.available, threshold=stock.low_threshold)
    else:
        LowStockAlert.objects.filter(stock=stock, status=LowStockAlert.Status.OPEN).update(
            status=LowStockAlert.Status.CLOSED, closed_at=timezone.now()
        )


@transaction.atomic
def sweep_low_stock():
    """Open an alert for every low row that has none (e.g. a threshold raised in bulk, a lost
    task) and close open alerts whose rows are no longer low. Returns (opened, closed)."""
    open_status = LowStockAlert.Status.OPEN
    low = (
        Stock.objects.annotate(avail=F("on_hand") - F("reserved"))
        .filter(avail__lt=F("low_threshold"))
        .exclude(pk__in=LowStockAlert.objects.filter(status=open_status).values("stock_id"))
        .values_list("pk", "avail", "low_threshold")
    )
    opened = sum(
        1 for pk, avail, threshold in low if _open_alert(pk, available=avail, threshold=threshold)
    )
    closed = (
        LowStockAlert.objects.filter(status=open_status)
        .filter(stock__on_hand__gte=F("stock__reserved") + F("stock__low_threshold"))
        .update(status=LowStockAlert.Status.CLOSED, closed_at=timezone.now())
    )
    # notices lost on the way (broker down, a worker dying before or while sending) go again;
    # notify_low_stock is idempotent for the back-office part and sends the message until recorded
    stale = timezone.now() - timedelta(minutes=5)
    for alert_id in LowStockAlert.objects.filter(
        status=open_status, messaged_at__isnull=True, opened_at__lt=stale
    ).values_list("pk", flat=True)[:500]:
        transaction.on_commit(lambda alert_id=alert_id: _enqueue_notice(alert_id))
    return opened, closed


def notify_low_stock(alert_id):
    """Tell the store's managers: a back-office notification each (created once: the first call
    marks the alert notified), then a message through core.notify's backends.

    The message is at-least-once: `messaged_at` is written only after it was handed to the
    backends, so a worker that dies in between leaves it empty and the sweep sends it again (a
    manager may, rarely, get it twice; never not at all). Returns the number of managers messaged.
    """
    from core.notify import notify

    with transaction.atomic():
        claimed = LowStockAlert.objects.filter(pk=alert_id, notified_at__isnull=True).update(
            notified_at=timezone.now()
        )
        alert = LowStockAlert.objects.select_related("stock__store", "stock__sku__product").get(pk=alert_id)
        store = alert.stock.store
        managers = [
            staff.user
            for staff in StoreStaff.objects.filter(store=store, role=StoreStaff.Role.MANAGER).select_related("user")
            if staff.user.is_active
        ]
        title = _("低库存：%(store)s %(sku)s") % {"store": store.name, "sku": alert.stock.sku.display_name}
        body = _("可用库存 %(available)s，低于阈值 %(threshold)s，请及时补货。") % {
            "available": alert.available_at_open,
            "threshold": alert.threshold,
        }
        if claimed:
            StoreNotification.objects.bulk_create(
                [StoreNotification(user=u, store=store, alert=alert, kind="low_stock", title=title, body=body)
                 for u in managers],
                ignore_conflicts=True,
            )
    if alert.messaged_at is not None:
        return 0
    if alert.status == LowStockAlert.Status.OPEN and managers:
        notify(managers, title, body, kind="low_stock")
    LowStockAlert.objects.filter(pk=alert_id, messaged_at__isnull=True).update(messaged_at=timezone.now())
    return len(managers) if alert.status == LowStockAlert.Status.OPEN else 0


def mark_notifications_read(user, ids=None):
    qs = StoreNotification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


# --- stock use cases --------------------------------------------------------------------------
@transaction.atomic
def receive_stock(store, sku, quantity, *, by=None, note="", reference=""):
    """Goods arrive at a store (purchase, initial stock). Creates the row if needed."""
    quantity = _positive(quantity)
    store_id, sku_id = _id(store), _id(sku)
    if isinstance(store, Store) and store.is_archived:
        raise StockError(_("门店已归档"), code="store_unavailable")
    Stock.objects.get_or_create(store_id=store_id, sku_id=sku_id)
    return _change(Reason.RECEIVE, d_on_hand=quantity, store_id=store_id, sku_id=sku_id, by=by,
                   note=note, reference=reference)


@transaction.atomic
def adjust_stock(stock, delta, *, reason, by=None, reference=""):
    """A counted correction (盘点). `reason` is required; a decrease cannot take units that are
    reserved for unpaid orders. The back office passes its form's id as `reference`, so a
    re-sent form adjusts once."""
    try:
        delta = int(delta)
    except (TypeError, ValueError) as exc:
        raise StockError(_("调整数量必须是整数"), code="invalid_quantity") from exc
    if delta == 0:
        raise StockError(_("调整数量不能为 0"), code="invalid_quantity")
    reason = (reason or "").strip()
    if not reason:
        raise StockError(_("请填写调整原因"), code="reason_required")
    stock_id = _id(stock)
    movement = _change(Reason.ADJUST, d_on_hand=delta, need_available=max(0, -delta), stock_id=stock_id,
                       by=by, note=reason, reference=reference)
    if movement is None:
        raise _why_not(stock_id)
    return movement


@transaction.atomic
def set_threshold(stock, threshold, *, by=None):
    try:
        threshold = int(threshold)
    except (TypeError, ValueError) as exc:
        raise StockError(_("阈值必须是整数"), code="invalid_threshold") from exc
    if threshold < 0:
        raise StockError(_("阈值不能小于 0"), code="invalid_threshold")
    stock_id = _id(stock)
    Stock.objects.filter(pk=stock_id).update(low_threshold=threshold, updated_at=timezone.now())
    fresh = Stock.objects.get(pk=stock_id)
    _check_alert_state(fresh)
    return fresh


@transaction.atomic
def reserve_stock(store, sku, quantity, *, reference="", by=None):
    """Hold units for an unpaid order. Succeeds only if available >= quantity at the moment of
    the UPDATE; raises StockError(insufficient_stock) otherwise, changing nothing."""
    quantity = _positive(quantity)
    movement = _change(Reason.RESERVE, d_reserved=quantity, need_available=quantity,
                       store_id=_id(store), sku_id=_id(sku), by=by, reference=reference)
    if movement is None:
        raise _why_not(store_id=_id(store), sku_id=_id(sku))
    return movement


@transaction.atomic
def release_stock(store, sku, quantity, *, reference="", by=None):
    """Give back a reservation (order cancelled or expired)."""
    quantity = _positive(quantity)
    movement = _change(Reason.RELEASE, d_reserved=-quantity, need_reserved=quantity,
                       store_id=_id(store), sku_id=_id(sku), by=by, reference=reference)
    if movement is None:
        raise _why_not(store_id=_id(store), sku_id=_id(sku), reserved=True)
    return movement


@transaction.atomic
def commit_sale(store, sku, quantity, *, reference="", by=None):
    """A reserved unit is sold (order paid): reserved and on_hand both drop by `quantity`."""
    quantity = _positive(quantity)
    movement = _change(Reason.SALE, d_on_hand=-quantity, d_reserved=-quantity, need_reserved=quantity,
                       store_id=_id(store), sku_id=_id(sku), by=by, reference=reference)
    if movement is None:
        raise _why_not(store_id=_id(store), sku_id=_id(sku), reserved=True)
    return movement


@transaction.atomic
def return_stock(store, sku, quantity, *, reference="", by=None, note=""):
    """Sold goods come back to the shelf (refund with return)."""
    quantity = _positive(quantity)
    Stock.objects.get_or_create(store_id=_id(store), sku_id=_id(sku))
    return _change(Reason.RETURN, d_on_hand=quantity, store_id=_id(store), sku_id=_id(sku), by=by,
                   reference=reference, note=note)


# --- stores -----------------------------------------------------------------------------------
@transaction.atomic
def delete_or_archive_store(store, *, by=None):
    """Delete a store that never had orders or stock history; archive (and close) one that did.
    Returns "deleted" or "archived"."""
    try:
        with transaction.atomic():
            Store.objects.filter(pk=store.pk).delete()
        return "deleted"
    except (ProtectedError, RestrictedError):
        Store.objects.filter(pk=store.pk).update(
            is_archived=True, status=Store.Status.CLOSED, updated_at=timezone.now()
        )
        store.is_archived, store.status = True, Store.Status.CLOSED
        return "archived"


# --- transfers --------------------------------------------------------------------------------
def _event(transfer, status, by, note=""):
    TransferEvent.objects.create(transfer=transfer, status=status, actor=by if getattr(by, "pk", None) else None,
                                 note=note[:255])


def _move_status(transfer, old, new):
    if new not in Transfer.PIPELINE[old]:
        raise TransferError(_("调拨单当前状态不能执行此操作"), code="invalid_transition")
    changed = Transfer.objects.filter(pk=transfer.pk, status=old).update(status=new, updated_at=timezone.now())
    if not changed:
        raise TransferError(_("调拨单状态已变化，请刷新后重试"), code="invalid_transition")
    transfer.status = new


def _require_store(user, store, message):
    if user is not None and not user_can_work_on(user, store):
        raise TransferError(message, code="wrong_store")


@transaction.atomic
def create_transfer(source, destination, lines, *, by=None, note=""):
    """A draft transfer. `lines` is [(sku_or_id, quantity), ...]; nothing moves until dispatch."""
    if _id(source) == _id(destination):
        raise TransferError(_("调出和调入不能是同一门店"), code="same_store")
    _require_store(by, source, _("只能从自己的门店发起调拨"))
    cleaned = {}
    for sku, quantity in lines:
        sku_id = _id(sku)
        if sku_id in cleaned:
            raise TransferError(_("同一 SKU 只能出现一次"), code="duplicate_sku")
        try:
            cleaned[sku_id] = _positive(quantity)
        except StockError as exc:
            raise TransferError(exc.message, code="invalid_quantity") from exc
    if not cleaned:
        raise TransferError(_("请至少添加一个商品"), code="no_lines")
    transfer = Transfer.objects.create(source_id=_id(source), destination_id=_id(destination), note=note[:255],
                                       created_by=by if getattr(by, "pk", None) else None)
    TransferLine.objects.bulk_create(
        [TransferLine(transfer=transfer, sku_id=sku_id, quantity=q) for sku_id, q in sorted(cleaned.items())]
    )
    _event(transfer, Transfer.Status.DRAFT, by, note)
    return transfer


@transaction.atomic
def dispatch_transfer(transfer, *, by=None):
    """Source store sends the goods: every line leaves the source's available stock, or none does."""
    _require_store(by, transfer.source_id, _("只有调出门店可以发货"))
    _move_status(transfer, Transfer.Status.DRAFT, Transfer.Status.DISPATCHED)
    for line in transfer.lines.order_by("sku_id"):
        movement = _change(Reason.TRANSFER_OUT, d_on_hand=-line.quantity, need_available=line.quantity,
                           store_id=transfer.source_id, sku_id=line.sku_id, by=by, reference=transfer.reference)
        if movement is None:
            error = _why_not(store_id=transfer.source_id, sku_id=line.sku_id)
            raise StockError(
                _("%(sku)s：%(reason)s") % {"sku": line.sku, "reason": error}, code=error.code
            )
    _event(transfer, Transfer.Status.DISPATCHED, by)
    return transfer


@transaction.atomic
def receive_transfer(transfer, received=None, *, by=None, note=""):
    """Destination store takes the goods in. `received` maps line id -> quantity actually received
    (default: all); less than sent is allowed and the shortage stays recorded on the line."""
    _require_store(by, transfer.destination_id, _("只有调入门店可以收货"))
    lines = list(transfer.lines.order_by("sku_id"))
    received = received or {}
    counts = {}
    for line in lines:
        raw = received.get(line.pk, received.get(str(line.pk), line.quantity))
        try:
            count = int(raw)
        except (TypeError, ValueError) as exc:
            raise TransferError(_("实收数量必须是整数"), code="invalid_quantity") from exc
        if count < 0:
            raise TransferError(_("实收数量不能为负数"), code="invalid_quantity")
        if count > line.quantity:
            raise TransferError(_("实收数量不能多于发出数量"), code="over_receive")
        counts[line.pk] = count
    _move_status(transfer, Transfer.Status.DISPATCHED, Transfer.Status.RECEIVED)
    shortages = []
    for line in lines:
        count = counts[line.pk]
        TransferLine.objects.filter(pk=line.pk).update(quantity_received=count)
        line.quantity_received = count
        if count:
            Stock.objects.get_or_create(store_id=transfer.destination_id, sku_id=line.sku_id)
            _change(Reason.TRANSFER_IN, d_on_hand=count, store_id=transfer.destination_id, sku_id=line.sku_id,
                    by=by, reference=transfer.reference)
        if count < line.quantity:
            shortages.append(f"{line.sku_id}:-{line.quantity - count}")
    summary = note
    if shortages:
        summary = (_("短收 %(items)s") % {"items": ", ".join(shortages)} + (" " + note if note else "")).strip()
    _event(transfer, Transfer.Status.RECEIVED, by, summary)
    return transfer


@transaction.atomic
def cancel_transfer(transfer, *, by=None, note=""):
    """Source store cancels. A dispatched transfer's goods go back into the source's stock."""
    _require_store(by, transfer.source_id, _("只有调出门店可以取消调拨"))
    old = transfer.status
    _move_status(transfer, old, Transfer.Status.CANCELLED)
    if old == Transfer.Status.DISPATCHED:
        for line in transfer.lines.order_by("sku_id"):
            _change(Reason.TRANSFER_IN, d_on_hand=line.quantity, store_id=transfer.source_id, sku_id=line.sku_id,
                    by=by, reference=transfer.reference, note=_("调拨取消退回"))
    _event(transfer, Transfer.Status.CANCELLED, by, note)
    return transfer


def ledger_mismatches():
    """Rows whose balance differs from the sum of their movements: [(stock, movement_on_hand,
    movement_reserved)]. Empty when the ledger is right."""
    from django.db.models import Sum, Value
    from django.db.models.functions import Coalesce

    rows = (
        Stock.objects.annotate(
            ledger_on_hand=Coalesce(Sum("movements__quantity"), Value(0)),
            ledger_reserved=Coalesce(Sum("movements__reserved_delta"), Value(0)),
        )
        .filter(~Q(on_hand=F("ledger_on_hand")) | ~Q(reserved=F("ledger_reserved")))
        .select_related("store", "sku")
    )
    return [(row, row.ledger_on_hand, row.ledger_reserved) for row in rows]
