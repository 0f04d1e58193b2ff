"""`manage.py check` and Alipay's configuration: silent while Alipay is not configured at all; then
every mistake a merchant makes in the console or the deployment is an error that says what to do."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from orders.payments.alipay_checks import alipay_configuration

from .alipay_support import (  # noqa: F401 - the *_fixture names are fixtures
    alipay_keys_fixture,
    alipay_on_fixture,
    configure,
)


def ids(errors):
    return sorted(error.id for error in errors)


def bare(keys, name):
    """What the Alipay console shows: the key's base64 without the PEM lines."""
    text = open(keys.paths[name]).read()
    return keys.write(f"bare_{name}.txt", "\n".join(line for line in text.splitlines() if not line.startswith("-----")))


def test_nothing_is_checked_while_alipay_is_not_configured(settings):
    for name in ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY_PATH", "ALIPAY_PUBLIC_KEY_PATH", "ALIPAY_SELLER_ID"):
        setattr(settings, name, "")
    settings.PAYMENT_NOTIFY_BASE_URL = "http://insecure.example.com"
    settings.DEBUG = False
    assert alipay_configuration(None) == []


@pytest.mark.parametrize(("app_key", "alipay_key"), [("app_pkcs8", "alipay_public"), ("app_pkcs1", "alipay_public_pkcs1")])
def test_a_complete_configuration_passes(settings, alipay_keys, app_key, alipay_key):
    configure(settings, alipay_keys, app_key=app_key, alipay_key=alipay_key)
    settings.DEBUG = False
    assert alipay_configuration(None) == []


def test_bare_base64_keys_are_refused_with_the_headers_to_add(settings, alipay_on):
    settings.ALIPAY_APP_PRIVATE_KEY_PATH = bare(alipay_on, "app_pkcs8")
    settings.ALIPAY_PUBLIC_KEY_PATH = bare(alipay_on, "alipay_public")
    errors = alipay_configuration(None)
    assert ids(errors) == ["orders.E202", "orders.E202"]
    app, public = errors
    assert "bare base64" in app.msg and "-----BEGIN PRIVATE KEY-----" in app.hint and "-----END PRIVATE KEY-----" in app.hint
    assert "-----BEGIN PUBLIC KEY-----" in public.hint and "-----END PUBLIC KEY-----" in public.hint


def test_unreadable_key_files_are_refused(settings, alipay_on, tmp_path):
    settings.ALIPAY_APP_PRIVATE_KEY_PATH = str(tmp_path / "missing.pem")
    settings.ALIPAY_PUBLIC_KEY_PATH = str(tmp_path)  # a directory
    errors = alipay_configuration(None)
    assert ids(errors) == ["orders.E201", "orders.E201"]
    assert "cannot be read" in errors[0].msg


def test_a_file_that_is_not_a_key_is_refused(settings, alipay_on):
    settings.ALIPAY_PUBLIC_KEY_PATH = alipay_on.write("junk.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert ids(alipay_configuration(None)) == ["orders.E203"]


def test_keys_in_each_others_place_are_refused(settings, alipay_on):
    settings.ALIPAY_APP_PRIVATE_KEY_PATH = alipay_on.paths["app_public"]
    settings.ALIPAY_PUBLIC_KEY_PATH = alipay_on.paths["app_pkcs8"]
    assert ids(alipay_configuration(None)) == ["orders.E204", "orders.E204"]


def test_the_apps_own_public_key_in_place_of_alipays_is_refused(settings, alipay_on):
    settings.ALIPAY_PUBLIC_KEY_PATH = alipay_on.paths["app_public"]
    errors = alipay_configuration(None)
    assert ids(errors) == ["orders.E205"] and "应用公钥" in errors[0].msg


def test_a_missing_or_malformed_seller_id_is_refused(settings, alipay_on):
    settings.ALIPAY_SELLER_ID = ""
    errors = alipay_configuration(None)
    assert ids(errors) == ["orders.E200"] and "ALIPAY_SELLER_ID" in errors[0].msg
    settings.ALIPAY_SELLER_ID = "shop@example.com"
    assert ids(alipay_configuration(None)) == ["orders.E208"]


@pytest.mark.parametrize(("base", "debug", "expected"), [
    ("http://shop.example.com", False, ["orders.E207"]),
    ("http://127.0.0.1:8000", True, []),
    ("https://shop.example.com", False, []),
    ("https://shop.example.com/mall", False, []),
    ("", False, ["orders.E206"]),
    ("shop.example.com", False, ["orders.E206"]),
    ("https://shop.example.com/?a=1", False, ["orders.E206"]),
])
def test_the_notify_base_url(settings, alipay_on, base, debug, expected):
    settings.PAYMENT_NOTIFY_BASE_URL = base
    settings.DEBUG = debug
    assert ids(alipay_configuration(None)) == expected


def test_manage_py_check_stops_on_an_alipay_error(settings, alipay_on):
    settings.ALIPAY_PUBLIC_KEY_PATH = bare(alipay_on, "alipay_public")
    with pytest.raises(SystemCheckError, match="orders.E202"):
        call_command("check")
