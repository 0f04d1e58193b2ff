"""The interface a payment channel implements, and how one is chosen.

A gateway never changes our data: it talks to the outside (build a payment, query, close, refund)
and verifies what the outside says. orders.payments.services decides what that means for the
order, under locks, exactly once. Gateways are built lazily (never at import or worker start).

Channels are configured in settings.PAYMENT_GATEWAYS ({channel: dotted class path}); a gateway
whose configuration is incomplete reports `is_available()` False and is not offered.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass
class PaymentAction:
    """What the shopper's browser does next: `redirect` to `url`, call the WeChat `jsapi` bridge with
    `params`, show a `qrcode` for `url`, or open a `guide` page (Alipay inside WeChat)."""

    kind: str
    url: str = ""
    params: dict = field(default_factory=dict)


@dataclass
class GatewayResult:
    """A gateway's answer about a payment or a refund.

    state: for payments "paid", "pending", "closed", "failed"; for refunds "succeeded",
    "processing", "failed", "abnormal". `reference` is the gateway's own id (transaction id,
    refund id); `amount_fen` what it says was paid or refunded."""

    state: str
    reference: str = ""
    amount_fen: int | None = None
    detail: dict = field(default_factory=dict)


@dataclass
class BillRow:
    """One line of a gateway's daily bill (对账单), as reconciliation compares it with our events.
    kind: "payment" or "refund"; amounts in integer fen."""

    kind: str
    out_trade_no: str
    gateway_reference: str
    amount_fen: int
    out_refund_no: str = ""
    occurred_at: datetime | None = None


class GatewayError(Exception):
    """The gateway could not be reached or answered with an error: retry later."""


class Gateway:
    """A payment channel. Subclasses set `channel` and implement the methods below; `offered` says
    where the shopper may choose it (WeChat's JSAPI only inside WeChat, H5 outside it on a phone,
    Native on a desktop; Alipay outside WeChat, and inside it through the open-in-browser guide)."""

    channel = ""
    label = ""  # what the cashier shows (微信支付 / 支付宝); channels sharing a label are one choice

    @classmethod
    def is_available(cls):
        return False

    @classmethod
    def offered(cls, *, in_wechat, mobile):
        return True

    def start(self, attempt, *, request=None) -> PaymentAction:  # pragma: no cover - interface
        raise NotImplementedError

    def query(self, attempt) -> GatewayResult:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self, attempt) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def refund(self, refund) -> GatewayResult:  # pragma: no cover - interface
        raise NotImplementedError

    def query_refund(self, refund) -> GatewayResult:  # pragma: no cover - interface
        raise NotImplementedError

    def download_bill(self, day: date) -> list[BillRow]:  # pragma: no cover - interface
        """The gateway's own record of one local day (Asia/Shanghai): payments and refunds."""
        raise NotImplementedError


DEFAULT_GATEWAYS = {"dev": "orders.payments.dev.DevGateway"}


def gateway_classes():
    paths = getattr(settings, "PAYMENT_GATEWAYS", DEFAULT_GATEWAYS)
    return {channel: import_string(path) for channel, path in paths.items()}


def get_gateway(channel):
    cls = gateway_classes().get(channel)
    if cls is None or not cls.is_available():
        raise GatewayError(f"payment channel {channel!r} is not available")
    return cls()


def available_channels(*, in_wechat=False, mobile=True):
    """The channels a shopper can pay with here, in the order they are offered."""
    return [
        channel for channel, cls in gateway_classes().items()
        if cls.is_available() and cls.offered(in_wechat=in_wechat, mobile=mobile)
    ]
