"""Forms of the home-page back office (marketing.home_backoffice): banners, notices, featured
products, hot search words and the category grid.

Numbers and ids are read with core.numbers (ASCII digits only, within the database's range): a
"１" or "²" or an id past bigint is a form error, never a 500. A create form carries a one-time
`request_id` (marketing.home.save_content makes one row per id).
"""

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from catalog.models import Category, FeaturedProduct, HotSearchWord, Product
from core.numbers import INT_MAX, parse_id, parse_int

from .models import Banner, Coupon, HomeNotice


class AsciiIntegerField(forms.IntegerField):
    """An integer typed in ASCII digits, within [min_value, INT_MAX]."""

    def __init__(self, *, min_value=0, max_value=INT_MAX, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_int(str(value), minimum=self.min_value, maximum=self.max_value)
        except ValueError:
            raise ValidationError(
                _("请输入 %(min)s 到 %(max)s 之间的整数（半角数字）"), code="invalid",
                params={"min": self.min_value, "max": self.max_value},
            ) from None


class AsciiIdChoiceField(forms.ModelChoiceField):
    """A choice of row by id: an id that is not ASCII digits within bigint, or not in the
    queryset (another kind of row, a deleted one), is "not a valid choice"."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            parse_id(str(value))
        except ValueError:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None
        return super().to_python(value)


class ScheduleFormMixin:
    date_widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def _setup_schedule(self):
        for name in ("starts_at", "ends_at"):
            if name in self.fields:
                self.fields[name].widget = self.date_widget
                self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class BannerForm(ScheduleFormMixin, forms.ModelForm):
    sort_order = AsciiIntegerField(label=_("排序"), initial=0, help_text=_("数字越小越靠前"))
    product = AsciiIdChoiceField(label=_("商品"), queryset=Product.objects.none(), required=False)
    category = AsciiIdChoiceField(label=_("分类"), queryset=Category.objects.none(), required=False)
    coupon = AsciiIdChoiceField(label=_("优惠券"), queryset=Coupon.objects.none(), required=False)

    class Meta:
        model = Banner
        fields = ["title", "image", "link_kind", "product", "category", "coupon", "path",
                  "starts_at", "ends_at", "sort_order", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_schedule()
        self.fields["product"].queryset = Product.objects.exclude(status=Product.Status.DRAFT).order_by("-id")
        self.fields["category"].queryset = Category.objects.filter(is_active=True).order_by("tree_id", "lft")
        self.fields["coupon"].queryset = Coupon.objects.filter(is_active=True, claimable=True)
        self.fields["path"].widget.attrs["placeholder"] = "/coupons/centre/"


class HomeNoticeForm(ScheduleFormMixin, forms.ModelForm):
    sort_order = AsciiIntegerField(label=_("排序"), initial=0, help_text=_("数字越小越靠前"))

    class Meta:
        model = HomeNotice
        fields = ["text", "link_path", "starts_at", "ends_at", "sort_order", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_schedule()


class FeaturedProductForm(forms.ModelForm):
    product = AsciiIdChoiceField(label=_("商品"), queryset=Product.objects.none())
    sort_order = AsciiIntegerField(label=_("排序"), initial=0, help_text=_("数字越小越靠前"))

    class Meta:
        model = FeaturedProduct
        fields = ["product", "sort_order"]
        error_messages = {"product": {"unique": _("该商品已在精选列表中")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(status=Product.Status.LISTED).order_by("-id")


class HotSearchWordForm(forms.ModelForm):
    sort_order = AsciiIntegerField(label=_("排序"), initial=0, help_text=_("数字越小越靠前"))

    class Meta:
        model = HotSearchWord
        fields = ["word", "sort_order", "is_active"]

    def clean_word(self):
        word = " ".join(self.cleaned_data["word"].split())
        if not word or not word.isprintable():
            raise ValidationError(_("请填写热搜词"), code="required")
        return word


class CategoryGridForm(forms.ModelForm):
    """A first-level category's place and icon in the home page's grid (the rest is in the admin)."""

    sort_order = AsciiIntegerField(label=_("排序"), initial=0, help_text=_("数字越小越靠前"))

    class Meta:
        model = Category
        fields = ["sort_order", "icon_name", "icon"]


class OneTimeForm(forms.Form):
    """The create form's one-time id."""

    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
