"""Sending text messages: one function, `send_sms(phone, template, params)`, and a backend chosen in
settings.

Callers name a *template* ("verification_code", "low_stock", ...) and pass its parameters; the
mapping from template names to the provider's approved template codes lives in
`settings.SMS_TEMPLATES`, so a provider change never touches the callers:

    SMS_TEMPLATES = {
        "verification_code": {"code": "SMS_123456789", "text": "您的验证码为{code}，{minutes}分钟内有效。"},
    }

`code` is the provider's template code (Aliyun "SMS_..."); `text` is how the message reads, used by
the console and in-memory backends and the development outbox page.

Backends (`settings.SMS_BACKEND`):
- "console": writes the message to the log; when DEBUG it also keeps the last messages in the cache
  for the development outbox page (/accounts/dev/sms-outbox/), so a newcomer can log in by phone.
  Anyone who reads the log could then log in as anyone: with DEBUG off it refuses to start unless
  SMS_CONSOLE_ALLOWED (a staging server), and `check --deploy` flags it either way (core.checks).
- "locmem": appends to the module-level `outbox` list, like `django.core.mail.outbox` (tests).
- "aliyun": Aliyun SMS (dysmsapi) SendSms, signed with the POP RPC signature v1 (HMAC-SHA1).
- or the dotted path of a class with `send(message)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError

logger = logging.getLogger(__name__)

# What the locmem backend sent, oldest first (tests clear it; see tests/members_auth/conftest.py).
outbox: list[SmsMessage] = []

DEV_OUTBOX_CACHE_KEY = "core.sms.dev_outbox"
DEV_OUTBOX_SIZE = 20


class SmsError(DomainError):
    """The provider refused or could not be reached; `code` is the provider's error code."""

    code = "sms_failed"


@dataclass
class SmsMessage:
    phone: str
    template: str
    params: dict
    text: str
    sent_at: datetime = field(default_factory=timezone.now)


def get_template(template: str) -> dict:
    templates = getattr(settings, "SMS_TEMPLATES", {})
    try:
        return templates[template]
    except KeyError:
        raise ImproperlyConfigured(f"SMS template {template!r} is not in settings.SMS_TEMPLATES") from None


def render_text(template: str, params: dict) -> str:
    text = get_template(template).get("text") or template
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return f"{text} {json.dumps(params, ensure_ascii=False)}"


def send_sms(phone: str, template: str, params: dict | None = None) -> SmsMessage:
    """Send the message named `template` to `phone` (E.164, +86...); raises SmsError if refused.

    Nothing is retried here: verification codes are short-lived, and a caller that wants retries
    (a Celery task for a notice) does them itself.
    """
    params = {key: str(value) for key, value in (params or {}).items()}
    message = SmsMessage(phone=phone, template=template, params=params, text=render_text(template, params))
    get_backend().send(message)
    return message


def get_backend():
    name = getattr(settings, "SMS_BACKEND", "console")
    backend_class = BACKENDS.get(name) or import_string(name)
    return backend_class()


# --- backends -------------------------------------------------------------------------------
def console_refused() -> bool:
    """The console backend may not run here: DEBUG off and SMS_CONSOLE_ALLOWED not set."""
    return not settings.DEBUG and not getattr(settings, "SMS_CONSOLE_ALLOWED", False)


class ConsoleBackend:
    def __init__(self):
        if console_refused():
            raise ImproperlyConfigured(
                "SMS_BACKEND=console writes login codes to the log: with DEBUG off set SMS_CONSOLE_ALLOWED=1 "
                "(a staging server) or configure an SMS provider (SMS_BACKEND=aliyun)"
            )

    def send(self, message: SmsMessage) -> None:
        logger.info("SMS to %s [%s]: %s", message.phone, message.template, message.text)
        if settings.DEBUG:
            kept = cache.get(DEV_OUTBOX_CACHE_KEY) or []
            kept.insert(0, message)
            cache.set(DEV_OUTBOX_CACHE_KEY, kept[:DEV_OUTBOX_SIZE], 3600)


def dev_outbox() -> list[SmsMessage]:
    """The last messages the console backend sent (newest first); empty unless DEBUG."""
    return cache.get(DEV_OUTBOX_CACHE_KEY) or []


class LocmemBackend:
    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"


def percent_encode(value: str) -> str:
    """Aliyun POP percent-encoding: RFC 3986 unreserved characters stay, space is %20 (not +)."""
    return quote(str(value), safe="~")


def aliyun_canonical_query(params: dict) -> str:
    return "&".join(
        f"{percent_encode(key)}={percent_encode(value)}" for key, value in sorted(params.items())
    )


def aliyun_signature(params: dict, access_key_secret: str, method: str = "GET") -> str:
    """POP RPC signature v1: base64(HMAC-SHA1(secret + "&", METHOD&%2F&percentEncode(query)))."""
    query = aliyun_canonical_query({k: v for k, v in params.items() if k != "Signature"})
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(
        f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


class AliyunBackend:
    """Aliyun SMS SendSms over the RPC API (GET, JSON answers)."""

    timeout = 5

    def __init__(self):
        self.access_key_id = settings.SMS_ACCESS_KEY_ID
        self.access_key_secret = settings.SMS_ACCESS_KEY_SECRET
        self.sign_name = settings.SMS_SIGN_NAME
        if not (self.access_key_id and self.access_key_secret and self.sign_name):
            raise ImproperlyConfigured(
                "SMS_BACKEND=aliyun needs SMS_ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET and SMS_SIGN_NAME"
            )

    def build_params(self, message: SmsMessage, *, nonce=None, timestamp=None) -> dict:
        template_code = get_template(message.template).get("code")
        if not template_code:
            raise ImproperlyConfigured(f"SMS template {message.template!r} has no provider code")
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.phone.removeprefix("+86"),
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.access_key_secret)
        return params

    def send(self, message: SmsMessage) -> None:
        template = get_template(message.template)
        if not template.get("code") and template.get("optional"):
            logger.info("SMS template %s has no provider code: not sent", message.template)
            return
        params = self.build_params(message)
        url = f"{ALIYUN_ENDPOINT}?Signature={percent_encode(params.pop('Signature'))}&{aliyun_canonical_query(params)}"
        try:
            response = requests.get(url, timeout=self.timeout)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            logger.warning("Aliyun SMS unreachable: %s", exc)
            raise SmsError(_("短信发送失败，请稍后再试"), code="unreachable") from exc
        if body.get("Code") != "OK":
            logger.warning("Aliyun SMS refused %s: %s %s", message.template, body.get("Code"), body.get("Message"))
            code = body.get("Code") or "unknown"
            if code in ("isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"):
                raise SmsError(_("短信发送过于频繁，请稍后再试"), code=code)
            if code == "isv.MOBILE_NUMBER_ILLEGAL":
                raise SmsError(_("手机号码格式不正确"), code=code)
            raise SmsError(_("短信发送失败，请稍后再试"), code=code)


BACKENDS = {"console": ConsoleBackend, "locmem": LocmemBackend, "aliyun": AliyunBackend}
