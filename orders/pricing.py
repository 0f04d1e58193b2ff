"""The one pricing module: pure functions over Decimal, used by the cart, the checkout page, order
creation and the tests. Nothing here reads the database or the clock; callers pass what they read.

Order of application (each step works on what the previous one left):
1. unit price × quantity (the SKU's price, or a promotion price supplied by marketing);
2. the member-level discount, on the lines whose product takes part;
3. one coupon, on the lines in its scope (its threshold is checked against those lines);
4. points, on goods only (the amount comes from members.services.quote_checkout_deduction);
5. the delivery fee (never discounted, never paid with points).
An order always pays at least MIN_PAYABLE (¥0.01: the gateways refuse zero), so a coupon never
takes the goods below it.
Every discount is allocated to the lines to the fen by the largest-remainder method, so the lines
always add up to the order and each line carries its own member discount, coupon share, points
share and paid amount: refunds and commission read these, never recompute them.
Discounts round down to the fen (the merchant never gives away a fraction it did not promise).
"""

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from core.money import FEN, ZERO, floor_fen

HUNDRED = Decimal(100)
MIN_PAYABLE = Decimal("0.01")


@dataclass(frozen=True)
class LineInput:
    """A line to price. `key` identifies it to the caller (the SKU id)."""

    key: int
    unit_price: Decimal
    quantity: int
    takes_member_discount: bool = True
    product_id: int | None = None
    category_ids: frozenset = field(default_factory=frozenset)  # the product's category and its ancestors
    price_source: str = ""

    @property
    def line_total(self):
        return self.unit_price * self.quantity


@dataclass
class PricedLine:
    key: int
    unit_price: Decimal
    quantity: int
    takes_member_discount: bool
    product_id: int | None
    category_ids: frozenset
    price_source: str
    member_discount: Decimal = ZERO
    coupon_discount: Decimal = ZERO
    points_discount: Decimal = ZERO
    points_used: int = 0
    adjustment: Decimal = ZERO

    @property
    def line_total(self):
        return self.unit_price * self.quantity

    @property
    def after_member(self):
        return self.line_total - self.member_discount

    @property
    def after_coupon(self):
        return self.after_member - self.coupon_discount

    @property
    def paid_amount(self):
        return self.after_coupon - self.points_discount + self.adjustment


@dataclass(frozen=True)
class Totals:
    goods_amount: Decimal
    member_discount: Decimal
    coupon_discount: Decimal
    points_discount: Decimal
    points_used: int
    delivery_fee: Decimal
    adjustment: Decimal

    @property
    def goods_paid(self):
        """What the goods cost after every discount (what points and commission are based on)."""
        return self.goods_amount - self.member_discount - self.coupon_discount - self.points_discount + self.adjustment

    @property
    def pay_amount(self):
        return self.goods_paid + self.delivery_fee


class PricingError(ValueError):
    pass


# --- allocation -------------------------------------------------------------------------------
def allocate(total, weights, *, capped=True):
    """Split `total` (Decimal yuan, >= 0) over `weights` (Decimals >= 0) in proportion, to the fen,
    by the largest remainder: the parts add up to `total` exactly, and no part exceeds its weight
    (`capped`, the default, refuses a total above the weights' sum). Ties go to the earlier weight."""
    total = Decimal(total)
    if total < 0:
        raise PricingError("cannot allocate a negative amount")
    weights = [Decimal(w) for w in weights]
    if any(w < 0 for w in weights):
        raise PricingError("weights must not be negative")
    whole = sum(weights, ZERO)
    if total == 0 or whole == 0:
        if total and not whole:
            raise PricingError("nothing to allocate to")
        return [ZERO for _ in weights]
    if capped and total > whole:
        raise PricingError("cannot allocate more than the weights hold")
    exact = [total * w / whole for w in weights]
    parts = [e.quantize(FEN, rounding=ROUND_DOWN) for e in exact]
    left = int(((total - sum(parts, ZERO)) / FEN).to_integral_value())
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += FEN
    return parts


def allocate_int(total, weights):
    """Whole units (points) split in proportion to `weights` by the largest remainder."""
    total = int(total)
    if total < 0:
        raise PricingError("cannot allocate a negative amount")
    weights = [Decimal(w) for w in weights]
    whole = sum(weights, ZERO)
    if total == 0 or whole == 0:
        return [0 for _ in weights]
    exact = [Decimal(total) * w / whole for w in weights]
    parts = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


# --- the steps --------------------------------------------------------------------------------
def start(lines):
    """Step 1: priced lines at their unit prices, nothing taken off yet."""
    priced = []
    for line in lines:
        if line.quantity <= 0:
            raise PricingError("quantity must be positive")
        if line.unit_price < 0:
            raise PricingError("price must not be negative")
        priced.append(PricedLine(
            key=line.key, unit_price=line.unit_price, quantity=line.quantity,
            takes_member_discount=line.takes_member_discount, product_id=line.product_id,
            category_ids=frozenset(line.category_ids), price_source=line.price_source,
        ))
    return priced


def member_discount_total(priced, percent):
    """The level discount on the lines that take part: (100 − percent)% of them, rounded down."""
    percent = Decimal(percent)
    if not (ZERO < percent <= HUNDRED):
        raise PricingError("discount percent must be in (0, 100]")
    eligible = sum((p.line_total for p in priced if p.takes_member_discount), ZERO)
    return floor_fen(eligible * (HUNDRED - percent) / HUNDRED)


def apply_member_discount(priced, percent):
    """Step 2. `percent` is what the member pays (95.00 = 9.5折; 100 = none)."""
    off = member_discount_total(priced, percent)
    shares = allocate(off, [p.line_total if p.takes_member_discount else ZERO for p in priced])
    for line, share in zip(priced, shares, strict=True):
        line.member_discount = share
    return priced


def coupon_eligible_subtotal(priced, coupon):
    return sum((p.after_member for p in priced if coupon.applies_to(p)), ZERO)


def coupon_discount_for(priced, coupon):
    """What `coupon` would take off these lines (zero under its threshold or out of scope)."""
    return coupon.discount_for(coupon_eligible_subtotal(priced, coupon))


def apply_coupon(priced, coupon):
    """Step 3: one coupon (anything with `discount_for(subtotal)` and `applies_to(line)`)."""
    for line in priced:
        line.coupon_discount = ZERO
    if coupon is None:
        return priced
    off = coupon_discount_for(priced, coupon)
    off = max(ZERO, min(off, sum((p.after_member for p in priced), ZERO) - MIN_PAYABLE))
    weights = [p.after_member if coupon.applies_to(p) else ZERO for p in priced]
    for line, share in zip(priced, allocate(off, weights), strict=True):
        line.coupon_discount = share
    return priced


def goods_after_coupon(priced):
    return sum((p.after_coupon for p in priced), ZERO)


def apply_points(priced, points, amount):
    """Step 4: `points` worth `amount` yuan (as quoted by members), spread over the goods."""
    amount = Decimal(amount)
    weights = [p.after_coupon for p in priced]
    if amount > sum(weights, ZERO):
        raise PricingError("points cannot pay more than the goods")
    for line, share, used in zip(priced, allocate(amount, weights), allocate_int(points, weights), strict=True):
        line.points_discount = share
        line.points_used = used
    return priced


def apply_adjustment(priced, adjustment):
    """A staff price change before payment (negative: cheaper), spread over what the lines pay now.
    The goods can be made cheaper down to zero, never below."""
    adjustment = Decimal(adjustment)
    base = [p.after_coupon - p.points_discount for p in priced]
    if adjustment < 0:
        shares = [-s for s in allocate(-adjustment, base)]
    else:
        weights = base if sum(base, ZERO) else [Decimal(1)] * len(base)  # free goods made dearer: evenly
        shares = allocate(adjustment, weights, capped=False)
    for line, share in zip(priced, shares, strict=True):
        line.adjustment = share
    return priced


def totals(priced, delivery_fee=ZERO):
    """Step 5: the order's figures, from the lines plus the delivery fee."""
    delivery_fee = Decimal(delivery_fee)
    if delivery_fee < 0:
        raise PricingError("delivery fee must not be negative")
    return Totals(
        goods_amount=sum((p.line_total for p in priced), ZERO),
        member_discount=sum((p.member_discount for p in priced), ZERO),
        coupon_discount=sum((p.coupon_discount for p in priced), ZERO),
        points_discount=sum((p.points_discount for p in priced), ZERO),
        points_used=sum(p.points_used for p in priced),
        delivery_fee=delivery_fee,
        adjustment=sum((p.adjustment for p in priced), ZERO),
    )


# --- delivery fees ----------------------------------------------------------------------------
def express_fee(base_fee, free_over, goods_paid):
    """The express fee of a rule: free when the goods (after discounts) reach `free_over`."""
    if free_over is not None and goods_paid >= free_over:
        return ZERO
    return Decimal(base_fee)


def refund_share(line_paid, line_refunded, line_quantity, line_refunded_quantity, quantity):
    """What refunding `quantity` more units of a line gives back: the units' share of what the line
    paid, rounded down, and everything still unrefunded when these are its last units."""
    remaining_units = line_quantity - line_refunded_quantity
    if not (0 < quantity <= remaining_units):
        raise PricingError("quantity out of range")
    remaining_money = line_paid - line_refunded
    if quantity == remaining_units:
        return remaining_money
    return min(floor_fen(line_paid * quantity / line_quantity), remaining_money)
