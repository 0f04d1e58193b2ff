"""Forms of the orders back office. They only read and bound what staff type; every rule about
what may happen to an order is the services' (orders.services), which raise OrderError.

Django's CharField already refuses NUL characters; dates are bounded so that a day's start (and the
day after the end) is a datetime Python and the database can hold; amounts are Decimal with two
places, never float; numbers from the query string go through core.numbers.
"""

import re
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from members.validators import normalize_mainland_mobile

from .models import AfterSale, Order
from .services.fulfilment import CARRIERS

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)
MAX_PARCELS = 10
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _date_field(label):
    return forms.DateField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)],
    )


def error_text(form):
    """A bound form's errors as one line for a message."""
    return "；".join(str(e) for errors in form.errors.values() for e in errors)


# --- the queue ----------------------------------------------------------------------------------
class QueueFilterForm(forms.Form):
    """The order queue's filters (GET). Bad values are form errors; the page then shows the
    unfiltered queue with the errors, never a 500."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=64, strip=True)
    date_from = _date_field(_("下单日期从"))
    date_to = _date_field(_("至"))
    fulfilment = forms.ChoiceField(
        label=_("配送方式"), required=False, choices=[("", _("全部配送方式")), *Order.Fulfilment.choices]
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise ValidationError(_("开始日期不能晚于结束日期"), code="date_order")
        return cleaned


def read_search(raw):
    """What a search box text means: ("phone", "13800138000") for a mainland mobile in any usual
    spelling (+86, spaces, dashes, full-width digits), ("number", digits) for an order-number-like
    run of 6-24 digits, else ("name", text) for a receiver's name. ("", "") for nothing."""
    text = str(raw or "").translate(_FULL_WIDTH_DIGITS).strip()
    if not text:
        return "", ""
    try:
        return "phone", normalize_mainland_mobile(text)
    except ValidationError:
        pass
    compact = re.sub(r"[\s\-]", "", text)
    if compact.isascii() and compact.isdigit() and 6 <= len(compact) <= 24:
        return "number", compact
    return "name", text


# --- order actions ------------------------------------------------------------------------------
class ShipForm(forms.Form):
    """Parcels of an express order: `carrier` and `tracking_no` repeated, one pair per parcel; empty
    rows are skipped. The service checks the carrier code and the tracking number's format."""

    def __init__(self, data):
        super().__init__(data)
        carriers = data.getlist("carrier")[:MAX_PARCELS + 1]
        numbers = data.getlist("tracking_no")[:MAX_PARCELS + 1]
        self.parcels = [
            (str(c or "").strip()[:32], str(t or "").strip()[:64])
            for c, t in zip(carriers, numbers, strict=False)
            if str(c or "").strip() or str(t or "").strip()
        ]

    def clean(self):
        if not self.parcels:
            raise ValidationError(_("请填写至少一个快递单号"), code="required")
        if len(self.parcels) > MAX_PARCELS:
            raise ValidationError(_("一次最多 %(n)s 个包裹"), code="too_many", params={"n": MAX_PARCELS})
        return super().clean()


class ParcelForm(forms.Form):
    carrier = forms.ChoiceField(label=_("快递公司"), choices=list(CARRIERS.items()))
    tracking_no = forms.CharField(label=_("快递单号"), max_length=40)


class RouteForm(forms.Form):
    """One route line of a parcel typed by staff (the embedded tracking default asks no provider)."""

    shipment = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    occurred_at = forms.DateTimeField(label=_("物流时间"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    context = forms.CharField(label=_("物流信息"), max_length=255)
    location = forms.CharField(label=_("地点"), max_length=64, required=False)


class DispatchForm(forms.Form):
    courier_name = forms.CharField(label=_("配送员"), max_length=32)
    courier_phone = forms.CharField(label=_("配送员电话"), max_length=20)

    def clean_courier_phone(self):
        try:
            return normalize_mainland_mobile(self.cleaned_data["courier_phone"].translate(_FULL_WIDTH_DIGITS))
        except ValidationError:
            raise ValidationError(_("请填写配送员的 11 位手机号"), code="invalid_phone") from None


class ReasonForm(forms.Form):
    """Cancel (unpaid, or paid with a refund) and reject: the reason is required."""

    reason = forms.CharField(label=_("原因"), max_length=200)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("拒绝原因"), max_length=255)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("处理说明"), max_length=255, required=False)


class PriceForm(forms.Form):
    """改价 before payment: the goods' adjustment (negative: cheaper) replaces any earlier one."""

    goods_adjustment = forms.DecimalField(
        label=_("商品改价（元）"), max_digits=9, decimal_places=2,
        min_value=Decimal("-1000000"), max_value=Decimal("1000000"),
        help_text=_("负数为优惠，如 -5 表示便宜 5 元；会替换之前的改价"),
    )
    delivery_fee = forms.DecimalField(
        label=_("运费（元）"), required=False, max_digits=8, decimal_places=2,
        min_value=Decimal("0"), max_value=Decimal("100000"),
    )
    reason = forms.CharField(label=_("改价原因"), max_length=100)


class RemarkForm(forms.Form):
    remark = forms.CharField(label=_("商家备注"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


# --- pickups ------------------------------------------------------------------------------------
def normalise_pickup_code(raw):
    """What a keyboard, a handheld scanner or a phone's paste gives us, as the 6 digits the
    services check: full-width digits folded, spaces and dashes dropped ("123 456", "123-456")."""
    code = str(raw or "").translate(_FULL_WIDTH_DIGITS)
    return re.sub(r"[\s\-]", "", code)[:32]


def is_pickup_code(code):
    return len(code) == 6 and code.isascii() and code.isdigit()


# --- after-sales --------------------------------------------------------------------------------
AFTER_SALE_TABS = [
    (AfterSale.Status.REQUESTED, _("待审核")),
    (AfterSale.Status.AWAITING_RETURN, _("待退货")),
    (AfterSale.Status.RETURNED, _("待收货确认")),
    (AfterSale.Status.REFUNDING, _("退款中")),
    (AfterSale.Status.REFUNDED, _("已完成")),
    (AfterSale.Status.REJECTED, _("已拒绝")),
]


# --- dashboard ----------------------------------------------------------------------------------
# key: (days, label)
PERIODS = {"today": (1, _("今天")), "7d": (7, _("近 7 天")), "30d": (30, _("近 30 天"))}
