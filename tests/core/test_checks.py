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
