"""A transfer received short, and HQ settling what did not arrive.

When the destination receives fewer units than were sent (stores.services.receive_transfer), the
source's ledger already shows them leaving (TRANSFER_OUT at dispatch) and the destination's shows
only what came in; the units between are the transfer's open difference ("少到 2 件，差异待处理",
`Transfer.difference_status` open, `short_quantity` the units). It stays open, listed for HQ
(the transfer list's 差异待处理 tab, a number on the workbench), until HQ settles every short line
with one of:

- 确认损耗 (lost): written off. No stock row holds the units any more, so no movement is written;
  the line records who settled it, when, and the timeline event the reason.
- 退回调出门店 (returned): found or sent back, the units re-enter the SOURCE's stock.
- 补收到调入门店 (delivered): they turned up late at the destination and enter ITS stock.

A returned or delivered line moves stock through the ledger (stores.services._change, one
conditional UPDATE and a TRANSFER_IN movement) under ``transfer:<id>:difference:<line id>``
(core.references step grammar), which a partial unique index allows once per stock row.

`resolve_difference` is HQ only (a store manager cannot write off what their store lost), locks
the transfer row first and then the stock rows in SKU id order (the one lock order), marks each
line by a conditional UPDATE (``resolution = ''``), and closes the transfer's difference when no
short line is left open. Settling twice (a double tap, two tabs) settles once: the second call
finds nothing open and returns 0. Every refusal is a TransferError with a code and changes nothing.
"""

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.numbers import id_or_none
from core.references import step_ref

from .errors import TransferError
from .models import Stock, StockMovement, Transfer, TransferEvent, TransferLine
from .scope import is_hq

Resolution = TransferLine.Resolution
MAX_REASON = 200


def shortage_words(shortage, resolution="", unit=None):
    """A short line (or transfer) in words: "少到 1 件，差异待处理", "少到 1 盒，已确认损耗"… A line
    names its product's unit; the transfer's total (units of any products) counts 件."""
    if not shortage:
        return ""
    if unit:
        words = {
            Resolution.LOST: _("少到 %(n)s %(unit)s，已确认损耗"),
            Resolution.RETURNED: _("少到 %(n)s %(unit)s，已退回调出门店"),
            Resolution.DELIVERED: _("少到 %(n)s %(unit)s，已补收到调入门店"),
        }.get(resolution or "", _("少到 %(n)s %(unit)s，差异待处理"))
        return words % {"n": shortage, "unit": unit}
    words = {
        Resolution.LOST: _("少到 %(n)s 件，已确认损耗"),
        Resolution.RETURNED: _("少到 %(n)s 件，已退回调出门店"),
        Resolution.DELIVERED: _("少到 %(n)s 件，已补收到调入门店"),
    }.get(resolution or "", _("少到 %(n)s 件，差异待处理"))
    return words % {"n": shortage}


def transfer_words(transfer):
    """The transfer's difference in words, "" when it had none."""
    if transfer.difference_status == Transfer.Difference.OPEN:
        return shortage_words(transfer.short_quantity)
    if transfer.difference_status == Transfer.Difference.RESOLVED:
        return _("少到 %(n)s 件，差异已处理") % {"n": transfer.short_quantity}
    return ""


def clean_reason(raw):
    """The reason HQ gives: printable text, trimmed, at most 200 characters; required."""
    text = "".join(ch for ch in str(raw or "") if ch.isprintable()).strip()
    if not text:
        raise TransferError(_("请填写处理原因"), code="reason_required")
    if len(text) > MAX_REASON:
        raise TransferError(_("处理原因最多 %(n)s 个字"), code="reason_too_long", params={"n": MAX_REASON})
    return text


def parse_resolutions(raw: Mapping) -> dict[int, str]:
    """{line id: resolution} from a form's ``resolution_<line id>`` fields (blank ones skipped).
    A line id that is not an id, or a resolution that is not one of ours, is refused."""
    plan = {}
    for key, value in raw.items():
        if not key.startswith("resolution_") or value in (None, ""):
            continue
        line_id = id_or_none(key.removeprefix("resolution_"))
        if line_id is None or value not in Resolution.values:
            raise TransferError(_("请为每一行选择有效的处理方式"), code="invalid_resolution")
        plan[line_id] = value
    return plan


@transaction.atomic
def resolve_difference(transfer, resolutions: Mapping[int, str], *, by, reason: str) -> int:
    """Settle short lines of a received transfer: `resolutions` maps line id -> a Resolution value.
    Lines already settled are skipped (a double tap); a line id that is not one of this transfer's
    short lines, an unknown resolution, a missing reason, a transfer without an open difference or
    a user who is not HQ: TransferError, nothing changes. Returns the number of lines settled now."""
    if not is_hq(by):
        raise TransferError(_("只有总部可以处理调拨差异"), code="not_hq")
    reason = clean_reason(reason)
    if not resolutions:
        raise TransferError(_("请至少为一行选择处理方式"), code="invalid_resolution")
    if any(value not in Resolution.values for value in resolutions.values()):
        raise TransferError(_("请为每一行选择有效的处理方式"), code="invalid_resolution")
    try:
        transfer = Transfer.objects.select_for_update(of=("self",)).get(pk=getattr(transfer, "pk", transfer))
    except Transfer.DoesNotExist as exc:
        raise TransferError(_("调拨单不存在"), code="not_found") from exc
    if transfer.difference_status == Transfer.Difference.RESOLVED:
        return 0
    if transfer.difference_status != Transfer.Difference.OPEN:
        raise TransferError(_("该调拨单没有待处理的差异"), code="no_difference")
    lines = {line.pk: line for line in transfer.lines.select_related("sku__product").order_by("sku_id")}
    for line_id in resolutions:
        line = lines.get(line_id)
        if line is None or not line.shortage:
            raise TransferError(_("该明细没有收货差异"), code="invalid_resolution")
    plan = [line for line in lines.values() if line.pk in resolutions and not line.resolution]
    if not plan:
        return 0
    now = timezone.now()
    actor = by if getattr(by, "pk", None) else None
    settled = []
    for line in plan:  # SKU id order: the stock rows are locked in the one lock order
        resolution = resolutions[line.pk]
        changed = TransferLine.objects.filter(pk=line.pk, resolution="").update(
            resolution=resolution, resolved_by=actor, resolved_at=now
        )
        if not changed:  # cannot happen under the transfer's lock; skip rather than move twice
            continue
        line.resolution = resolution
        store_id = {Resolution.RETURNED: transfer.source_id, Resolution.DELIVERED: transfer.destination_id}.get(
            resolution
        )
        if store_id is not None:
            _stock_in(store_id, line, transfer, by=by, reason=reason)
        settled.append(line)
    still_open = any(line.shortage and not line.resolution for line in lines.values())
    if not still_open:
        Transfer.objects.filter(pk=transfer.pk, difference_status=Transfer.Difference.OPEN).update(
            difference_status=Transfer.Difference.RESOLVED, updated_at=now
        )
        transfer.difference_status = Transfer.Difference.RESOLVED
    summary = "；".join(f"{line.sku.code} {shortage_words(line.shortage, line.resolution, line.sku.product.unit)}"
                       for line in settled)
    TransferEvent.objects.create(transfer=transfer, status=TransferEvent.RESOLVED, actor=actor,
                                 note=f"{summary}。{_('原因')}：{reason}"[:255])
    return len(settled)


def _stock_in(store_id, line, transfer, *, by, reason):
    from . import services

    Stock.objects.get_or_create(store_id=store_id, sku_id=line.sku_id)
    reference = step_ref(transfer.reference, f"difference:{line.pk}")
    movement = services._change(StockMovement.Reason.TRANSFER_IN, d_on_hand=line.shortage, store_id=store_id,
                                sku_id=line.sku_id, by=by, reference=reference, note=reason)
    if movement is None:  # the row exists (made above); an increase has no condition to fail
        raise TransferError(_("库存更新失败，请重试"), code="stock_failed")
    return movement
