"""After-sales (售后): a shopper asks for money back, for some or all lines and quantities; staff
approve or reject; a return-and-refund waits for the goods; the refund goes through the gateway."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.images import ImageField

from .order import Order, OrderLine, money_field


class AfterSale(models.Model):
    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", _("仅退款")
        RETURN_REFUND = "return_refund", _("退货退款")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待审核")
        AWAITING_RETURN = "awaiting_return", _("待买家退货")
        RETURNED = "returned", _("买家已退货")
        REFUNDING = "refunding", _("退款中")
        REFUNDED = "refunded", _("已退款")
        REJECTED = "rejected", _("已拒绝")
        WITHDRAWN = "withdrawn", _("已撤销")

    PIPELINE = {
        Status.REQUESTED: {Status.AWAITING_RETURN, Status.REFUNDING, Status.REJECTED, Status.WITHDRAWN},
        Status.AWAITING_RETURN: {Status.RETURNED, Status.WITHDRAWN, Status.REJECTED},
        Status.RETURNED: {Status.REFUNDING, Status.REJECTED},
        Status.REFUNDING: {Status.REFUNDED},
        Status.REFUNDED: set(),
        Status.REJECTED: set(),
        Status.WITHDRAWN: set(),
    }
    OPEN_STATUSES = (Status.REQUESTED, Status.AWAITING_RETURN, Status.RETURNED, Status.REFUNDING)

    class Reason(models.TextChoices):
        NOT_WANTED = "not_wanted", _("不想要了")
        WRONG_ITEM = "wrong_item", _("商品错发/漏发")
        DAMAGED = "damaged", _("商品破损/质量问题")
        NOT_AS_DESCRIBED = "not_as_described", _("与描述不符")
        NOT_RECEIVED = "not_received", _("未收到货")
        OTHER = "other", _("其他")

    number = models.CharField(_("售后单号"), max_length=32, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("订单"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("会员")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    reason = models.CharField(_("原因"), max_length=24, choices=Reason.choices)
    description = models.CharField(_("问题描述"), max_length=500, blank=True)
    amount = money_field(_("退款金额"))
    includes_delivery_fee = models.BooleanField(_("含运费"), default=False)
    request_id = models.CharField(_("请求编号"), max_length=64)
    return_carrier = models.CharField(_("退货快递公司"), max_length=32, blank=True)
    return_tracking_no = models.CharField(_("退货单号"), max_length=40, blank=True)
    staff_note = models.CharField(_("处理说明"), max_length=255, blank=True)
    reject_reason = models.CharField(_("拒绝原因"), max_length=255, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("处理人"),
    )
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("售后单")
        verbose_name_plural = _("售后单")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="aftersale_status_recent")]
        constraints = [
            models.UniqueConstraint(fields=["user", "request_id"], name="aftersale_once_per_request"),
            # one open request per order at a time: two tabs cannot ask for the same money twice
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["requested", "awaiting_return", "returned", "refunding"]),
                name="aftersale_one_open_per_order",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="aftersale_amount_gte_0"),
        ]

    def __str__(self):
        return self.number

    @property
    def is_open(self):
        return self.status in self.OPEN_STATUSES


class AfterSaleLine(models.Model):
    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="lines", verbose_name=_("售后单"))
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+", verbose_name=_("订单商品"))
    quantity = models.PositiveIntegerField(_("数量"))
    amount = money_field(_("退款金额"))

    class Meta:
        verbose_name = _("售后商品")
        verbose_name_plural = _("售后商品")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["after_sale", "order_line"], name="aftersaleline_one_per_line"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="aftersaleline_quantity_gt_0"),
        ]

    def __str__(self):
        return f"{self.order_line_id} x {self.quantity}"


class AfterSalePhoto(models.Model):
    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="photos", verbose_name=_("售后单"))
    image = ImageField(_("图片"), upload_to="aftersales/%Y/%m/")
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("售后凭证")
        verbose_name_plural = _("售后凭证")
        ordering = ["id"]

    def __str__(self):
        return self.image.name
