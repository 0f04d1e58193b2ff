"""Alipay's endpoints: its asynchronous notification, and the open-in-browser pay link used from
inside WeChat.

The notification (/payments/alipay/notify/, POST form, no login, no CSRF) is trusted only after:
a `sign` is present (never skipped), the SDK verifies it with Alipay's public key over every other
field but `sign_type`, `app_id` and `seller_id` are ours, `out_trade_no` is an Alipay attempt of
ours, and `trade_no` is given. Then TRADE_SUCCESS / TRADE_FINISHED go to `confirm_payment` (the
amount compared there, in fen: a different one is recorded and staff are told, never paid, and the
notice refused);
TRADE_FINISHED for an attempt already paid (the refund window ended) changes nothing; a notice
carrying refund fields never confirms a payment: it asks the worker to settle that refund of ours
with Alipay's refund query, or is logged and ignored. The answer `success` is given only after the
change committed; anything else is `fail` and Alipay sends the notice again.

The pay link (/payments/alipay/pay/<token>/) works without a session: its signed token names one
attempt and its amount for 10 minutes, and is honoured only while that attempt can still pay the
order (pending, not superseded, the order awaiting payment at that amount before its deadline).
Inside WeChat it shows how to open it in the browser; in the browser it goes to Alipay. A tampered,
expired or used-up link gets a page saying so.
"""

import logging

from django.conf import settings
from django.core import signing
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.money import fen_to_yuan, yuan_to_fen
from core.numbers import int_or_none
from core.outages import outage_answer

from ..errors import OrderError
from ..models import Order, PaymentAttempt, Refund
from . import alipay
from .gateways import GatewayError
from .services import confirm_payment, record_payment_failure

logger = logging.getLogger("orders.payments.alipay")

SUCCESS, FAIL = "success", "fail"
REFUND_FIELDS = ("gmt_refund", "refund_fee")
RETURN_POLLS = 20  # the return page reloads every 3 s for a minute while the notice is on its way


def _refuse(why, data=None):
    logger.warning("Alipay notice refused (%s): out_trade_no=%r notify_id=%r", why,
                   (data or {}).get("out_trade_no"), (data or {}).get("notify_id"))
    return 400, FAIL


def handle_notice(form):
    """Verify and apply one Alipay notification (its form fields as a dict of strings).
    Returns (HTTP status, answer): the answer is "success" only once the change is committed."""
    data = {str(k): str(v) for k, v in dict(form).items()}
    sign = data.pop("sign", None)
    if not sign:
        return _refuse("no sign")
    if not alipay.configured():
        return _refuse("Alipay is not configured")
    try:
        verified = alipay.client().verify(data, sign)  # it drops sign_type itself (refusing one not RSA2)
    except Exception as exc:  # GatewayError, the SDK's AliPayException, binascii.Error, ValueError...
        logger.warning("Alipay notice could not be verified: %r", exc)
        verified = False
    if not verified:
        return _refuse("bad signature", data)
    if data.get("app_id") != settings.ALIPAY_APP_ID:
        return _refuse("another app", data)
    if data.get("seller_id") != settings.ALIPAY_SELLER_ID:
        return _refuse("another seller", data)
    out_trade_no = data.get("out_trade_no", "")
    attempt = PaymentAttempt.objects.filter(out_trade_no=out_trade_no, channel=alipay.CHANNEL).only(
        "pk", "state", "out_trade_no").first()
    if any(data.get(field) for field in REFUND_FIELDS):
        return _refund_notice(attempt, data)
    if attempt is None:
        return _refuse("not our trade", data)
    trade_no, status = data.get("trade_no", ""), data.get("trade_status", "")
    if not trade_no or len(trade_no) > 64:
        return _refuse("no trade_no", data)
    if status in alipay.PAID_STATES:
        if status == "TRADE_FINISHED" and attempt.state == PaymentAttempt.State.SUCCEEDED:
            return 200, SUCCESS  # the refund window ended: not a new payment
        try:
            outcome = confirm_payment(
                out_trade_no=out_trade_no, amount_fen=alipay.fen_of(data.get("total_amount")),
                gateway_reference=trade_no, channel=alipay.CHANNEL, source="notify",
                payer=data.get("buyer_id") or data.get("buyer_open_id") or "",
                detail={key: data.get(key, "")[:64] for key in (
                    "notify_id", "trade_status", "total_amount", "gmt_payment", "notify_time")},
            )
        except OrderError as exc:
            return _refuse(exc.code, data)
        if outcome.result == "amount_mismatch":
            return _refuse("amount differs (recorded, staff told)", data)
        return 200, SUCCESS
    if status == "TRADE_CLOSED":
        # closed unpaid at Alipay (it will take no money under this out_trade_no any more)
        if attempt.state == PaymentAttempt.State.PENDING:
            try:
                record_payment_failure(out_trade_no=out_trade_no, channel=alipay.CHANNEL, reason="TRADE_CLOSED",
                                       gateway_reference=trade_no)
            except OrderError as exc:
                return _refuse(exc.code, data)
        return 200, SUCCESS
    if status == "WAIT_BUYER_PAY":
        return 200, SUCCESS
    return _refuse(f"unknown trade_status {status!r}", data)


def _refund_notice(attempt, data):
    """A notice about a refund (it carries gmt_refund / refund_fee; refund_fee is the total refunded
    so far). A refund of ours still open is settled by the worker, which asks Alipay's refund query;
    anything else is logged and acknowledged. It never confirms a payment."""
    refund = None
    if attempt is not None and data.get("out_biz_no"):
        refund = Refund.objects.filter(attempt_id=attempt.pk, out_refund_no=data["out_biz_no"]).only(
            "pk", "state").first()
    if refund is None:
        logger.warning("Alipay refund notice not ours, ignored: out_trade_no=%r out_biz_no=%r refund_fee=%r "
                       "notify_id=%r", data.get("out_trade_no"), data.get("out_biz_no"), data.get("refund_fee"),
                       data.get("notify_id"))
        return 200, SUCCESS
    if refund.state in (Refund.State.PENDING, Refund.State.PROCESSING, Refund.State.ABNORMAL):
        from .. import tasks
        from ..services.base import enqueue_on_commit

        enqueue_on_commit(tasks.execute_refund, refund.pk)
    return 200, SUCCESS


@outage_answer(FAIL, content_type="text/plain; charset=utf-8")  # anything but "success": Alipay retries
@csrf_exempt
@require_POST
def alipay_notify(request):
    """Alipay's asynchronous notification (POST form)."""
    try:
        form = request.POST.dict()
    except (SuspiciousOperation, RequestDataTooBig, BadRequest, UnicodeDecodeError, ValueError):
        form = {}
    status, answer = handle_notice(form)
    return HttpResponse(answer, status=status, content_type="text/plain; charset=utf-8")


# --- the open-in-browser link ---------------------------------------------------------------------
def _payable(attempt, order, now):
    return (
        attempt.state == PaymentAttempt.State.PENDING and not attempt.close_requested
        and attempt.expires_at > now and order.status == Order.Status.PENDING_PAYMENT
        and (order.pay_deadline is None or order.pay_deadline > now)
        and yuan_to_fen(order.pay_amount) == attempt.amount_fen
    )


def _link_page(request, state, *, attempt=None, status=200, polls=None):
    """The page of a link that does not (or no longer) lead to Alipay, and the return page: state is
    invalid, expired, paid, closed, unavailable or pending (reloading itself while `polls` last)."""
    context = {
        "state": state, "order": attempt.order if attempt is not None else None, "attempt": attempt,
        "amount": fen_to_yuan(attempt.amount_fen) if attempt is not None else None, "hide_tabbar": True,
        "refresh": polls is not None and polls < RETURN_POLLS, "next_poll": (polls or 0) + 1,
    }
    return render(request, "orders/payments/alipay_link.html", context, status=status)


def _attempt_of(out_trade_no, amount_fen):
    attempt = PaymentAttempt.objects.select_related("order").filter(
        out_trade_no=out_trade_no, channel=alipay.CHANNEL).first()
    if attempt is None or attempt.amount_fen != amount_fen:
        return None
    return attempt


@never_cache
@require_GET
def alipay_pay_link(request, token):
    """The open-in-browser link: inside WeChat the guide (点击右上角 ··· ，选择“在浏览器打开”), in the
    phone's browser straight to Alipay's cashier. No session needed: the token is the permission."""
    try:
        out_trade_no, amount_fen = alipay.read_pay_token(token)
    except signing.SignatureExpired:
        return _link_page(request, "expired", status=410)
    except signing.BadSignature:
        return _link_page(request, "invalid", status=400)
    attempt = _attempt_of(out_trade_no, amount_fen)
    if attempt is None:
        return _link_page(request, "invalid", status=400)
    order = attempt.order
    if attempt.state == PaymentAttempt.State.SUCCEEDED or order.paid_at is not None:
        return _link_page(request, "paid", attempt=attempt)
    if not _payable(attempt, order, timezone.now()):
        return _link_page(request, "closed", attempt=attempt, status=409)
    if not alipay.configured():
        return _link_page(request, "unavailable", attempt=attempt, status=503)
    if alipay.in_wechat(request):
        return render(request, "orders/payments/alipay_guide.html", {
            "order": order, "attempt": attempt, "amount": fen_to_yuan(attempt.amount_fen), "hide_tabbar": True,
            "link": request.build_absolute_uri(), "minutes": alipay.PAY_TOKEN_MAX_AGE // 60,
        })
    back = alipay.public_url(reverse("payments:alipay_return", args=[token]))
    try:
        url = alipay.AlipayWapGateway().pay_url(attempt, return_url=back, quit_url=back)
    except GatewayError:
        logger.exception("Alipay pay link for %s could not be signed", attempt.out_trade_no)
        return _link_page(request, "unavailable", attempt=attempt, status=503)
    return redirect(url)


@never_cache
@require_GET
def alipay_return(request, token):
    """Where Alipay sends the phone's browser back (after paying or leaving its cashier): the order's
    state as our server knows it (set only by a verified notice or query), never the browser's word."""
    try:
        out_trade_no, amount_fen = alipay.read_pay_token(token, max_age=alipay.RETURN_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        return _link_page(request, "expired", status=410)
    except signing.BadSignature:
        return _link_page(request, "invalid", status=400)
    attempt = _attempt_of(out_trade_no, amount_fen)
    if attempt is None:
        return _link_page(request, "invalid", status=400)
    if attempt.state == PaymentAttempt.State.SUCCEEDED or attempt.order.paid_at is not None:
        return _link_page(request, "paid", attempt=attempt)
    if not _payable(attempt, attempt.order, timezone.now()):
        return _link_page(request, "closed", attempt=attempt)
    polls = int_or_none(request.GET.get("poll"), minimum=0, maximum=RETURN_POLLS) or 0
    return _link_page(request, "pending", attempt=attempt, polls=polls)

