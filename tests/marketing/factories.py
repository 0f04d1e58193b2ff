"""Factories for marketing tests: coupons, mall items, and a shopper with points."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from marketing.models import Coupon, PointsItem

_seq = itertools.count(1)


def make_coupon(name=None, *, kind=Coupon.Kind.FULL_REDUCTION, amount="10.00", threshold="100.00",
                discount_percent=None, max_discount=None, total=None, per_member_limit=1, valid_days=30,
                validity=Coupon.Validity.RELATIVE, valid_until=None, claimable=False, **extra):
    n = next(_seq)
    if kind == Coupon.Kind.DISCOUNT:
        amount = None
        discount_percent = discount_percent or Decimal("85")
    if kind == Coupon.Kind.NO_THRESHOLD:
        threshold = "0"
    if validity == Coupon.Validity.FIXED and valid_until is None:
        valid_until = timezone.now() + timedelta(days=30)
    return Coupon.objects.create(
        name=name or f"券{n}", kind=kind, amount=Decimal(amount) if amount else None,
        discount_percent=Decimal(discount_percent) if discount_percent else None,
        max_discount=Decimal(max_discount) if max_discount else None, threshold=Decimal(threshold),
        total_quantity=total, per_member_limit=per_member_limit, validity=validity,
        valid_days=valid_days if validity == Coupon.Validity.RELATIVE else None, valid_until=valid_until,
        claimable=claimable, **extra,
    )


def make_coupon_item(coupon=None, *, points=100, quantity=None, per_member_limit=None, **extra):
    coupon = coupon or make_coupon()
    return PointsItem.objects.create(
        kind=PointsItem.Kind.COUPON, title=extra.pop("title", f"{coupon.name}兑换"), coupon=coupon, points=points,
        quantity=quantity, per_member_limit=per_member_limit, **extra,
    )


def make_product_item(sku, *, points=500, quantity=None, per_member_limit=None, **extra):
    return PointsItem.objects.create(
        kind=PointsItem.Kind.PRODUCT, title=extra.pop("title", f"{sku.product.name}兑换"), sku=sku, points=points,
        quantity=quantity, per_member_limit=per_member_limit, **extra,
    )
