"""Outages answer 503 with Retry-After in the caller's form, never a 500, and leave one WARNING line
in the log, never a traceback (core.outages). The errors are real: connections to ports nothing
listens on, a statement past its timeout. A bug stays a 500."""

import json
import logging
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_outage")]

BUSY = "系统繁忙，请稍后再试"


@pytest.fixture
def client():
    # the answer must come from our handlers, whatever path the exception takes through Django
    return Client(raise_request_exception=False)


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def assert_busy(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "no-store" in response["Cache-Control"]


def assert_one_line(log, *expected):
    """One WARNING line from core.outages naming what failed; no traceback anywhere; nothing from
    django.request (its 'Service Unavailable' line would carry the traceback)."""
    lines = [r for r in log.records if r.name == "core.outages"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING
    message = lines[0].getMessage()
    assert "\n" not in message
    for text in expected:
        assert text in message, message
    assert not [r for r in log.records if r.exc_info], [r.getMessage() for r in log.records if r.exc_info]
    assert not [r for r in log.records if r.name == "django.request"]


@pytest.mark.postgres
def test_database_refused_gives_the_shop_busy_page(client, log):
    response = client.get("/outage/database/?x=1")
    assert_busy(response)
    html = response.content.decode()
    assert BUSY in html and "本次操作未生效" in html and "weui-msg" in html
    assert 'href="/outage/database/?x=1"' in html  # 重试 asks again
    assert "Traceback" not in html and "127.0.0.1" not in html and "port 1" not in html
    assert_one_line(log, "outage (database)", "GET /outage/database/", "OperationalError", "refused")


@pytest.mark.postgres
def test_statement_timeout_is_busy_not_a_500(client, log):
    response = client.get("/outage/statement-timeout/")
    assert_busy(response)
    assert_one_line(log, "QueryCanceled", "statement timeout")


def test_redis_refused_is_busy(client, log):
    response = client.get("/outage/redis/")
    assert_busy(response)
    assert BUSY in response.content.decode()
    assert_one_line(log, "outage (cache)", "ConnectionError")


def test_redis_refused_behind_django_redis_is_busy(client, log):
    response = client.get("/outage/django-redis/")
    assert_busy(response)
    assert_one_line(log, "outage (cache)", "ConnectionError")


def test_an_outage_in_a_middleware_is_busy_too(client, log, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.core.urls_outage.RedisDownOnTheWayOut"]
    response = client.get("/outage/on-the-way-out/")
    assert_busy(response)
    assert BUSY in response.content.decode()
    assert_one_line(log, "outage (cache)", "Connection refused")


@pytest.mark.postgres
def test_backoffice_gets_the_back_office_look(client, log):
    response = client.post("/backoffice/outage/database/", HTTP_REFERER="http://testserver/backoffice/orders/?s=1")
    assert_busy(response)
    html = response.content.decode()
    assert BUSY in html and 'class="bo-panel' in html and "backoffice.css" in html
    assert "weui" not in html
    assert 'href="/backoffice/orders/?s=1"' in html  # 重试 goes back to the page the form was on


@pytest.mark.postgres
def test_a_form_posted_from_another_site_is_not_sent_back_there(client):
    response = client.post("/outage/database/", HTTP_REFERER="https://evil.example/phish")
    assert_busy(response)
    html = response.content.decode()
    assert "evil.example" not in html and 'href="/"' in html


@pytest.mark.parametrize("referer", ["http://[bad", "http://testserver/\x00", "\x00", "x" * 100_000,
                                     "http://testserver//evil.example/", "javascript:alert(1)"])
def test_a_forged_referer_still_gets_the_busy_page_with_a_safe_retry(client, referer):
    response = client.post("/outage/redis/", HTTP_REFERER=referer)
    assert_busy(response)
    html = response.content.decode()
    assert BUSY in html and 'href="/"' in html and "evil" not in html and "javascript" not in html


def test_htmx_gets_one_line_of_text(client, log):
    response = client.get("/outage/redis/", HTTP_HX_REQUEST="true")
    assert_busy(response)
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == BUSY


def test_json_callers_get_json(client):
    response = client.get("/outage/redis/", HTTP_ACCEPT="application/json")
    assert_busy(response)
    assert response.json() == {"code": "busy", "message": BUSY}


def test_english_visitors_read_english(client):
    response = client.get("/outage/redis/", HTTP_ACCEPT_LANGUAGE="en")
    assert_busy(response)
    assert "The service is busy" in response.content.decode()


def test_a_bug_is_still_a_500(client, log):
    response = client.get("/outage/bug/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert not [r for r in log.records if r.name == "core.outages"]
    assert [r for r in log.records if r.name == "django.request" and r.exc_info]  # the traceback stays


def test_the_busy_page_needs_neither_database_nor_session(client, log, django_assert_num_queries):
    client.cookies["sessionid"] = "x" * 32
    with django_assert_num_queries(0):
        response = client.get("/outage/redis/")
    assert_busy(response)


# --- what the payment gateways are told -----------------------------------------------------------
def test_wechat_pay_notice_during_an_outage_gets_fail_503_which_it_retries(client, log):
    with mock.patch("orders.payments.wechat_views.verify_notice",
                    side_effect=OperationalError("canceling statement due to lock timeout")):
        response = client.post("/payments/wechatpay/notify/", b"{}", content_type="application/json")
    assert_busy(response)
    assert json.loads(response.content) == {"code": "FAIL", "message": "系统繁忙，请稍后重试"}
    assert_one_line(log, "POST /payments/wechatpay/notify/", "lock timeout")


def test_wechat_pay_refund_notice_during_an_outage_gets_fail_503(client):
    with mock.patch("orders.payments.wechat_views.verify_notice", side_effect=OperationalError("server closed")):
        response = client.post("/payments/wechatpay/refund-notify/", b"{}", content_type="application/json")
    assert_busy(response)
    assert json.loads(response.content)["code"] == "FAIL"


def test_alipay_notice_during_an_outage_gets_fail_which_it_retries(client, log):
    with mock.patch("orders.payments.alipay_views.handle_notice", side_effect=OperationalError("too many clients")):
        response = client.post("/payments/alipay/notify/", {"out_trade_no": "T1", "sign": "x"})
    assert_busy(response)
    assert response.content == b"fail" and response["Content-Type"].startswith("text/plain")
    assert_one_line(log, "POST /payments/alipay/notify/")


def test_recording_a_wechat_notice_during_an_outage_is_retried_not_a_500(settings, tmp_path, log):
    """An outage while the verified notice is being recorded (confirm_payment) is the same 503."""
    from orders.payments import wechat_views

    notice = {"event_type": "TRANSACTION.SUCCESS", "id": "n1", "resource": {
        "mchid": "m", "appid": "a", "out_trade_no": "T1", "transaction_id": "42", "trade_state": "SUCCESS",
        "amount": {"total": 100, "currency": "CNY"}}}
    config = mock.Mock(mchid="m", appid="a")
    row = {"pk": 1, "order_id": 1, "channel": "wechat_jsapi", "order__user_id": 1, "taken": False}
    with (
        mock.patch.object(wechat_views, "verify_notice", return_value=notice),
        mock.patch.object(wechat_views.WeChatPayConfig, "from_settings", return_value=config),
        mock.patch.object(wechat_views, "_attempt_for_notice", return_value=row),
        mock.patch.object(wechat_views, "confirm_payment", side_effect=OperationalError("lock timeout")),
    ):
        response = Client(raise_request_exception=False).post(
            "/payments/wechatpay/notify/", b"{}", content_type="application/json")
    assert_busy(response)
    assert json.loads(response.content)["code"] == "FAIL"
    assert_one_line(log, "lock timeout")
