import math
import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from core.images import ImageFormField
from core.numbers import IntegerField

from . import regions
from .models import MAX_AVATAR_BYTES, Address, Member, MemberLevel
from .validators import normalize_mainland_mobile


def _weui(fields):
    """WeUI classes on the widgets, so templates render fields with {{ field }}."""
    for field in fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "weui-switch"
        elif isinstance(widget, forms.Select):
            css = "weui-select"
        else:
            css = "weui-input"
        widget.attrs["class"] = css


# A decimal number in ASCII as a browser writes it (toFixed) or Python renders a float (repr, which
# may use an exponent); float() alone would also take "１２", " 1_0", "inf" and "nan".
COORDINATE = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
COORDINATE_MAX_LENGTH = 32


class CoordinateField(forms.Field):
    """An optional latitude or longitude in a hidden input, filled by "使用当前位置": a finite
    number within ±`limit`, or None. Anything else (a NUL, a non-ASCII digit, a huge number) is a
    form error."""

    widget = forms.HiddenInput
    default_error_messages = {"invalid": _("位置信息无效，请重新定位")}

    def __init__(self, *, limit, **kwargs):
        out_of_range = _("位置信息超出范围，请重新定位")
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "validators",
            [MinValueValidator(-limit, message=out_of_range), MaxValueValidator(limit, message=out_of_range)],
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        if len(text) > COORDINATE_MAX_LENGTH or not COORDINATE.fullmatch(text):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        number = float(text)
        if not math.isfinite(number):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class AddressForm(forms.ModelForm):
    """Receiver, mainland mobile, province/city/district from the dataset, street address, and an
    optional position (latitude and longitude together, from the browser's geolocation).

    A saved address whose region changes while its position does not loses the position: it was
    taken for the old place and would measure same-city delivery from there.
    """

    province = forms.ChoiceField(label=_("省份"), error_messages={"invalid_choice": _("请选择有效的省份")})
    city = forms.ChoiceField(
        label=_("城市"), error_messages={"invalid_choice": _("所选城市不属于该省份，请重新选择")}
    )
    district = forms.ChoiceField(
        label=_("区县"), error_messages={"invalid_choice": _("所选区县不属于该城市，请重新选择")}
    )
    phone = forms.CharField(label=_("手机号"), max_length=20)
    latitude = CoordinateField(label=_("纬度"), limit=90)
    longitude = CoordinateField(label=_("经度"), limit=180)
    make_default = forms.BooleanField(label=_("设为默认地址"), required=False)

    class Meta:
        model = Address
        fields = ["receiver", "phone", "province", "city", "district", "detail", "latitude", "longitude"]
        widgets = {"detail": forms.TextInput(attrs={"placeholder": _("街道、楼牌号等")})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        data = self.data if self.is_bound else {}
        province = data.get("province") or (self.instance.province if self.instance.pk else "")
        city = data.get("city") or (self.instance.city if self.instance.pk else "")
        blank = [("", _("请选择"))]
        self.fields["province"].choices = blank + [(p, p) for p in regions.provinces()]
        self.fields["city"].choices = blank + [(c, c) for c in regions.cities(province)]
        self.fields["district"].choices = blank + [(d, d) for d in regions.districts(province, city)]
        self.fields["province"].widget.attrs["data-region"] = "province"
        self.fields["city"].widget.attrs["data-region"] = "city"
        self.fields["district"].widget.attrs["data-region"] = "district"
        self.fields["phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "tel"})
        if self.instance.pk:
            self.fields["make_default"].initial = self.instance.is_default
        _weui(self.fields)

    def clean_phone(self):
        return normalize_mainland_mobile(self.cleaned_data["phone"])

    def clean_receiver(self):
        receiver = self.cleaned_data["receiver"].strip()
        if not receiver:
            raise ValidationError(_("请填写收货人"))
        return receiver

    def clean(self):
        cleaned = super().clean()
        province, city, district = (cleaned.get(k) for k in ("province", "city", "district"))
        if province and city and district and not regions.is_valid(province, city, district):
            raise ValidationError(_("省市区不匹配，请重新选择"), code="invalid_region")
        self._clean_position(cleaned)
        return cleaned

    def _clean_position(self, cleaned):
        if "latitude" in self.errors or "longitude" in self.errors:
            return
        latitude, longitude = cleaned.get("latitude"), cleaned.get("longitude")
        if (latitude is None) != (longitude is None):
            # neither half reaches the address (the one error is the form's, not the constraint's too)
            cleaned.pop("latitude", None)
            cleaned.pop("longitude", None)
            raise ValidationError(_("位置信息不完整，请重新定位"), code="incomplete_position")
        changed = set(self.changed_data)
        moved = changed & {"province", "city", "district"}
        if self.instance.pk and moved and not changed & {"latitude", "longitude"}:
            cleaned["latitude"] = cleaned["longitude"] = None

    @property
    def is_located(self):
        """Whether the form carries a position (as shown: bound data, else the saved address)."""
        return all(self[name].value() not in (None, "") for name in ("latitude", "longitude"))


class ProfileForm(forms.Form):
    nickname = forms.CharField(label=_("昵称"), max_length=64)
    # decoded, re-encoded without EXIF and named by its real format, or refused (core.images)
    avatar = ImageFormField(label=_("头像"), required=False, max_bytes=MAX_AVATAR_BYTES)
    gender = forms.ChoiceField(label=_("性别"), choices=Member.Gender.choices)
    birthday = forms.DateField(
        label=_("生日"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _weui(self.fields)

    def clean_nickname(self):
        nickname = self.cleaned_data["nickname"].strip()
        if not nickname:
            raise ValidationError(_("请填写昵称"))
        return nickname


class PointsAdjustForm(forms.Form):
    delta = IntegerField(
        label=_("调整积分"), help_text=_("正数增加，负数扣减"), min_value=-10_000_000, max_value=10_000_000
    )
    reason = forms.CharField(label=_("原因"), max_length=200)
    # A fresh id each time the form is shown: a double click or a re-sent POST carries the same id
    # and the ledger's (member, kind, reference) key applies the adjustment once.
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)

    def reference(self):
        request_id = self.cleaned_data.get("request_id")
        return f"staff:{request_id}" if request_id else ""

    def clean_delta(self):
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise ValidationError(_("调整数量必须是非零整数"))
        return delta

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("请填写原因"))
        return reason


class LevelChangeForm(forms.Form):
    level = forms.ModelChoiceField(label=_("新等级"), queryset=MemberLevel.objects.order_by("rank"))
    reason = forms.CharField(label=_("原因"), max_length=200)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("请填写原因"))
        return reason
