"""The shopping cart: one per member (kept across devices), or one per browser session before login
(merged into the member's cart on login)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MAX_LINE_QUANTITY = 999
MAX_CART_LINES = 100


class Cart(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="cart",
        verbose_name=_("会员"),
    )
    # an anonymous cart is found by this token, kept in the session (it survives login's new session key)
    token = models.UUIDField(_("匿名购物车标识"), default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("购物车")
        verbose_name_plural = _("购物车")

    def __str__(self):
        return f"cart {self.pk} ({self.user_id or 'anonymous'})"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines", verbose_name=_("购物车"))
    sku = models.ForeignKey("catalog.Sku", on_delete=models.CASCADE, related_name="+", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("数量"))
    selected = models.BooleanField(_("已勾选"), default=True)
    added_at = models.DateTimeField(_("加入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("购物车商品")
        verbose_name_plural = _("购物车商品")
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="cartline_one_per_sku"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY), name="cartline_quantity_range"
            ),
        ]

    def __str__(self):
        return f"{self.sku_id} x {self.quantity}"
