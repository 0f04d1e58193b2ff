"""`manage.py check` for WeChat Pay: a configuration that would fail on the first shopper (or, worse,
accept forged notices) stops the deploy instead. Checked only when WeChat Pay is configured at all
(any WECHAT_PAY_* setting); registered by orders.apps.

Errors: a required setting missing; the APIv3 key not 32 bytes; the merchant private key not a PEM
PKCS#8 RSA key (bare base64 and PKCS#1 "BEGIN RSA PRIVATE KEY" are refused: wechatpayv3 wraps the
text in PKCS#8 markers); the WeChat Pay public key not a PEM public key or its id missing (or an id
without the key); PAYMENT_NOTIFY_BASE_URL not an absolute URL, or http while DEBUG is off.
"""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register

from .wechatpay import WeChatPayConfig, configured

PRIVATE_PEM = "-----BEGIN PRIVATE KEY-----"
PKCS1_PEM = "-----BEGIN RSA PRIVATE KEY-----"
PUBLIC_PEM = "-----BEGIN PUBLIC KEY-----"


def _error(number, message, hint):
    return Error(message, hint=hint, id=f"wechatpay.E{number:03d}")


def _read(path):
    try:
        return Path(path).read_text(encoding="utf-8").strip(), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, str(exc)


def _private_key_problem(text):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if text.startswith(PKCS1_PEM):
        return "is PKCS#1 (BEGIN RSA PRIVATE KEY); WeChat Pay's client needs PKCS#8 (BEGIN PRIVATE KEY)"
    if not text.startswith(PRIVATE_PEM):
        return "is not a PEM private key (bare base64 or another format)"
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        return f"cannot be loaded: {exc}"
    if not isinstance(key, rsa.RSAPrivateKey):
        return "is not an RSA key"
    return None


def _public_key_problem(text):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if not text.startswith(PUBLIC_PEM):
        return "is not a PEM public key (bare base64, a certificate or another format)"
    try:
        key = load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        return f"cannot be loaded: {exc}"
    if not isinstance(key, rsa.RSAPublicKey):
        return "is not an RSA key"
    return None


@register()
def wechat_pay_configuration(app_configs, **kwargs):
    if not configured():
        return []
    config = WeChatPayConfig.from_settings()
    errors = []
    missing = [name for name, value in (
        ("WECHAT_APP_ID", config.appid), ("WECHAT_PAY_MCHID", config.mchid),
        ("WECHAT_PAY_APIV3_KEY", config.apiv3_key), ("WECHAT_PAY_CERT_SERIAL_NO", config.serial_no),
        ("WECHAT_PAY_PRIVATE_KEY_PATH", config.private_key_path), ("PAYMENT_NOTIFY_BASE_URL", config.notify_base_url),
    ) if not value]
    if missing:
        errors.append(_error(1, f"WeChat Pay is configured but {', '.join(missing)} is empty.",
                             "Fill them in (README: WeChat Pay console), or clear every WECHAT_PAY_* setting."))
    if config.apiv3_key and len(config.apiv3_key.encode("utf-8")) != 32:
        errors.append(_error(2, "WECHAT_PAY_APIV3_KEY is not 32 bytes: notices could not be decrypted.",
                             "Copy the APIv3 key (32 characters) set in the merchant platform's API security page."))
    if config.private_key_path:
        text, problem = _read(config.private_key_path)
        problem = problem or _private_key_problem(text)
        if problem:
            errors.append(_error(3, f"WECHAT_PAY_PRIVATE_KEY_PATH ({config.private_key_path}) {problem}.",
                                 "Use apiclient_key.pem from the merchant API certificate tool; convert a PKCS#1 key "
                                 "with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out apiclient_key.pem`."))
    if config.public_key_path and not config.public_key_id:
        errors.append(_error(4, "WECHAT_PAY_PUBLIC_KEY_PATH is set but WECHAT_PAY_PUBLIC_KEY_ID is empty.",
                             "Set the public key id shown beside the WeChat Pay public key (PUB_KEY_ID_…)."))
    if config.public_key_id and not config.public_key_path:
        errors.append(_error(5, "WECHAT_PAY_PUBLIC_KEY_ID is set but WECHAT_PAY_PUBLIC_KEY_PATH is empty.",
                             "Download the WeChat Pay public key (pub_key.pem) and point the setting at it."))
    if config.public_key_id and not config.public_key_id.startswith("PUB_KEY_ID_"):
        errors.append(_error(6, f"WECHAT_PAY_PUBLIC_KEY_ID={config.public_key_id!r} is not a public key id.",
                             "WeChat Pay public key ids look like PUB_KEY_ID_0114232134912410000000000000."))
    if config.public_key_path:
        text, problem = _read(config.public_key_path)
        problem = problem or _public_key_problem(text)
        if problem:
            errors.append(_error(7, f"WECHAT_PAY_PUBLIC_KEY_PATH ({config.public_key_path}) {problem}.",
                                 "Use the pub_key.pem downloaded from the merchant platform (BEGIN PUBLIC KEY)."))
    if config.notify_base_url:
        parts = urlsplit(config.notify_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            errors.append(_error(8, f"PAYMENT_NOTIFY_BASE_URL={config.notify_base_url!r} is not an absolute address.",
                                 "e.g. https://shop.example.com (WeChat Pay posts to …/payments/wechatpay/notify/)."))
        elif parts.scheme != "https" and not settings.DEBUG:
            errors.append(_error(9, "PAYMENT_NOTIFY_BASE_URL is http while DEBUG is off: WeChat Pay only notifies "
                                    "https addresses.", "Serve the site over https and use its https address."))
    return errors
