"""Alipay (支付宝) mobile-website payment, alipay.trade.wap.pay, through python-alipay-sdk.

Guarantees:
- One `AliPay` client, built lazily on first use from the key files named by the settings (never
  at import or worker start) and rebuilt only when those settings change. A key the SDK cannot
  read (the bare base64 the Alipay console shows, a missing file) is a GatewayError here and an
  error of `manage.py check` before that (orders.payments.alipay_checks).
- Every answer of Alipay's API is verified by the SDK (RSA2 with Alipay's public key over the
  `…_response` object) and then checked for `code == "10000"`: a business failure comes back as a
  normal answer, not an exception. What Alipay documents as final becomes a definite state
  ("closed", "failed", "abnormal"); everything else is a GatewayError, which the worker retries.
- Amounts leave as yuan strings with two places (core.money.yuan_string) and come back as integer
  fen read strictly ("25.50" is 2550; "25.5", "2550" or "25.50元" are not amounts).
- The gateway changes none of our data: orders.payments.services decides what an answer means.

Requests are signed by the SDK and sent with `requests` (the SDK's own transport is urllib with
no error handling): system parameters in the query string, `biz_content` in the form body, as
Alipay's own SDKs send them.

Inside WeChat (which blocks Alipay's pages) `start` answers a "guide" to a page asking the shopper
to open it in the phone's browser; the page's address carries a signed pay token
(`pay_token`/`read_pay_token`, django.core.signing, 10 minutes) that lets that browser, which has
no session of ours, go to Alipay for that one attempt while the order is still payable
(orders.payments.alipay_views).
"""

import csv
import io
import logging
import re
import zipfile
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.money import fen_to_yuan, yuan_string, yuan_to_fen

from .gateways import BillRow, Gateway, GatewayError, GatewayResult, PaymentAction

logger = logging.getLogger("orders.payments.alipay")

CHANNEL = "alipay_wap"
GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY_URL = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
TIMEOUT = (5, 15)  # seconds to connect, to read
SUCCESS = "10000"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # Alipay reads every time as Beijing time
PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")

PAY_TOKEN_SALT = "orders.payments.alipay.pay-link"
PAY_TOKEN_MAX_AGE = 10 * 60  # the open-in-browser link
RETURN_TOKEN_MAX_AGE = 24 * 3600  # the page Alipay sends the browser back to only shows the order's state

_YUAN = re.compile(r"(0|[1-9][0-9]{0,9})\.[0-9]{2}")
_SIGNED_YUAN = re.compile(r"-?(0|[1-9][0-9]{0,9})\.[0-9]{2}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")

# alipay.trade.refund: sub codes after which asking again cannot help (the refund is refused) ...
REFUND_REFUSED = {
    "ACQ.INVALID_PARAMETER", "ACQ.TRADE_NOT_EXIST", "ACQ.TRADE_STATUS_ERROR", "ACQ.TRADE_HAS_FINISHED",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "ACQ.REFUND_FEE_ERROR", "ACQ.REASON_TRADE_REFUND_FEE_ERR",
    "ACQ.TRADE_NOT_ALLOW_REFUND", "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND", "ACQ.TRADE_HAS_CLOSE",
    "ACQ.NOT_ALLOW_PARTIAL_REFUND", "ACQ.REFUND_CHARGE_ERROR", "ACQ.CUSTOMER_VALIDATE_ERROR",
}
# ... those that need a person (a frozen trade, the buyer's account, the same out_request_no sent
# with different content) ...
REFUND_NEEDS_STAFF = {"ACQ.REASON_TRADE_BEEN_FREEZEN", "ACQ.BUYER_ERROR", "ACQ.DISCORDANT_REPEAT_REQUEST"}
# ... and those worth retrying later (any sub code not listed anywhere also needs a person).
REFUND_RETRY = {"ACQ.SYSTEM_ERROR", "ACQ.SELLER_BALANCE_NOT_ENOUGH", "ACQ.REFUND_ACCOUNT_BALANCE_NOT_ENOUGH"}


# --- configuration and the client ---------------------------------------------------------------
def notify_url():
    """Where Alipay posts its notifications: PAYMENT_NOTIFY_BASE_URL + /payments/alipay/notify/."""
    return public_url(reverse("payments:alipay_notify"))


def public_url(path):
    return (getattr(settings, "PAYMENT_NOTIFY_BASE_URL", "") or "").rstrip("/") + path


def gateway_url():
    return SANDBOX_GATEWAY_URL if getattr(settings, "ALIPAY_SANDBOX", False) else GATEWAY_URL


def configured():
    """Every setting the gateway needs is filled in (their content is checked by manage.py check)."""
    return all(
        getattr(settings, name, "")
        for name in ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY_PATH", "ALIPAY_PUBLIC_KEY_PATH", "ALIPAY_SELLER_ID",
                     "PAYMENT_NOTIFY_BASE_URL")
    )


_clients = {}


def client():
    """The AliPay client for the current settings, built on first use."""
    from alipay import AliPay

    config = (settings.ALIPAY_APP_ID, settings.ALIPAY_APP_PRIVATE_KEY_PATH, settings.ALIPAY_PUBLIC_KEY_PATH,
              bool(settings.ALIPAY_SANDBOX), notify_url())
    built = _clients.get(config)
    if built is not None:
        return built
    try:
        with open(config[1], encoding="ascii") as private, open(config[2], encoding="ascii") as public:
            built = AliPay(
                appid=config[0], app_notify_url=config[4], app_private_key_string=private.read(),
                alipay_public_key_string=public.read(), sign_type="RSA2", debug=config[3],
            )
    except (OSError, ValueError, IndexError, TypeError) as exc:
        raise GatewayError(f"the Alipay client cannot be built: {exc}") from exc
    _clients.clear()
    _clients[config] = built
    return built


def local_time(moment):
    """Alipay's time format, Beijing time: 2026-10-03 10:00:00."""
    return timezone.localtime(moment, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def fen_of(text):
    """Alipay's yuan string ("25.50") as integer fen, or None when it is not one."""
    if not isinstance(text, str) or not _YUAN.fullmatch(text):
        return None
    return yuan_to_fen(Decimal(text))


def call(method, biz_content):
    """One signed request to Alipay's gateway; the verified `<method>_response` object.

    Raises GatewayError when Alipay cannot be reached, answers with an HTTP error, or its answer is
    unsigned, badly signed or not JSON. Business failures are returned: check `code`."""
    from alipay.exceptions import AliPayException, AliPayValidationError

    alipay = client()
    data = alipay.build_body(method, dict(biz_content), timestamp=local_time(timezone.now()))
    params = dict(parse_qsl(alipay.sign_data(data), keep_blank_values=True))
    body = {"biz_content": params.pop("biz_content")}
    try:
        answer = requests.post(
            gateway_url(), params=params, data=body, timeout=TIMEOUT,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        answer.raise_for_status()
        text = answer.content.decode("utf-8")
    except (requests.RequestException, UnicodeDecodeError) as exc:
        raise GatewayError(f"{method}: {exc}") from exc
    try:
        verified = alipay._verify_and_return_sync_response(text, method.replace(".", "_") + "_response")
    except AliPayValidationError as exc:
        raise GatewayError(f"{method}: the answer's signature does not hold") from exc
    except (AliPayException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GatewayError(f"{method}: unusable answer: {exc}") from exc
    if not isinstance(verified, dict):
        raise GatewayError(f"{method}: unusable answer")
    return verified


def _failure(method, answer):
    return GatewayError(f"{method}: {answer.get('code')} {answer.get('sub_code', '')} {answer.get('sub_msg', '')}")


# --- the open-in-browser link (inside WeChat) ---------------------------------------------------
def pay_token(attempt):
    """A signed, timestamped claim on one attempt and its amount, for the open-in-browser link."""
    return signing.dumps({"t": attempt.out_trade_no, "f": attempt.amount_fen}, salt=PAY_TOKEN_SALT)


def read_pay_token(token, *, max_age=PAY_TOKEN_MAX_AGE):
    """(out_trade_no, amount_fen) of a token made by `pay_token`. Raises signing.SignatureExpired for
    an old one and signing.BadSignature for anything tampered with or malformed."""
    claim = signing.loads(str(token), salt=PAY_TOKEN_SALT, max_age=max_age)
    if not isinstance(claim, dict) or not isinstance(claim.get("t"), str) or type(claim.get("f")) is not int:
        raise signing.BadSignature("not a pay token")
    return claim["t"], claim["f"]


def in_wechat(request):
    """WeChat's browser says MicroMessenger in its user agent (as orders.views._common.in_wechat)."""
    return "MicroMessenger" in request.headers.get("User-Agent", "")


# --- the bill -----------------------------------------------------------------------------------
BILL_COLUMNS = {
    "trade_no": "支付宝交易号", "out_trade_no": "商户订单号", "kind": "业务类型", "finished": "完成时间",
    "amount": "订单金额（元）", "out_request_no": "退款批次号/请求号",
}
BILL_KINDS = {"交易": "payment", "退款": "refund"}


def _clean(cell):
    # Alipay pads cells with tabs (so spreadsheets keep long numbers as text) and spaces
    return cell.strip().strip("\t").strip()


def _header_name(cell):
    return _clean(cell).replace("(", "（").replace(")", "）")


def _detail_text(archive):
    """The text of the 业务明细 file (not its 汇总) in Alipay's zip of GBK CSV files."""
    try:
        bundle = zipfile.ZipFile(io.BytesIO(archive))
        members = bundle.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise GatewayError(f"the Alipay bill is not a zip file: {exc}") from exc
    for member in members:
        try:
            text = bundle.read(member).decode("gb18030")
        except (UnicodeDecodeError, zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
            raise GatewayError(f"unreadable file in the Alipay bill: {exc}") from exc
        if any(line.startswith("#") and "业务明细列表" in line for line in text.splitlines()[:20]) and \
                "支付宝交易号" in text:
            return text
    raise GatewayError("the Alipay bill holds no 业务明细 file")


def _readable(value):
    """A line read with its cells in place: a known type, an amount, and the completion time every
    settled payment or refund has."""
    return (value["kind"] in BILL_KINDS and bool(_SIGNED_YUAN.fullmatch(value["amount"]))
            and bool(_TIME.fullmatch(value["finished"])))


def _bill_values(cells, header, column, number):
    """The cells we read from one detail line. Alipay does not quote its cells, so a 商品名称 or a
    备注 holding a comma comes as more cells than the header has: the extra ones are joined back into
    whichever of the two makes the line read as a line (a known type, an amount, a time); a line
    that reads no way, or two ways, is refused."""
    extra = len(cells) - len(header)
    if extra < 0:
        raise GatewayError(f"Alipay bill line {number}: {len(cells)} columns, expected {len(header)}")
    if extra == 0:
        return {key: _clean(cells[index]) for key, index in column.items()}
    at = header.index("商品名称") if "商品名称" in header else None
    candidates = []
    for in_name in range(extra + 1) if at is not None else (0,):  # how many of the extra commas are the name's
        joined = cells if at is None else cells[:at] + [",".join(cells[at:at + in_name + 1])] + cells[at + in_name + 1:]
        candidates.append(joined[:len(header) - 1] + [",".join(joined[len(header) - 1:])])  # the rest: 备注's
    readings = {tuple((key, _clean(c[index])) for key, index in column.items()) for c in candidates}
    readings = [dict(reading) for reading in readings if _readable(dict(reading))]
    if len(readings) != 1:
        raise GatewayError(f"Alipay bill line {number}: {len(cells)} columns, expected {len(header)}")
    return readings[0]


def parse_trade_bill(archive: bytes) -> list[BillRow]:
    """Alipay's trade bill (bill_type "trade"): a zip of GBK CSV files; the 业务明细 file lists
    every payment (业务类型 交易) and refund (退款, negative amounts, our out_request_no in
    退款批次号/请求号) between `#…业务明细列表…` and `#…业务明细列表结束…`, followed by summary
    lines (`#交易合计：N笔…`, `#退款合计：M笔…`) that must agree with the rows read."""
    lines = _detail_text(archive).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("#") and "业务明细列表" in line
                  and "结束" not in line), None)
    end = next((i for i, line in enumerate(lines) if line.startswith("#") and "业务明细列表结束" in line), None)
    if start is None or end is None or end <= start + 1:
        raise GatewayError("the Alipay bill's detail list has no beginning or end")
    table = list(csv.reader(lines[start + 1:end]))
    header = [_header_name(cell) for cell in table[0]]
    try:
        column = {key: header.index(name) for key, name in BILL_COLUMNS.items()}
    except ValueError as exc:
        raise GatewayError(f"the Alipay bill's columns changed: {exc}") from exc
    rows, counted = [], {"payment": 0, "refund": 0}
    for number, cells in enumerate(table[1:], start=start + 3):
        if not any(_clean(cell) for cell in cells):
            continue
        value = _bill_values(cells, header, column, number)
        kind = BILL_KINDS.get(value["kind"])
        if kind is None:
            raise GatewayError(f"Alipay bill line {number}: unknown 业务类型 {value['kind']!r}")
        if not _SIGNED_YUAN.fullmatch(value["amount"]):
            raise GatewayError(f"Alipay bill line {number}: not an amount {value['amount']!r}")
        try:
            occurred = datetime.strptime(value["finished"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI) \
                if value["finished"] else None
        except ValueError as exc:
            raise GatewayError(f"Alipay bill line {number}: not a time {value['finished']!r}") from exc
        counted[kind] += 1
        rows.append(BillRow(
            kind=kind, out_trade_no=value["out_trade_no"], gateway_reference=value["trade_no"],
            amount_fen=abs(yuan_to_fen(Decimal(value["amount"]))),
            out_refund_no=value["out_request_no"] if kind == "refund" else "", occurred_at=occurred,
        ))
    summary = "\n".join(lines[end:])
    for kind, label in (("payment", "交易合计"), ("refund", "退款合计")):
        stated = re.search(label + r"[：:]\s*(\d+)\s*笔", summary)
        if stated and int(stated.group(1)) != counted[kind]:
            raise GatewayError(f"the Alipay bill says {label} {stated.group(1)} but lists {counted[kind]}: incomplete")
    return rows


# --- the gateway --------------------------------------------------------------------------------
class AlipayWapGateway(Gateway):
    """支付宝 on a phone's browser (手机网站支付). Offered everywhere: inside WeChat through the
    open-in-browser guide."""

    channel = CHANNEL
    label = gettext_lazy("支付宝")

    @classmethod
    def is_available(cls):
        return configured()

    @classmethod
    def offered(cls, *, in_wechat, mobile):
        return True

    def start(self, attempt, *, request=None):
        if request is not None and in_wechat(request):
            return PaymentAction("guide", url=reverse("payments:alipay_pay_link", args=[pay_token(attempt)]))
        order = attempt.order
        return PaymentAction("redirect", url=self.pay_url(
            attempt,
            return_url=public_url(reverse("orders:pay_result", kwargs={"public_id": order.public_id})),
            quit_url=public_url(reverse("orders:pay", kwargs={"public_id": order.public_id})),
        ))

    def pay_url(self, attempt, *, return_url, quit_url):
        """Alipay's cashier for the attempt: the gateway URL and the signed request (no network).
        The trade cannot be paid after the attempt's deadline (time_expire)."""
        order = attempt.order
        try:
            signed = client().api_alipay_trade_wap_pay(
                subject=_("订单 %(no)s") % {"no": order.number},
                out_trade_no=attempt.out_trade_no,
                total_amount=yuan_string(fen_to_yuan(attempt.amount_fen)),
                return_url=return_url, notify_url=notify_url(),
                time_expire=local_time(attempt.expires_at), quit_url=quit_url,
            )
        except (ValueError, TypeError) as exc:
            raise GatewayError(f"alipay.trade.wap.pay could not be signed: {exc}") from exc
        return f"{gateway_url()}?{signed}"

    def query(self, attempt):
        method = "alipay.trade.query"
        answer = call(method, {"out_trade_no": attempt.out_trade_no})
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                # Alipay creates the trade only when the shopper reaches its cashier: not paid (yet)
                return GatewayResult("pending", detail={"sub_code": "ACQ.TRADE_NOT_EXIST"})
            raise _failure(method, answer)
        if answer.get("out_trade_no") not in (None, attempt.out_trade_no):
            raise GatewayError(f"{method}: answered about {answer.get('out_trade_no')!r}")
        status = answer.get("trade_status")
        detail = {"trade_status": status, "buyer_user_id": answer.get("buyer_user_id", ""),
                  "send_pay_date": answer.get("send_pay_date", "")}
        if status in PAID_STATES:
            return GatewayResult("paid", reference=str(answer.get("trade_no", "")),
                                 amount_fen=fen_of(answer.get("total_amount")), detail=detail)
        if status == "WAIT_BUYER_PAY":
            return GatewayResult("pending", reference=str(answer.get("trade_no", "")), detail=detail)
        if status == "TRADE_CLOSED":
            return GatewayResult("closed", reference=str(answer.get("trade_no", "")), detail=detail)
        raise GatewayError(f"{method}: unknown trade_status {status!r}")

    def close(self, attempt):
        method = "alipay.trade.close"
        answer = call(method, {"out_trade_no": attempt.out_trade_no})
        if answer.get("code") == SUCCESS:
            return True
        sub_code = answer.get("sub_code")
        if sub_code == "ACQ.TRADE_NOT_EXIST":
            # nobody reached Alipay's cashier; the signed request expires at time_expire, and money
            # that still arrives is refunded by confirm_payment
            return True
        if sub_code == "ACQ.TRADE_STATUS_ERROR":
            # already closed, or paid: only a closed trade counts as closed
            state = self.query(attempt).state
            if state != "closed":
                logger.warning("Alipay will not close %s: it is %s", attempt.out_trade_no, state)
            return state == "closed"
        raise _failure(method, answer)

    def refund(self, refund):
        """Refund once per out_request_no (= our out_refund_no): a retry of the same request makes no
        second refund (Alipay answers fund_change "N", and the refund query says what happened)."""
        method = "alipay.trade.refund"
        answer = call(method, {
            "out_trade_no": refund.attempt.out_trade_no,
            "refund_amount": yuan_string(fen_to_yuan(refund.amount_fen)),
            "out_request_no": refund.out_refund_no,
            "refund_reason": (refund.reason or refund.get_cause_display())[:80],
        })
        if answer.get("code") == SUCCESS:
            if answer.get("fund_change") == "Y":
                return GatewayResult("succeeded", reference=str(answer.get("trade_no", "")),
                                     amount_fen=refund.amount_fen,
                                     detail={"refund_fee": answer.get("refund_fee", ""), "fund_change": "Y"})
            return self.query_refund(refund, resend=False)
        sub_code = answer.get("sub_code", "")
        detail = {"code": answer.get("code"), "sub_code": sub_code, "sub_msg": answer.get("sub_msg", "")}
        if answer.get("code") != "40004" or sub_code in REFUND_RETRY:
            raise _failure(method, answer)
        if sub_code in REFUND_REFUSED:
            return GatewayResult("failed", detail=detail)
        return GatewayResult("abnormal", detail=detail)  # REFUND_NEEDS_STAFF, and any code we do not know

    def query_refund(self, refund, *, resend=True):
        method = "alipay.trade.fastpay.refund.query"
        answer = call(method, {"out_trade_no": refund.attempt.out_trade_no, "out_request_no": refund.out_refund_no})
        if answer.get("code") != SUCCESS:
            raise _failure(method, answer)
        status = answer.get("refund_status")
        refunded = answer.get("refund_amount")
        detail = {"refund_status": status or "", "refund_amount": refunded or ""}
        if status == "REFUND_SUCCESS" or (not status and refunded):
            if fen_of(refunded) != refund.amount_fen:
                return GatewayResult("abnormal", detail={**detail, "expected": refund.amount_fen})
            return GatewayResult("succeeded", reference=str(answer.get("trade_no", "")),
                                 amount_fen=refund.amount_fen, detail=detail)
        if not status and not refunded:
            # Alipay has no refund of that out_request_no: it did not happen; asking again with the
            # same out_request_no is how Alipay says to retry (it refunds once)
            if resend:
                return self.refund(refund)
            raise GatewayError(f"{method}: refund {refund.out_refund_no} unknown right after it was accepted")
        return GatewayResult("processing", reference=str(answer.get("trade_no", "")), detail=detail)

    def download_bill(self, day):
        method = "alipay.data.dataservice.bill.downloadurl.query"
        answer = call(method, {"bill_type": "trade", "bill_date": day.isoformat()})
        if answer.get("code") != SUCCESS:
            if answer.get("sub_code") == "isp.bill_not_exist":
                return []  # no trade on that day
            raise _failure(method, answer)
        url = answer.get("bill_download_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GatewayError(f"{method}: no download address")
        try:
            archive = requests.get(url, timeout=TIMEOUT)
            archive.raise_for_status()
        except requests.RequestException as exc:
            raise GatewayError(f"the Alipay bill of {day} could not be downloaded: {exc}") from exc
        return parse_trade_bill(archive.content)
