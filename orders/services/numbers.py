"""Human numbers for orders and after-sales, and the gateways' trade numbers.

An order number is the local date and ten random digits (20261127 4829105736): unique (a database
constraint; a clash draws again), not sequential, so it tells nobody how many orders the shop has.
The public id in URLs is the order's UUID, never its number or primary key."""

import secrets

from django.utils import timezone


def new_order_number(now=None):
    day = timezone.localtime(now or timezone.now()).strftime("%Y%m%d")
    return f"{day}{secrets.randbelow(10**10):010d}"


def new_after_sale_number(now=None):
    day = timezone.localtime(now or timezone.now()).strftime("%Y%m%d")
    return f"AS{day}{secrets.randbelow(10**8):08d}"


def out_trade_no(order_number, sequence):
    """WeChat Pay / Alipay merchant trade number: 6-32 of [0-9A-Za-z_-|*]; one per attempt."""
    return f"{order_number}P{sequence:02d}"


def out_refund_no(order_number, sequence):
    return f"{order_number}R{sequence:02d}"


def pickup_code():
    return f"{secrets.randbelow(1_000_000):06d}"
