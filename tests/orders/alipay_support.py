"""Alipay as the tests see it: RSA keys generated here (the app's and "Alipay's"), notifications
signed exactly as Alipay signs them, and Alipay's HTTP gateway faked with `responses` at the level
of its documented protocol: the request's RSA2 signature is checked with the app's public key, the
answer is `{"<method>_response": {…}, "sign": …}` signed with Alipay's key over that object's exact
text, which the SDK verifies.

The fake keeps a small memory of trades and refunds so that what Alipay promises can be asserted:
one out_request_no refunds once (a repeat answers fund_change "N"), a refund never exceeds the
trade."""

import base64
import io
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from orders.payments import alipay

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
BASE_URL = "https://shop.example.com"
BILL_URL = "https://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=trade&fileType=csv.zip"


def _pem_private(key, fmt):
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def _pem_public(key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo):
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


@dataclass
class Keys:
    app: object
    alipay: object
    dir: object
    paths: dict = field(default_factory=dict)

    def write(self, name, text):
        path = self.dir / name
        path.write_text(text)
        return str(path)


def make_keys(directory):
    keys = Keys(app=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                alipay=rsa.generate_private_key(public_exponent=65537, key_size=2048), dir=directory)
    keys.paths = {
        "app_pkcs8": keys.write("app_private_pkcs8.pem", _pem_private(keys.app, serialization.PrivateFormat.PKCS8)),
        "app_pkcs1": keys.write("app_private_pkcs1.pem",
                                _pem_private(keys.app, serialization.PrivateFormat.TraditionalOpenSSL)),
        "app_public": keys.write("app_public.pem", _pem_public(keys.app)),
        "alipay_public": keys.write("alipay_public.pem", _pem_public(keys.alipay)),
        "alipay_public_pkcs1": keys.write("alipay_public_pkcs1.pem",
                                          _pem_public(keys.alipay, serialization.PublicFormat.PKCS1)),
    }
    return keys


def rsa2_sign(private_key, text):
    return base64.b64encode(private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(private_key, text, signature):
    try:
        private_key.public_key().verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001 - InvalidSignature or bad base64: not signed by that key
        return False
    return True


def signing_string(fields, *, request=False):
    """Alipay's string to sign, `k=v` sorted and joined by `&`: a notification's every field but sign
    and sign_type; a request's every parameter but sign (its sign_type included)."""
    left_out = ("sign",) if request else ("sign", "sign_type")
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in left_out)


def sign_notice(keys, fields, *, key=None):
    fields = dict(fields)
    fields["sign_type"] = "RSA2"
    fields["sign"] = rsa2_sign(key or keys.alipay, signing_string(fields))
    return fields


def notice_fields(attempt, *, trade_status="TRADE_SUCCESS", total_amount=None, trade_no="2026100322001400000000000001",
                  notify_id="2026100300222100030000000001", **extra):
    """The fields of Alipay's trade_status_sync notification for `attempt` (not yet signed)."""
    now = timezone.localtime(timezone.now(), alipay.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    amount = total_amount if total_amount is not None else f"{Decimal(attempt.amount_fen) / 100:.2f}"
    fields = {
        "gmt_create": now, "charset": "utf-8", "seller_email": "shop@example.com", "subject": "订单",
        "buyer_id": "2088102177846880", "invoice_amount": amount, "notify_id": notify_id,
        "fund_bill_list": json.dumps([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")),
        "notify_type": "trade_status_sync", "trade_status": trade_status, "receipt_amount": amount,
        "app_id": APP_ID, "buyer_pay_amount": amount, "seller_id": SELLER_ID, "gmt_payment": now,
        "notify_time": now, "version": "1.0", "out_trade_no": attempt.out_trade_no, "total_amount": amount,
        "trade_no": trade_no, "auth_app_id": APP_ID, "point_amount": "0.00",
    }
    fields.update(extra)
    return fields


def configure(settings, keys, *, app_key="app_pkcs8", alipay_key="alipay_public"):
    settings.ALIPAY_APP_ID = APP_ID
    settings.ALIPAY_SELLER_ID = SELLER_ID
    settings.ALIPAY_APP_PRIVATE_KEY_PATH = keys.paths[app_key]
    settings.ALIPAY_PUBLIC_KEY_PATH = keys.paths[alipay_key]
    settings.ALIPAY_SANDBOX = False
    settings.PAYMENT_NOTIFY_BASE_URL = BASE_URL
    settings.PAYMENT_GATEWAYS = {"dev": "orders.payments.dev.DevGateway",
                                 "alipay_wap": "orders.payments.alipay.AlipayWapGateway"}


def yuan(fen):
    return f"{Decimal(fen) / 100:.2f}"


def fen(text):
    return int(Decimal(text) * 100)


class FakeAlipay:
    """Alipay's gateway: checks each request's signature and answers as the documentation shows.

    `trades` {out_trade_no: {"status", "total_amount", "trade_no"}}; a trade absent here is
    ACQ.TRADE_NOT_EXIST. `refunds` {out_request_no: fen}. `answers` {method: dict or callable(biz)}
    overrides the modelled answer; `fail_next` {method: exception} raises once (a timeout)."""

    def __init__(self, mock, keys):
        self.mock, self.keys = mock, keys
        self.trades, self.refunds, self.answers, self.fail_next = {}, {}, {}, {}
        self.calls, self.bad_signatures = [], []
        self.tamper_answers = False
        self.money_back = 0  # fen actually refunded (once per out_request_no)
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, re.compile(re.escape(alipay.GATEWAY_URL) + r"\?.*"), callback=self._answer)

    def paid(self, attempt, *, trade_no="2026100322001400000000000001", status="TRADE_SUCCESS", amount_fen=None):
        self.trades[attempt.out_trade_no] = {"status": status, "trade_no": trade_no,
                                             "total_amount": yuan(amount_fen or attempt.amount_fen)}

    def methods(self):
        return [method for method, _ in self.calls]

    def _answer(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        body = dict(parse_qsl(request.body if isinstance(request.body, str) else (request.body or b"").decode(),
                              keep_blank_values=True))
        params = {**query, **body}
        assert set(body) == {"biz_content"}, "biz_content goes in the form body, the rest in the query string"
        assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        if not rsa2_verify(self.keys.app, signing_string(params, request=True), params.get("sign", "")):
            self.bad_signatures.append(params)
            return 200, {}, json.dumps({"error_response": {"code": "40002", "msg": "Invalid Arguments",
                                                           "sub_code": "isv.invalid-signature"}})
        assert params["app_id"] == APP_ID and params["sign_type"] == "RSA2" and params["charset"] == "utf-8"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", params["timestamp"])
        method, biz = params["method"], json.loads(params["biz_content"])
        with self._lock:
            self.calls.append((method, biz))
            failure = self.fail_next.pop(method, None)
        if failure is not None:
            raise failure
        answer = self.answers.get(method)
        if callable(answer):
            answer = answer(biz)
        if answer is None:
            answer = getattr(self, "_" + method.replace(".", "_"))(biz)
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        sign = rsa2_sign(self.keys.alipay, inner)
        if self.tamper_answers:
            inner = inner.replace('"10000"', '"10000" ', 1)
        key = method.replace(".", "_") + "_response"
        return 200, {"Content-Type": "text/html;charset=utf-8"}, f'{{"{key}":{inner},"sign":"{sign}"}}'

    @staticmethod
    def _business_failure(sub_code, sub_msg=""):
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _alipay_trade_query(self, biz):
        trade = self.trades.get(biz.get("out_trade_no"))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return {"code": "10000", "msg": "Success", "buyer_logon_id": "159****5620", "buyer_pay_amount": "0.00",
                "buyer_user_id": "2088101117955611", "invoice_amount": "0.00", "out_trade_no": biz["out_trade_no"],
                "point_amount": "0.00", "receipt_amount": "0.00", "send_pay_date": "2026-10-03 10:00:05",
                "total_amount": trade["total_amount"], "trade_no": trade["trade_no"], "trade_status": trade["status"]}

    def _alipay_trade_close(self, biz):
        trade = self.trades.get(biz.get("out_trade_no"))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade["status"] != "WAIT_BUYER_PAY":
            return self._business_failure("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade["status"] = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"], "out_trade_no": biz["out_trade_no"]}

    def _alipay_trade_refund(self, biz):
        trade = self.trades.get(biz.get("out_trade_no"))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        assert re.fullmatch(r"\d+\.\d\d", biz["refund_amount"]), "refund_amount is a yuan string"
        amount, request_no = fen(biz["refund_amount"]), biz["out_request_no"]
        with self._lock:
            if request_no in self.refunds:
                if self.refunds[request_no] != amount:
                    return self._business_failure("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
                changed = "N"
            else:
                if sum(self.refunds.get(k, 0) for k in self._refunds_of(biz["out_trade_no"])) + amount > \
                        fen(trade["total_amount"]):
                    return self._business_failure("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
                self.refunds[request_no] = amount
                trade.setdefault("requests", []).append(request_no)
                self.money_back += amount
                changed = "Y"
            total = sum(self.refunds[k] for k in self._refunds_of(biz["out_trade_no"]))
        return {"code": "10000", "msg": "Success", "buyer_logon_id": "159****5620", "buyer_user_id": "2088101117955611",
                "fund_change": changed, "gmt_refund_pay": "2026-10-03 11:00:00", "out_trade_no": biz["out_trade_no"],
                "refund_fee": yuan(total), "send_back_fee": "0.00", "trade_no": trade["trade_no"]}

    def _refunds_of(self, out_trade_no):
        return self.trades.get(out_trade_no, {}).get("requests", [])

    def _alipay_trade_fastpay_refund_query(self, biz):
        trade = self.trades.get(biz.get("out_trade_no"))
        if trade is None:
            return self._business_failure("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if biz["out_request_no"] not in self.refunds:
            return {"code": "10000", "msg": "Success"}  # no such refund: nothing but the code
        return {"code": "10000", "msg": "Success", "out_request_no": biz["out_request_no"],
                "out_trade_no": biz["out_trade_no"], "refund_amount": yuan(self.refunds[biz["out_request_no"]]),
                "refund_status": "REFUND_SUCCESS", "total_amount": trade["total_amount"], "trade_no": trade["trade_no"]}

    def _alipay_data_dataservice_bill_downloadurl_query(self, biz):
        assert biz["bill_type"] == "trade" and re.fullmatch(r"\d{4}-\d\d-\d\d", biz["bill_date"])
        return {"code": "10000", "msg": "Success", "bill_download_url": BILL_URL}


BILL_HEADER = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
               "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
               "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")


def bill_line(trade_no, out_trade_no, kind, amount, *, request_no="", finished="2026-10-03 10:00:30", subject="订单",
              remark=""):
    """One 业务明细 line as Alipay writes it: unquoted cells, long numbers padded with a tab."""
    cells = [f"{trade_no}\t", f"{out_trade_no}\t", kind, subject, "2026-10-03 10:00:00", finished, "", "", "", "",
             "159****5620", amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
             f"{request_no}\t" if request_no else "", "-0.01" if kind == "交易" else "0.01", "0.00", remark]
    return ",".join(cells)


def bill_zip(lines, *, day="20261003", payments=None, refunds=None, gbk_names=True):
    """Alipay's bill archive: the 业务明细 file and its 汇总, GBK, with GBK file names (no UTF-8 flag)."""
    payments = sum(",交易," in line for line in lines) if payments is None else payments
    refunds = sum(",退款," in line for line in lines) if refunds is None else refunds
    detail = "\r\n".join([
        "#支付宝业务明细查询", "#账号：[20880000000000010156]",
        f"#起始日期：[{day[:4]}年{day[4:6]}月{day[6:]}日 00:00:00]   终止日期：[{day[:4]}年{day[4:6]}月{day[6:]}日 23:59:59]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        BILL_HEADER, *lines,
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{payments}笔，商家实收共0.00元，商家优惠共0.00元",
        f"#退款合计：{refunds}笔，商家实收退款共0.00元，商家优惠退款共0.00元",
        "#导出时间：[2026年10月04日 03:47:10]",
    ]) + "\r\n"
    summary = "\r\n".join([
        "#支付宝业务汇总查询", "#账号：[20880000000000010156]",
        "#-----------------------------------------业务汇总列表----------------------------------------",
        "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）",
        f"合计,,{payments},{refunds},0.00,0.00",
        "#----------------------------------------业务汇总列表结束-------------------------------------",
    ]) + "\r\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for suffix, text in (("业务明细(汇总)", summary), ("业务明细", detail)):
            name = f"20880000000000010156_{day}_{suffix}.csv"
            info = _GbkName(name) if gbk_names else zipfile.ZipInfo(name)
            archive.writestr(info, text.encode("gbk"))
    return buffer.getvalue()


class _GbkName(zipfile.ZipInfo):
    """A member named in GBK without the UTF-8 flag, as Alipay's archives are."""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's name
        return self.filename.encode("gbk"), self.flag_bits


# --- fixtures (test modules import the *_fixture names) ----------------------------------------------------------
@pytest.fixture(name="alipay_keys", scope="session")
def alipay_keys_fixture(tmp_path_factory):
    return make_keys(tmp_path_factory.mktemp("alipay-keys"))


@pytest.fixture(name="alipay_on")
def alipay_on_fixture(settings, alipay_keys):
    configure(settings, alipay_keys)
    return alipay_keys


@pytest.fixture(name="fake_alipay")
def fake_alipay_fixture(alipay_on):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeAlipay(mock, alipay_on)
