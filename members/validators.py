"""Mainland China mobile numbers: what a shopper types, normalised to 11 digits."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalize_mainland_mobile(value):
    """'+86 138-0013-8000' -> '13800138000'; raises ValidationError for anything not a mainland mobile."""
    raw = _SEPARATORS.sub("", str(value or ""))
    for prefix in ("+86", "0086"):
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
            break
    if not MAINLAND_MOBILE.match(raw):
        raise ValidationError(_("请输入正确的 11 位中国大陆手机号"), code="invalid_phone")
    return raw


def validate_mainland_mobile(value):
    if not MAINLAND_MOBILE.match(str(value or "")):
        raise ValidationError(_("请输入正确的 11 位中国大陆手机号"), code="invalid_phone")
