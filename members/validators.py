"""Mainland China mobile numbers as an address form takes them: 11 digits (the E.164 form of the
same rule, used for accounts, lives in members/auth/phones.py; this module only changes the shape
and the message)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .auth.phones import MAINLAND_MOBILE, normalize_phone

INVALID = _("请输入正确的 11 位中国大陆手机号")


def normalize_mainland_mobile(value):
    """'+86 138-0013-8000' -> '13800138000'; raises ValidationError for anything not a mainland mobile."""
    try:
        return normalize_phone(value).removeprefix("+86")
    except ValidationError:
        raise ValidationError(INVALID, code="invalid_phone") from None


def validate_mainland_mobile(value):
    if not MAINLAND_MOBILE.match(str(value or "")):
        raise ValidationError(INVALID, code="invalid_phone")
