"""Payment endpoints that belong to the gateways: the development gateway's simulate page and its
notification URL (the real gateways' notification URLs join here in the payments issue).

A notification endpoint needs no login, no CSRF and no query string; it trusts a notice only after
the gateway's signature holds, and answers success only after the change is committed."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.money import fen_to_yuan
from core.outages import outage_answer

from ..errors import OrderError
from ..models import PaymentAttempt
from . import dev
from .services import confirm_payment, record_payment_failure


def _dev_on():
    if not dev.DevGateway.is_available():
        raise Http404("the development gateway is off")


def handle_dev_notice(body, signature):
    """The dev gateway's notification, verified and applied exactly as a real gateway's would be.
    Returns (HTTP status, answer)."""
    notice = dev.parse_notice(body, signature)
    if notice is None:
        return 401, {"code": "FAIL", "message": "bad signature"}
    try:
        if notice.get("trade_state") == "SUCCESS":
            outcome = confirm_payment(
                out_trade_no=str(notice.get("out_trade_no", "")), amount_fen=notice["amount_fen"],
                gateway_reference=str(notice.get("transaction_id", ""))[:64], channel="dev", source="notify",
                detail={"trade_state": "SUCCESS"},
            )
            return 200, {"code": "SUCCESS", "result": outcome.result}
        record_payment_failure(out_trade_no=str(notice.get("out_trade_no", "")), channel="dev",
                               reason=str(notice.get("trade_state", ""))[:32],
                               gateway_reference=str(notice.get("transaction_id", ""))[:64])
        return 200, {"code": "SUCCESS", "result": "failed"}
    except OrderError as exc:
        return 404, {"code": "FAIL", "message": exc.code}


@outage_answer(json.dumps({"code": "FAIL", "message": "系统繁忙，请稍后重试"}, ensure_ascii=False),
               content_type="application/json")  # as WeChat Pay's: the dev gateway's notices take its form
@csrf_exempt
@require_POST
def dev_notify(request):
    """POST a notice signed by the dev gateway (header X-Dev-Signature)."""
    _dev_on()
    status, answer = handle_dev_notice(request.body, request.headers.get("X-Dev-Signature", ""))
    return JsonResponse(answer, status=status)


@login_required
def dev_pay(request, out_trade_no):
    """The simulate-payment page (模拟支付): only the buyer of the order, only with the dev gateway on.
    Paying here sends a signed notice through the same path as a real gateway's notification."""
    _dev_on()
    attempt = (
        PaymentAttempt.objects.select_related("order")
        .filter(out_trade_no=str(out_trade_no)[:32], channel="dev", order__user=request.user).first()
    )
    if attempt is None:
        raise Http404("no such payment")
    order = attempt.order
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("pay", "fail"):
            return HttpResponse(_("请选择支付结果"), status=400)
        body, signature = dev.make_notice(attempt, trade_state="SUCCESS" if action == "pay" else "PAYERROR")
        handle_dev_notice(body, signature)
        return redirect("orders:pay_result", public_id=order.public_id)
    return render(request, "orders/dev_pay.html", {
        "attempt": attempt, "order": order, "amount": fen_to_yuan(attempt.amount_fen), "hide_tabbar": True,
        "notice_preview": json.dumps({"out_trade_no": attempt.out_trade_no, "amount_fen": attempt.amount_fen}),
    })
