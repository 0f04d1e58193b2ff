from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class StockError(DomainError):
    """Codes: invalid_quantity, invalid_sku, no_lines, invalid_reference, step_required,
    insufficient_stock, insufficient_reserved, reference_mismatch, reason_required,
    invalid_threshold, unknown_stock, store_unavailable, too_large."""

    code = "stock_error"


class InsufficientStock(StockError):
    """A reservation refused because one or more lines are short. `short` lists EVERY short line
    as {"sku_id", "requested", "available"} (as Saleor's InsufficientStock lists its items), so a
    checkout can mark all of them at once."""

    code = "insufficient_stock"

    def __init__(self, message, *, short, params=None):
        super().__init__(message, code="insufficient_stock", params=params)
        self.short = list(short)


class TransferError(DomainError):
    """Codes: same_store, no_lines, duplicate_sku, invalid_quantity, over_receive,
    invalid_transition, wrong_store."""

    code = "transfer_error"


def insufficient(available=None):
    if available is None:
        return StockError(_("库存不足"), code="insufficient_stock")
    return StockError(_("库存不足，可用 %(available)s"), code="insufficient_stock", params={"available": available})


class DocumentError(DomainError):
    """A stock document (stores.documents) refused. Codes: invalid_kind, invalid_source,
    reason_required, store_unavailable, wrong_store, not_manager, not_found, not_draft, not_posted,
    is_reversal, already_reversed, nothing_to_reverse, invalid_quantity, invalid_cost, invalid_sku,
    no_lines, insufficient_stock, too_large, barcode_unknown, barcode_ambiguous, bad_file."""

    code = "document_error"


class DocumentImportError(DocumentError):
    """A CSV import refused: `errors` lists every bad line as (line number, message)."""

    code = "bad_file"

    def __init__(self, errors):
        super().__init__(_("文件有 %(n)s 处错误，未导入任何明细"), code="bad_file", params={"n": len(errors)})
        self.errors = list(errors)
