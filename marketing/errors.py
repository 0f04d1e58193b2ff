from core.errors import DomainError


class MarketingError(DomainError):
    code = "invalid"


class CouponUnavailable(MarketingError):
    """The coupon is inactive, past its dates, sold out, or the member reached its limit."""

    code = "coupon_unavailable"


class ExchangeUnavailable(MarketingError):
    code = "exchange_unavailable"


class PickupError(MarketingError):
    code = "pickup_invalid"

