"""What the orders app announces, for the apps above it (distribution) and for notifications.

Every signal is sent after the transaction that made it true has committed (never for a change
that rolled back), with ``sender=Order`` and these keyword arguments:

- ``order_paid(order)``: the order became paid (once, however many confirmations arrived).
- ``order_completed(order)``: received or picked up; points and sales are already counted.
- ``order_cancelled(order, reason)``: cancelled before payment; stock, coupon and points are back.
- ``order_refunded(order, refund, lines)``: money went back; ``lines`` maps order line id to the
  Decimal refunded for that line by this refund (empty for a refund of a late or duplicate payment).
"""

import django.dispatch

order_paid = django.dispatch.Signal()
order_completed = django.dispatch.Signal()
order_cancelled = django.dispatch.Signal()
order_refunded = django.dispatch.Signal()
