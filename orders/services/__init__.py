"""Every write use case of the orders app, by theme (each module's docstring states its rules):

- cart: the shopper's cart (member's or session's), merged on login;
- checkout: the quote the checkout page shows, and placing the order;
- lifecycle: cancelling unpaid orders, completing, staff price changes, the timed jobs;
- fulfilment: ship, dispatch, ready for pickup, verify pickups at the counter, tracking;
- aftersales: refund requests, approval, returns, staff cancelling a paid order.
Payments (starting, confirming, refunding) live in orders.payments.services.
"""

from .aftersales import (
    approve_after_sale,
    can_request,
    confirm_return,
    reject_after_sale,
    request_after_sale,
    retry_after_sale_refund,
    staff_cancel_paid_order,
    submit_return,
    withdraw_after_sale,
)
from .base import lock_order, transition
from .cart import (
    add_for_member,
    add_to_cart,
    cart_for,
    merge_carts,
    parse_quantity,
    remove_lines,
    reorder,
    select_lines,
    set_line_quantity,
)
from .checkout import CheckoutRequest, build_quote, place_order
from .fulfilment import (
    add_parcel,
    dispatch_delivery,
    find_pickup_orders,
    mark_delivered,
    mark_ready_for_pickup,
    record_tracking,
    ship_order,
    verify_pickup,
)
from .lifecycle import (
    cancel_order,
    cancel_overdue_orders,
    change_price,
    complete_order,
    confirm_overdue_receipts,
    set_merchant_remark,
)

__all__ = [
    "CheckoutRequest",
    "add_for_member",
    "add_parcel",
    "add_to_cart",
    "approve_after_sale",
    "build_quote",
    "can_request",
    "cancel_order",
    "cancel_overdue_orders",
    "cart_for",
    "change_price",
    "complete_order",
    "confirm_overdue_receipts",
    "confirm_return",
    "dispatch_delivery",
    "find_pickup_orders",
    "lock_order",
    "mark_delivered",
    "mark_ready_for_pickup",
    "merge_carts",
    "parse_quantity",
    "place_order",
    "record_tracking",
    "reject_after_sale",
    "remove_lines",
    "reorder",
    "request_after_sale",
    "retry_after_sale_refund",
    "select_lines",
    "set_line_quantity",
    "set_merchant_remark",
    "ship_order",
    "staff_cancel_paid_order",
    "submit_return",
    "transition",
    "verify_pickup",
    "withdraw_after_sale",
]
