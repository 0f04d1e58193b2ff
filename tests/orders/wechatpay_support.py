"""WeChat Pay API v3 as the tests see it.

Keys are generated here: the merchant's RSA key (its private half signs our requests, PKCS#8 as
the merchant platform hands it out), "WeChat Pay's" RSA key (the WeChat Pay public key, id
PUB_KEY_ID_…: its private half signs notices and API answers) and a 32-byte APIv3 key.

Notices are made exactly as WeChat Pay makes them: the resource JSON encrypted with AEAD_AES_256_GCM
under the APIv3 key (12-byte nonce, associated data), the body signed SHA256withRSA over
"{timestamp}\\n{nonce}\\n{body}\\n" with the platform key, in the Wechatpay-* headers.

`FakeWeChatPay` answers WeChat Pay's HTTP API through `responses` with its documented request and
answer formats: every request's Authorization (WECHATPAY2-SHA256-RSA2048 over method, path with its
query, timestamp, nonce and body) is verified with the merchant's public key; answers carry the
Wechatpay-Signature headers that wechatpayv3 verifies. It remembers trades and refunds: the same
out_trade_no with the same parameters gets the same prepay_id, the same out_refund_no refunds once,
a refund never exceeds the trade, a trade closes only 5 minutes after it was created.
"""

import base64
import gzip
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orders.payments import wechatpay

API = "https://api.mch.weixin.qq.com"
APPID = "wx1234567890abcdef"
APP_SECRET = "app-secret-for-tests"
MCHID = "1900000109"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026112700000000000001"
BASE_URL = "https://shop.example.com"
SHANGHAI = ZoneInfo("Asia/Shanghai")

_generated = {}


def _rsa(name):
    """One key per name per test session (2048-bit generation is slow)."""
    if name not in _generated:
        _generated[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _generated[name]


def private_pem(key, fmt=serialization.PrivateFormat.PKCS8):
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def rsa_sign(key, message):
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key, message, signature):
    key.public_key().verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())


@dataclass
class Keys:
    merchant: object
    platform: object
    apiv3_key: str
    directory: object
    paths: dict = field(default_factory=dict)

    def write(self, name, text):
        path = self.directory / name
        path.write_text(text)
        return str(path)


def make_keys(directory):
    keys = Keys(merchant=_rsa("merchant"), platform=_rsa("platform"), apiv3_key=secrets.token_hex(16),
                directory=directory)
    keys.paths = {
        "merchant": keys.write("apiclient_key.pem", private_pem(keys.merchant)),
        "platform_public": keys.write("pub_key.pem", public_pem(keys.platform)),
    }
    return keys


def configure(settings, keys, **overrides):
    values = dict(
        WECHAT_APP_ID=APPID, WECHAT_APP_SECRET=APP_SECRET, WECHAT_PAY_MCHID=MCHID,
        WECHAT_PAY_APIV3_KEY=keys.apiv3_key, WECHAT_PAY_CERT_SERIAL_NO=MERCHANT_SERIAL,
        WECHAT_PAY_PRIVATE_KEY_PATH=keys.paths["merchant"], WECHAT_PAY_PUBLIC_KEY_PATH=keys.paths["platform_public"],
        WECHAT_PAY_PUBLIC_KEY_ID=PUBLIC_KEY_ID, PAYMENT_NOTIFY_BASE_URL=BASE_URL,
        PAYMENT_GATEWAYS={
            "dev": "orders.payments.dev.DevGateway",
            "wechat_jsapi": "orders.payments.wechatpay.WeChatJsapiGateway",
            "wechat_h5": "orders.payments.wechatpay.WeChatH5Gateway",
            "wechat_native": "orders.payments.wechatpay.WeChatNativeGateway",
        },
    )
    values.update(overrides)
    for name, value in values.items():
        setattr(settings, name, value)
    wechatpay.forget_clients()


@pytest.fixture(name="keys")
def keys_fixture(tmp_path):
    return make_keys(tmp_path)


@pytest.fixture(name="wechat")
def wechat_fixture(settings, keys):
    """WeChat Pay configured with the generated keys (public-key mode)."""
    configure(settings, keys)
    yield keys
    wechatpay.forget_clients()


# --- notices -----------------------------------------------------------------------------------
def encrypt_resource(apiv3_key, payload, *, original_type="transaction", associated_data="transaction"):
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay sends
    plaintext = json.dumps(payload, ensure_ascii=False).encode()
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": associated_data, "nonce": nonce}


def signed_headers(keys, body, *, timestamp=None, nonce=None, serial=PUBLIC_KEY_ID, signing_key=None,
                   signature=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Wechatpay-Signature": signature or rsa_sign(signing_key or keys.platform, f"{timestamp}\n{nonce}\n{text}\n"),
    }


def notice(keys, resource, *, event_type="TRANSACTION.SUCCESS", summary="支付成功", **header_options):
    """(headers, raw body) of a notification as WeChat Pay posts it."""
    original = "refund" if event_type.startswith("REFUND.") else "transaction"
    body = json.dumps({
        "id": str(uuid.uuid4()), "create_time": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
        "resource_type": "encrypt-resource", "event_type": event_type, "summary": summary,
        "resource": encrypt_resource(keys.apiv3_key, resource, original_type=original, associated_data=original),
    }, ensure_ascii=False, separators=(",", ":")).encode()
    return signed_headers(keys, body, **header_options), body


def transaction_resource(attempt, **changes):
    resource = {
        "mchid": MCHID, "appid": APPID, "out_trade_no": attempt.out_trade_no,
        "transaction_id": f"42000{attempt.pk:05d}{secrets.randbelow(10**12):012d}", "trade_type": "JSAPI",
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
        "success_time": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": attempt.amount_fen, "payer_total": attempt.amount_fen, "currency": "CNY",
                   "payer_currency": "CNY"},
    }
    resource.update(changes)
    return resource


def refund_resource(refund, status="SUCCESS", **changes):
    resource = {
        "mchid": MCHID, "out_trade_no": refund.attempt.out_trade_no,
        "transaction_id": refund.attempt.gateway_trade_no or "4200000000000000000000000001",
        "out_refund_no": refund.out_refund_no, "refund_id": f"50300{refund.pk:09d}", "refund_status": status,
        "success_time": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": refund.attempt.amount_fen, "refund": refund.amount_fen,
                   "payer_total": refund.attempt.amount_fen, "payer_refund": refund.amount_fen},
    }
    resource.update(changes)
    return resource


def post_notice(client, headers, body, path="/payments/wechatpay/notify/"):
    """POST a notice through Django's test client with the Wechatpay-* headers."""
    return client.post(path, data=body, content_type="application/json",
                       headers={**headers, "User-Agent": "Mozilla/4.0"})


# --- WeChat Pay's HTTP API ---------------------------------------------------------------------
AUTH = re.compile(r'^WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]+)",nonce_str="(?P<nonce>[^"]+)",'
                  r'signature="(?P<signature>[^"]+)",timestamp="(?P<timestamp>\d+)",serial_no="(?P<serial>[^"]+)"$')


class FakeWeChatPay:
    """WeChat Pay's API v3 under `responses`, with a memory of trades and refunds."""

    def __init__(self, rsps, keys):
        self.rsps, self.keys = rsps, keys
        self.requests = []  # (method, path, body dict) in order
        self.trades = {}  # out_trade_no -> dict
        self.refunds = {}  # out_refund_no -> dict
        self.bill = b""
        self.bill_file = None  # bytes sent instead of the bill's gzip (a tampered download)
        self.query_changes = {}  # fields changed in every query answer
        self.broken_signature = False
        self.lock = threading.Lock()
        for kind in ("jsapi", "h5", "native"):
            rsps.add_callback(responses.POST, f"{API}/v3/pay/transactions/{kind}", callback=self._pay(kind))
        rsps.add_callback(responses.GET, re.compile(rf"{API}/v3/pay/transactions/out-trade-no/[^/?]+\?mchid=\d+$"),
                          callback=self._query)
        rsps.add_callback(responses.POST, re.compile(rf"{API}/v3/pay/transactions/out-trade-no/[^/?]+/close$"),
                          callback=self._close)
        rsps.add_callback(responses.POST, f"{API}/v3/refund/domestic/refunds", callback=self._refund)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/v3/refund/domestic/refunds/[^/?]+$"),
                          callback=self._refund_query)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/v3/bill/tradebill\?.*"), callback=self._trade_bill)
        rsps.add_callback(responses.GET, re.compile(rf"{API}/v3/billdownload/file\?token=\w+$"),
                          callback=self._bill_file)

    # the protocol
    def _verified(self, request):
        """The request's body as a dict, after checking its Authorization against the merchant key."""
        match = AUTH.match(request.headers.get("Authorization", ""))
        assert match, request.headers.get("Authorization")
        assert match["mchid"] == MCHID and match["serial"] == MERCHANT_SERIAL
        parts = urlsplit(request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        rsa_verify(self.keys.merchant, f"{request.method}\n{path}\n{match['timestamp']}\n{match['nonce']}\n{body}\n",
                   match["signature"])
        assert request.headers.get("Wechatpay-Serial") == PUBLIC_KEY_ID  # public-key mode names the key it trusts
        data = json.loads(body) if body else {}
        self.requests.append((request.method, path, data))
        return data

    def answer(self, status, payload=None):
        text = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        headers = signed_headers(self.keys, text)
        if self.broken_signature:
            headers["Wechatpay-Signature"] = rsa_sign(_rsa("stranger"), "nothing")
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return status, headers, text

    @staticmethod
    def error(status, code, message):
        return status, {"Content-Type": "application/json"}, json.dumps({"code": code, "message": message})

    # endpoints
    def _pay(self, kind):
        def callback(request):
            data = self._verified(request)
            assert data["appid"] == APPID and data["mchid"] == MCHID
            assert data["notify_url"] == BASE_URL + "/payments/wechatpay/notify/"
            assert isinstance(data["amount"]["total"], int) and data["amount"]["currency"] == "CNY"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", data["time_expire"]), data["time_expire"]
            with self.lock:
                trade = self.trades.get(data["out_trade_no"])
                if trade is not None and trade["request"] != data:
                    return self.error(400, "INVALID_REQUEST", "201 商户订单号重复")
                if trade is None:
                    trade = self.trades[data["out_trade_no"]] = {
                        "request": data, "kind": kind, "state": "NOTPAY", "created": time.time(),
                        "prepay_id": f"wx{secrets.token_hex(14)}", "transaction_id": "",
                    }
            if kind == "jsapi":
                return self.answer(200, {"prepay_id": trade["prepay_id"]})
            if kind == "h5":
                return self.answer(200, {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id="
                                                   f"{trade['prepay_id']}&package=2150917749"})
            return self.answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade['prepay_id'][-7:]}"})
        return callback

    def pay_trade(self, out_trade_no):
        """The shopper pays at WeChat (what the query will say afterwards)."""
        trade = self.trades[out_trade_no]
        trade["state"] = "SUCCESS"
        trade["transaction_id"] = f"4200{secrets.randbelow(10**24):024d}"
        return trade

    def _query(self, request):
        self._verified(request)
        out_trade_no = urlsplit(request.url).path.rsplit("/", 1)[1]
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self.error(404, "ORDER_NOT_EXIST", "订单不存在")
        body = {
            "appid": APPID, "mchid": MCHID, "out_trade_no": out_trade_no, "trade_state": trade["state"],
            "trade_state_desc": trade["state"], "trade_type": trade["kind"].upper(),
            "amount": {"total": trade["request"]["amount"]["total"], "currency": "CNY"},
        }
        if trade["state"] in ("SUCCESS", "REFUND"):
            body.update(transaction_id=trade["transaction_id"], success_time="2026-11-27T16:00:00+08:00",
                        payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
                        amount={**body["amount"], "payer_total": body["amount"]["total"], "payer_currency": "CNY"})
        return self.answer(200, {**body, **self.query_changes})

    def _close(self, request):
        data = self._verified(request)
        assert data == {"mchid": MCHID}
        out_trade_no = urlsplit(request.url).path.split("/")[-2]
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self.error(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade["state"] == "SUCCESS":
            return self.error(400, "ORDERPAID", "订单已支付")
        if time.time() - trade["created"] < 300 and not trade.get("old"):
            return self.error(400, "INVALID_REQUEST", "订单创建 5 分钟后才可关闭")
        trade["state"] = "CLOSED"
        return self.answer(204)

    def _refund(self, request):
        data = self._verified(request)
        assert data["notify_url"] == BASE_URL + "/payments/wechatpay/refund-notify/"
        amount = data["amount"]
        assert isinstance(amount["refund"], int) and isinstance(amount["total"], int) and amount["currency"] == "CNY"
        with self.lock:
            trade = self.trades.get(data.get("out_trade_no"))
            if trade is None or trade["state"] not in ("SUCCESS", "REFUND"):
                return self.error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            if amount["total"] != trade["request"]["amount"]["total"]:
                return self.error(400, "PARAM_ERROR", "订单金额不符")
            refund = self.refunds.get(data["out_refund_no"])
            if refund is None:
                done = sum(r["amount"] for r in self.refunds.values() if r["out_trade_no"] == data["out_trade_no"])
                if done + amount["refund"] > amount["total"]:
                    return self.error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
                refund = self.refunds[data["out_refund_no"]] = {
                    "out_trade_no": data["out_trade_no"], "amount": amount["refund"], "status": self.next_refund_status,
                    "refund_id": f"5030{secrets.randbelow(10**24):024d}", "request": data,
                }
                trade["state"] = "REFUND"
        return self.answer(200, self._refund_body(data["out_refund_no"]))

    next_refund_status = "PROCESSING"

    def _refund_body(self, out_refund_no):
        refund = self.refunds[out_refund_no]
        total = self.trades[refund["out_trade_no"]]["request"]["amount"]["total"]
        return {
            "refund_id": refund["refund_id"], "out_refund_no": out_refund_no,
            "transaction_id": self.trades[refund["out_trade_no"]]["transaction_id"],
            "out_trade_no": refund["out_trade_no"], "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
            "create_time": "2026-11-27T16:10:00+08:00", "status": refund["status"], "funds_account": "AVAILABLE",
            "amount": {"total": total, "refund": refund["amount"], "payer_total": total,
                       "payer_refund": refund["amount"], "settlement_refund": refund["amount"],
                       "settlement_total": total, "discount_refund": 0, "currency": "CNY"},
        }

    def _refund_query(self, request):
        self._verified(request)
        out_refund_no = urlsplit(request.url).path.rsplit("/", 1)[1]
        if out_refund_no not in self.refunds:
            return self.error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self.answer(200, self._refund_body(out_refund_no))

    def _trade_bill(self, request):
        self._verified(request)
        if not self.bill:
            return self.error(400, "NO_STATEMENT_EXIST", "要下载的账单不存在")
        return self.answer(200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(self.bill).hexdigest(),
                                 "download_url": f"{API}/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2"})

    def _bill_file(self, request):
        self._verified(request)
        content = gzip.compress(self.bill) if self.bill_file is None else self.bill_file
        return 200, {"Content-Type": "application/octet-stream"}, content


@pytest.fixture(name="fake_wechat")
def fake_wechat_fixture(wechat):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeWeChatPay(rsps, wechat)


def trade_bill(lines):
    """An ALL trade bill as WeChat Pay writes it: the header, detail lines whose every field starts
    with a backtick, the summary header and the summary line."""
    header = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
              "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
              "手续费,费率,订单金额,申请退款金额,费率备注")
    rows = [header]
    for line in lines:
        fields = ["2026-11-26 10:00:00", APPID, MCHID, "0", "", line["transaction_id"], line["out_trade_no"],
                  "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "JSAPI", line["state"], "OTHERS", "CNY", line["settled"], "0.00",
                  line.get("refund_id", "0"), line.get("out_refund_no", "0"), line.get("refund", "0.00"), "0.00",
                  "ORIGINAL" if line["state"] == "REFUND" else "", "SUCCESS" if line["state"] == "REFUND" else "",
                  "门店 订单,含逗号", "", "0.00600", "0.60%", line["total"], line.get("asked", "0.00"), ""]
        rows.append(",".join("`" + f for f in fields))
    rows.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
    rows.append(f"`{len(lines)},`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00")
    return ("\r\n".join(rows) + "\r\n").encode()


def old(fake, out_trade_no):
    """Make a fake trade older than 5 minutes (WeChat allows closing it)."""
    fake.trades[out_trade_no]["old"] = True
    return fake.trades[out_trade_no]


def shanghai(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def minutes_ago(minutes):
    return datetime.now(SHANGHAI) - timedelta(minutes=minutes)
