"""Alipay's asynchronous notification at /payments/alipay/notify/, posted as Alipay posts it (a form,
no login, no CSRF token) and signed as Alipay signs it (RSA2 with "Alipay's" key over every field but
sign and sign_type). Only a verified notice of our app and seller about one of our attempts pays;
every refusal answers `fail` and changes nothing."""

from decimal import Decimal

import pytest
from django.test import Client

from orders.models import Order, PaymentAttempt, PaymentEvent, Refund
from orders.payments.services import create_refund, execute_refund, start_payment
from orders.services import cancel_order, lock_order
from stores.models import StoreNotification

from .alipay_support import (  # noqa: F401 - the *_fixture names are fixtures
    alipay_keys_fixture,
    alipay_on_fixture,
    fake_alipay_fixture,
    notice_fields,
    rsa2_sign,
    sign_notice,
    signing_string,
)
from .factories import checkout

pytestmark = pytest.mark.django_db
URL = "/payments/alipay/notify/"


@pytest.fixture
def attempt(fake_alipay, store, shopper, tea):
    order = checkout(shopper, store, [(tea, 1)])
    attempt = start_payment(order, user=shopper, channel="alipay_wap")
    fake_alipay.paid(attempt)  # so refunds and queries of it find the trade at "Alipay"
    return attempt


def post(fields):
    client = Client(enforce_csrf_checks=True)
    response = client.post(URL, fields)
    return response.status_code, response.content.decode()


def snapshot(attempt):
    """Everything a notice could change."""
    order = Order.objects.get(pk=attempt.order_id)
    row = PaymentAttempt.objects.get(pk=attempt.pk)
    return (order.status, order.paid_at, order.refunded_amount, row.state, row.gateway_trade_no,
            PaymentEvent.objects.filter(order_id=order.pk).count(), Refund.objects.filter(order_id=order.pk).count(),
            StoreNotification.objects.count())


def test_a_verified_notice_pays_the_order_and_answers_success(attempt, fake_alipay):
    fields = sign_notice(fake_alipay.keys, notice_fields(attempt, trade_no="2026100322001400000000000077"))
    assert post(fields) == (200, "success")
    order = Order.objects.get(pk=attempt.order_id)
    assert order.status == Order.Status.PAID and order.paid_amount == Decimal("25.50")
    attempt.refresh_from_db()
    assert attempt.state == PaymentAttempt.State.SUCCEEDED
    assert attempt.gateway_trade_no == "2026100322001400000000000077" and attempt.payer_reference == "2088102177846880"
    notified = PaymentEvent.objects.get(attempt=attempt, kind=PaymentEvent.Kind.NOTIFIED)
    assert notified.detail["notify_id"] == fields["notify_id"] and notified.amount_fen == 2550


def test_the_same_notice_again_changes_nothing_and_still_answers_success(attempt, fake_alipay):
    fields = sign_notice(fake_alipay.keys, notice_fields(attempt))
    assert post(fields) == (200, "success")
    before = snapshot(attempt)
    for _ in range(3):
        assert post(fields) == (200, "success")
    assert snapshot(attempt) == before
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.SUCCEEDED).count() == 1
    assert Order.objects.get(pk=attempt.order_id).events.filter(to_status="paid").count() == 1


def forged(keys, attempt):
    """Each a notice that must be refused, and why."""
    good = notice_fields(attempt)
    signed = sign_notice(keys, good)
    cases = {
        "no sign": {k: v for k, v in signed.items() if k != "sign"},
        "empty sign": {**signed, "sign": ""},
        "signed by another key": sign_notice(keys, good, key=keys.app),
        "amount changed after signing": {**signed, "total_amount": "0.01"},
        "trade changed after signing": {**signed, "trade_no": "2026100322001499999999999999"},
        "status changed after signing": {**sign_notice(keys, {**good, "trade_status": "WAIT_BUYER_PAY"}),
                                         "trade_status": "TRADE_SUCCESS"},
        "a field added after signing": {**signed, "refund_fee": ""},
        "sign_type RSA": {**signed, "sign_type": "RSA"},
        "not base64": {**signed, "sign": "%%%not-base64%%%"},
        "another app": sign_notice(keys, {**good, "app_id": "2021000000009999"}),
        "another seller": sign_notice(keys, {**good, "seller_id": "2088000000009999"}),
        "no seller": sign_notice(keys, {k: v for k, v in good.items() if k != "seller_id"}),
        "unknown out_trade_no": sign_notice(keys, {**good, "out_trade_no": attempt.out_trade_no[:-2] + "99"}),
        "no trade_no": sign_notice(keys, {**good, "trade_no": ""}),
        "unknown status": sign_notice(keys, {**good, "trade_status": "TRADE_PENDING"}),
    }
    return cases


FORGED = [
    "no sign", "empty sign", "signed by another key", "amount changed after signing", "trade changed after signing",
    "status changed after signing", "a field added after signing", "sign_type RSA", "not base64", "another app",
    "another seller", "no seller", "unknown out_trade_no", "no trade_no", "unknown status",
]


def test_every_forged_case_is_tried(fake_alipay, attempt):
    assert sorted(forged(fake_alipay.keys, attempt)) == sorted(FORGED)


@pytest.mark.parametrize("case", FORGED)
def test_a_notice_that_is_not_alipays_word_about_our_trade_is_refused(attempt, fake_alipay, case):
    before = snapshot(attempt)
    assert post(forged(fake_alipay.keys, attempt)[case]) == (400, "fail")
    assert snapshot(attempt) == before


def test_a_notice_for_another_channels_attempt_is_refused(fake_alipay, store, shopper, tea, settings):
    settings.PAYMENT_DEV_GATEWAY = True
    order = checkout(shopper, store, [(tea, 1)])
    other = start_payment(order, user=shopper, channel="dev")
    assert post(sign_notice(fake_alipay.keys, notice_fields(other))) == (400, "fail")
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING_PAYMENT


@pytest.mark.parametrize("amount", ["2550", "25.5", "25.49", "25.51", "0.01"])
def test_another_amount_is_recorded_and_told_to_staff_but_never_pays(attempt, fake_alipay, manager, amount):
    fields = sign_notice(fake_alipay.keys, notice_fields(attempt, total_amount=amount))
    assert post(fields) == (400, "fail")
    assert post(fields) == (400, "fail")  # Alipay's retry: recorded and told once
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PENDING_PAYMENT
    assert PaymentAttempt.objects.get(pk=attempt.pk).state == PaymentAttempt.State.PENDING
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.AMOUNT_MISMATCH).count() == 1
    assert StoreNotification.objects.filter(user=manager, kind="payment_mismatch").count() == 1


def test_trade_finished_pays_an_attempt_whose_success_notice_was_lost(attempt, fake_alipay):
    assert post(sign_notice(fake_alipay.keys, notice_fields(attempt, trade_status="TRADE_FINISHED"))) == \
        (200, "success")
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PAID


def test_trade_finished_after_a_refund_is_not_a_new_payment(attempt, fake_alipay):
    assert post(sign_notice(fake_alipay.keys, notice_fields(attempt))) == (200, "success")
    refund = create_refund(lock_order(Order.objects.get(pk=attempt.order_id)), amount="5.00",
                           cause=Refund.Cause.AFTER_SALE)
    execute_refund(refund.pk)
    assert Refund.objects.get(pk=refund.pk).state == Refund.State.SUCCEEDED
    before = snapshot(attempt)
    finished = notice_fields(attempt, trade_status="TRADE_FINISHED", notify_id="2026101100222100030000000099")
    assert post(sign_notice(fake_alipay.keys, finished)) == (200, "success")
    assert snapshot(attempt) == before
    assert Order.objects.get(pk=attempt.order_id).refunded_amount == Decimal("5.00")


def test_a_closed_trade_fails_the_attempt_and_the_order_stays_payable(attempt, fake_alipay):
    assert post(sign_notice(fake_alipay.keys, notice_fields(attempt, trade_status="TRADE_CLOSED"))) == (200, "success")
    assert PaymentAttempt.objects.get(pk=attempt.pk).state == PaymentAttempt.State.FAILED
    order = Order.objects.get(pk=attempt.order_id)
    assert order.status == Order.Status.PENDING_PAYMENT
    assert start_payment(order, user=order.user, channel="alipay_wap").pk != attempt.pk


def test_waiting_for_the_buyer_changes_nothing(attempt, fake_alipay):
    before = snapshot(attempt)
    assert post(sign_notice(fake_alipay.keys, notice_fields(attempt, trade_status="WAIT_BUYER_PAY"))) == \
        (200, "success")
    assert snapshot(attempt) == before


def refund_notice(keys, attempt, out_biz_no, *, trade_status="TRADE_SUCCESS", refund_fee="5.00"):
    return sign_notice(keys, notice_fields(attempt, trade_status=trade_status, gmt_refund="2026-10-03 11:00:00.123",
                                           refund_fee=refund_fee, out_biz_no=out_biz_no,
                                           notify_id="2026100300222110000000000055"))


def test_a_refund_notice_never_pays_a_pending_attempt(attempt, fake_alipay):
    before = snapshot(attempt)
    assert post(refund_notice(fake_alipay.keys, attempt, "SOMEONE-ELSES-REQUEST")) == (200, "success")
    assert snapshot(attempt) == before
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PENDING_PAYMENT


def test_a_refund_notice_for_a_trade_not_ours_is_acknowledged_and_ignored(attempt, fake_alipay):
    stranger = notice_fields(attempt, out_trade_no="OTHERSYSTEM0001", gmt_refund="2026-10-03 11:00:00",
                             refund_fee="1.00", out_biz_no="X1")
    before = snapshot(attempt)
    assert post(sign_notice(fake_alipay.keys, stranger)) == (200, "success")
    assert snapshot(attempt) == before


def test_a_refund_notice_of_ours_is_settled_through_alipays_refund_query(attempt, fake_alipay,
                                                                       django_capture_on_commit_callbacks):
    assert post(sign_notice(fake_alipay.keys, notice_fields(attempt))) == (200, "success")
    refund = create_refund(lock_order(Order.objects.get(pk=attempt.order_id)), amount="5.00",
                           cause=Refund.Cause.AFTER_SALE)
    fake_alipay._alipay_trade_refund({"out_trade_no": attempt.out_trade_no, "refund_amount": "5.00",
                                      "out_request_no": refund.out_refund_no})  # done at Alipay, answer lost
    Refund.objects.filter(pk=refund.pk).update(state=Refund.State.PROCESSING)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(refund_notice(fake_alipay.keys, attempt, refund.out_refund_no)) == (200, "success")
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED and fake_alipay.money_back == 500
    assert fake_alipay.methods()[-1] == "alipay.trade.fastpay.refund.query"
    assert PaymentEvent.objects.filter(attempt=attempt, kind=PaymentEvent.Kind.NOTIFIED).count() == 1


def test_a_payment_for_an_order_cancelled_meanwhile_is_refunded_through_alipay(attempt, fake_alipay, manager,
                                                                              django_capture_on_commit_callbacks):
    cancel_order(Order.objects.get(pk=attempt.order_id), reason="不要了")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(sign_notice(fake_alipay.keys, notice_fields(attempt))) == (200, "success")
    order = Order.objects.get(pk=attempt.order_id)
    assert order.status == Order.Status.CANCELLED
    refund = Refund.objects.get(order=order)
    assert refund.cause == Refund.Cause.LATE_PAYMENT and refund.state == Refund.State.SUCCEEDED
    assert fake_alipay.money_back == attempt.amount_fen
    assert StoreNotification.objects.filter(user=manager, kind="late_payment").exists()


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "application/x-www-form-urlencoded"),
    (b'{"trade_status": "TRADE_SUCCESS"}', "application/json"),
    (b"sign=%ZZ&&&==&trade_status", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded; charset=utf-8"),
    (b"--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data; boundary=x"),
])
def test_a_malformed_body_is_refused_without_an_error(attempt, body, content_type):
    before = snapshot(attempt)
    response = Client().generic("POST", URL, data=body, content_type=content_type)
    assert (response.status_code, response.content) == (400, b"fail")
    assert snapshot(attempt) == before


def test_the_notify_url_takes_only_posts(attempt):
    assert Client().get(URL).status_code == 405


def test_a_notice_with_alipay_unconfigured_is_refused(attempt, fake_alipay, settings):
    fields = sign_notice(fake_alipay.keys, notice_fields(attempt))
    settings.ALIPAY_APP_ID = ""
    assert post(fields) == (400, "fail")
    assert Order.objects.get(pk=attempt.order_id).status == Order.Status.PENDING_PAYMENT


def test_our_signing_matches_the_documented_string(attempt, fake_alipay):
    """The test's own signer is Alipay's rule: sorted k=v of every field but sign and sign_type."""
    fields = {"b": "2", "a": "1", "sign_type": "RSA2", "c": "x=y&z"}
    assert signing_string(fields) == "a=1&b=2&c=x=y&z"
    signed = sign_notice(fake_alipay.keys, notice_fields(attempt))
    assert signed["sign"] == rsa2_sign(fake_alipay.keys.alipay, signing_string(signed))
