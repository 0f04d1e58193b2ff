import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from core.images import ImageFormField
from core.numbers import INT_MAX, IntegerField, parse_int
from core.references import staff_ref

from .models import STORE_PHOTO_LIMIT, Store, StoreHours


class AdjustForm(forms.Form):
    delta = IntegerField(label=_("调整数量"), help_text=_("正数增加，负数减少"), min_value=-1_000_000,
                         max_value=1_000_000)
    reason = forms.CharField(label=_("原因"), max_length=200)
    # A fresh id each time the form is shown: a double click or a re-sent POST adjusts once.
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)

    def reference(self):
        request_id = self.cleaned_data.get("request_id")
        return staff_ref(request_id) if request_id else ""

    def clean_delta(self):
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError(_("调整数量不能为 0"))
        return delta

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("请填写调整原因"))
        return reason


class ThresholdForm(forms.Form):
    low_threshold = IntegerField(label=_("低库存阈值"), min_value=0, max_value=1_000_000)


class TransferForm(forms.Form):
    source = forms.ModelChoiceField(label=_("调出门店"), queryset=Store.objects.none())
    destination = forms.ModelChoiceField(label=_("调入门店"), queryset=Store.objects.none())
    lines = forms.CharField(
        label=_("商品"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("每行一个：SKU编码 数量，例如 TEA-001 5"),
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, source_stores, all_stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = source_stores
        self.fields["destination"].queryset = all_stores

    def clean_lines(self):
        from catalog.models import Sku

        parsed = []
        for number, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            parts = raw.replace(",", " ").replace("，", " ").split()
            if not parts:
                continue
            if len(parts) != 2:
                raise forms.ValidationError(_("第 %(n)s 行格式应为：SKU编码 数量"), params={"n": number})
            code, quantity = parts
            try:
                quantity = parse_int(quantity, minimum=-INT_MAX, maximum=INT_MAX)
            except ValueError as exc:
                raise forms.ValidationError(_("第 %(n)s 行数量不是整数"), params={"n": number}) from exc
            if quantity <= 0:
                raise forms.ValidationError(_("第 %(n)s 行数量必须大于 0"), params={"n": number})
            parsed.append((code, quantity))
        if not parsed:
            raise forms.ValidationError(_("请至少添加一个商品"))
        codes = [code for code, _q in parsed]
        if len(set(codes)) != len(codes):
            raise forms.ValidationError(_("同一 SKU 只能出现一次"))
        skus = dict(Sku.objects.filter(code__in=codes).values_list("code", "pk"))
        missing = [code for code in codes if code not in skus]
        if missing:
            raise forms.ValidationError(_("找不到 SKU：%(codes)s"), params={"codes": ", ".join(missing)})
        return [(skus[code], quantity) for code, quantity in parsed]

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("destination") and data["source"] == data["destination"]:
            self.add_error("destination", _("调出和调入不能是同一门店"))
        return data


class StoreSettingsForm(forms.ModelForm):
    """What a manager may change about their own store. Name, code, address, location, status and
    staff stay with HQ (the admin)."""

    class Meta:
        model = Store
        fields = [
            "phone", "cover", "pickup_enabled", "pickup_lead_minutes", "pickup_slot_minutes",
            "delivery_enabled", "delivery_radius_km", "delivery_fee", "delivery_min_order", "express_enabled",
        ]
        widgets = {"phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"})}

    def clean_phone(self):
        phone = " ".join(self.cleaned_data.get("phone", "").split())
        if phone and not all(ch.isascii() and (ch.isdigit() or ch in "-+() ") for ch in phone):
            raise forms.ValidationError(_("电话只能包含数字、空格和 - + ( )"))
        return phone

    def clean(self):
        data = super().clean()
        if data.get("delivery_enabled") and not data.get("delivery_radius_km"):
            self.add_error("delivery_radius_km", _("开启同城配送需填写配送半径"))
        if not (data.get("pickup_enabled") or data.get("delivery_enabled") or data.get("express_enabled")):
            raise forms.ValidationError(_("自提、同城配送、快递至少开启一种"))
        return data


class MultipleImageInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleImageField(ImageFormField):
    """Several pictures from one file input, each checked by core.images; the reasons for every
    refused file, each with its name. More than `max_files` are refused before any is decoded."""

    widget = MultipleImageInput

    def __init__(self, *, max_files, **kwargs):
        self.max_files = max_files
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            return super().clean(None, initial)  # "required" as usual
        if len(files) > self.max_files:
            raise forms.ValidationError(_("一次最多上传 %(limit)s 张照片"), code="too_many_files",
                                        params={"limit": self.max_files})
        cleaned, errors = [], []
        for file in files:
            try:
                cleaned.append(super().clean(file, initial))
            except forms.ValidationError as exc:
                errors.extend(
                    forms.ValidationError(_("%(name)s：%(reason)s"), code=getattr(exc, "code", None),
                                          params={"name": (getattr(file, "name", "") or "-")[:60], "reason": message})
                    for message in exc.messages
                )
        if errors:
            raise forms.ValidationError(errors)
        return cleaned


class StorePhotoUploadForm(forms.Form):
    photos = MultipleImageField(label=_("选择照片"), max_files=STORE_PHOTO_LIMIT,
                                help_text=_("JPEG、PNG、WebP 或 GIF，每张不超过 10 MB，可一次选择多张"))
    caption = forms.CharField(label=_("说明（可选）"), max_length=60, required=False)


class StoreHoursForm(forms.ModelForm):
    class Meta:
        model = StoreHours
        fields = ["weekday", "opens", "closes"]
        # 24-hour text ("09:00", "22:30"), as shops write their hours; a browser's own time input
        # would show 10:00 AM/PM by the phone's locale and clip the half of day on a narrow screen
        widgets = {
            name: forms.TimeInput(format="%H:%M", attrs={"inputmode": "numeric", "placeholder": "09:00",
                                                          "maxlength": 5, "class": "store-hours__time"})
            for name in ("opens", "closes")
        }


class BaseStoreHoursFormSet(forms.BaseInlineFormSet):
    def get_unique_error_message(self, unique_check):
        return _("同一天不能有两段相同开门时间的营业时间")


StoreHoursFormSet = forms.inlineformset_factory(
    Store, StoreHours, form=StoreHoursForm, formset=BaseStoreHoursFormSet, extra=1, can_delete=True,
    max_num=21, validate_max=True,
)


class DocumentForm(forms.Form):
    """The header of a new stock document; which fields count depends on its kind."""

    store = forms.ModelChoiceField(label=_("门店"), queryset=Store.objects.none())
    source = forms.ChoiceField(label=_("来源"), required=False)
    supplier = forms.CharField(label=_("供应商"), max_length=64, required=False)
    issue_reason = forms.ChoiceField(label=_("出库原因"), required=False)
    category = forms.ModelChoiceField(label=_("盘点范围"), queryset=None, required=False, empty_label=_("全店"))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, kind, stores, **kwargs):
        from catalog.models import Category

        from .models import StockDocument

        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["store"].queryset = stores
        self.fields["source"].choices = StockDocument.Source.choices
        self.fields["issue_reason"].choices = [("", _("请选择")), *StockDocument.IssueReason.choices]
        self.fields["category"].queryset = Category.objects.filter(is_active=True).order_by("tree_id", "lft")
        if kind == "receipt":
            self.fields["source"].required = True
        if kind == "issue":
            self.fields["issue_reason"].required = True

    def clean_supplier(self):
        return "".join(ch for ch in self.cleaned_data["supplier"] if ch.isprintable()).strip()

    def clean_note(self):
        return "".join(ch for ch in self.cleaned_data["note"] if ch.isprintable()).strip()
