"""What can go wrong with carts, checkout, orders, payments and after-sales: codes (for code and
tests) with translatable messages (for people). Views turn an OrderError into a message or a form
error; the service that raised it changed nothing."""

from enum import StrEnum

from core.errors import DomainError


class Code(StrEnum):
    INVALID_QUANTITY = "invalid_quantity"
    NOT_SELLABLE = "not_sellable"
    CART_FULL = "cart_full"
    EMPTY = "empty"
    NO_STORE = "no_store"
    STORE_UNAVAILABLE = "store_unavailable"
    FULFILMENT_UNAVAILABLE = "fulfilment_unavailable"
    ADDRESS_REQUIRED = "address_required"
    ADDRESS_INVALID = "address_invalid"
    OUT_OF_RANGE = "out_of_range"
    REGION_NOT_SERVED = "region_not_served"
    BELOW_MINIMUM = "below_minimum"
    SLOT_INVALID = "slot_invalid"
    COUPON_UNUSABLE = "coupon_unusable"
    POINTS_INVALID = "points_invalid"
    INSUFFICIENT_STOCK = "insufficient_stock"
    PRICE_CHANGED = "price_changed"
    TOKEN_REQUIRED = "token_required"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID_TRANSITION = "invalid_transition"
    NOT_PAYABLE = "not_payable"
    AMOUNT_MISMATCH = "amount_mismatch"
    PAYMENT_UNAVAILABLE = "payment_unavailable"
    REFUND_INVALID = "refund_invalid"
    AFTER_SALE_INVALID = "after_sale_invalid"
    WINDOW_CLOSED = "window_closed"
    PICKUP_INVALID = "pickup_invalid"
    SHIPMENT_INVALID = "shipment_invalid"
    REASON_REQUIRED = "reason_required"


class OrderError(DomainError):
    code = "order_error"

    def __init__(self, message, *, code=None, params=None, details=None):
        super().__init__(message, code=str(code) if code else None, params=params)
        self.details = details or {}
