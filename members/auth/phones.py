"""Mainland China mobile numbers: what shoppers type, and the E.164 form we store (+8613800138000)."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
INVALID_PHONE = _("请输入正确的11位手机号码")


def normalize_phone(value: str) -> str:
    """"13800138000", "+86 138 0013 8000", "+8613800138000", "86-138..." -> "+8613800138000".

    Raises ValidationError (code "invalid_phone") for anything that is not a mainland mobile number.
    """
    digits = re.sub(r"[\s\-()（）]", "", str(value or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MAINLAND_MOBILE.match(digits):
        raise ValidationError(INVALID_PHONE, code="invalid_phone")
    return f"+86{digits}"


def format_phone(phone: str) -> str:
    """How a mainland mobile number is read: "+8613800138000" -> "138 0013 8000" (3-4-4, no +86).
    Anything else comes back as it was stored."""
    digits = (phone or "").removeprefix("+86")
    if not MAINLAND_MOBILE.match(digits):
        return phone or ""
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}"


def mask_phone(phone: str) -> str:
    digits = (phone or "").removeprefix("+86")
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else digits


class PhoneField(forms.CharField):
    """A phone input that cleans to E.164; allauth's own field would refuse a bare 11-digit number."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("手机号"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "type": "tel",
                    "inputmode": "numeric",
                    "autocomplete": "tel",
                    "placeholder": _("请输入手机号"),
                    "class": "weui-input",
                }
            ),
        )
        kwargs.setdefault("error_messages", {"required": _("请输入手机号")})
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return normalize_phone(value)
