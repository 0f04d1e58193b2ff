"""`manage.py check` refuses a WeChat Pay configuration that could not work (or would trust the
wrong thing), and says nothing while WeChat Pay is not configured at all."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from orders.payments.wechat_checks import wechat_pay_configuration

from .wechatpay_support import _rsa, configure, make_keys, private_pem, public_pem


@pytest.fixture
def configured(settings, tmp_path):
    keys = make_keys(tmp_path)
    configure(settings, keys)
    settings.DEBUG = False
    return keys


def ids():
    return sorted(e.id for e in wechat_pay_configuration(None))


def bare_base64(pem):
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def test_nothing_is_checked_while_wechat_pay_is_not_configured(settings):
    for name in ("WECHAT_PAY_MCHID", "WECHAT_PAY_APIV3_KEY", "WECHAT_PAY_CERT_SERIAL_NO", "WECHAT_PAY_PRIVATE_KEY_PATH",
                 "WECHAT_PAY_PUBLIC_KEY_PATH", "WECHAT_PAY_PUBLIC_KEY_ID"):
        setattr(settings, name, "")
    settings.PAYMENT_NOTIFY_BASE_URL = "http://insecure.example"
    settings.DEBUG = False
    assert ids() == []


def test_a_complete_configuration_passes(configured):
    assert ids() == []


def test_a_missing_setting_is_an_error(configured, settings):
    settings.WECHAT_PAY_CERT_SERIAL_NO = ""
    assert ids() == ["wechatpay.E001"]


def test_an_apiv3_key_that_is_not_32_bytes_is_an_error(configured, settings):
    settings.WECHAT_PAY_APIV3_KEY = "too-short"
    assert ids() == ["wechatpay.E002"]
    settings.WECHAT_PAY_APIV3_KEY = "密" * 11  # 11 characters, 33 bytes
    assert ids() == ["wechatpay.E002"]


@pytest.mark.parametrize("make", [
    lambda: private_pem(_rsa("merchant"), serialization.PrivateFormat.TraditionalOpenSSL),  # PKCS#1
    lambda: bare_base64(private_pem(_rsa("merchant"))),
    lambda: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    lambda: private_pem(ec.generate_private_key(ec.SECP256R1())),
    lambda: public_pem(_rsa("merchant")),
])
def test_a_merchant_key_in_the_wrong_format_is_an_error(configured, settings, make):
    settings.WECHAT_PAY_PRIVATE_KEY_PATH = configured.write("wrong_key.pem", make())
    assert ids() == ["wechatpay.E003"]


def test_a_missing_key_file_is_an_error(configured, settings):
    settings.WECHAT_PAY_PRIVATE_KEY_PATH = str(configured.directory / "nowhere.pem")
    assert ids() == ["wechatpay.E003"]


def test_a_public_key_without_its_id_is_an_error(configured, settings):
    settings.WECHAT_PAY_PUBLIC_KEY_ID = ""
    assert ids() == ["wechatpay.E004"]


def test_a_public_key_id_without_the_key_is_an_error(configured, settings):
    settings.WECHAT_PAY_PUBLIC_KEY_PATH = ""
    assert ids() == ["wechatpay.E005"]


def test_a_public_key_id_that_is_not_one_is_an_error(configured, settings):
    settings.WECHAT_PAY_PUBLIC_KEY_ID = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"  # a certificate serial
    assert ids() == ["wechatpay.E006"]


@pytest.mark.parametrize("make", [
    lambda: bare_base64(public_pem(_rsa("platform"))),
    lambda: private_pem(_rsa("platform")),
    lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
])
def test_a_wechat_pay_public_key_in_the_wrong_format_is_an_error(configured, settings, make):
    settings.WECHAT_PAY_PUBLIC_KEY_PATH = configured.write("wrong_pub.pem", make())
    assert ids() == ["wechatpay.E007"]


def test_an_http_notify_base_is_an_error_with_debug_off(configured, settings):
    settings.PAYMENT_NOTIFY_BASE_URL = "http://shop.example.com"
    assert ids() == ["wechatpay.E009"]
    settings.DEBUG = True
    assert ids() == []


@pytest.mark.parametrize("base", ["shop.example.com", "https://shop.example.com/?x=1", "ftp://shop.example.com"])
def test_a_notify_base_that_is_not_an_address_is_an_error(configured, settings, base):
    settings.PAYMENT_NOTIFY_BASE_URL = base
    assert ids() == ["wechatpay.E008"]


def test_certificate_mode_is_still_accepted(configured, settings):
    settings.WECHAT_PAY_PUBLIC_KEY_PATH = settings.WECHAT_PAY_PUBLIC_KEY_ID = ""
    assert ids() == []


def test_manage_py_check_stops_on_them(configured, settings):
    settings.WECHAT_PAY_APIV3_KEY = "short"
    with pytest.raises(SystemCheckError, match="wechatpay.E002"):
        call_command("check")
