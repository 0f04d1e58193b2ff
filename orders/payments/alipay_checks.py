"""`manage.py check` for Alipay: a half-configured or mis-keyed Alipay stops the check (and the web
container's start) instead of failing on the first shopper who chooses 支付宝.

Nothing is checked while Alipay is not configured at all (no ALIPAY_* value set). Then: every
setting present; both key files readable and in PEM (the console shows bare base64, which the SDK
refuses: the message says which header lines to add), the app key a private key and Alipay's a
public key, and not the app's own public key put where Alipay's belongs; the seller id a 2088…
partner id; the notification base URL an absolute http(s) address, https unless DEBUG is on.
"""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register

NAMES = ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY_PATH", "ALIPAY_PUBLIC_KEY_PATH", "ALIPAY_SELLER_ID")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_SELLER_ID = re.compile(r"2088[0-9]{12}")


def _read_key(name, *, private):
    """(key, errors) for the PEM file named by setting `name`."""
    from Cryptodome.PublicKey import RSA

    path = getattr(settings, name, "")
    what = "the app private key (应用私钥)" if private else "Alipay's public key (支付宝公钥)"
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Error(f"{name}={path!r}: {what} cannot be read: {exc}", id="orders.E201",
                            hint="Mount the file into the container and name it by its path inside.")]
    stripped = text.strip()
    if stripped and "-----BEGIN" not in stripped and _BASE64.fullmatch(stripped):
        header = "-----BEGIN PRIVATE KEY----- / -----END PRIVATE KEY-----" if private else \
            "-----BEGIN PUBLIC KEY----- / -----END PUBLIC KEY-----"
        return None, [Error(
            f"{name}: {what} is bare base64, as the Alipay console shows it; python-alipay-sdk needs PEM.",
            hint=f"Put the line {header.split(' / ')[0]} above the base64 and {header.split(' / ')[1]} below it"
                 + (" (or -----BEGIN RSA PRIVATE KEY----- for a PKCS#1 key)." if private else "."),
            id="orders.E202")]
    try:
        key = RSA.importKey(stripped)
    except (ValueError, IndexError, TypeError) as exc:
        return None, [Error(f"{name}: {what} is not an RSA key in PEM: {exc}", id="orders.E203")]
    if private and not key.has_private():
        return None, [Error(f"{name}: holds a public key; the app's private key (应用私钥) belongs here.",
                            id="orders.E204")]
    if not private and key.has_private():
        return None, [Error(f"{name}: holds a private key; Alipay's public key (支付宝公钥) belongs here.",
                            id="orders.E204")]
    return key, []


def _notify_base_errors():
    base = getattr(settings, "PAYMENT_NOTIFY_BASE_URL", "")
    if not base:
        return [Error("Alipay is configured but PAYMENT_NOTIFY_BASE_URL is empty: Alipay would have nowhere "
                      "to send its notifications.", hint="Set it to the site's public address, e.g. "
                      "https://shop.example.com", id="orders.E206")]
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return [Error(f"PAYMENT_NOTIFY_BASE_URL={base!r} is not an absolute http(s) address without a query.",
                      id="orders.E206")]
    if parts.scheme == "http" and not settings.DEBUG:
        return [Error(f"PAYMENT_NOTIFY_BASE_URL={base!r} is http while DEBUG is off: payment notifications "
                      "would travel unencrypted (and the HTTPS redirect would lose them).",
                      hint="Use the https address.", id="orders.E207")]
    return []


@register()
def alipay_configuration(app_configs, **kwargs):
    if not any(getattr(settings, name, "") for name in NAMES):
        return []
    errors = [
        Error(f"Alipay is half configured: {name} is empty.", hint="Fill in every ALIPAY_* value, or none.",
              id="orders.E200")
        for name in NAMES if not getattr(settings, name, "")
    ]
    app_key = alipay_key = None
    if settings.ALIPAY_APP_PRIVATE_KEY_PATH:
        app_key, found = _read_key("ALIPAY_APP_PRIVATE_KEY_PATH", private=True)
        errors += found
    if settings.ALIPAY_PUBLIC_KEY_PATH:
        alipay_key, found = _read_key("ALIPAY_PUBLIC_KEY_PATH", private=False)
        errors += found
    if app_key is not None and alipay_key is not None and app_key.publickey() == alipay_key:
        errors.append(Error(
            "ALIPAY_PUBLIC_KEY_PATH holds the app's own public key (应用公钥), not Alipay's: every notification "
            "would be refused.", hint="Copy 支付宝公钥 from the console (开发设置 → 接口加签方式).", id="orders.E205"))
    seller = settings.ALIPAY_SELLER_ID
    if seller and not _SELLER_ID.fullmatch(seller):
        errors.append(Error(f"ALIPAY_SELLER_ID={seller!r} is not an Alipay partner id (2088 and 12 digits).",
                            hint="The console shows it as 商户PID / 合作伙伴身份(PID).", id="orders.E208"))
    return errors + _notify_base_errors()
