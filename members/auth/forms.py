"""allauth's forms with our phone field and Chinese labels; the staff form keeps the password."""

import re

from allauth.account.forms import ConfirmLoginCodeForm, LoginForm, SignupForm, VerifyPhoneForm
from django import forms
from django.utils.translation import gettext_lazy as _

from .phones import PhoneField


class PhoneLoginForm(LoginForm):
    """Shopper login: a phone number; allauth then texts a code (login by code, no password)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"] = PhoneField()
        self.fields.pop("password", None)

    def user_credentials(self):
        return {"phone": self.cleaned_data["login"]}


class StaffLoginForm(LoginForm):
    """Staff login: username + password through allauth (rate limits on failed attempts included)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"] = forms.CharField(
            label=_("用户名"),
            max_length=150,
            widget=forms.TextInput(
                attrs={"autocomplete": "username", "placeholder": _("请输入用户名"), "class": "weui-input"}
            ),
        )
        self.fields["password"].label = _("密码")
        self.fields["password"].widget.attrs.update({"placeholder": _("请输入密码"), "class": "weui-input"})
        self.order_fields(["login", "password"])

    def _setup_password_field(self):
        # allauth drops the password when signup has no password field; staff keep theirs
        pass

    def user_credentials(self):
        return {"username": self.cleaned_data["login"], "password": self.cleaned_data.get("password")}


class PhoneSignupForm(SignupForm):
    """Shopper signup: the phone is required (allauth's setting keeps it optional, see settings)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"].required = True


class BindPhoneForm(forms.Form):
    phone = PhoneField()


def code_field():
    return forms.CharField(
        label=_("验证码"),
        max_length=12,
        error_messages={"required": _("请输入验证码")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "placeholder": _("6位数字验证码"),
                "class": "weui-input",
            }
        ),
    )


class PhoneCodeForm(forms.Form):
    code = code_field()

    def clean_code(self):
        # 6 ASCII digits: a full-width or Arabic-Indic digit, a NUL or a pasted paragraph is a wrong code
        code = self.cleaned_data["code"].strip()
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError(_("验证码错误或已过期"), code="incorrect_code")
        return code


class ConfirmCodeForm(ConfirmLoginCodeForm):
    """allauth's login-code check with our 6-digit input."""

    code = code_field()


class VerifyPhoneCodeForm(VerifyPhoneForm):
    """allauth's phone verification check (signup) with our 6-digit input."""

    code = code_field()


class BindPhoneCodeForm(VerifyPhoneForm):
    """The code for a number being bound.

    If another account holds the number *verified*, the code proves the shopper owns that account
    too: a WeChat-only account may then be merged into it (`merge_into`); anyone else is refused.
    """

    code = code_field()
    merge_into = None

    def clean_code(self):
        from allauth.account.forms import BaseConfirmCodeForm
        from django.contrib.auth import get_user_model

        from .adapter import AccountAdapter
        from .merging import is_wechat_only

        code = BaseConfirmCodeForm.clean_code(self)
        owner = get_user_model().objects.filter(phone=self.phone, phone_verified=True).exclude(pk=self.user.pk).first()
        if owner is not None:
            if not is_wechat_only(self.user):
                raise forms.ValidationError(AccountAdapter.error_messages["phone_taken"], code="phone_taken")
            self.merge_into = owner
        return code


class CodeLoginStartForm(forms.Form):
    """Step 1 of the one-step login: the number, and consent to the 用户协议 and 隐私政策."""

    phone = PhoneField()
    agree = forms.BooleanField(
        required=True,
        error_messages={"required": _("请先阅读并同意用户协议和隐私政策")},
        widget=forms.CheckboxInput(attrs={"class": "weui-agree__checkbox"}),
    )
