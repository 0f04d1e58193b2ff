from django.core.checks import run_checks


def test_aliyun_sms_with_empty_keys_fails_the_system_check(settings):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ACCESS_KEY_ID = ""
    errors = [m for m in run_checks() if m.id == "core.E001"]
    assert errors and "SMS_ACCESS_KEY_ID" in errors[0].msg


def test_aliyun_sms_fully_configured_passes(settings):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ACCESS_KEY_ID = "LTAI-test"
    settings.SMS_ACCESS_KEY_SECRET = "secret"
    settings.SMS_SIGN_NAME = "多门店"
    settings.SMS_TEMPLATE_CODE = "SMS_123456"
    assert "core.E001" not in {m.id for m in run_checks()}


def test_console_sms_needs_no_keys(settings):
    settings.SMS_BACKEND = "console"
    assert "core.E001" not in {m.id for m in run_checks()}


def test_the_development_secret_key_with_debug_off_fails_the_system_check(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "django-insecure-dev-only-change-me-in-production-0123456789"
    assert "core.E002" in {m.id for m in run_checks(include_deployment_checks=True)}
    settings.SECRET_KEY = "a-real-secret-key-3kq9v0x6z-f4w9r1t5y7u3i8o2p6a4s0d9f7g5h3j1"
    assert "core.E002" not in {m.id for m in run_checks(include_deployment_checks=True)}
    settings.DEBUG, settings.SECRET_KEY = True, "django-insecure-dev-only-change-me-in-production-0123456789"
    assert "core.E002" not in {m.id for m in run_checks(include_deployment_checks=True)}


def _deploy_ids():
    return {m.id for m in run_checks(include_deployment_checks=True)}


def test_console_sms_with_debug_off_fails_the_deploy_check_unless_allowed(settings):
    settings.DEBUG, settings.SMS_BACKEND = False, "console"
    settings.SMS_CONSOLE_ALLOWED = False
    assert "core.E003" in _deploy_ids()
    settings.SMS_CONSOLE_ALLOWED = True  # a staging server: allowed, and warned about
    ids = _deploy_ids()
    assert "core.W001" in ids and "core.E003" not in ids


def test_console_sms_is_not_flagged_when_debug_or_with_a_provider(settings):
    settings.SMS_BACKEND, settings.SMS_CONSOLE_ALLOWED = "console", True
    settings.DEBUG = True
    assert not {"core.E003", "core.W001"} & _deploy_ids()
    settings.DEBUG, settings.SMS_BACKEND = False, "aliyun"
    assert not {"core.E003", "core.W001"} & _deploy_ids()
    assert not {"core.E003", "core.W001"} & {m.id for m in run_checks()}  # deploy checks only
