"""The development gateway (模拟支付), for `make run` and the tests: on only when
settings.PAYMENT_DEV_GATEWAY is (never in production; `manage.py check --deploy` warns).

It behaves like a real gateway from our side: paying happens on its own page, which produces a
notice signed with a key of its own (HMAC-SHA256 over the body, derived from SECRET_KEY); the
notice goes through the same verification and the same `confirm_payment` as a WeChat Pay or Alipay
notification. A forged or altered notice is refused. Refunds succeed at once."""

import hashlib
import hmac
import json
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from .gateways import Gateway, GatewayResult, PaymentAction


def _key():
    return hmac.new(settings.SECRET_KEY.encode(), b"orders.payments.dev", hashlib.sha256).digest()


def sign(body: bytes) -> str:
    return hmac.new(_key(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str) -> bool:
    return bool(signature) and hmac.compare_digest(sign(body), str(signature))


def make_notice(attempt, *, trade_state="SUCCESS", amount_fen=None):
    """The body and signature the dev gateway sends when the shopper pays on its page."""
    body = json.dumps(
        {
            "out_trade_no": attempt.out_trade_no,
            "transaction_id": f"DEV{timezone.now():%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}",
            "trade_state": trade_state,
            "amount_fen": attempt.amount_fen if amount_fen is None else amount_fen,
            "success_time": timezone.now().isoformat(),
        },
        sort_keys=True,
    ).encode()
    return body, sign(body)


def parse_notice(body: bytes, signature: str):
    """The notice as a dict when its signature holds, else None."""
    if not verify(body, signature):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("amount_fen"), int):
        return None
    return data


class DevGateway(Gateway):
    channel = "dev"
    label = "模拟支付"

    @classmethod
    def is_available(cls):
        return bool(getattr(settings, "PAYMENT_DEV_GATEWAY", False))

    def start(self, attempt, *, request=None):
        return PaymentAction("redirect", reverse("payments:dev_pay", args=[attempt.out_trade_no]))

    def query(self, attempt):
        # the dev gateway has no memory of its own: a payment exists only once its notice arrived
        return GatewayResult("pending")

    def close(self, attempt):
        return True

    def refund(self, refund):
        return GatewayResult("succeeded", reference=f"DEVR{refund.pk:08d}", amount_fen=refund.amount_fen)

    def query_refund(self, refund):
        return GatewayResult("succeeded", reference=refund.gateway_refund_id, amount_fen=refund.amount_fen)

    def download_bill(self, day):
        return []  # nothing leaves the shop: there is nothing to reconcile
