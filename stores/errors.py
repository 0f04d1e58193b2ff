from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class StockError(DomainError):
    """Codes: invalid_quantity, insufficient_stock, insufficient_reserved, reason_required,
    invalid_threshold, unknown_stock, store_unavailable."""

    code = "stock_error"


class TransferError(DomainError):
    """Codes: same_store, no_lines, duplicate_sku, invalid_quantity, over_receive,
    invalid_transition, wrong_store."""

    code = "transfer_error"


def insufficient(available=None):
    if available is None:
        return StockError(_("库存不足"), code="insufficient_stock")
    return StockError(_("库存不足，可用 %(available)s"), code="insufficient_stock", params={"available": available})
