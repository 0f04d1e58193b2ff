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
- Multi-row operations (transfers, reservations) touch rows in SKU id order, so two of them
  cannot deadlock: the system's one lock order is member -> order (or exchange) -> coupon copy ->
  stock rows by SKU id -> shared quota rows.
- Reserved units belong to a reference (core.references): `reserve_lines` holds a basket for an
  order or an exchange, all lines or none, and writes one StockReservation per row;
  `release_reserved` and `sell_reserved` act only on what that reference holds, so one order's
  mistake can never consume another order's hold. A stock row's reserved == the sum of its
  reservations' held units (checked with the ledger by `ledger_mismatches`).
"""

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, ProtectedError, Q, RestrictedError, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import pagecache
from core.numbers import INT_MAX, parse_int
from core.references import check_reference, step_ref

from .errors import InsufficientStock, StockError, TransferError, insufficient
from .models import (
    LowStockAlert,
    Stock,
    StockMovement,
    StockReservation,
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


MAX_QUANTITY = 2**31 - 1  # the stock columns are 32-bit integers


def _positive(quantity):
    """A positive whole number of units, at most 2**31-1. Refuses bool, a float or Decimal with a
    fraction, and a string that is not plain ASCII digits ("１" and "²" are digits to Python's
    int() or isdigit(), not to a person typing a quantity)."""
    invalid = StockError(_("数量必须是正整数"), code="invalid_quantity")
    if isinstance(quantity, bool):
        raise invalid
    if isinstance(quantity, int):
        value = quantity
    elif isinstance(quantity, float | Decimal):
        if not (math.isfinite(quantity) and quantity == int(quantity)):
            raise invalid
        value = int(quantity)
    elif isinstance(quantity, str):
        text = quantity.strip()
        if not (text.isascii() and text.isdigit()):
            raise invalid
        value = int(text)
    else:
        raise invalid
    if not 0 < value <= MAX_QUANTITY:
        raise StockError(
            _("数量必须是 1 到 %(max)s 之间的整数"), code="invalid_quantity", params={"max": MAX_QUANTITY}
        )
    return value


def _id(obj):
    return getattr(obj, "pk", obj)


# --- what shoppers see of a change --------------------------------------------------------------
_stock_products = {}  # stock row id -> its product's id (a row never changes SKU, nor a SKU product)
_STOCK_PRODUCTS_MAX = 100_000
# more rows than this changed at once (a posted stocktake or receipt) bump every product's stock at
# once rather than each product's (one key instead of thousands, no lookup of their products)
BULK_STOCK_CHANGE = 100


def _stock_changed(stock_ids):
    """These rows' products show other stock now: the pages kept for visitors that show them
    (catalog.pagecache) are rebuilt once the change commits. A row's product is read once per
    process (one query for rows not seen before); past BULK_STOCK_CHANGE rows, all products' stock."""
    ids = set(stock_ids)
    if not ids or not pagecache.enabled():
        return
    if len(ids) > BULK_STOCK_CHANGE:  # a stocktake, a big receipt: every page showing stock is rebuilt
        pagecache.bump(pagecache.ALL_STOCK_DEP)
        return
    missing = [i for i in ids if i not in _stock_products]
    if missing:
        if len(_stock_products) > _STOCK_PRODUCTS_MAX:
            _stock_products.clear()
        _stock_products.update(Stock.objects.filter(pk__in=missing).values_list("pk", "sku__product_id"))
    pagecache.bump(*sorted({pagecache.stock_dep(_stock_products[i]) for i in ids if i in _stock_products}))


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
        row = cursor.fetchone()
    if row is not None:
        _stock_changed((row[0],))
    return row


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


def _why_not(stock_id=None, store_id=None, sku_id=None):
    """Explain a failed conditional update (read after the fact; decides nothing)."""
    qs = Stock.objects.filter(pk=stock_id) if stock_id else Stock.objects.filter(store_id=store_id, sku_id=sku_id)
    row = qs.values("on_hand", "reserved").first()
    if row is None:
        return StockError(_("该门店没有这个商品的库存"), code="insufficient_stock")
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
    """Tell the store's staff in the roles of settings.LOW_STOCK_NOTIFY_ROLES (managers and clerks
    by default): a back-office notification each (created once: the first call marks the alert
    notified), then a message through core.notify's backends.

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
        roles = [role for role in getattr(settings, "LOW_STOCK_NOTIFY_ROLES", [StoreStaff.Role.MANAGER])
                 if role in StoreStaff.Role.values]
        managers = [
            staff.user
            for staff in StoreStaff.objects.filter(store=store, role__in=roles).select_related("user").order_by("pk")
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


# --- reservations: units held for one reference ------------------------------------------------
def _reference(reference):
    try:
        return check_reference(reference)
    except ValueError as exc:
        raise StockError(_("缺少或无效的关联单据"), code="invalid_reference") from exc


def _sku_id(sku):
    """A SKU's id from an instance, an int or a string of ASCII digits."""
    value = getattr(sku, "pk", sku)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_QUANTITY:
        raise StockError(_("商品不存在"), code="invalid_sku")
    return value


def _merge_lines(lines):
    """{sku_id: quantity} from (sku_or_id, quantity) pairs, every quantity validated. The same SKU
    on two lines is merged into one (an order may list a SKU twice, at two prices); the sum must
    still fit the column."""
    wanted = {}
    for line in lines:
        try:
            sku, quantity = line
        except (TypeError, ValueError) as exc:
            raise StockError(_("每一行必须是（商品, 数量）"), code="invalid_quantity") from exc
        sku_id = _sku_id(sku)
        wanted[sku_id] = _positive(wanted.get(sku_id, 0) + _positive(quantity))
    if not wanted:
        raise StockError(_("请至少指定一个商品"), code="no_lines")
    return dict(sorted(wanted.items()))


def _sku_labels(sku_ids):
    from catalog.models import Sku

    labels = {sku.pk: sku.display_name for sku in Sku.objects.filter(pk__in=sku_ids).select_related("product")}
    return {sku_id: labels.get(sku_id) or f"SKU {sku_id}" for sku_id in sku_ids}


def _held_by(reference):
    """The reference's reservations keyed by SKU id (read, not locked)."""
    return {
        res.sku_pk: res
        for res in StockReservation.objects.filter(reference=reference)
        .select_related("stock")
        .annotate(sku_pk=F("stock__sku_id"), store_pk=F("stock__store_id"))
        .order_by("sku_pk")
    }


def _same_reservation(existing, store_id, wanted, reference):
    """A retried reservation returns what it made; the same reference asking for other lines is
    a caller's mistake and is refused."""
    if all(res.store_pk == store_id for res in existing.values()) and {
        sku_id: res.quantity for sku_id, res in existing.items()
    } == wanted:
        return list(existing.values())
    raise StockError(
        _("关联单据 %(ref)s 已预留了其他商品或数量"), code="reference_mismatch", params={"ref": reference}
    )


def reserve_lines(
    store: Store | int, lines: Iterable[tuple[Any, Any]], *, reference: str, by=None, new_reference: bool = False,
    savepoint: bool = True,
) -> list[StockReservation]:
    """Hold units of a basket in one store for `reference` (an order, a points-mall exchange).

    `lines` is an iterable of (sku_or_id, quantity). Every quantity must be a positive whole number
    (bool, fractions, non-ASCII digits and values over 2**31-1 are refused: invalid_quantity); a
    SKU given on two lines is merged into one reservation of the summed quantity.

    Locks the store's stock rows for these SKUs (SELECT ... FOR UPDATE in SKU id order, the
    system's one lock order), then checks EVERY line: if any is short (a SKU the store has no row
    for counts as 0 available) it raises InsufficientStock (code insufficient_stock) whose `.short`
    lists each short line as {"sku_id", "requested", "available"}, and nothing changes. Otherwise
    each line is one conditional UPDATE (available >= n) plus a RESERVE movement under `reference`,
    and one StockReservation row; all lines or none.

    Idempotent: the same reference with the same store and lines returns the reservations it made
    (even after they were sold or released) and changes nothing; the same reference with other
    lines raises StockError(reference_mismatch). A reference is owned by its caller, which
    serialises its own calls (an order reserves under its order row's lock); two concurrent calls
    with the same reference and the same lines still reserve once (they wait on the same rows).
    Returns the reservations in SKU id order.

    `new_reference=True` says the caller made the reference in this very transaction (an order
    inserted just now), so nothing can be held under it yet: the look for an earlier reservation
    is skipped, one statement fewer while the rows are locked.

    `savepoint=False`, for a caller whose transaction is rolled back whole when this raises (an
    order being placed): no savepoint of its own, two round trips fewer, one of them (the release)
    while the rows are locked.
    """
    with transaction.atomic(savepoint=savepoint):
        return _reserve_lines(store, lines, reference=reference, by=by, new_reference=new_reference)


def _reserve_lines(store, lines, *, reference, by, new_reference):
    reference = _reference(reference)
    store_id = _id(store)
    wanted = _merge_lines(lines)
    if new_reference and connection.vendor == "postgresql":
        return _reserve_new_at_once(store_id, wanted, reference=reference, by=by)
    rows = {
        sku_id: (stock_id, on_hand - reserved)
        for stock_id, sku_id, on_hand, reserved in Stock.objects.select_for_update(of=("self",))
        .filter(store_id=store_id, sku_id__in=list(wanted), store__is_archived=False)
        .order_by("sku_id")
        .values_list("pk", "sku_id", "on_hand", "reserved")
    }
    # read after the lock: a twin that held these rows before us has committed by now
    existing = {} if new_reference else _held_by(reference)
    if existing:
        return _same_reservation(existing, store_id, wanted, reference)
    if len(rows) < len(wanted) and not Store.objects.filter(pk=store_id, is_archived=False).exists():
        raise StockError(_("门店不存在或已归档"), code="store_unavailable")

    _refuse_short(rows, wanted)
    return _reserve_rows({rows[sku_id][0]: quantity for sku_id, quantity in wanted.items()}, reference=reference,
                         by=by)


def _refuse_short(rows, wanted):
    """Raise InsufficientStock listing every line that `rows` {sku_id: (stock_id, available)} of
    the locked rows cannot serve (a SKU without a row has 0)."""
    short = [
        {"sku_id": sku_id, "requested": quantity, "available": max(rows.get(sku_id, (None, 0))[1], 0)}
        for sku_id, quantity in wanted.items()
        if rows.get(sku_id, (None, 0))[1] < quantity
    ]
    if short:
        labels = _sku_labels([line["sku_id"] for line in short])
        detail = "；".join(
            _("%(sku)s 需要 %(requested)s 件，可用 %(available)s 件")
            % {"sku": labels[line["sku_id"]], "requested": line["requested"], "available": line["available"]}
            for line in short
        )
        raise InsufficientStock(_("库存不足：%(lines)s") % {"lines": detail}, short=short)


def _record_reserved_sql():
    """The two CTEs that record a reservation made by a CTE `s` (id, on_hand, reserved, n): its
    movements (m) and its holds (r, returning their ids); parameters: _record_reserved_params."""
    qn = connection.ops.quote_name
    movement, held = qn(StockMovement._meta.db_table), qn(StockReservation._meta.db_table)
    return (
        f" m AS (INSERT INTO {movement} ({qn('stock_id')}, {qn('reason')}, {qn('quantity')}, {qn('reserved_delta')},"
        f" {qn('on_hand_after')}, {qn('reserved_after')}, {qn('actor_id')}, {qn('note')}, {qn('reference')},"
        f" {qn('created_at')}) SELECT s.id, %s::varchar, 0, s.n, s.on_hand, s.reserved, %s::bigint, '',"
        f" %s::varchar, %s::timestamptz FROM s ORDER BY s.id),"
        f" r AS (INSERT INTO {held} ({qn('stock_id')}, {qn('reference')}, {qn('quantity')}, {qn('sold')},"
        f" {qn('released')}, {qn('state')}, {qn('created_at')}, {qn('updated_at')})"
        f" SELECT s.id, %s::varchar, s.n, 0, 0, %s::varchar, %s::timestamptz, %s::timestamptz FROM s ORDER BY s.id"
        f" RETURNING {qn('id')}, {qn('stock_id')})"
    )


def _record_reserved_params(actor, reference, at):
    return [Reason.RESERVE.value, actor, reference[:64], at, reference, StockReservation.State.HELD.value, at, at]


def _reserve_new_at_once(store_id, wanted, *, reference, by):
    """PostgreSQL, a reference made in this transaction (nothing held under it yet): the lock of the
    store's rows for these SKUs (FOR UPDATE in SKU id order, the one lock order), the check of every
    line, the conditional UPDATE, the RESERVE movements and the reservations as ONE statement, so
    that the rows other buyers wait for stay locked for one round trip and the commit instead of
    two. The UPDATE changes the rows only when every line has enough (counted on the locked rows),
    and each row again only when it has (available >= n); anything short changes nothing and is
    refused as _reserve_lines refuses it."""
    qn = connection.ops.quote_name
    stock, shop = qn(Stock._meta.db_table), qn(Store._meta.db_table)
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    actor = by.pk if getattr(by, "pk", None) else None
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(wanted))
    sql = (
        f"WITH v (sku_id, n) AS (VALUES {values}),"
        f" l AS (SELECT t.{qn('id')} AS id, t.{qn('sku_id')} AS sku_id, t.{qn('on_hand')} - t.{qn('reserved')} AS avail"
        f" FROM {stock} t JOIN {shop} st ON st.{qn('id')} = t.{qn('store_id')}"
        f" WHERE t.{qn('store_id')} = %s AND t.{qn('sku_id')} IN (SELECT v.sku_id FROM v) AND NOT st.{qn('is_archived')}"
        f" ORDER BY t.{qn('sku_id')} FOR UPDATE OF t),"
        f" ok AS (SELECT count(*) = %s AS every FROM l JOIN v ON v.sku_id = l.sku_id WHERE l.avail >= v.n),"
        f" s AS (UPDATE {stock} t SET {qn('reserved')} = t.{qn('reserved')} + v.n, {qn('updated_at')} = %s"
        f" FROM l JOIN v ON v.sku_id = l.sku_id WHERE t.{qn('id')} = l.id AND (SELECT every FROM ok)"
        f" AND t.{qn('on_hand')} - t.{qn('reserved')} >= v.n"
        f" RETURNING t.{qn('id')} AS id, t.{qn('on_hand')} AS on_hand, t.{qn('reserved')} AS reserved,"
        f" t.{qn('low_threshold')} AS low_threshold, v.n AS n),"
        f"{_record_reserved_sql()}"
        f" SELECT l.sku_id, l.id, l.avail, s.on_hand, s.reserved, s.low_threshold, r.{qn('id')}"
        f" FROM l LEFT JOIN s ON s.id = l.id LEFT JOIN r ON r.{qn('stock_id')} = l.id ORDER BY l.sku_id"
    )
    params = [value for pair in wanted.items() for value in pair]
    params += [store_id, len(wanted), at, *_record_reserved_params(actor, reference, at)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    locked = {sku_id: (stock_id, left) for sku_id, stock_id, left, *_rest in rows}
    if len(locked) < len(wanted) and not Store.objects.filter(pk=store_id, is_archived=False).exists():
        raise StockError(_("门店不存在或已归档"), code="store_unavailable")
    _refuse_short(locked, wanted)
    changed = {row[1]: (row[1], row[3], row[4], row[5]) for row in rows if row[6] is not None}
    quantities = {locked[sku_id][0]: quantity for sku_id, quantity in wanted.items()}
    for stock_id in quantities:
        if stock_id not in changed:  # cannot happen: every line had enough on the locked rows
            raise _why_not(stock_id)
    _stock_changed(changed)
    for stock_id, quantity in quantities.items():
        _stock, on_hand, reserved, threshold = changed[stock_id]
        _sync_alert(stock_id, before=on_hand - reserved + quantity, after=on_hand - reserved, threshold=threshold)
    reservation_ids = {row[1]: row[6] for row in rows}
    return [
        StockReservation(pk=reservation_ids[stock_id], stock_id=stock_id, reference=reference, quantity=quantity,
                         sold=0, released=0, state=StockReservation.State.HELD, created_at=now, updated_at=now)
        for stock_id, quantity in quantities.items()
    ]


def _reserve_rows(quantities, *, reference, by):
    """The reservation of locked rows {stock_id: n} (in SKU order), in as few statements as can be,
    whatever the number of lines, because the rows stay locked until the caller commits and every
    other buyer of these SKUs waits for them: on PostgreSQL ONE statement (the conditional UPDATE
    of every row, available >= n each its own n, and the INSERTs of their RESERVE movements and
    of the reservations, which take the rows the UPDATE returned); elsewhere three."""
    if connection.vendor == "postgresql":
        changed, reservation_ids, now = _reserve_rows_at_once(quantities, reference=reference, by=by)
    else:
        changed = _reserve_update(quantities)
    _stock_changed(changed)
    for stock_id in quantities:
        if stock_id not in changed:  # cannot happen while we hold the rows' locks; refuse rather than oversell
            raise _why_not(stock_id)
    if connection.vendor != "postgresql":
        actor = by if getattr(by, "pk", None) else None
        StockMovement.objects.bulk_create([
            StockMovement(stock_id=stock_id, reason=Reason.RESERVE, quantity=0, reserved_delta=quantity,
                          on_hand_after=changed[stock_id][1], reserved_after=changed[stock_id][2], actor=actor,
                          note="", reference=reference[:64])
            for stock_id, quantity in quantities.items()
        ])
    for stock_id, quantity in quantities.items():
        _, on_hand, reserved, threshold = changed[stock_id]
        _sync_alert(stock_id, before=on_hand - reserved + quantity, after=on_hand - reserved, threshold=threshold)
    if connection.vendor != "postgresql":
        return StockReservation.objects.bulk_create([
            StockReservation(stock_id=stock_id, reference=reference, quantity=quantity)
            for stock_id, quantity in quantities.items()
        ])
    return [
        StockReservation(pk=reservation_ids[stock_id], stock_id=stock_id, reference=reference, quantity=quantity,
                         sold=0, released=0, state=StockReservation.State.HELD, created_at=now, updated_at=now)
        for stock_id, quantity in quantities.items()
    ]


def _reserve_update(quantities):
    """The conditional UPDATE of _reserve_rows alone: {stock_id: (id, on_hand, reserved, low_threshold)}
    of the rows it changed (those with enough available)."""
    qn = connection.ops.quote_name
    table = qn(Stock._meta.db_table)
    case = "CASE " + " ".join([f"WHEN {qn('id')} = %s THEN %s"] * len(quantities)) + " END"
    case_params = [value for pair in quantities.items() for value in pair]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"UPDATE {table} SET {qn('reserved')} = {qn('reserved')} + {case}, {qn('updated_at')} = %s"
        f" WHERE {qn('id')} IN ({', '.join(['%s'] * len(quantities))})"
        f" AND {qn('on_hand')} - {qn('reserved')} >= {case}"
        f" RETURNING {qn('id')}, {qn('on_hand')}, {qn('reserved')}, {qn('low_threshold')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*case_params, now, *quantities, *case_params])
        return {row[0]: row for row in cursor.fetchall()}


def _reserve_rows_at_once(quantities, *, reference, by):
    """PostgreSQL: the UPDATE, the movements and the reservations as one statement (data-modifying
    WITH). Returns ({stock_id: (id, on_hand, reserved, low_threshold)}, {stock_id: reservation id},
    the time written) for the rows the UPDATE changed; a row it did not change gets neither a
    movement nor a reservation (and _reserve_rows refuses, so the caller rolls everything back)."""
    qn = connection.ops.quote_name
    stock = qn(Stock._meta.db_table)
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    actor = by.pk if getattr(by, "pk", None) else None
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(quantities))
    sql = (
        f"WITH v (id, n) AS (VALUES {values}),"
        f" s AS (UPDATE {stock} t SET {qn('reserved')} = t.{qn('reserved')} + v.n, {qn('updated_at')} = %s"
        f" FROM v WHERE t.{qn('id')} = v.id AND t.{qn('on_hand')} - t.{qn('reserved')} >= v.n"
        f" RETURNING t.{qn('id')} AS id, t.{qn('on_hand')} AS on_hand, t.{qn('reserved')} AS reserved,"
        f" t.{qn('low_threshold')} AS low_threshold, v.n AS n),"
        f"{_record_reserved_sql()}"
        f" SELECT s.id, s.on_hand, s.reserved, s.low_threshold, r.{qn('id')} FROM s JOIN r ON r.{qn('stock_id')} = s.id"
    )
    params = [value for pair in quantities.items() for value in pair]
    params += [at, *_record_reserved_params(actor, reference, at)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {row[0]: row[:4] for row in rows}, {row[0]: row[4] for row in rows}, now


def _state_after(used_field, n):
    """The reservation's state after `n` more units go to `used_field` ("sold" or "released"),
    computed by the database from the row's values before the UPDATE."""
    other = "released" if used_field == "sold" else "sold"
    ends_as = StockReservation.State.SOLD if used_field == "sold" else StockReservation.State.RELEASED
    return Case(
        When(Q(quantity__gt=F("sold") + F("released") + n), then=Value(StockReservation.State.HELD)),
        When(Q(**{other: 0}), then=Value(ends_as)),
        default=Value(StockReservation.State.CLOSED),
    )


def _settle(reference, reason, *, quantities, step, by, note=""):
    """Release or sell what `reference` holds: all of it, or {sku_id: n} under a step."""
    reference = _reference(reference)
    if quantities is not None and not step:
        raise StockError(_("部分释放或售出必须注明步骤（如 refund:12）"), code="step_required")
    movement_ref = reference
    if step:
        try:
            movement_ref = step_ref(reference, step)
        except ValueError as exc:
            raise StockError(_("缺少或无效的关联单据"), code="invalid_reference") from exc
    wanted = None
    if quantities is not None:
        wanted = _merge_lines(quantities.items() if hasattr(quantities, "items") else quantities)

    stock_ids = list(StockReservation.objects.filter(reference=reference).values_list("stock_id", flat=True))
    if stock_ids:
        # the one lock order: stock rows by SKU id; a twin call waits here and then finds the work done
        list(Stock.objects.select_for_update().filter(pk__in=stock_ids).order_by("sku_id", "pk").values_list("pk"))
    held = _held_by(reference)

    if step and stock_ids:
        done = dict(
            StockMovement.objects.filter(stock_id__in=stock_ids, reason=reason, reference=movement_ref)
            .values_list("stock__sku_id", "reserved_delta")
        )
        if done:
            if wanted is None or {sku_id: -delta for sku_id, delta in done.items()} == wanted:
                return 0
            raise StockError(
                _("步骤 %(ref)s 已按其他数量执行过"), code="reference_mismatch", params={"ref": movement_ref}
            )

    if wanted is None:
        plan = [(res, res.held) for res in held.values() if res.held > 0]
    else:
        lacking = [sku_id for sku_id, n in wanted.items() if n > (held[sku_id].held if sku_id in held else 0)]
        if lacking:
            labels = _sku_labels(lacking)
            raise StockError(
                _("预留数量不足：%(skus)s") % {"skus": "、".join(labels[s] for s in lacking)},
                code="insufficient_reserved",
            )
        plan = [(held[sku_id], n) for sku_id, n in wanted.items()]

    used_field = "sold" if reason == Reason.SALE else "released"
    d_on_hand_per_unit = -1 if reason == Reason.SALE else 0
    now = timezone.now()
    total = 0
    for res, n in plan:
        changed = StockReservation.objects.filter(
            pk=res.pk, quantity__gte=F("sold") + F("released") + n
        ).update(**{used_field: F(used_field) + n}, state=_state_after(used_field, n), updated_at=now)
        row = _apply(d_on_hand=d_on_hand_per_unit * n, d_reserved=-n, stock_id=res.stock_id, need_reserved=n) \
            if changed else None
        if row is None:  # cannot happen under the row locks; refuse rather than break the ledger
            raise StockError(_("预留数量不足"), code="insufficient_reserved")
        _record(row, reason, d_on_hand=d_on_hand_per_unit * n, d_reserved=-n, by=by, note=note,
                reference=movement_ref)
        total += n
    return total


@transaction.atomic
def release_reserved(
    reference: str, *, quantities: Mapping[Any, Any] | None = None, step: str = "", by=None, note: str = ""
) -> int:
    """Give back units that `reference` holds (order cancelled or expired, a line refunded before
    shipping): reserved drops, on_hand stays. Acts ONLY on that reference's reservations.

    `quantities` None releases all still held (idempotent by nature: a second call finds nothing
    and returns 0). `quantities` {sku_or_id: n} releases part of it and needs a `step`
    ("refund:12"): its movements carry "<reference>:<step>", so the same partial call retried
    changes nothing (returns 0), and the same step with other quantities is refused
    (reference_mismatch). Each n must be <= what the reference holds of that SKU, else
    StockError(insufficient_reserved) and nothing changes.

    Locks the reference's stock rows in SKU id order; each reservation changes by a conditional
    UPDATE (held >= n) and each stock row by the conditional stock UPDATE, with a RELEASE
    movement. Returns the number of units released by this call.
    """
    return _settle(reference, Reason.RELEASE, quantities=quantities, step=step, by=by, note=note)


@transaction.atomic
def sell_reserved(
    reference: str, *, quantities: Mapping[Any, Any] | None = None, step: str = "", by=None
) -> int:
    """The goods `reference` holds leave the store (shipped, handed over at pickup): on_hand and
    reserved drop together, with a SALE movement. Same rules as release_reserved: only that
    reference's units, all (None) or {sku_or_id: n} under a `step` ("pickup:3", "ship:7"),
    idempotent, all or nothing, rows locked in SKU id order. Returns the number of units sold."""
    return _settle(reference, Reason.SALE, quantities=quantities, step=step, by=by)


@transaction.atomic
def return_stock(store, sku, quantity, *, reference: str, by=None, note: str = "") -> StockMovement:
    """Sold goods come back to the shelf (a refund with return). `reference` is required (e.g.
    order:<no>:refund:<id>): the same return retried adds the units once."""
    reference = _reference(reference)
    quantity = _positive(quantity)
    Stock.objects.get_or_create(store_id=_id(store), sku_id=_id(sku))
    return _change(Reason.RETURN, d_on_hand=quantity, store_id=_id(store), sku_id=_id(sku), by=by,
                   reference=reference, note=note)


@transaction.atomic
def apply_stock_changes(
    store: Store | int, changes: Mapping[int, int], *, reason: str, reference: str, by=None, note: str = ""
) -> int:
    """Change on_hand of several rows of one store at once, all or nothing: a stock document's
    posting (stores.documents). `changes` maps SKU id -> signed delta (not 0, |delta| <= 2**31-1).

    A row missing for a SKU whose delta is positive is created (a new SKU gets its stock row at
    its first receipt). Rows are locked in SKU id order (the one lock order); then EVERY line is
    checked: a decrease may not take units reserved for orders (available >= -delta) and no row may
    pass the column's limit, else InsufficientStock (listing each short line) or StockError
    (too_large) and nothing changes. Then one conditional UPDATE of all rows and one INSERT of
    their movements under `reference` (a partial unique index allows one movement per row, reason
    and ``doc:`` reference: a second posting under the same reference is refused by the database).
    Returns the number of rows changed."""
    reference = _reference(reference)
    store_id = _id(store)
    wanted = {}
    for sku, delta in changes.items():
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_QUANTITY:
            raise StockError(_("数量必须是正整数"), code="invalid_quantity")
        wanted[_sku_id(sku)] = delta
    if not wanted:
        raise StockError(_("请至少指定一个商品"), code="no_lines")
    if not Store.objects.filter(pk=store_id, is_archived=False).exists():
        raise StockError(_("门店不存在或已归档"), code="store_unavailable")
    growing = [sku_id for sku_id, delta in sorted(wanted.items()) if delta > 0]
    if growing:  # a new SKU's row is made at its first receipt (a twin making it too is ignored)
        have = set(Stock.objects.filter(store_id=store_id, sku_id__in=growing).values_list("sku_id", flat=True))
        Stock.objects.bulk_create(
            [Stock(store_id=store_id, sku_id=sku_id) for sku_id in growing if sku_id not in have],
            ignore_conflicts=True,
        )
    rows = {
        sku_id: (stock_id, on_hand, reserved)
        for stock_id, sku_id, on_hand, reserved in Stock.objects.select_for_update(of=("self",))
        .filter(store_id=store_id, sku_id__in=list(wanted))
        .order_by("sku_id")
        .values_list("pk", "sku_id", "on_hand", "reserved")
    }
    short, too_large = [], []
    for sku_id, delta in sorted(wanted.items()):
        stock_id, on_hand, reserved = rows.get(sku_id, (None, 0, 0))
        if delta < 0 and on_hand - reserved < -delta:
            short.append({"sku_id": sku_id, "requested": -delta, "available": max(on_hand - reserved, 0)})
        elif delta > 0 and on_hand + delta > MAX_QUANTITY:
            too_large.append(sku_id)
    if short:
        labels = _sku_labels([line["sku_id"] for line in short])
        detail = "；".join(
            _("%(sku)s 需要 %(requested)s 件，可用 %(available)s 件")
            % {"sku": labels[line["sku_id"]], "requested": line["requested"], "available": line["available"]}
            for line in short
        )
        raise InsufficientStock(_("库存不足：%(lines)s") % {"lines": detail}, short=short)
    if too_large:
        labels = _sku_labels(too_large)
        raise StockError(
            _("数量过大：%(skus)s") % {"skus": "、".join(labels[s] for s in too_large)}, code="too_large"
        )

    deltas = {rows[sku_id][0]: delta for sku_id, delta in sorted(wanted.items())}
    now = timezone.now()
    changed = _apply_many(deltas, now)
    for stock_id in deltas:
        if stock_id not in changed:  # cannot happen while we hold the rows' locks; refuse rather than break
            raise _why_not(stock_id)
    _record_many(deltas, changed, reason=reason, reference=reference, by=by, note=note, now=now)
    for stock_id, delta in deltas.items():
        _stock_id, on_hand, reserved, threshold = changed[stock_id]
        _sync_alert(stock_id, before=on_hand - reserved - delta, after=on_hand - reserved, threshold=threshold)
    return len(deltas)


def _apply_many(deltas, now):
    """One conditional UPDATE of several stock rows, each by its own delta, a decrease only where
    it leaves the reserved units (on_hand - reserved >= -delta). {stock_id: (id, on_hand, reserved,
    low_threshold)} of the rows changed. On PostgreSQL the deltas travel as two arrays joined by
    id (linear in the rows); elsewhere as a CASE per row."""
    qn = connection.ops.quote_name
    table = qn(Stock._meta.db_table)
    returning = (f" RETURNING {table}.{qn('id')}, {table}.{qn('on_hand')}, {table}.{qn('reserved')},"
                 f" {table}.{qn('low_threshold')}")
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} SET {qn('on_hand')} = {table}.{qn('on_hand')} + v.delta, {qn('updated_at')} = %s"
            f" FROM unnest(%s::bigint[], %s::integer[]) AS v(id, delta)"
            f" WHERE {table}.{qn('id')} = v.id AND {table}.{qn('on_hand')} - {table}.{qn('reserved')}"
            f" >= GREATEST(-v.delta, 0)" + returning
        )
        params = [now, list(deltas), list(deltas.values())]
    else:
        case = "CASE " + " ".join([f"WHEN {qn('id')} = %s THEN %s"] * len(deltas)) + " END"
        case_params = [value for pair in deltas.items() for value in pair]
        need_params = [value for stock_id, delta in deltas.items() for value in (stock_id, max(0, -delta))]
        sql = (
            f"UPDATE {table} SET {qn('on_hand')} = {qn('on_hand')} + {case}, {qn('updated_at')} = %s"
            f" WHERE {qn('id')} IN ({', '.join(['%s'] * len(deltas))})"
            f" AND {qn('on_hand')} - {qn('reserved')} >= {case}" + returning
        )
        params = [*case_params, connection.ops.adapt_datetimefield_value(now), *deltas, *need_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = {row[0]: row for row in cursor.fetchall()}
    _stock_changed(changed)
    return changed


def _record_many(deltas, changed, *, reason, reference, by, note, now):
    """The movements of _apply_many's rows, one INSERT (on PostgreSQL from arrays, so a
    2,000-row posting builds no model objects), then their low-stock alerts."""
    actor_id = getattr(by, "pk", None)
    ids = list(deltas)
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        table = qn(StockMovement._meta.db_table)
        columns = ", ".join(qn(c) for c in ("stock_id", "reason", "quantity", "reserved_delta", "on_hand_after",
                                            "reserved_after", "actor_id", "note", "reference", "created_at"))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT v.stock_id, %s, v.quantity, 0, v.on_hand, v.reserved, %s,"
                f" %s, %s, %s FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::integer[])"
                f" AS v(stock_id, quantity, on_hand, reserved)",
                [reason, actor_id, note[:255], reference, now, ids, [deltas[i] for i in ids],
                 [changed[i][1] for i in ids], [changed[i][2] for i in ids]],
            )
    else:
        StockMovement.objects.bulk_create([
            StockMovement(stock_id=stock_id, reason=reason, quantity=delta, reserved_delta=0,
                          on_hand_after=changed[stock_id][1], reserved_after=changed[stock_id][2],
                          actor_id=actor_id, note=note[:255], reference=reference)
            for stock_id, delta in deltas.items()
        ])


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
        pagecache.bump(pagecache.STORES_DEP)
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
    (default: all); less than sent is allowed: the shortage stays recorded on the line and the
    transfer's difference is open ("少到 N 件，差异待处理") until HQ resolves it."""
    _require_store(by, transfer.destination_id, _("只有调入门店可以收货"))
    lines = list(transfer.lines.order_by("sku_id"))
    received = received or {}
    counts = {}
    for line in lines:
        raw = received.get(line.pk, received.get(str(line.pk), line.quantity))
        try:
            count = parse_int(raw, minimum=-INT_MAX, maximum=INT_MAX)  # ASCII digits: "١" is not a count
        except ValueError as exc:
            raise TransferError(_("实收数量必须是整数"), code="invalid_quantity") from exc
        if count < 0:
            raise TransferError(_("实收数量不能为负数"), code="invalid_quantity")
        if count > line.quantity:
            raise TransferError(_("实收数量不能多于发出数量"), code="over_receive")
        counts[line.pk] = count
    _move_status(transfer, Transfer.Status.DISPATCHED, Transfer.Status.RECEIVED)
    short = 0
    for line in lines:
        count = counts[line.pk]
        TransferLine.objects.filter(pk=line.pk).update(quantity_received=count)
        line.quantity_received = count
        if count:
            Stock.objects.get_or_create(store_id=transfer.destination_id, sku_id=line.sku_id)
            _change(Reason.TRANSFER_IN, d_on_hand=count, store_id=transfer.destination_id, sku_id=line.sku_id,
                    by=by, reference=transfer.reference)
        short += line.quantity - count
    summary = note
    if short:
        # the units that did not arrive stay the transfer's open difference until HQ settles it
        # (stores.transfer_differences): the source's ledger already shows them leaving
        Transfer.objects.filter(pk=transfer.pk).update(
            difference_status=Transfer.Difference.OPEN, short_quantity=short, updated_at=timezone.now()
        )
        transfer.difference_status, transfer.short_quantity = Transfer.Difference.OPEN, short
        from .transfer_differences import shortage_words

        summary = f"{shortage_words(short)} {note}".strip()
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
    """Rows whose balances disagree with their records: [(stock, movement_on_hand,
    movement_reserved, reservations_held)], where on_hand must equal the sum of its movements'
    quantities, reserved the sum of their reserved deltas AND the sum of its reservations' held
    units. Empty when everything agrees."""
    from django.db.models import IntegerField, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    held = (
        StockReservation.objects.filter(stock=OuterRef("pk"))
        .order_by()
        .values("stock")
        .annotate(total=Sum(F("quantity") - F("sold") - F("released")))
        .values("total")
    )
    rows = (
        Stock.objects.annotate(
            ledger_on_hand=Coalesce(Sum("movements__quantity"), Value(0)),
            ledger_reserved=Coalesce(Sum("movements__reserved_delta"), Value(0)),
            reservations_held=Coalesce(Subquery(held, output_field=IntegerField()), Value(0)),
        )
        .filter(
            ~Q(on_hand=F("ledger_on_hand")) | ~Q(reserved=F("ledger_reserved")) | ~Q(reserved=F("reservations_held"))
        )
        .select_related("store", "sku")
    )
    return [(row, row.ledger_on_hand, row.ledger_reserved, row.reservations_held) for row in rows]
