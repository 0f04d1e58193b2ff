"""WeChat Pay's notifications at /payments/wechatpay/notify/ and /payments/wechatpay/refund-notify/,
signed and encrypted exactly as WeChat Pay does (tests.orders.wechatpay_support). A notice is
believed only when every check holds; anything else is refused in a way WeChat Pay understands
({"code": "FAIL"} with a 4xx/5xx, so it retries) and changes nothing."""

import json
import time
from datetime import UTC
from decimal import Decimal

import pytest
import responses

from orders.models import Order, PaymentAttempt, PaymentEvent, Refund
from orders.payments import wechatpay
from orders.payments.services import create_refund, start_payment
from orders.payments.wechat_views import handle_pay_notice, handle_refund_notice
from orders.services.base import lock_order
from stores.models import StoreNotification

from .factories import checkout, make_order_staff
from .wechatpay_support import (  # noqa: F401 - the *_fixture names are fixtures
    APPID,
    MCHID,
    PUBLIC_KEY_ID,
    keys_fixture,
    notice,
    post_notice,
    refund_resource,
    signed_headers,
    transaction_resource,
    wechat_fixture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt(wechat, store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    return start_payment(order, user=shopper, channel="wechat_native", mobile=False)


def state(attempt):
    """Everything a notice could change, to compare before and after a refusal."""
    order = Order.objects.get(pk=attempt.order_id)
    return (
        order.status, order.paid_amount, PaymentAttempt.objects.get(pk=attempt.pk).state,
        sorted(PaymentEvent.objects.filter(attempt=attempt).values_list("kind", flat=True)),
        Refund.objects.filter(order=order).count(), order.events.count(),
    )


def refused(client, attempt, headers, body, status):
    before = state(attempt)
    response = post_notice(client, headers, body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == "FAIL" and response.json()["message"]
    assert state(attempt) == before
    return response


# --- the happy path, and repeats -------------------------------------------------------------
def test_a_verified_notice_marks_the_order_paid_and_answers_204_without_body(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt))
    response = post_notice(client, headers, body)
    assert response.status_code == 204 and response.content == b""
    order = Order.objects.get(pk=attempt.order_id)
    paid = PaymentAttempt.objects.get(pk=attempt.pk)
    assert order.status == Order.Status.PAID and order.paid_amount == Decimal("25.50")
    assert paid.state == "succeeded" and paid.payer_reference == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert paid.gateway_trade_no == json.loads(_decrypt(body, wechat))["transaction_id"]
    assert PaymentEvent.objects.filter(attempt=attempt, kind="notified").count() == 1


def test_the_same_notice_again_is_acknowledged_and_changes_nothing(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt))
    assert post_notice(client, headers, body).status_code == 204
    before = state(attempt)
    for _ in range(3):
        again_headers, _same = signed_headers(wechat, body), body
        assert post_notice(client, again_headers, body).status_code == 204
    assert state(attempt) == before
    assert Order.objects.get(pk=attempt.order_id).events.filter(to_status="paid").count() == 1


def test_a_repeat_is_answered_from_one_read_without_locking_anything(wechat, client, attempt,
                                                                    django_assert_num_queries):
    headers, body = notice(wechat, transaction_resource(attempt))
    assert handle_pay_notice(headers, body) == (204, None)
    with django_assert_num_queries(1):
        assert handle_pay_notice(headers, body) == (204, None)
    changed = json.loads(_decrypt(body, wechat))
    changed["amount"] = {"total": 1, "currency": "CNY"}
    headers, body = notice(wechat, changed)  # same transaction, another amount: not a repeat
    assert handle_pay_notice(headers, body)[0] == 400
    assert PaymentEvent.objects.filter(attempt=attempt, kind="amount_mismatch").count() == 1


def test_the_handler_takes_the_headers_as_any_mapping(wechat, attempt):
    headers, body = notice(wechat, transaction_resource(attempt))
    assert handle_pay_notice(headers, body) == (204, None)


def test_a_notice_for_a_cancelled_order_is_taken_and_refunded_with_staff_told(wechat, client, attempt, store):
    make_order_staff(store)
    Order.objects.filter(pk=attempt.order_id).update(status=Order.Status.CANCELLED)
    headers, body = notice(wechat, transaction_resource(attempt))
    assert post_notice(client, headers, body).status_code == 204
    refund = Refund.objects.get(order_id=attempt.order_id)
    assert refund.cause == Refund.Cause.LATE_PAYMENT and refund.amount_fen == attempt.amount_fen
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.CANCELLED
    assert StoreNotification.objects.filter(kind="late_payment").exists()


# --- forged, replayed, probes -------------------------------------------------------------------
def test_a_forged_signature_is_refused(wechat, client, attempt):
    from .wechatpay_support import _rsa

    headers, body = notice(wechat, transaction_resource(attempt), signing_key=_rsa("forger"))
    refused(client, attempt, headers, body, 401)


def test_a_tampered_body_is_refused(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt))
    tampered = body.replace(b'"summary":"\xe6\x94\xaf\xe4\xbb\x98\xe6\x88\x90\xe5\x8a\x9f"', b'"summary":"paid"')
    assert tampered != body
    refused(client, attempt, headers, tampered, 401)


def test_a_re_serialised_body_is_refused(wechat, client, attempt):
    """The signature covers the raw bytes: the same JSON written differently is not what was signed."""
    headers, body = notice(wechat, transaction_resource(attempt))
    refused(client, attempt, headers, json.dumps(json.loads(body), indent=1).encode(), 401)


def test_a_signtest_probe_gets_the_same_refusal_as_any_bad_signature(wechat, client, attempt):
    keys = wechat
    headers, body = notice(keys, transaction_resource(attempt), signature="WECHATPAY/SIGNTEST/" + "A" * 40)
    probe = refused(client, attempt, headers, body, 401)
    headers, body = notice(keys, transaction_resource(attempt), signature="bm90IGEgc2lnbmF0dXJl")
    bad = refused(client, attempt, headers, body, 401)
    assert probe.json() == bad.json()


def test_a_stale_timestamp_is_a_replay_and_refused(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt), timestamp=int(time.time()) - 301)
    refused(client, attempt, headers, body, 401)
    headers, body = notice(wechat, transaction_resource(attempt), timestamp=int(time.time()) + 301)
    refused(client, attempt, headers, body, 401)


def test_a_timestamp_that_is_not_a_number_is_refused(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt), timestamp="１７００００００００")
    refused(client, attempt, headers, body, 401)


def test_an_unknown_serial_is_refused_without_any_network_call(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt),
                           serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
    with responses.RequestsMock():  # nothing registered: a certificate download would fail the test
        refused(client, attempt, headers, body, 401)


@pytest.mark.parametrize("missing", ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce",
                                     "Wechatpay-Serial"])
def test_missing_headers_are_refused(wechat, client, attempt, missing):
    headers, body = notice(wechat, transaction_resource(attempt))
    del headers[missing]
    refused(client, attempt, headers, body, 400)


def test_another_signature_algorithm_is_refused(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt))
    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    refused(client, attempt, headers, body, 401)


def test_a_resource_encrypted_with_another_apiv3_key_is_refused(wechat, client, attempt, settings):
    keys = wechat
    headers, body = notice(keys, transaction_resource(attempt))
    settings.WECHAT_PAY_APIV3_KEY = "0" * 32
    refused(client, attempt, headers, body, 401)


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"resource": "x"}', b"\xff\xfe",
                                  b'{"resource_type": "encrypt-resource", "resource": {"algorithm": "RC4", '
                                  b'"nonce": "a", "ciphertext": "b"}}'])
def test_a_malformed_body_signed_by_wechat_is_refused(wechat, client, attempt, body):
    headers = signed_headers(wechat, body.decode("latin-1")) if body != b"\xff\xfe" else \
        signed_headers(wechat, "x")
    before = state(attempt)
    response = post_notice(client, headers, body)
    assert 400 <= response.status_code < 500 and response.json()["code"] == "FAIL"
    assert state(attempt) == before


def test_a_get_is_refused_as_fail(wechat, client, attempt):
    response = client.get("/payments/wechatpay/notify/")
    assert response.status_code == 405 and response.json()["code"] == "FAIL"


def test_nothing_is_believed_while_wechat_pay_is_not_configured(wechat, client, attempt, settings):
    headers, body = notice(wechat, transaction_resource(attempt))
    settings.WECHAT_PAY_MCHID = ""
    refused(client, attempt, headers, body, 404)


# --- verified, but not for us ----------------------------------------------------------------
@pytest.mark.parametrize("changes", [{"mchid": "1900000999"}, {"appid": "wx0000000000000000"}])
def test_a_notice_for_another_merchant_or_app_is_refused(wechat, client, attempt, changes):
    headers, body = notice(wechat, transaction_resource(attempt, **changes))
    refused(client, attempt, headers, body, 400)


def test_an_unknown_out_trade_no_is_refused(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt, out_trade_no="NOTOURS0001P01"))
    refused(client, attempt, headers, body, 404)


def test_a_trade_of_another_channel_is_not_wechats(wechat, client, attempt):
    PaymentAttempt.objects.filter(pk=attempt.pk).update(channel="dev")
    headers, body = notice(wechat, transaction_resource(attempt))
    refused(client, attempt, headers, body, 404)


def test_a_notice_without_transaction_id_is_refused(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt, transaction_id=""))
    refused(client, attempt, headers, body, 400)


@pytest.mark.parametrize("amount", [
    {"total": 25.5, "currency": "CNY"},  # yuan where fen is expected
    {"total": 25, "currency": "CNY"},
    {"total": "2550", "currency": "CNY"},
    {"total": 2549, "currency": "CNY"},
    {"total": 2550, "currency": "USD"},
    {"total": True, "currency": "CNY"},
])
def test_an_amount_that_is_not_the_attempts_fen_is_recorded_for_staff_but_never_paid(wechat, client,
        attempt, store, amount):
    make_order_staff(store)
    headers, body = notice(wechat, transaction_resource(attempt, amount=amount))
    response = post_notice(client, headers, body)
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    order = Order.objects.get(pk=attempt.order_id)
    assert order.status == Order.Status.PENDING_PAYMENT and order.paid_amount == 0
    assert PaymentAttempt.objects.get(pk=attempt.pk).state == "pending"
    assert PaymentEvent.objects.filter(attempt=attempt, kind="amount_mismatch").count() == 1
    assert not PaymentEvent.objects.filter(attempt=attempt, kind__in=["notified", "succeeded"]).exists()
    assert StoreNotification.objects.filter(kind="payment_mismatch").count() == 1
    post_notice(client, *notice(wechat, json.loads(_decrypt(body, wechat))))  # WeChat retries
    assert StoreNotification.objects.filter(kind="payment_mismatch").count() == 1  # told once


def test_a_trade_state_other_than_success_changes_nothing(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt, trade_state="NOTPAY"))
    before = state(attempt)
    assert post_notice(client, headers, body).status_code == 204
    assert state(attempt) == before


# --- refund notices --------------------------------------------------------------------------
@pytest.fixture
def refund(wechat, client, attempt):
    headers, body = notice(wechat, transaction_resource(attempt))
    assert post_notice(client, headers, body).status_code == 204
    order = lock_order(attempt.order_id)
    return _refund_in_flight(order, attempt)


def _refund_in_flight(order, attempt):
    """A refund the worker sent to WeChat Pay, which said PROCESSING."""
    from django.db import transaction

    with transaction.atomic():
        order = lock_order(order.pk)
        line = order.lines.get()
        made = create_refund(order, amount=Decimal("25.50"), cause=Refund.Cause.AFTER_SALE,
                             lines={line.pk: (1, Decimal("25.50"))}, attempt=PaymentAttempt.objects.get(pk=attempt.pk))
    Refund.objects.filter(pk=made.pk).update(state=Refund.State.PROCESSING, gateway_refund_id="50300000001")
    return Refund.objects.select_related("attempt").get(pk=made.pk)


@pytest.fixture(autouse=True)
def _refunds_wait(monkeypatch):
    """Refunds stay in flight (the worker would call WeChat Pay): the notices are what the tests send."""
    from orders import tasks

    monkeypatch.setattr(tasks.execute_refund, "apply_async", lambda *a, **k: None)  # as enqueue_on_commit sends it


def post_refund_notice(client, headers, body):
    return post_notice(client, headers, body, path="/payments/wechatpay/refund-notify/")


def refund_notice(wechat, refund, status="SUCCESS", **changes):
    return notice(wechat, refund_resource(refund, status, **changes),
                  event_type=f"REFUND.{status}", summary="退款成功")


def test_refund_success_is_applied_once_however_often_it_comes(wechat, client, refund):
    headers, body = refund_notice(wechat, refund)
    assert post_refund_notice(client, headers, body).status_code == 204
    order = Order.objects.get(pk=refund.order_id)
    assert Refund.objects.get(pk=refund.pk).state == "succeeded" and order.refunded_amount == Decimal("25.50")
    assert order.status == Order.Status.CLOSED
    for _ in range(2):
        assert post_refund_notice(client, *refund_notice(wechat, refund)).status_code == 204
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("25.50")
    assert PaymentEvent.objects.filter(kind="refund_succeeded").count() == 1


def test_refund_closed_is_final_and_gives_the_amount_back(wechat, client, refund, store):
    make_order_staff(store)
    assert post_refund_notice(client, *refund_notice(wechat, refund, "CLOSED")).status_code == 204
    assert Refund.objects.get(pk=refund.pk).state == "failed"
    assert PaymentAttempt.objects.get(pk=refund.attempt_id).refund_committed_fen == 0
    assert StoreNotification.objects.filter(kind="refund_failed").count() == 1


def test_refund_abnormal_lands_in_the_staff_queue(wechat, client, refund, store):
    make_order_staff(store)
    assert post_refund_notice(client, *refund_notice(wechat, refund, "ABNORMAL")).status_code == 204
    assert Refund.objects.get(pk=refund.pk).state == "abnormal"
    assert StoreNotification.objects.filter(kind="refund_abnormal").count() == 1


def test_an_out_of_order_notice_after_success_changes_nothing(wechat, client, refund):
    assert post_refund_notice(client, *refund_notice(wechat, refund)).status_code == 204
    order = Order.objects.get(pk=refund.order_id)
    events = PaymentEvent.objects.count()
    for status in ("ABNORMAL", "CLOSED", "SUCCESS"):
        assert post_refund_notice(client, *refund_notice(wechat, refund, status)).status_code == 204
    assert Refund.objects.get(pk=refund.pk).state == "succeeded" and PaymentEvent.objects.count() == events
    assert Order.objects.get(pk=refund.order_id).refunded_amount == order.refunded_amount


def test_refund_notice_routed_by_event_type_even_at_the_payment_url(wechat, client, refund):
    headers, body = refund_notice(wechat, refund)
    assert handle_pay_notice(headers, body) == (204, None)
    assert Refund.objects.get(pk=refund.pk).state == "succeeded"


@pytest.mark.parametrize("changes", [
    {"out_refund_no": "NOTOURS-R01"},
    {"mchid": "1900000999"},
    {"out_trade_no": "SOMEONEP01"},
    {"amount": {"total": 2550, "refund": 2549, "payer_total": 2550, "payer_refund": 2549}},
    {"amount": {"total": 25.5, "refund": 25.5, "payer_total": 2550, "payer_refund": 2550}},
    {"refund_status": "CLOSED"},  # says closed in a REFUND.SUCCESS notice
])
def test_a_refund_notice_that_does_not_match_is_refused(wechat, client, refund, changes):
    headers, body = refund_notice(wechat, refund, **changes)
    before = (Refund.objects.get(pk=refund.pk).state, PaymentEvent.objects.count())
    response = post_refund_notice(client, headers, body)
    assert response.status_code in (400, 404) and response.json()["code"] == "FAIL"
    assert (Refund.objects.get(pk=refund.pk).state, PaymentEvent.objects.count()) == before


def test_a_forged_refund_notice_is_refused(wechat, client, refund):
    from .wechatpay_support import _rsa

    headers, body = notice(wechat, refund_resource(refund), event_type="REFUND.SUCCESS",
                           signing_key=_rsa("forger"))
    assert handle_refund_notice(headers, body)[0] == 401
    assert Refund.objects.get(pk=refund.pk).state == "processing"


def test_an_unknown_refund_event_is_refused(wechat, client, refund):
    headers, body = notice(wechat, refund_resource(refund), event_type="REFUND.MAYBE")
    assert post_refund_notice(client, headers, body).status_code == 400
    assert Refund.objects.get(pk=refund.pk).state == "processing"


# --- helpers -----------------------------------------------------------------------------------
def _decrypt(body, wechat):
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    resource = json.loads(body)["resource"]
    return AESGCM(wechat.apiv3_key.encode()).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), resource["associated_data"].encode())


def test_constants_match_the_support(wechat):
    assert (APPID, MCHID, PUBLIC_KEY_ID) and wechatpay.NOTICE_MAX_SKEW == 300


# --- platform-certificate mode ----------------------------------------------------------------------
def platform_certificate(key, serial):
    from datetime import datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(serial).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_mode_verifies_with_the_downloaded_platform_certificate(wechat, client, attempt, settings):
    from .wechatpay_support import API, _rsa, encrypt_resource

    settings.WECHAT_PAY_PUBLIC_KEY_PATH = settings.WECHAT_PAY_PUBLIC_KEY_ID = ""
    serial = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E2
    encrypted = encrypt_resource(wechat.apiv3_key, {}, original_type="certificate", associated_data="certificate")
    pem = platform_certificate(_rsa("platform"), serial)
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    encrypted["ciphertext"] = base64.b64encode(AESGCM(wechat.apiv3_key.encode()).encrypt(
        encrypted["nonce"].encode(), pem.encode(), b"certificate")).decode()
    listing = {"data": [{"serial_no": format(serial, "X"), "effective_time": "2026-01-01T00:00:00+08:00",
                         "expire_time": "2030-01-01T00:00:00+08:00", "encrypt_certificate": encrypted}]}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{API}/v3/certificates", json=listing)
        headers, body = notice(wechat, transaction_resource(attempt), serial="1234ABCD")  # not one we hold
        refused(client, attempt, headers, body, 401)
        assert len(rsps.calls) == 1  # the client was built (certificates downloaded) once, nothing more
        headers, body = notice(wechat, transaction_resource(attempt), serial=format(serial, "X"))
        assert post_notice(client, headers, body).status_code == 204
        assert len(rsps.calls) == 1
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PAID
