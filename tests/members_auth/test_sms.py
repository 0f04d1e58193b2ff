"""core.sms: the generic interface, the in-memory and console backends, and Aliyun's signed request."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured

from core import sms

# Aliyun's documented SendSms signature example (SMS API "HTTP protocol and signature" page).
DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


@pytest.fixture
def aliyun(settings):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ACCESS_KEY_ID = "testId"
    settings.SMS_ACCESS_KEY_SECRET = "testSecret"
    settings.SMS_SIGN_NAME = "阿里云短信测试专用"
    settings.SMS_TEMPLATES = {
        "verification_code": {"code": "SMS_71390007", "text": "验证码{code}"},
        "staff_notice": {"code": "", "optional": True, "text": "{subject}：{body}"},
    }


def test_locmem_backend_keeps_messages_in_the_outbox(sms_outbox):
    message = sms.send_sms("+8613800138000", "verification_code", {"code": "123456"})
    assert sms_outbox == [message]
    assert "123456" in message.text
    assert message.params == {"code": "123456"}


def test_unknown_template_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured):
        sms.send_sms("+8613800138000", "no_such_template", {})


def test_console_backend_logs_and_keeps_a_dev_outbox_only_when_debug(settings, caplog):
    settings.SMS_BACKEND = "console"
    settings.DEBUG = False
    settings.SMS_CONSOLE_ALLOWED = True  # a staging server
    with caplog.at_level("INFO", logger="core.sms"):
        sms.send_sms("+8613800138000", "verification_code", {"code": "111111"})
    assert "111111" in caplog.text
    assert sms.dev_outbox() == []
    settings.DEBUG = True
    sms.send_sms("+8613800138000", "verification_code", {"code": "222222"})
    assert [m.params["code"] for m in sms.dev_outbox()] == ["222222"]


def test_console_backend_refuses_to_start_with_debug_off_unless_allowed(settings, caplog):
    settings.SMS_BACKEND = "console"
    settings.DEBUG = False
    settings.SMS_CONSOLE_ALLOWED = False
    with caplog.at_level("INFO", logger="core.sms"), pytest.raises(ImproperlyConfigured, match="SMS_CONSOLE_ALLOWED"):
        sms.send_sms("+8613800138000", "verification_code", {"code": "333333"})
    assert "333333" not in caplog.text


def test_percent_encoding_follows_the_pop_rules():
    assert sms.percent_encode("a b") == "a%20b"
    assert sms.percent_encode("*") == "%2A"
    assert sms.percent_encode("~-_.") == "~-_."
    assert sms.percent_encode("/=&+") == "%2F%3D%26%2B"
    assert sms.percent_encode("派") == "%E6%B4%BE"


def test_signature_matches_aliyuns_documented_sendsms_example():
    assert sms.aliyun_signature(DOC_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signature_matches_aliyuns_documented_rpc_example():
    params = {
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Version": "2014-05-26",
        "Timestamp": "2016-02-23T12:46:24Z",
    }
    assert sms.aliyun_signature(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_signature_ignores_a_signature_parameter():
    assert sms.aliyun_signature({**DOC_PARAMS, "Signature": "x"}, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


@responses.activate
def test_aliyun_sends_a_signed_sendsms_request(aliyun):
    responses.get(
        "https://dysmsapi.aliyuncs.com/",
        json={"Message": "OK", "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990", "BizId": "900619746936498440^0", "Code": "OK"},
    )
    sms.send_sms("+8615300000001", "verification_code", {"code": "654321"})
    assert len(responses.calls) == 1
    query = {k: v[0] for k, v in parse_qs(urlsplit(responses.calls[0].request.url).query).items()}
    assert query["Action"] == "SendSms"
    assert query["PhoneNumbers"] == "15300000001"
    assert query["SignName"] == "阿里云短信测试专用"
    assert query["TemplateCode"] == "SMS_71390007"
    assert json.loads(query["TemplateParam"]) == {"code": "654321"}
    assert query["SignatureMethod"] == "HMAC-SHA1" and query["SignatureVersion"] == "1.0"
    # the server recomputes the signature from the other parameters: so do we
    signature = query.pop("Signature")
    assert signature == sms.aliyun_signature(query, "testSecret")


@responses.activate
def test_aliyun_builds_the_documented_signature_for_the_documented_parameters(aliyun):
    backend = sms.AliyunBackend()
    message = sms.SmsMessage(phone="+8615300000001", template="verification_code", params={"customer": "test"}, text="")
    params = backend.build_params(message, nonce="45e25e9b-0a6f-4070-8c85-2956eda1b466", timestamp="2017-07-12T02:42:19Z")
    expected = {**DOC_PARAMS, "Format": "JSON"}
    del expected["OutId"]
    assert {k: v for k, v in params.items() if k != "Signature"} == expected
    assert params["Signature"] == sms.aliyun_signature(expected, "testSecret")


@pytest.mark.parametrize(
    "status, body, code",
    [
        (200, {"Message": "触发分钟级流控Permits:1", "RequestId": "r1", "Code": "isv.BUSINESS_LIMIT_CONTROL"}, "isv.BUSINESS_LIMIT_CONTROL"),
        (200, {"Message": "手机号码格式错误", "RequestId": "r2", "Code": "isv.MOBILE_NUMBER_ILLEGAL"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        (400, {"RequestId": "r3", "HostId": "dysmsapi.aliyuncs.com", "Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation."}, "SignatureDoesNotMatch"),
    ],
)
@responses.activate
def test_aliyun_error_codes_raise_sms_error(aliyun, status, body, code):
    responses.get("https://dysmsapi.aliyuncs.com/", json=body, status=status)
    with pytest.raises(sms.SmsError) as exc:
        sms.send_sms("+8615300000001", "verification_code", {"code": "1"})
    assert exc.value.code == code


@responses.activate
def test_aliyun_unreachable_raises_sms_error(aliyun):
    responses.get("https://dysmsapi.aliyuncs.com/", body=requests.ConnectionError("down"))
    with pytest.raises(sms.SmsError) as exc:
        sms.send_sms("+8615300000001", "verification_code", {"code": "1"})
    assert exc.value.code == "unreachable"


@responses.activate
def test_aliyun_skips_an_optional_template_without_provider_code(aliyun):
    sms.send_sms("+8615300000001", "staff_notice", {"subject": "低库存", "body": "龙井"})
    assert len(responses.calls) == 0


def test_aliyun_refuses_to_start_half_configured(settings):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ACCESS_KEY_ID = ""
    with pytest.raises(ImproperlyConfigured):
        sms.send_sms("+8615300000001", "verification_code", {"code": "1"})
