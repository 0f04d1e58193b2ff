"""Orders' data: carts, orders with their lines and timeline, payments and refunds, fulfilment
(shipments, pickups, tracking), after-sales, and the express fee rules.

Invariants the database keeps (CheckConstraint / UniqueConstraint), so a bug elsewhere fails loudly:
- an order's refunded amount never exceeds what was paid, on the order, on each line and on each
  payment attempt (in fen, counting refunds still in flight);
- one order per (buyer, checkout token): a double submit, a retry or two tabs create one order;
- order numbers, public ids, out_trade_no and out_refund_no are unique;
- a payment event is recorded once per (attempt, kind, gateway reference);
- an open pickup code is unique within its store.
Only orders.services (and orders.payments.services) change these rows.
"""

from .aftersale import AfterSale, AfterSaleLine, AfterSalePhoto
from .cart import Cart, CartLine
from .order import Order, OrderEvent, OrderLine, PickupRecord
from .payment import PaymentAttempt, PaymentEvent, Refund
from .reconciliation import ReconciliationDay, ReconciliationDifference, ReconciliationRun
from .shipping import ExpressFeeRule, Shipment, TrackingEvent

__all__ = [
    "AfterSale",
    "AfterSaleLine",
    "AfterSalePhoto",
    "Cart",
    "CartLine",
    "ExpressFeeRule",
    "Order",
    "OrderEvent",
    "OrderLine",
    "PaymentAttempt",
    "PaymentEvent",
    "PickupRecord",
    "ReconciliationDay",
    "ReconciliationDifference",
    "ReconciliationRun",
    "Refund",
    "Shipment",
    "TrackingEvent",
]
