"""Shopper pages of orders, by page: cart (cart, add, change, tick, remove, 立即购买), checkout,
orders (pay, result, list, detail, cancel, confirm receipt, 再来一单) and after-sales. Thin: read
the request through orders.forms / core.numbers, call one service or selector, render."""

from .aftersales import after_sale_detail, after_sale_request, after_sale_return, after_sale_withdraw
from .cart import buy_now, cart, cart_add, cart_remove, cart_select, cart_update
from .checkout import checkout
from .orders import confirm_receipt, order_cancel, order_detail, order_list, pay, pay_result, reorder

__all__ = [
    "after_sale_detail",
    "after_sale_request",
    "after_sale_return",
    "after_sale_withdraw",
    "buy_now",
    "cart",
    "cart_add",
    "cart_remove",
    "cart_select",
    "cart_update",
    "checkout",
    "confirm_receipt",
    "order_cancel",
    "order_detail",
    "order_list",
    "pay",
    "pay_result",
    "reorder",
]
