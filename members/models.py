from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """Every person who logs in: shoppers, promoters and staff.

    Shoppers sign in by phone + SMS code or by WeChat, so `phone` is optional (a WeChat user binds
    it later) but unique when present, stored in E.164 (+8613800138000). Staff keep username and
    password.
    """

    phone = models.CharField(_("手机号"), max_length=20, unique=True, null=True, blank=True)
    phone_verified = models.BooleanField(_("手机号已验证"), default=False)
    nickname = models.CharField(_("昵称"), max_length=64, blank=True)
    avatar = models.ImageField(_("头像"), upload_to="avatars/%Y/%m/", blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        swappable = "AUTH_USER_MODEL"

    def __str__(self):
        return self.nickname or self.phone or self.username

    @property
    def display_name(self):
        return self.nickname or self.masked_phone or self.username

    @property
    def masked_phone(self):
        if not self.phone:
            return ""
        digits = self.phone.removeprefix("+86")
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else digits
