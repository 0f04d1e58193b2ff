"""allauth adapters: where phone numbers live on our User, how codes are texted, WeChat users."""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.navigation import is_safe_path
from core.sms import SmsError, send_sms

from .phones import PhoneField, normalize_phone

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """Phone support for allauth: all five phone methods, so allauth turns phone login on."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "incorrect_code": _("验证码错误或已过期"),
        "phone_taken": _("该手机号已绑定其他账号"),
        "unknown_phone": _("该手机号尚未注册"),
        "too_many_login_attempts": _("尝试次数过多，请稍后再试"),
        "rate_limited": _("操作过于频繁，请稍后再试"),
        "invalid_login": _("请输入正确的11位手机号码"),
        "username_password_mismatch": _("用户名或密码错误"),
    }

    def is_safe_url(self, url):
        """Only a path on this site, by the one rule every `next` follows (core.navigation)."""
        from allauth.core import context

        return is_safe_path(url, context.request)

    # --- phone numbers on members.User (phone is E.164, unique, nullable) -------------------
    def phone_form_field(self, **kwargs):
        kwargs.pop("label", None)
        return PhoneField(**kwargs)

    def clean_phone(self, phone):
        return normalize_phone(phone)

    def get_phone(self, user):
        if not user.phone:
            return None
        return user.phone, user.phone_verified

    def set_phone(self, user, phone, verified):
        user.phone = phone
        user.phone_verified = verified
        user.save(update_fields=["phone", "phone_verified"])

    def set_phone_verified(self, user, phone):
        # Also the end of "bind/change phone": the number becomes the user's only after its code.
        # Proving the number by code beats an unproven claim: an account that typed this number at
        # signup but never verified it lets go of it.
        previous = (user.phone, user.phone_verified)
        user.phone = phone
        user.phone_verified = True
        try:
            with transaction.atomic():
                get_user_model().objects.filter(phone=phone, phone_verified=False).exclude(pk=user.pk).update(
                    phone=None
                )
                user.save(update_fields=["phone", "phone_verified"])
        except IntegrityError:
            # someone bound the same number between the code check and now
            user.phone, user.phone_verified = previous
            raise self.validation_error("phone_taken") from None

    def get_user_by_phone(self, phone):
        return get_user_model().objects.filter(phone=phone).first()

    # --- texting ------------------------------------------------------------------------------
    def _text(self, phone, template, params=None):
        try:
            send_sms(phone, template, params or {})
        except SmsError as exc:
            # the code page still shows; the shopper can ask again (rate-limited)
            logger.warning("SMS %s to %s failed: %s", template, phone[-4:], exc.code)
            if self.request is not None:
                messages.error(self.request, str(exc))

    def send_verification_code_sms(self, user, phone, code, **kwargs):
        self._text(phone, "verification_code", {"code": code})

    # allauth's enumeration texts ("not registered", "already registered"): never sent. Shoppers
    # log in or sign up in one step (members.auth.code_login), where every number gets its code.
    def send_unknown_account_sms(self, phone, **kwargs):
        logger.info("not texting 'unknown account' to %s: one-step login", phone[-4:])

    def send_account_already_exists_sms(self, phone):
        logger.info("not texting 'account exists' to %s: one-step login", phone[-4:])

    # --- users --------------------------------------------------------------------------------
    def save_user(self, request, user, form, commit=True):
        # read by members.receivers when the Member profile is created with the user
        user.registration_source = "phone"
        self._signup_phone = form.cleaned_data.get("phone")
        try:
            return super().save_user(request, user, form, commit=commit)
        finally:
            self._signup_phone = None

    def populate_username(self, request, user):
        # Shoppers never see their username: phone signups get "m13800138000" (unique-checked).
        phone = getattr(self, "_signup_phone", None)
        if phone and not user.username:
            user.username = self.generate_unique_username([f"m{phone.removeprefix('+86')}", "user"])
        super().populate_username(request, user)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """WeChat: in-app authorisation (see members.auth.weixin), automatic signup without a phone."""

    def get_provider(self, request, provider, client_id=None):
        instance = super().get_provider(request, provider, client_id=client_id)
        if instance.id == "weixin":
            from .weixin import WechatOAuth2Adapter

            instance.oauth2_adapter_class = WechatOAuth2Adapter
        return instance

    def get_connect_redirect_url(self, request, socialaccount):
        # "绑定微信" from the member centre (process=connect) returns there
        return reverse("members:me")

    def is_auto_signup_allowed(self, request, sociallogin):
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        extra = sociallogin.account.extra_data or {}
        user.nickname = (extra.get("nickname") or "")[:64]
        user.registration_source = "wechat"  # read by members.receivers (Member.Source.WECHAT)
        user.first_name = ""
        user.last_name = ""
        # ASCII username from the openid (allauth replaces it if already taken)
        user.username = f"wx_{sociallogin.account.uid[-12:]}"
        return user
