"""Delivery: express fee rules (HQ's, overridable per store), parcels and their tracking events."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .order import Order, money_field


class ExpressFeeRule(models.Model):
    """What express delivery costs. The rule without a store is HQ's; a store's own rule replaces
    it for that store. `excluded_provinces` are not served at all."""

    store = models.OneToOneField(
        "stores.Store", on_delete=models.CASCADE, null=True, blank=True, related_name="express_rule",
        verbose_name=_("门店"), help_text=_("留空为总部默认规则"),
    )
    base_fee = money_field(_("运费"), default=Decimal("10.00"))
    free_over = models.DecimalField(
        _("满额包邮"), max_digits=12, decimal_places=2, null=True, blank=True, help_text=_("商品实付满多少元包邮，留空不包邮")
    )
    excluded_provinces = models.CharField(
        _("不配送地区"), max_length=500, blank=True, help_text=_("省份名称，用逗号分隔，如：新疆维吾尔自治区,西藏自治区")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("快递运费规则")
        verbose_name_plural = _("快递运费规则")
        constraints = [
            models.UniqueConstraint(fields=["store"], condition=Q(store__isnull=True), name="expressrule_one_hq_rule"),
            models.CheckConstraint(condition=Q(base_fee__gte=0), name="expressrule_fee_gte_0"),
            models.CheckConstraint(
                condition=Q(free_over__isnull=True) | Q(free_over__gte=0), name="expressrule_free_over_gte_0"
            ),
        ]

    def __str__(self):
        return str(self.store) if self.store_id else str(_("总部默认"))

    @property
    def excluded(self):
        return [p.strip() for p in self.excluded_provinces.replace("，", ",").split(",") if p.strip()]


class Shipment(models.Model):
    """A parcel (express) with its carrier and tracking number; an order may go in several."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments", verbose_name=_("订单"))
    carrier_code = models.CharField(_("快递公司编码"), max_length=32)
    carrier_name = models.CharField(_("快递公司"), max_length=32)
    tracking_no = models.CharField(_("快递单号"), max_length=40)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("发货人")
    )
    last_state = models.CharField(_("物流状态"), max_length=16, blank=True)
    last_polled_at = models.DateTimeField(_("最近查询"), null=True, blank=True)
    created_at = models.DateTimeField(_("发货时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("包裹")
        verbose_name_plural = _("包裹")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["carrier_code", "tracking_no"], name="shipment_unique_tracking"),
        ]

    def __str__(self):
        return f"{self.carrier_name} {self.tracking_no}"


class TrackingEvent(models.Model):
    """One line of a parcel's route, from the tracking provider (or typed by staff)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events", verbose_name=_("包裹"))
    occurred_at = models.DateTimeField(_("时间"))
    state = models.CharField(_("状态"), max_length=16, blank=True)
    context = models.CharField(_("内容"), max_length=255)
    location = models.CharField(_("地点"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("物流轨迹")
        verbose_name_plural = _("物流轨迹")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "occurred_at", "context"], name="tracking_event_once"),
        ]

    def __str__(self):
        return f"{self.occurred_at} {self.context}"
