"""System checks for outside services: a half-configured adapter stops `manage.py check` (and the
web container's migrate step) instead of failing with a 500 on the first shopper who needs it."""

from django.conf import settings
from django.core.checks import Error, Warning, register  # noqa: A004 (Django's check message)


@register()
def sms_backend_configured(app_configs, **kwargs):
    if settings.SMS_BACKEND != "aliyun":
        return []
    missing = [
        name
        for name in ("SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME", "SMS_TEMPLATE_CODE")
        if not getattr(settings, name, "")
    ]
    if not missing:
        return []
    return [
        Error(
            f"SMS_BACKEND=aliyun but {', '.join(missing)} is empty: login codes could not be sent.",
            hint="Fill them in, or set SMS_BACKEND=console while there is no SMS provider.",
            id="core.E001",
        )
    ]


@register(deploy=True)
def secret_key_set_outside_debug(app_configs, **kwargs):
    """The built-in development key is public (it is in this repository): with DEBUG off it would
    let anyone forge sessions and password-reset links. A deploy check: docker-compose's web
    service runs `check --deploy --fail-level ERROR` before it migrates and serves."""
    if settings.DEBUG or not settings.SECRET_KEY.startswith("django-insecure-dev-only"):
        return []
    return [
        Error(
            "SECRET_KEY is the development key while DEBUG is off.",
            hint='Set SECRET_KEY (python -c "import secrets; print(secrets.token_urlsafe(50))").',
            id="core.E002",
        )
    ]


@register(deploy=True)
def console_sms_outside_debug(app_configs, **kwargs):
    """The console SMS backend logs every login code: whoever reads the log can log in as anyone.
    With DEBUG off it refuses to send unless SMS_CONSOLE_ALLOWED=1 (core.sms); a deploy check
    fails before that (docker-compose's web service runs `check --deploy --fail-level ERROR`), and
    warns while a staging server allows it."""
    if settings.DEBUG or settings.SMS_BACKEND != "console":
        return []
    if not settings.SMS_CONSOLE_ALLOWED:
        return [
            Error(
                "SMS_BACKEND=console with DEBUG off: login codes would be written to the log, so the backend refuses to send.",
                hint="Configure an SMS provider (SMS_BACKEND=aliyun), or on a staging server set SMS_CONSOLE_ALLOWED=1.",
                id="core.E003",
            )
        ]
    return [
        Warning(
            "SMS_CONSOLE_ALLOWED=1: login codes are written to the log (console SMS backend) with DEBUG off.",
            hint="Only for a staging server: production needs an SMS provider (SMS_BACKEND=aliyun).",
            id="core.W001",
        )
    ]
