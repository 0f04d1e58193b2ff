"""WeChat Pay's endpoints: the payment and refund notifications, and what the pay pages need (the
JSAPI page the snsapi_base authorisation comes back to, the Native QR code's status poll, and
"查询支付结果", which asks WeChat Pay itself).

Notifications (no login, no CSRF, POST only, no query string): verified by
orders.payments.wechatpay.verify_notice (serial, timestamp, signature on the raw body, decryption),
then checked field by field (merchant, app, our trade or refund, state, amount in integer fen)
before services.confirm_payment / refund_succeeded / refund_failed, which lock, record once and
change the order once. The answer is 204 with no body only after that committed (these views are
not atomic requests; the services are their own transactions); anything else gets a 4xx/5xx with
{"code": "FAIL", "message": …}, which WeChat Pay retries, and changes nothing.
"""

import functools
import json
import logging

import qrcode
import qrcode.image.svg
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.outages import outage_answer, outage_kind
from core.prepared import execute

from ..errors import OrderError
from ..models import Order, PaymentAttempt, PaymentEvent, Refund
from .gateways import GatewayError, get_gateway
from .services import confirm_payment, refund_failed, refund_succeeded
from .wechatpay import CHANNELS, NoticeRefused, WeChatPayConfig, verify_notice

logger = logging.getLogger("orders.payments.wechatpay")

QUERY_EVERY_SECONDS = 5  # 查询支付结果 asks WeChat Pay at most this often per attempt
REFUND_EVENTS = {"REFUND.SUCCESS": "SUCCESS", "REFUND.CLOSED": "CLOSED", "REFUND.ABNORMAL": "ABNORMAL"}


def _fail(status, message):
    return status, {"code": "FAIL", "message": str(message)}


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- notifications ---------------------------------------------------------------------------
@functools.cache
def _notice_sql(vendor):
    qn = connection.ops.quote_name
    attempt, order, event = (qn(model._meta.db_table) for model in (PaymentAttempt, Order, PaymentEvent))
    channels = ", ".join(["%s"] * len(CHANNELS))
    return (
        f"SELECT a.{qn('id')}, a.{qn('order_id')}, a.{qn('channel')}, o.{qn('user_id')}, EXISTS(SELECT 1 FROM {event} e"
        f" WHERE e.{qn('attempt_id')} = a.{qn('id')} AND e.{qn('kind')} = %s AND e.{qn('gateway_reference')} = %s"
        f" AND e.{qn('amount_fen')} = %s) FROM {attempt} a INNER JOIN {order} o ON o.{qn('id')} = a.{qn('order_id')}"
        f" WHERE a.{qn('out_trade_no')} = %s AND a.{qn('channel')} IN ({channels})"
    )


AMOUNT_MAX = 2**31 - 1  # the event's amount column: a larger number is no amount ever recorded


def _attempt_for_notice(out_trade_no, reference, total):
    """The attempt of a WeChat Pay trade as confirm_payment wants it (find_attempt's row) plus
    `taken`: this very notice (reference and integer amount) was recorded before. One statement,
    written out and prepared on the server once per connection (core.prepared.execute): every
    notice and every repeat runs it, and the ORM's Exists() cost more to build than the database
    takes to answer."""
    recorded = total if total is not None and -AMOUNT_MAX <= total <= AMOUNT_MAX else None
    with connection.cursor() as cursor:
        execute(cursor, _notice_sql(connection.vendor),
                [PaymentEvent.Kind.NOTIFIED.value, reference, recorded, out_trade_no, *CHANNELS])
        found = cursor.fetchone()
    if found is None:
        return None
    pk, order_id, channel, user_id, taken = found
    return {"pk": pk, "order_id": order_id, "channel": channel, "order__user_id": user_id, "taken": bool(taken)}


def handle_pay_notice(headers, body, *, now=None):
    """A payment notification (TRANSACTION.SUCCESS) as WeChat Pay sends it: (HTTP status, answer);
    answer None means success (204, no body). A refund notice that arrives here is routed on."""
    try:
        notice = verify_notice(headers, body, now=now)
    except NoticeRefused as refused:
        return _fail(refused.status, refused.message)
    if str(notice.get("event_type", "")).startswith("REFUND."):
        return _apply_refund_notice(notice)
    resource = notice["resource"]
    config = WeChatPayConfig.from_settings()
    if resource.get("mchid") != config.mchid or resource.get("appid") != config.appid:
        logger.warning("WeChat Pay notice for another merchant or app: %s %s", resource.get("mchid"),
                       resource.get("appid"))
        return _fail(400, "商户号或应用不符")
    out_trade_no = resource.get("out_trade_no")
    reference = resource.get("transaction_id")
    if not isinstance(out_trade_no, str) or not isinstance(reference, str) or not reference or len(reference) > 64:
        return _fail(400, "报文格式错误")
    amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    total = _int(amount.get("total"))
    if amount.get("currency", "CNY") != "CNY":
        total = None
    # one query: whose trade it is, and whether this very notice was already taken (a repeat)
    row = _attempt_for_notice(out_trade_no, reference, total) if 0 < len(out_trade_no) <= 32 else None
    if row is None:
        return _fail(404, "订单不存在")
    if resource.get("trade_state") != "SUCCESS":
        return 204, None  # WeChat Pay notifies payments only; another state changes nothing here
    if row["taken"] and total is not None:
        # recorded and committed before, with this amount: WeChat Pay repeats notices until it hears 2xx
        return 204, None
    channel = row["channel"]
    payer = resource.get("payer") if isinstance(resource.get("payer"), dict) else {}
    detail = {
        "trade_state": "SUCCESS", "trade_type": str(resource.get("trade_type", ""))[:16],
        "success_time": str(resource.get("success_time", ""))[:32], "notice_id": str(notice.get("id", ""))[:64],
    }
    if total is None:
        detail["amount"] = str(amount)[:100]
    try:
        outcome = confirm_payment(
            out_trade_no=out_trade_no, amount_fen=total,  # None (not integer fen, not CNY): a mismatch
            gateway_reference=reference, channel=channel, source="notify",
            payer=str(payer.get("openid", ""))[:128], detail=detail, found=row,
        )
    except OrderError:
        return _fail(404, "订单不存在")
    except DatabaseError as exc:
        if outage_kind(exc):
            raise  # a lock or statement timeout, the database gone: core.outages answers 503, one log line
        logger.exception("WeChat Pay notice for %s could not be recorded", out_trade_no)
        return _fail(500, "暂时无法处理")
    if outcome.result == "amount_mismatch":
        return _fail(400, "金额不符")
    return 204, None


def handle_refund_notice(headers, body, *, now=None):
    """A refund notification (REFUND.SUCCESS / REFUND.CLOSED / REFUND.ABNORMAL): (status, answer)."""
    try:
        notice = verify_notice(headers, body, now=now)
    except NoticeRefused as refused:
        return _fail(refused.status, refused.message)
    return _apply_refund_notice(notice)


def _apply_refund_notice(notice):
    resource = notice["resource"]
    expected_status = REFUND_EVENTS.get(notice.get("event_type"))
    if expected_status is None or resource.get("refund_status") != expected_status:
        return _fail(400, "通知类型不符")
    if resource.get("mchid") != WeChatPayConfig.from_settings().mchid:
        return _fail(400, "商户号不符")
    out_refund_no = resource.get("out_refund_no")
    if not isinstance(out_refund_no, str) or len(out_refund_no) > 64:
        return _fail(400, "报文格式错误")
    refund = Refund.objects.select_related("attempt").filter(
        out_refund_no=out_refund_no, attempt__channel__in=CHANNELS).first()
    if refund is None:
        return _fail(404, "退款单不存在")
    amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    if (
        resource.get("out_trade_no") != refund.attempt.out_trade_no
        or _int(amount.get("refund")) != refund.amount_fen
        or _int(amount.get("total")) != refund.attempt.amount_fen
    ):
        logger.warning("WeChat Pay refund notice for %s does not match it: %s", out_refund_no, amount)
        return _fail(400, "退款信息不符")
    detail = {"refund_status": expected_status, "success_time": str(resource.get("success_time", ""))[:32],
              "user_received_account": str(resource.get("user_received_account", ""))[:64],
              "notice_id": str(notice.get("id", ""))[:64]}
    try:
        if expected_status == "SUCCESS":
            refund_succeeded(refund.pk, gateway_refund_id=str(resource.get("refund_id", ""))[:64], detail=detail)
        else:
            refund_failed(refund.pk, abnormal=expected_status == "ABNORMAL", detail=detail)
    except OrderError as exc:
        logger.error("WeChat Pay refund notice for %s refused: %s", out_refund_no, exc)
        return _fail(400, "退款无法入账")
    except DatabaseError as exc:
        if outage_kind(exc):
            raise
        logger.exception("WeChat Pay refund notice for %s could not be recorded", out_refund_no)
        return _fail(500, "暂时无法处理")
    return 204, None


def _answer(status, answer):
    if answer is None:
        return HttpResponse(status=204)
    return JsonResponse(answer, status=status)


# WeChat Pay retries a notice answered with a 4xx/5xx and {"code": "FAIL", ...}
OUTAGE_ANSWER = json.dumps({"code": "FAIL", "message": "系统繁忙，请稍后重试"}, ensure_ascii=False)


def _notify_view(handler):
    @outage_answer(OUTAGE_ANSWER, content_type="application/json")
    @csrf_exempt
    @transaction.non_atomic_requests
    def view(request):
        if request.method != "POST":
            return _answer(*_fail(405, "只接受 POST"))
        return _answer(*handler(request.headers, request.body))

    view.__name__ = handler.__name__.replace("handle_", "")
    view.__doc__ = handler.__doc__
    return view


notify = _notify_view(handle_pay_notice)
refund_notify = _notify_view(handle_refund_notice)


# --- the pay pages ---------------------------------------------------------------------------
def _buyers_attempt(request, out_trade_no, channels=CHANNELS):
    attempt = (
        PaymentAttempt.objects.select_related("order", "order__store")
        .filter(out_trade_no=str(out_trade_no)[:32], channel__in=channels, order__user=request.user).first()
    )
    if attempt is None:
        raise Http404(_("支付单不存在"))
    return attempt


def _payable(attempt, now=None):
    now = now or timezone.now()
    return (
        attempt.state == PaymentAttempt.State.PENDING and attempt.order.status == Order.Status.PENDING_PAYMENT
        and attempt.expires_at > now
    )


def _current(attempt, now=None):
    """Payable and still the order's attempt: not superseded (a price change gave the order a new
    out_trade_no and asked the worker to close this one), so the shopper is never offered the old
    amount. 查询支付结果 still asks about a superseded attempt: money paid to it is found and refunded."""
    return _payable(attempt, now) and not attempt.close_requested


def payment_qr_svg(code_url):
    """Native pay's code_url as an inline SVG QR code (made on the server: no script, no image file)."""
    image = qrcode.make(code_url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    label = format_html('<svg class="od-qr" role="img" aria-label="{}" ', _("微信支付二维码"))
    return mark_safe(svg.replace("<svg ", label, 1))  # noqa: S308 - generated by qrcode from WeChat's URL


@login_required
@require_GET
def jsapi_page(request, out_trade_no):
    """Where the silent snsapi_base authorisation comes back: pay inside WeChat with the bridge.
    Without an openid (the authorisation failed) it says so instead of sending the shopper round again."""
    from members.auth.wechat_openid import openid_for

    attempt = _buyers_attempt(request, out_trade_no, channels=("wechat_jsapi",))
    order = attempt.order
    result_url = reverse("orders:pay_result", kwargs={"public_id": order.public_id})
    if not _current(attempt):
        return redirect(result_url)
    error, params = "", None
    openid = openid_for(request.user, WeChatPayConfig.from_settings().appid)
    if not openid:
        error = _("未能获取微信授权，请返回收银台重试")
    else:
        try:
            params = get_gateway(attempt.channel).bridge_params(attempt, openid)
        except GatewayError as exc:
            logger.warning("JSAPI page for %s: %s", attempt.out_trade_no, exc)
            error = _("支付渠道暂时不可用，请稍后重试或换一种支付方式")
    return render(request, "orders/payments/wechat_jsapi.html", {
        "order": order, "attempt": attempt, "bridge_params": params, "error": error, "result_url": result_url,
        "hide_tabbar": True,
    }, status=200 if params else 503)


@login_required
@require_GET
def payment_status(request, out_trade_no):
    """The Native page's poll (htmx, every few seconds): 204 while the attempt waits, an HX-Redirect
    to the result page once our server knows it was paid, closed or can no longer be paid."""
    attempt = _buyers_attempt(request, out_trade_no)
    if _current(attempt):
        return HttpResponse(status=204)
    response = HttpResponse(status=200)
    response["HX-Redirect"] = reverse("orders:pay_result", kwargs={"public_id": attempt.order.public_id})
    return response


@login_required
@require_POST
def query_payment(request, out_trade_no):
    """查询支付结果: ask WeChat Pay about this attempt now (at most every few seconds), confirm what it
    says was paid through the same confirm_payment as a notice, then show the result page."""
    attempt = _buyers_attempt(request, out_trade_no)
    if _payable(attempt) and cache.add(f"wechatpay:query:{attempt.pk}", 1, QUERY_EVERY_SECONDS):
        try:
            result = get_gateway(attempt.channel).query(attempt)
        except GatewayError as exc:
            logger.warning("query of %s for the shopper failed: %s", attempt.out_trade_no, exc)
        else:
            if result.state == "paid":
                try:
                    confirm_payment(out_trade_no=attempt.out_trade_no, amount_fen=result.amount_fen,
                                    gateway_reference=result.reference, channel=attempt.channel, source="query",
                                    detail=result.detail)
                except OrderError:
                    logger.exception("query of %s: confirmation refused", attempt.out_trade_no)
    return redirect("orders:pay_result", public_id=attempt.order.public_id)
