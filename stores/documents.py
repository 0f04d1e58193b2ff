"""Stock documents: 入库 receipts, 出库 issues and 盘点 stocktakes (stores.models.StockDocument).

Every write is a function here, each in one transaction:
- `create_document` makes a numbered draft (RK/CK/PD + local date + id) for a store the author
  may work on; a stocktake's sheet starts with every stock row of the store (or of one category).
- `set_line` / `remove_line` / `record_count` change a draft's lines. They lock the document row
  first, so they cannot slip in while it is being posted; a posted or cancelled document refuses.
  `set_line` sets the quantity (a double tap or a re-sent form gives the same line, not twice
  as much). `record_count` stores the count with the row's on_hand at that moment.
- `post_document` locks the document (the lock order: document -> stock rows by SKU id), refuses
  unless it is a draft, and moves every line through `stores.services.apply_stock_changes` under
  ``doc:<number>`` (core.references): all lines or none. The state changes draft -> posted by a
  conditional UPDATE. Posting twice (two tabs, a double tap) posts once: the second call waits for
  the lock, finds the document posted and returns it with `posted_now` False.
- `cancel_document` voids a draft. `reverse_document` makes and posts a new document that undoes a
  posted one; a document is reversed at most once (a one-to-one link) and a reversal is not itself
  reversed.

Who may do what (`stores.scope`): any staff of the store (and HQ) may make drafts and count;
posting, cancelling and reversing take HQ or a manager of that store. Refusals raise
DocumentError with a code and change nothing.
"""

import math
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.references import doc_ref

from . import services
from .errors import DocumentError, StockError
from .models import Stock, StockDocument, StockDocumentEvent, StockDocumentLine, StockMovement, StoreStaff
from .scope import is_hq, user_can_work_on

Kind = StockDocument.Kind
State = StockDocument.State
MAX_QUANTITY = services.MAX_QUANTITY
MAX_COST = Decimal("999999.99")

REASON_FOR_KIND = {
    Kind.RECEIPT: StockMovement.Reason.RECEIVE,
    Kind.ISSUE: StockMovement.Reason.ISSUE,
    Kind.STOCKTAKE: StockMovement.Reason.ADJUST,
}


def _actor(by):
    return by if getattr(by, "pk", None) else None


def can_post(user, store):
    """HQ, or a manager of this store (one query for store staff)."""
    if is_hq(user):
        return True
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    store_id = getattr(store, "pk", store)
    return StoreStaff.objects.filter(user_id=user.pk, store_id=store_id, role=StoreStaff.Role.MANAGER).exists()


def _require_store(by, store):
    if not user_can_work_on(by, store):
        raise DocumentError(_("只能为自己的门店制单"), code="wrong_store")


def _require_poster(by, store):
    if not can_post(by, store):
        raise DocumentError(_("只有总部或该门店的店长可以过账、作废或冲销单据"), code="not_manager")


def parse_quantity(raw, *, allow_zero=False):
    """A whole number of units from a form, a CSV cell or a caller: plain ASCII digits (or an int),
    0 < n <= 2**31-1 (0 allowed for a count). Refuses negatives, fractions ("1.5", 1.5), bools,
    non-ASCII digits ("１", "²"), NUL and huge values with DocumentError(invalid_quantity)."""
    invalid = DocumentError(
        _("数量必须是 %(min)s 到 %(max)s 之间的整数"), code="invalid_quantity",
        params={"min": 0 if allow_zero else 1, "max": MAX_QUANTITY},
    )
    if isinstance(raw, bool):
        raise invalid
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float | Decimal):
        if not (math.isfinite(raw) and raw == int(raw)):
            raise invalid
        value = int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text or len(text) > 12 or not (text.isascii() and text.isdigit()):
            raise invalid
        value = int(text)
    else:
        raise invalid
    if value < (0 if allow_zero else 1) or value > MAX_QUANTITY:
        raise invalid
    return value


def parse_cost(raw):
    """An optional cost price in yuan: blank -> None; else a Decimal 0 <= x <= 999999.99 with at
    most two places (ASCII digits and one dot)."""
    if raw is None or isinstance(raw, bool):
        if raw is None:
            return None
        raise DocumentError(_("成本单价格式不正确"), code="invalid_cost")
    if isinstance(raw, Decimal):
        value = raw
    else:
        text = str(raw).strip()
        if not text:
            return None
        if len(text) > 16 or not text.isascii() or not text.replace(".", "", 1).isdigit():
            raise DocumentError(_("成本单价格式不正确"), code="invalid_cost")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise DocumentError(_("成本单价格式不正确"), code="invalid_cost") from exc
    if not value.is_finite() or value < 0 or value > MAX_COST or value != value.quantize(Decimal("0.01")):
        raise DocumentError(_("成本单价须在 0 到 999999.99 元之间，最多两位小数"), code="invalid_cost")
    return value.quantize(Decimal("0.01"))


def _event(document, action, by, note=""):
    StockDocumentEvent.objects.create(document=document, action=action, actor=_actor(by), note=note[:255])


def _lock(document):
    """Re-read the document under its row lock (the first lock of every write here)."""
    pk = getattr(document, "pk", document)
    try:
        return StockDocument.objects.select_for_update(of=("self",)).select_related("store").get(pk=pk)
    except StockDocument.DoesNotExist as exc:
        raise DocumentError(_("单据不存在"), code="not_found") from exc


def _require_draft(document):
    if document.state != State.DRAFT:
        raise DocumentError(
            _("单据 %(number)s %(state)s，不能修改") % {"number": document.number,
                                                       "state": document.get_state_display()},
            code="not_draft",
        )


def _number(document):
    day = timezone.localtime(document.created_at).strftime("%Y%m%d")
    return f"{StockDocument.PREFIX[document.kind]}{day}{document.pk:06d}"


@transaction.atomic
def create_document(store, kind, *, by, source="", supplier="", issue_reason="", note="", category=None,
                    reversal_of=None):
    """A numbered draft. A receipt names its source (supplier or HQ; a supplier's name is
    optional); an issue needs its reason; a stocktake's sheet is filled with the store's stock
    rows (of `category` and its subcategories, or all of them)."""
    if kind not in Kind.values:
        raise DocumentError(_("单据类型不正确"), code="invalid_kind")
    _require_store(by, store)
    if getattr(store, "is_archived", False):
        raise DocumentError(_("门店已归档"), code="store_unavailable")
    if kind == Kind.RECEIPT:
        source = source or StockDocument.Source.SUPPLIER
        if source not in StockDocument.Source.values:
            raise DocumentError(_("请选择来源"), code="invalid_source")
    else:
        source = ""
    if kind == Kind.ISSUE and issue_reason not in StockDocument.IssueReason.values:
        raise DocumentError(_("请选择出库原因"), code="reason_required")
    if kind != Kind.ISSUE:
        issue_reason = ""
    document = StockDocument.objects.create(
        kind=kind, store_id=store.pk, source=source, supplier=(supplier or "")[:64].strip(),
        issue_reason=issue_reason, note=(note or "")[:255].strip(),
        category=category if kind == Kind.STOCKTAKE else None, author=_actor(by), reversal_of=reversal_of,
    )
    document.number = _number(document)
    StockDocument.objects.filter(pk=document.pk).update(number=document.number)
    _event(document, StockDocumentEvent.Action.CREATED, by)
    if kind == Kind.STOCKTAKE and reversal_of is None:
        rows = Stock.objects.filter(store_id=store.pk)
        if category is not None:
            rows = rows.filter(
                sku__product__category__tree_id=category.tree_id,
                sku__product__category__lft__gte=category.lft,
                sku__product__category__rght__lte=category.rght,
            )
        StockDocumentLine.objects.bulk_create(
            [StockDocumentLine(document=document, sku_id=sku_id)
             for sku_id in rows.order_by("sku_id").values_list("sku_id", flat=True)]
        )
    return document


def _sku_id(sku):
    from catalog.models import Sku

    value = getattr(sku, "pk", sku)
    try:
        value = parse_quantity(value)
    except DocumentError as exc:
        raise DocumentError(_("商品不存在"), code="invalid_sku") from exc
    if not Sku.objects.filter(pk=value).exists():
        raise DocumentError(_("商品不存在"), code="invalid_sku")
    return value


@transaction.atomic
def set_line(document, sku, quantity, *, unit_cost=None, by):
    """Put `quantity` of `sku` on a draft receipt or issue (replacing that SKU's line, if any)."""
    document = _lock(document)
    _require_store(by, document.store)
    _require_draft(document)
    if document.kind == Kind.STOCKTAKE:
        return record_count(document, sku, quantity, by=by)
    quantity = parse_quantity(quantity)
    unit_cost = parse_cost(unit_cost) if document.kind == Kind.RECEIPT else None
    sku_id = _sku_id(sku)
    line, _created = StockDocumentLine.objects.update_or_create(
        document=document, sku_id=sku_id, defaults={"quantity": quantity, "unit_cost": unit_cost}
    )
    StockDocument.objects.filter(pk=document.pk).update(updated_at=timezone.now())
    return line


@transaction.atomic
def record_count(document, sku, counted, *, by):
    """The count of one SKU on a draft stocktake, with the row's on_hand now (0 for a SKU the store
    has no row for): the posting applies counted - on_hand-at-count, so what sells after the
    count is not lost. Counting a SKU again replaces the count and its snapshot."""
    document = _lock(document)
    _require_store(by, document.store)
    _require_draft(document)
    if document.kind != Kind.STOCKTAKE:
        raise DocumentError(_("只有盘点单可以录入盘点数量"), code="invalid_kind")
    counted = parse_quantity(counted, allow_zero=True)
    sku_id = _sku_id(sku)
    expected = Stock.objects.filter(store_id=document.store_id, sku_id=sku_id).values_list("on_hand", flat=True)
    expected = next(iter(expected), 0)
    line, _created = StockDocumentLine.objects.update_or_create(
        document=document, sku_id=sku_id,
        defaults={"counted": counted, "expected": expected, "counted_at": timezone.now()},
    )
    StockDocument.objects.filter(pk=document.pk).update(updated_at=timezone.now())
    return line


@transaction.atomic
def remove_line(document, line_id, *, by):
    document = _lock(document)
    _require_store(by, document.store)
    _require_draft(document)
    deleted, _rows = StockDocumentLine.objects.filter(document=document, pk=line_id).delete()
    if not deleted:
        raise DocumentError(_("明细不存在"), code="not_found")
    return deleted


def _deltas(document, lines):
    """{sku_id: signed delta} of a draft's lines, `lines` as (sku_id, quantity, counted, expected,
    delta) rows; uncounted stocktake lines add nothing."""
    deltas = {}
    for sku_id, quantity, counted, expected, delta in lines:
        if document.reversal_of_id:
            delta = delta or 0
        elif document.kind == Kind.RECEIPT:
            delta = quantity or 0
        elif document.kind == Kind.ISSUE:
            delta = -(quantity or 0)
        elif counted is None:
            continue
        else:
            delta = counted - expected
        deltas[sku_id] = delta
    return deltas


def _store_line_deltas(document):
    """Each line's `delta`, the change the posting makes, written by one UPDATE in the database
    (a 2,000-line count sheet is one statement, not one per line)."""
    lines = StockDocumentLine.objects.filter(document_id=document.pk)
    if document.kind == Kind.RECEIPT:
        lines.update(delta=F("quantity"))
    elif document.kind == Kind.ISSUE:
        lines.update(delta=-F("quantity"))
    else:
        lines.filter(counted__isnull=False).update(delta=F("counted") - F("expected"))


def _post_locked(document, *, by):
    lines = list(document.lines.order_by("sku_id").values_list("sku_id", "quantity", "counted", "expected", "delta"))
    if not lines:
        raise DocumentError(_("请至少添加一个商品"), code="no_lines")
    if document.kind == Kind.STOCKTAKE and not document.reversal_of_id and all(line[2] is None for line in lines):
        raise DocumentError(_("还没有录入任何盘点数量"), code="no_lines")
    deltas = _deltas(document, lines)
    moving = {sku_id: delta for sku_id, delta in deltas.items() if delta}
    reason = StockMovement.Reason.REVERSAL if document.reversal_of_id else REASON_FOR_KIND[document.kind]
    # everything but the stock first: the stock rows, which buyers wait for, are locked last and
    # held only until the commit
    now = timezone.now()
    changed = StockDocument.objects.filter(pk=document.pk, state=State.DRAFT).update(
        state=State.POSTED, posted_by=_actor(by), posted_at=now, updated_at=now
    )
    if not changed:  # cannot happen under the document's lock; refuse rather than post twice
        raise DocumentError(_("单据状态已变化，请刷新后重试"), code="not_draft")
    if not document.reversal_of_id:
        _store_line_deltas(document)
    _event(document, StockDocumentEvent.Action.POSTED, by)
    if moving:
        try:
            services.apply_stock_changes(document.store_id, moving, reason=reason, reference=doc_ref(document.number),
                                         by=by, note=document.number)
        except StockError as exc:
            raise DocumentError(str(exc), code=exc.code) from exc
    document.state, document.posted_by, document.posted_at = State.POSTED, _actor(by), now
    return document


@transaction.atomic
def post_document(document, *, by):
    """Post a draft: (document, True). Already posted: (document, False) and nothing changes.
    Cancelled, another store's, not a manager, no lines, a short line: DocumentError, nothing changes."""
    document = _lock(document)
    _require_store(by, document.store)
    if document.state == State.POSTED:
        return document, False
    _require_draft(document)
    _require_poster(by, document.store)
    return _post_locked(document, by=by), True


@transaction.atomic
def cancel_document(document, *, by, note=""):
    document = _lock(document)
    _require_store(by, document.store)
    _require_draft(document)
    _require_poster(by, document.store)
    StockDocument.objects.filter(pk=document.pk, state=State.DRAFT).update(
        state=State.CANCELLED, updated_at=timezone.now()
    )
    document.state = State.CANCELLED
    _event(document, StockDocumentEvent.Action.CANCELLED, by, note)
    return document


@transaction.atomic
def reverse_document(document, *, by, note=""):
    """Undo a posted document with a new one of the same kind, posted at once: every line's
    change negated, under the new document's own reference. Refused for a draft or a cancelled
    document, a reversal, a document already reversed, or when the stock to take back is no
    longer there (sold or reserved since): nothing changes."""
    document = _lock(document)
    _require_store(by, document.store)
    _require_poster(by, document.store)
    if document.state != State.POSTED:
        raise DocumentError(_("只有已过账的单据可以冲销"), code="not_posted")
    if document.reversal_of_id:
        raise DocumentError(_("冲销单不能再冲销"), code="is_reversal")
    if StockDocument.objects.filter(reversal_of=document).exists():
        raise DocumentError(_("单据已冲销过"), code="already_reversed")
    reversal = create_document(
        document.store, document.kind, by=by, source=document.source, supplier=document.supplier,
        issue_reason=document.issue_reason or StockDocument.IssueReason.OTHER,
        note=note or _("冲销 %(number)s") % {"number": document.number}, category=document.category,
        reversal_of=document,
    )
    StockDocumentLine.objects.bulk_create([
        StockDocumentLine(document=reversal, sku_id=line.sku_id, quantity=line.quantity, unit_cost=line.unit_cost,
                          counted=line.counted, expected=line.expected, delta=-line.delta)
        for line in document.lines.filter(delta__isnull=False).exclude(delta=0).order_by("sku_id")
    ])
    if not reversal.lines.exists():
        raise DocumentError(_("该单据没有改变库存，无需冲销"), code="nothing_to_reverse")
    reversal = _lock(reversal)
    _post_locked(reversal, by=by)
    _event(document, StockDocumentEvent.Action.REVERSED, by, reversal.number)
    return reversal


def stocktake_summary(document):
    """Counts of a stocktake sheet for the variance screen: lines, counted, uncounted, with a
    variance, units gained and lost (one aggregate query)."""
    from django.db.models import Count, Q, Sum

    row = document.lines.aggregate(
        n_lines=Count("pk"),
        n_counted=Count("pk", filter=Q(counted__isnull=False)),
        n_varied=Count("pk", filter=Q(counted__isnull=False) & ~Q(counted=F("expected"))),
        n_gained=Sum(F("counted") - F("expected"), filter=Q(counted__gt=F("expected"))),
        n_lost=Sum(F("expected") - F("counted"), filter=Q(counted__lt=F("expected"))),
    )
    return {
        "lines": row["n_lines"],
        "counted": row["n_counted"],
        "uncounted": row["n_lines"] - row["n_counted"],
        "varied": row["n_varied"],
        "gained": row["n_gained"] or 0,
        "lost": row["n_lost"] or 0,
    }
