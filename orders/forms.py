"""Forms of the shopper pages: they read what a page sends (choices and tokens, never amounts or
prices beyond the one the shopper confirmed) and refuse anything odd with a message. Numbers are
read through core.numbers (ASCII digits within the database's range); Django's CharField already
refuses NUL characters."""

import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from core.money import to_money
from core.numbers import parse_id

from .models import AfterSale, Order
from .services.aftersales import MAX_PHOTOS
from .services.checkout import AUTO
from .services.fulfilment import CARRIERS

AMOUNT_RE = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")
SOURCES = [("cart", _("购物车")), ("buy_now", _("立即购买"))]


def clean_token(value):
    """A page token: a UUID (the page made it), returned as 32 hex digits."""
    try:
        return uuid.UUID(str(value)).hex
    except (TypeError, ValueError, AttributeError):
        raise ValidationError(_("页面已过期，请刷新后重新提交"), code="token") from None


class ShopperForm(forms.Form):
    """A NUL character in a text field gets our own plain message (nothing with one reaches the
    database); the page tokens (`TOKEN_FIELDS`) just say the page expired, as for any bad token."""

    TOKEN_FIELDS = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if getattr(field, "_shopper_validators", False):
                continue  # a shared field (_Shared), done by the first form
            plain = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]
            if len(plain) != len(field.validators) and name not in self.TOKEN_FIELDS:
                plain.append(ProhibitNullCharactersValidator(message=_("包含无效字符，请修改后重试")))
            field.validators = plain
            if isinstance(field, _Shared):
                field._shopper_validators = True

    def first_error(self):
        for errors in self.errors.values():
            return errors[0]
        return ""


class _Shared:
    """A field that no form changes (nothing sets its choices, widget or messages per form; the
    validators ShopperForm puts in are the same every time): the forms share it instead of Django
    deep-copying every field, its widget and its choices for each form (the checkout page makes one
    on every htmx re-render)."""

    def __deepcopy__(self, memo):
        return self


class _SharedChar(_Shared, forms.CharField):
    pass


class _SharedChoice(_Shared, forms.ChoiceField):
    pass


class _SharedBoolean(_Shared, forms.BooleanField):
    pass


class CheckoutForm(ShopperForm):
    """The checkout page's choices. `store` is only compared with the session's chosen store (the
    order is placed at that one); `expected` is the amount the page showed. Its fields are shared
    by every CheckoutForm (_Shared)."""

    TOKEN_FIELDS = ("token",)

    source = _SharedChoice(choices=SOURCES, required=False)
    fulfilment = _SharedChoice(choices=[("", "")] + list(Order.Fulfilment.choices), required=False)
    address = _SharedChar(required=False, max_length=20)
    slot = _SharedChar(required=False, max_length=32)
    coupon = _SharedChar(required=False, max_length=20)
    use_points = _SharedBoolean(required=False)
    remark = _SharedChar(required=False, max_length=200)
    store = _SharedChar(required=False, max_length=20)
    token = _SharedChar(required=False, max_length=64)
    expected = _SharedChar(required=False, max_length=20)

    def clean_source(self):
        return self.cleaned_data.get("source") or "cart"

    def clean_address(self):
        raw = self.cleaned_data.get("address")
        if not raw:
            return None
        try:
            return parse_id(raw)
        except ValueError:
            raise ValidationError(_("收货地址不存在，请重新选择"), code="address") from None

    def clean_coupon(self):
        raw = self.cleaned_data.get("coupon")
        if "coupon" not in self.data or raw == AUTO:  # not chosen yet: the best usable one
            return AUTO
        if raw in ("", "none"):
            return ""
        try:
            return str(parse_id(raw))
        except ValueError:
            raise ValidationError(_("优惠券不存在或已使用"), code="coupon") from None

    def clean_store(self):
        raw = self.cleaned_data.get("store")
        if not raw:
            return None
        try:
            return parse_id(raw)
        except ValueError:
            raise ValidationError(_("门店信息有误，请刷新后重试"), code="store") from None

    def clean_token(self):
        raw = self.cleaned_data.get("token")
        return clean_token(raw) if raw else ""

    def clean_expected(self):
        raw = self.cleaned_data.get("expected")
        if not raw:
            return None
        # plain yuan as the page wrote it ("61.00"): no exponent, sign or NaN reaches Decimal
        if not AMOUNT_RE.match(raw):
            raise ValidationError(_("页面已过期，请刷新后重新提交"), code="expected")
        return to_money(raw)


class PayForm(ShopperForm):
    channel = forms.ChoiceField(choices=(), error_messages={"required": _("请选择支付方式"),
                                                           "invalid_choice": _("该支付方式暂不可用")})

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, c) for c in channels]


class AfterSaleForm(ShopperForm):
    """A refund request: kind, reason, description, photos; quantities per line come as
    ``qty_<order line id>`` and are read by `quantities()` against the order's own lines."""

    TOKEN_FIELDS = ("request_id",)

    kind = forms.ChoiceField(choices=AfterSale.Kind.choices, error_messages={"required": _("请选择售后类型"),
                                                                            "invalid_choice": _("请选择售后类型")})
    reason = forms.ChoiceField(choices=AfterSale.Reason.choices, error_messages={
        "required": _("请选择售后原因"), "invalid_choice": _("请选择售后原因")})
    description = forms.CharField(required=False, max_length=500, widget=forms.Textarea)
    request_id = forms.CharField(max_length=64, error_messages={"required": _("页面已过期，请刷新后重试")})

    def __init__(self, *args, lines=(), files=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        self.photos = list(files.getlist("photos")) if files is not None else []

    def clean_request_id(self):
        return clean_token(self.cleaned_data.get("request_id"))

    def clean(self):
        cleaned = super().clean()
        if len(self.photos) > MAX_PHOTOS:
            raise ValidationError(_("最多上传 %(n)s 张图片"), params={"n": MAX_PHOTOS}, code="photos")
        cleaned["quantities"] = self.quantities()
        return cleaned

    def quantities(self):
        """{order line id: n} from the steppers; a value that is not a whole number 0..refundable
        is an error naming the line."""
        from core.numbers import parse_int

        chosen = {}
        for line in self.lines:
            raw = self.data.get(f"qty_{line.pk}", "0")
            try:
                n = parse_int(raw, minimum=0, maximum=line.refundable_quantity)
            except ValueError:
                raise ValidationError(
                    _("%(name)s 的数量应为 0 到 %(n)s 之间的整数"),
                    params={"name": line.product_name, "n": line.refundable_quantity}, code="quantity",
                ) from None
            if n:
                chosen[line.pk] = n
        return chosen


class ReturnForm(ShopperForm):
    carrier = forms.ChoiceField(choices=[("", _("请选择快递公司"))] + list(CARRIERS.items()),
                                error_messages={"required": _("请选择快递公司"), "invalid_choice": _("请选择快递公司")})
    tracking_no = forms.CharField(max_length=40, error_messages={"required": _("请填写快递单号")})
