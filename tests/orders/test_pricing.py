"""orders.pricing: pure arithmetic, checked on hand-made cases and on generated baskets."""

import random
from decimal import Decimal

import pytest

from orders import pricing
from orders.pricing import LineInput, PricingError, allocate, allocate_int

D = Decimal


class Coupon:
    """What pricing needs of a coupon: discount_for(subtotal) and applies_to(line)."""

    def __init__(self, off=None, threshold=None, percent=None, cap=None, products=None):
        self.off, self.percent, self.cap, self.products = off, percent, cap, products
        self.threshold = threshold if threshold is not None else D("0")

    def discount_for(self, subtotal):
        if subtotal <= 0 or subtotal < self.threshold:
            return D("0.00")
        if self.percent is not None:
            off = (subtotal * (100 - self.percent) / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
            off = min(off, self.cap) if self.cap is not None else off
        else:
            off = self.off
        return min(off, subtotal)

    def applies_to(self, line):
        return self.products is None or line.product_id in self.products


def lines(*specs):
    return [LineInput(key=i, unit_price=D(p), quantity=q, takes_member_discount=m, product_id=i)
            for i, (p, q, m) in enumerate(specs, start=1)]


def price(specs, *, percent="100", coupon=None, points=(0, "0"), fee="0"):
    priced = pricing.start(lines(*specs))
    pricing.apply_member_discount(priced, D(percent))
    pricing.apply_coupon(priced, coupon)
    pricing.apply_points(priced, points[0], D(points[1]))
    return priced, pricing.totals(priced, D(fee))


def test_allocate_adds_up_and_gives_the_odd_fen_to_the_largest_remainders():
    assert allocate(D("10.00"), [D("10"), D("10"), D("10")]) == [D("3.34"), D("3.33"), D("3.33")]
    assert allocate(D("10.00"), [D("1"), D("1"), D("1")], capped=False) == [D("3.34"), D("3.33"), D("3.33")]
    assert allocate(D("0.05"), [D("3"), D("1")]) == [D("0.04"), D("0.01")]
    assert allocate(D("0"), [D("5")]) == [D("0.00")]


def test_allocate_refuses_more_than_the_weights_and_negative_amounts():
    with pytest.raises(PricingError):
        allocate(D("10.01"), [D("5"), D("5")])
    with pytest.raises(PricingError):
        allocate(D("-1"), [D("5")])


@pytest.mark.parametrize("seed", range(200))
def test_generated_allocations_sum_exactly_and_never_exceed_a_weight(seed):
    rng = random.Random(seed)
    weights = [D(rng.randint(0, 100000)) / 100 for _ in range(rng.randint(1, 12))]
    whole = sum(weights, D(0))
    total = (whole * D(rng.random())).quantize(D("0.01"), rounding="ROUND_DOWN") if whole else D(0)
    parts = allocate(total, weights)
    assert sum(parts, D(0)) == total
    assert all(D(0) <= p <= w for p, w in zip(parts, weights, strict=True))
    points = rng.randint(0, 5000)
    shares = allocate_int(points, weights)
    assert sum(shares) == (points if whole else 0)


def test_member_discount_applies_only_to_lines_that_take_part_and_rounds_down():
    priced, totals = price([("33.33", 3, True), ("10.00", 1, False)], percent="95")
    assert totals.member_discount == D("4.99")  # 99.99 x 5% = 4.9995 -> 4.99
    assert priced[1].member_discount == D("0.00")
    assert totals.pay_amount == D("99.99") + D("10.00") - D("4.99")


def test_coupon_threshold_is_checked_on_the_lines_in_its_scope_after_member_discount():
    coupon = Coupon(off=D("20.00"), threshold=D("100.00"), products={1})
    _priced, totals = price([("60.00", 1, True), ("60.00", 1, True)], coupon=coupon)
    assert totals.coupon_discount == D("0.00")  # only line 1 (60) is in scope: under 100
    coupon = Coupon(off=D("20.00"), threshold=D("100.00"))
    priced, totals = price([("60.00", 1, True), ("60.00", 1, True)], percent="90", coupon=coupon)
    assert totals.coupon_discount == D("20.00")  # 108 after the member discount: over 100
    assert [p.coupon_discount for p in priced] == [D("10.00"), D("10.00")]


def test_a_coupon_never_makes_an_order_free_or_negative():
    coupon = Coupon(off=D("50.00"))
    _priced, totals = price([("9.90", 1, True)], coupon=coupon)
    assert totals.coupon_discount == D("9.89") and totals.pay_amount == D("0.01")


def test_points_are_spread_over_the_goods_and_never_over_the_delivery_fee():
    priced, totals = price([("30.00", 1, True), ("10.00", 2, True)], points=(1500, "15.00"), fee="8.00")
    assert [p.points_discount for p in priced] == [D("9.00"), D("6.00")]
    assert [p.points_used for p in priced] == [900, 600]
    assert totals.pay_amount == D("50.00") - D("15.00") + D("8.00")
    with pytest.raises(PricingError):
        price([("10.00", 1, True)], points=(2000, "20.00"))


@pytest.mark.parametrize("seed", range(150))
def test_generated_baskets_lines_always_add_up_to_the_order(seed):
    rng = random.Random(seed)
    specs = [(str(D(rng.randint(1, 200000)) / 100), rng.randint(1, 20), rng.random() < 0.7)
             for _ in range(rng.randint(1, 10))]
    percent = rng.choice(["100", "98", "95", "90", "88.5"])
    coupon = rng.choice([
        None, Coupon(off=D("10.00"), threshold=D("50.00")), Coupon(percent=D("85"), cap=D("30.00")),
        Coupon(off=D("5.00"), products={1, 2}),
    ])
    priced = pricing.start(lines(*specs))
    pricing.apply_member_discount(priced, D(percent))
    pricing.apply_coupon(priced, coupon)
    goods = pricing.goods_after_coupon(priced)
    amount = (goods * D("0.5")).quantize(D("0.01"), rounding="ROUND_DOWN")
    pricing.apply_points(priced, int(amount * 100), amount)
    totals = pricing.totals(priced, D(rng.choice(["0", "5.00", "12.00"])))
    assert sum((p.paid_amount for p in priced), D(0)) + totals.delivery_fee == totals.pay_amount
    assert totals.goods_amount - totals.member_discount - totals.coupon_discount - totals.points_discount \
        == totals.goods_paid
    assert all(p.paid_amount >= 0 for p in priced)
    assert all(p.paid_amount == p.paid_amount.quantize(D("0.01")) for p in priced)
    assert totals.pay_amount >= pricing.MIN_PAYABLE


def test_staff_adjustment_spreads_and_never_makes_a_line_negative():
    priced, _totals = price([("30.00", 1, True), ("10.00", 1, True)])
    pricing.apply_adjustment(priced, D("-39.99"))
    assert sum((p.paid_amount for p in priced), D(0)) == D("0.01")
    assert all(p.paid_amount >= 0 for p in priced)
    pricing.apply_adjustment(priced, D("12.34"))
    assert sum((p.paid_amount for p in priced), D(0)) == D("52.34")


def test_refund_share_gives_the_last_units_whatever_is_left():
    assert pricing.refund_share(D("10.00"), D("0"), 3, 0, 1) == D("3.33")
    assert pricing.refund_share(D("10.00"), D("3.33"), 3, 1, 1) == D("3.33")
    assert pricing.refund_share(D("10.00"), D("6.66"), 3, 2, 1) == D("3.34")
    with pytest.raises(PricingError):
        pricing.refund_share(D("10.00"), D("0"), 3, 0, 4)


def test_express_fee_is_free_over_the_threshold():
    assert pricing.express_fee(D("10.00"), D("99.00"), D("99.00")) == D("0.00")
    assert pricing.express_fee(D("10.00"), D("99.00"), D("98.99")) == D("10.00")
    assert pricing.express_fee(D("10.00"), None, D("1000")) == D("10.00")
