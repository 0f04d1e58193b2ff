"""WeChat Pay API v3 through wechatpayv3: JSAPI inside WeChat, H5 in a phone's browser, Native (a QR
code to scan) on a desktop. The three gateways share one client.

Guarantees:
- The client is built lazily, by the first call that needs it, never at import or worker start
  (in platform-certificate mode its constructor downloads the certificates); one per process and
  configuration, built under a lock. Public-key mode (WECHAT_PAY_PUBLIC_KEY_PATH +
  WECHAT_PAY_PUBLIC_KEY_ID) makes no network call to build; certificate mode is still accepted
  when both are empty.
- Amounts leave as integer fen: the attempt's and the refund's `amount_fen`, made from Decimal yuan
  by core.money.yuan_to_fen. `time_expire` is the attempt's deadline in RFC 3339, +08:00.
- Every answer is parsed here (the library returns (status, text)): a network error, a 2xx whose
  signature fails, an answer that is not JSON, a 5xx or a rate limit is a GatewayError (the worker
  tries again later); a business refusal is a result.
- Nothing here changes our data: orders.payments.services decides what an answer means.
- A notice (verify_notice) is trusted only when its serial is our WeChat Pay public key id or a
  platform certificate the client already holds (checked before the library runs: an unknown
  serial would make it download certificates), its timestamp is within 5 minutes of our clock,
  the signature over the raw body holds and the resource decrypts with the APIv3 key. Its business
  fields are checked by orders.payments.wechat_views.
"""

import gzip
import hashlib
import json
import logging
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import MoneyError, yuan_to_fen

from .gateways import BillRow, Gateway, GatewayError, GatewayResult, PaymentAction

logger = logging.getLogger("orders.payments.wechatpay")

CHANNELS = ("wechat_jsapi", "wechat_h5", "wechat_native")
NOTIFY_PATH = "/payments/wechatpay/notify/"
REFUND_NOTIFY_PATH = "/payments/wechatpay/refund-notify/"
API_BASE = "https://api.mch.weixin.qq.com"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTICE_MAX_SKEW = 300  # seconds between a notice's timestamp and our clock (replays are older)
CLOSE_AFTER = timedelta(minutes=5)  # WeChat refuses to close a trade younger than this
TIMEOUT = (5, 10)  # connect, read (seconds): a notice must be answered within 5 s, a page soon
SHANGHAI = ZoneInfo("Asia/Shanghai")
DESCRIPTION_MAX = 40  # characters; WeChat allows 127 bytes of UTF-8

# answers that mean "try again later" rather than "no"
RETRY_CODES = {"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH", "BANK_ERROR"}
NOT_EXIST_CODES = {"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS"}


# --- configuration and the client ------------------------------------------------------------
@dataclass(frozen=True)
class WeChatPayConfig:
    appid: str
    mchid: str
    apiv3_key: str
    serial_no: str
    private_key_path: str
    public_key_path: str
    public_key_id: str
    notify_base_url: str

    @classmethod
    def from_settings(cls):
        return cls(
            appid=getattr(settings, "WECHAT_APP_ID", ""),
            mchid=getattr(settings, "WECHAT_PAY_MCHID", ""),
            apiv3_key=getattr(settings, "WECHAT_PAY_APIV3_KEY", ""),
            serial_no=getattr(settings, "WECHAT_PAY_CERT_SERIAL_NO", ""),
            private_key_path=getattr(settings, "WECHAT_PAY_PRIVATE_KEY_PATH", ""),
            public_key_path=getattr(settings, "WECHAT_PAY_PUBLIC_KEY_PATH", ""),
            public_key_id=getattr(settings, "WECHAT_PAY_PUBLIC_KEY_ID", ""),
            notify_base_url=getattr(settings, "PAYMENT_NOTIFY_BASE_URL", "").rstrip("/"),
        )

    @property
    def public_key_mode(self):
        return bool(self.public_key_path or self.public_key_id)

    @property
    def complete(self):
        """Everything a payment needs is set (their formats are `manage.py check`'s business)."""
        needed = (self.appid, self.mchid, self.apiv3_key, self.serial_no, self.private_key_path, self.notify_base_url)
        return all(needed) and bool(self.public_key_path) == bool(self.public_key_id)

    @property
    def notify_url(self):
        return self.notify_base_url + NOTIFY_PATH

    @property
    def refund_notify_url(self):
        return self.notify_base_url + REFUND_NOTIFY_PATH


def configured():
    """Any WeChat Pay setting at all (then `manage.py check` wants all of them right)."""
    c = WeChatPayConfig.from_settings()
    return any((c.mchid, c.apiv3_key, c.serial_no, c.private_key_path, c.public_key_path, c.public_key_id))


_clients = {}
_clients_lock = threading.Lock()


def _read(path):
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GatewayError(f"WeChat Pay key file {path!r} cannot be read: {exc}") from exc


def get_client():
    """The shared wechatpayv3 client for the current settings, built on first use."""
    config = WeChatPayConfig.from_settings()
    if not config.complete:
        raise GatewayError("WeChat Pay is not configured")
    client = _clients.get(config)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            from wechatpayv3 import WeChatPay, WeChatPayType

            try:
                client = WeChatPay(
                    wechatpay_type=WeChatPayType.NATIVE, mchid=config.mchid,
                    private_key=_read(config.private_key_path), cert_serial_no=config.serial_no,
                    appid=config.appid, apiv3_key=config.apiv3_key, notify_url=config.notify_url,
                    public_key=_read(config.public_key_path) if config.public_key_mode else None,
                    public_key_id=config.public_key_id or None, timeout=TIMEOUT,
                )
            except GatewayError:
                raise
            except Exception as exc:  # bad key, or (certificate mode) the download failed
                raise GatewayError(f"WeChat Pay client could not be built: {exc}") from exc
            _clients[config] = client
    return client


def forget_clients():
    """Drop the built clients (key files were replaced; the tests switch keys)."""
    with _clients_lock:
        _clients.clear()


def _request(what, call, **kwargs):
    """(HTTP status, JSON object) of one library call; GatewayError when it is worth trying again."""
    try:
        status, text = call(**kwargs)
    except Exception as exc:  # network, timeout, or a 2xx whose signature did not verify
        raise GatewayError(f"WeChat Pay {what}: {exc}") from exc
    if status == 429 or status >= 500:
        raise GatewayError(f"WeChat Pay {what}: HTTP {status}")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        data = json.loads(text) if text else {}
    except ValueError as exc:
        raise GatewayError(f"WeChat Pay {what}: HTTP {status}, not JSON") from exc
    if not isinstance(data, dict):
        raise GatewayError(f"WeChat Pay {what}: HTTP {status}, not a JSON object")
    if status >= 400 and data.get("code") in RETRY_CODES:
        raise GatewayError(f"WeChat Pay {what}: {data.get('code')} {data.get('message')}")
    return status, data


def _refusal(what, data):
    return GatewayError(f"WeChat Pay {what} refused: {data.get('code')} {data.get('message')}")


def rfc3339(moment):
    """An aware datetime as WeChat wants it: 2026-11-27T16:30:00+08:00."""
    return timezone.localtime(moment, SHANGHAI).replace(microsecond=0).isoformat()


def client_ip(request):
    """The shopper's address as allauth reads it (ALLAUTH_TRUSTED_PROXY_COUNT hops of
    X-Forwarded-For, the same rule as the login rate limits)."""
    from allauth.core.internal.httpkit import get_client_ip

    try:
        ip = get_client_ip(request)
    except Exception as exc:  # a proxy count that does not match X-Forwarded-For
        raise GatewayError(f"client address unknown: {exc}") from exc
    if not ip:
        raise GatewayError("client address unknown")
    return ip


# --- the JSAPI bridge's parameters ---------------------------------------------------------------
def bridge_parameters(prepay_id, *, now=None):
    """What `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` takes, signed with the merchant key
    over appId, timeStamp, nonceStr and package (each followed by a newline)."""
    client = get_client()
    config = WeChatPayConfig.from_settings()
    stamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    package = f"prepay_id={prepay_id}"
    return {
        "appId": config.appid, "timeStamp": stamp, "nonceStr": nonce, "package": package, "signType": "RSA",
        "paySign": client.sign([config.appid, stamp, nonce, package]),
    }


# --- the gateways ----------------------------------------------------------------------------
class WeChatPayGateway(Gateway):
    """What the three WeChat Pay channels share: placing the trade, asking about it, closing it,
    refunds and the daily bill. Subclasses say how the shopper pays."""

    label = _("微信支付")
    pay_type_name = ""

    @classmethod
    def is_available(cls):
        return WeChatPayConfig.from_settings().complete

    # placing a trade
    def _prepay(self, attempt, **extra):
        from wechatpayv3 import WeChatPayType

        client = get_client()
        config = WeChatPayConfig.from_settings()
        order = attempt.order
        description = f"{order.store.name} {order.number}"[:DESCRIPTION_MAX]
        status, data = _request(
            "pay", client.pay, description=description, out_trade_no=attempt.out_trade_no,
            amount={"total": int(attempt.amount_fen), "currency": "CNY"}, time_expire=rfc3339(attempt.expires_at),
            notify_url=config.notify_url, pay_type=getattr(WeChatPayType, self.pay_type_name), **extra,
        )
        if status != 200:
            raise _refusal("pay", data)
        return data

    # asking, closing
    def query(self, attempt):
        config = WeChatPayConfig.from_settings()
        status, data = _request("query", get_client().query, out_trade_no=attempt.out_trade_no)
        if status == 404 or data.get("code") in NOT_EXIST_CODES:
            return GatewayResult("pending", detail={"trade_state": "ORDER_NOT_EXIST"})
        if status != 200:
            raise _refusal("query", data)
        if (data.get("appid"), data.get("mchid"), data.get("out_trade_no")) != (
            config.appid, config.mchid, attempt.out_trade_no
        ):
            raise GatewayError(f"WeChat Pay query of {attempt.out_trade_no} answered about another trade")
        state = data.get("trade_state")
        amount = (data.get("amount") or {}).get("total") if isinstance(data.get("amount"), dict) else None
        detail = {"trade_state": state, "success_time": data.get("success_time", "")}
        if state in ("SUCCESS", "REFUND"):  # REFUND: paid, then (partly) refunded
            reference = data.get("transaction_id")
            if not isinstance(reference, str) or not reference:
                raise GatewayError(f"WeChat Pay query of {attempt.out_trade_no}: paid without a transaction id")
            return GatewayResult("paid", reference=reference, amount_fen=amount, detail=detail)
        if state in ("CLOSED", "REVOKED"):
            return GatewayResult("closed", detail=detail)
        if state == "PAYERROR":
            return GatewayResult("failed", detail=detail)
        return GatewayResult("pending", detail=detail)  # NOTPAY, USERPAYING

    def close(self, attempt):
        """Closed (or nothing to close) -> True; too young to close (WeChat allows it 5 minutes after
        creation) or paid meanwhile -> False, so the worker asks again."""
        if attempt.created_at and attempt.created_at > timezone.now() - CLOSE_AFTER:
            return False
        status, data = _request("close", get_client().close, out_trade_no=attempt.out_trade_no)
        if status in (200, 204):
            return True
        code = str(data.get("code", ""))
        if status == 404 or code in NOT_EXIST_CODES or code == "ORDER_CLOSED":
            return True
        if "PAID" in code:
            # the notice (or the query, once the attempt is no longer to be closed) settles it
            logger.warning("WeChat Pay: %s was paid, not closed", attempt.out_trade_no)
            return False
        raise _refusal("close", data)

    # refunds
    def refund(self, refund):
        config = WeChatPayConfig.from_settings()
        attempt = refund.attempt
        status, data = _request(
            "refund", get_client().refund, out_refund_no=refund.out_refund_no, out_trade_no=attempt.out_trade_no,
            amount={"refund": int(refund.amount_fen), "total": int(attempt.amount_fen), "currency": "CNY"},
            reason=(refund.reason or "")[:80] or None, notify_url=config.refund_notify_url,
        )
        if status == 200:
            return self._refund_result(refund, data)
        detail = {"code": str(data.get("code", ""))[:64], "message": str(data.get("message", ""))[:200]}
        if detail["code"] == "USER_ACCOUNT_ABNORMAL":
            return GatewayResult("abnormal", detail=detail)
        return GatewayResult("failed", detail=detail)

    def query_refund(self, refund):
        status, data = _request("refund query", get_client().query_refund, out_refund_no=refund.out_refund_no)
        if status != 200:
            raise _refusal("refund query", data)
        return self._refund_result(refund, data)

    @staticmethod
    def _refund_result(refund, data):
        amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
        if data.get("out_refund_no") != refund.out_refund_no or amount.get("refund") != refund.amount_fen:
            raise GatewayError(f"WeChat Pay answered about another refund than {refund.out_refund_no}")
        reference = str(data.get("refund_id") or "")[:64]
        status = data.get("status")
        detail = {"status": status, "success_time": data.get("success_time", ""),
                  "user_received_account": data.get("user_received_account", "")}
        states = {"SUCCESS": "succeeded", "PROCESSING": "processing", "ABNORMAL": "abnormal", "CLOSED": "failed"}
        if status not in states:
            raise GatewayError(f"WeChat Pay refund {refund.out_refund_no}: unknown status {status!r}")
        return GatewayResult(states[status], reference=reference, amount_fen=amount.get("refund"), detail=detail)

    # the daily bill
    def download_bill(self, day):
        client = get_client()
        status, data = _request("trade bill", client.trade_bill, bill_date=day.isoformat(), bill_type="ALL",
                                tar_type="GZIP")
        if status == 400 and data.get("code") == "NO_STATEMENT_EXIST":
            return []  # no trade that day
        if status != 200:
            raise _refusal("trade bill", data)
        url = data.get("download_url")
        if not isinstance(url, str) or not url.startswith(API_BASE + "/"):
            raise GatewayError("WeChat Pay trade bill: no download_url of WeChat Pay's")
        try:
            status, content = client.download_bill(url=url)
        except Exception as exc:
            raise GatewayError(f"WeChat Pay bill download: {exc}") from exc
        if status != 200:
            raise GatewayError(f"WeChat Pay bill download: HTTP {status}")
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        try:
            plain = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        except (OSError, EOFError, zlib.error) as exc:
            raise GatewayError(f"WeChat Pay bill download: not a readable gzip file: {exc}") from exc
        expected = str(data.get("hash_value", "")).lower()
        if data.get("hash_type", "SHA1") != "SHA1" or expected not in (
            hashlib.sha1(raw).hexdigest(), hashlib.sha1(plain).hexdigest()  # noqa: S324 - WeChat's integrity hash
        ):
            raise GatewayError("WeChat Pay bill download: the file does not match its hash")
        try:
            text = plain.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise GatewayError("WeChat Pay bill download: not UTF-8") from exc
        return parse_trade_bill(text)


class WeChatJsapiGateway(WeChatPayGateway):
    """Inside WeChat: the page calls WeixinJSBridge with parameters we sign. It needs the payer's
    openid under our official account: from the WeChat login, else from a silent snsapi_base
    authorisation (members.auth.wechat_openid) that comes back to payments:wechat_jsapi."""

    channel = "wechat_jsapi"
    pay_type_name = "JSAPI"

    @classmethod
    def is_available(cls):
        return super().is_available() and bool(getattr(settings, "WECHAT_APP_SECRET", ""))

    @classmethod
    def offered(cls, *, in_wechat, mobile):
        return in_wechat

    def start(self, attempt, *, request=None):
        from members.auth.wechat_openid import begin_silent_authorisation, openid_for

        openid = openid_for(attempt.order.user, WeChatPayConfig.from_settings().appid)
        if not openid:
            if request is None:
                raise GatewayError("JSAPI needs the payer's openid")
            url = begin_silent_authorisation(request, next_url=reverse("payments:wechat_jsapi",
                                                                       args=[attempt.out_trade_no]))
            return PaymentAction("redirect", url=url)
        return PaymentAction("jsapi", params=self.bridge_params(attempt, openid))

    def bridge_params(self, attempt, openid):
        data = self._prepay(attempt, payer={"openid": openid})
        prepay_id = data.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise GatewayError("WeChat Pay JSAPI: no prepay_id")
        return bridge_parameters(prepay_id)


class WeChatH5Gateway(WeChatPayGateway):
    """A phone's browser outside WeChat: WeChat's own page (h5_url) opens the WeChat app to pay and
    comes back to our result page, which asks our server and never assumes success."""

    channel = "wechat_h5"
    pay_type_name = "H5"

    @classmethod
    def offered(cls, *, in_wechat, mobile):
        return not in_wechat and mobile

    def start(self, attempt, *, request=None):
        if request is None:
            raise GatewayError("H5 pay needs the shopper's request (client address)")
        data = self._prepay(attempt, scene_info={"payer_client_ip": client_ip(request), "h5_info": {"type": "Wap"}})
        h5_url = data.get("h5_url")
        if not isinstance(h5_url, str) or not h5_url.startswith("https://"):
            raise GatewayError("WeChat Pay H5: no h5_url")
        back = request.build_absolute_uri(reverse("orders:pay_result", kwargs={"public_id": attempt.order.public_id}))
        joiner = "&" if "?" in h5_url else "?"
        return PaymentAction("redirect", url=f"{h5_url}{joiner}redirect_url={quote(back, safe='')}")


class WeChatNativeGateway(WeChatPayGateway):
    """A desktop browser: a QR code of code_url, scanned with WeChat; the page polls our server."""

    channel = "wechat_native"
    pay_type_name = "NATIVE"

    @classmethod
    def offered(cls, *, in_wechat, mobile):
        return not in_wechat and not mobile

    def start(self, attempt, *, request=None):
        code_url = self._prepay(attempt).get("code_url")
        if not isinstance(code_url, str) or not code_url.startswith("weixin://"):
            raise GatewayError("WeChat Pay Native: no code_url")
        return PaymentAction("qrcode", url=code_url)


# --- notices ---------------------------------------------------------------------------------
class NoticeRefused(Exception):
    """A notice we do not trust or cannot read: answered with `status` and {"code": "FAIL"}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


BAD_SIGNATURE = "签名验证失败"


def _known_serial(serial, config):
    if config.public_key_mode:
        return bool(config.public_key_id) and serial == config.public_key_id
    certificates = getattr(getattr(get_client(), "_core", None), "_certificates", None) or []
    return serial.upper() in {format(cert.serial_number, "X") for cert in certificates}


def verify_notice(headers, body, *, now=None):
    """The notice (dict, `resource` decrypted) when WeChat Pay sent it, else NoticeRefused.
    `headers` is request.headers (case-insensitive), `body` the raw request.body."""
    config = WeChatPayConfig.from_settings()
    if not config.complete:
        raise NoticeRefused(404, "WeChat Pay is not configured")
    names = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial")
    values = {name: str(headers.get(name) or "") for name in names}
    if not all(values.values()):
        raise NoticeRefused(400, "缺少签名头")
    signature_type = str(headers.get("Wechatpay-Signature-Type") or SIGNATURE_TYPE)
    if signature_type != SIGNATURE_TYPE:
        raise NoticeRefused(401, BAD_SIGNATURE)
    try:
        known = _known_serial(values["Wechatpay-Serial"], config)
    except GatewayError as exc:
        raise NoticeRefused(500, "暂时无法验证") from exc
    if not known:
        raise NoticeRefused(401, "未知的证书序列号")
    stamp = values["Wechatpay-Timestamp"]
    current = int(now if now is not None else time.time())
    if not (stamp.isascii() and stamp.isdigit()) or abs(current - int(stamp)) > NOTICE_MAX_SKEW:
        raise NoticeRefused(401, "时间戳无效")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoticeRefused(400, "报文格式错误") from exc
    try:
        client = get_client()
    except GatewayError as exc:
        raise NoticeRefused(500, "暂时无法验证") from exc
    try:
        notice = client.callback({**values, "Wechatpay-Signature-Type": signature_type}, body)
    except Exception as exc:  # signed, but not the JSON or the encryption WeChat sends
        raise NoticeRefused(400, "报文格式错误") from exc
    if notice is None:  # a bad signature, a probe (WECHATPAY/SIGNTEST/…), or a resource our key cannot open
        raise NoticeRefused(401, BAD_SIGNATURE)
    if not isinstance(notice, dict) or not isinstance(notice.get("resource"), dict):
        raise NoticeRefused(400, "报文格式错误")
    return notice


# --- the trade bill ----------------------------------------------------------------------------
def _fen(text, line_number):
    try:
        return yuan_to_fen(Decimal(text))
    except (InvalidOperation, MoneyError, ValueError) as exc:
        raise GatewayError(f"WeChat Pay bill line {line_number}: amount {text!r} unreadable") from exc


def _bill_time(text, line_number):
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError as exc:
        raise GatewayError(f"WeChat Pay bill line {line_number}: time {text!r} unreadable") from exc


def parse_trade_bill(text):
    """BillRows of an ALL trade bill: a header line, detail lines whose every field starts with a
    backtick, then the summary (a header and one line). Payments are the SUCCESS lines at their
    order amount (订单金额, which the notices call amount.total; older bills without it: 应结订单金额);
    refunds the REFUND lines at the amount asked (申请退款金额, else 退款金额)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = [name.strip() for name in lines[0].split(",")]
    column = {name: i for i, name in enumerate(header)}
    for name in ("交易时间", "微信订单号", "商户订单号", "交易状态"):
        if name not in column:
            raise GatewayError(f"WeChat Pay bill: no column {name}")
    paid_column = "订单金额" if "订单金额" in column else "应结订单金额"
    refund_column = "申请退款金额" if "申请退款金额" in column else "退款金额"
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.startswith("`"):
            break  # the summary's header: the details are over
        fields = [field.strip() for field in line[1:].split(",`")]
        if len(fields) < len(header):
            raise GatewayError(f"WeChat Pay bill line {number}: {len(fields)} fields, {len(header)} expected")

        def value(name, fields=fields):
            return fields[column[name]] if name in column else ""

        state = value("交易状态")
        occurred_at = _bill_time(value("交易时间"), number)
        if state == "SUCCESS":
            rows.append(BillRow("payment", value("商户订单号"), value("微信订单号"),
                                _fen(value(paid_column), number), occurred_at=occurred_at))
        elif state == "REFUND":
            rows.append(BillRow("refund", value("商户订单号"), value("微信退款单号"),
                                _fen(value(refund_column), number), out_refund_no=value("商户退款单号"),
                                occurred_at=occurred_at))
    return rows
