"""Forms of the marketing back office and the coupon grant page in the admin."""

import re
import uuid
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from members.validators import normalize_mainland_mobile

MAX_GRANT_PHONES = 1000
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def normalise_pickup_code(raw):
    """What a keyboard, a handheld scanner or a phone's paste gives us, as the 6 digits the
    service checks: full-width digits folded, spaces and dashes dropped ("123 456", "123-456")."""
    code = str(raw or "").translate(_FULL_WIDTH_DIGITS)
    return re.sub(r"[\s\-]", "", code)[:32]


def is_pickup_code(code):
    return len(code) == 6 and code.isascii() and code.isdigit()


class CouponStatsFilterForm(forms.Form):
    """Coupon statistics: copies claimed in a date range (both ends optional), all or active coupons."""

    # the bounds keep a day's start (and the day after the end) a datetime Python and the database can hold
    date_from = forms.DateField(label=_("领取日期从"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                validators=[MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)])
    date_to = forms.DateField(label=_("至"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                              validators=[MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)])
    active_only = forms.BooleanField(label=_("仅启用的券"), required=False)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise ValidationError(_("开始日期不能晚于结束日期"), code="date_order")
        return cleaned


class GrantCouponForm(forms.Form):
    """Phones of the members to receive a coupon, one per line (commas and semicolons also split;
    spaces inside a number, as in "138 0013 8000", are part of it).

    `request_id` is fresh each time the form is shown; each copy's reference is built from it and
    the member id, so a double click or a re-sent POST grants each member once.
    """

    phones = forms.CharField(
        label=_("会员手机号"), widget=forms.Textarea(attrs={"rows": 10, "cols": 40}),
        help_text=_("每行一个手机号，也可用逗号分隔；一次最多 1000 个"),
    )
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_phones(self):
        raw = [p.strip() for p in re.split(r"[\r\n\t,，;；、]+", self.cleaned_data["phones"]) if p.strip()]
        if not raw:
            raise ValidationError(_("请填写至少一个手机号"), code="required")
        if len(raw) > MAX_GRANT_PHONES:
            raise ValidationError(
                _("一次最多发放 %(n)s 个手机号"), code="too_many", params={"n": MAX_GRANT_PHONES}
            )
        return raw

    def split_phones(self):
        """(valid phones as +86…, in input order without repeats; the entries that are not phones)."""
        valid, invalid, seen = [], [], set()
        for entry in self.cleaned_data["phones"]:
            try:
                phone = "+86" + normalize_mainland_mobile(entry)
            except ValidationError:
                invalid.append(entry)
                continue
            if phone not in seen:
                seen.add(phone)
                valid.append(phone)
        return valid, invalid
