"""Payments: one attempt per try at a gateway, an append-only event log, and refunds.

An order becomes paid exactly once (orders.payments.services.confirm_payment locks the order and the
attempt; events are unique per (attempt, kind, gateway reference)). Money sent back is counted on
the attempt before the gateway is asked (`refund_committed_fen`), so two refunds in flight can
never add up to more than was paid: a CHECK constraint stands behind the conditional UPDATE.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .order import Order, money_field


class PaymentAttempt(models.Model):
    class Channel(models.TextChoices):
        DEV = "dev", _("模拟支付")
        WECHAT_JSAPI = "wechat_jsapi", _("微信支付")
        WECHAT_H5 = "wechat_h5", _("微信H5支付")
        WECHAT_NATIVE = "wechat_native", _("微信扫码支付")
        ALIPAY_WAP = "alipay_wap", _("支付宝")

    class State(models.TextChoices):
        PENDING = "pending", _("待支付")
        SUCCEEDED = "succeeded", _("已支付")
        FAILED = "failed", _("支付失败")
        CLOSED = "closed", _("已关闭")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("订单"))
    channel = models.CharField(_("支付渠道"), max_length=24, choices=Channel.choices)
    out_trade_no = models.CharField(_("商户订单号"), max_length=32, unique=True)
    amount_fen = models.PositiveIntegerField(_("金额(分)"))
    expires_at = models.DateTimeField(_("过期时间"))
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.PENDING)
    gateway_trade_no = models.CharField(_("支付平台交易号"), max_length=64, blank=True)
    payer_reference = models.CharField(_("付款人标识"), max_length=128, blank=True, help_text=_("openid 或 支付宝买家ID"))
    refund_committed_fen = models.PositiveIntegerField(_("已申请退款(分)"), default=0)
    is_order_payment = models.BooleanField(
        _("计入订单"), default=False, help_text=_("订单的货款由这笔支付付清；重复或逾期到账的支付为否（已自动退回）")
    )
    succeeded_at = models.DateTimeField(_("支付成功时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    close_requested = models.BooleanField(_("需关闭支付单"), default=False)
    next_query_at = models.DateTimeField(_("下次查单时间"), null=True, blank=True)
    query_count = models.PositiveIntegerField(_("查单次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("支付单")
        verbose_name_plural = _("支付单")
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "next_query_at"], name="payattempt_state_nextquery")]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(is_order_payment=True), name="payattempt_one_order_payment"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payattempt_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(refund_committed_fen__lte=F("amount_fen")), name="payattempt_refund_lte_amount"
            ),
        ]

    def __str__(self):
        return self.out_trade_no


class PaymentEvent(models.Model):
    """Append-only log of everything a gateway told us or we asked it, per attempt."""

    class Kind(models.TextChoices):
        CREATED = "created", _("发起支付")
        NOTIFIED = "notified", _("支付通知")
        QUERIED = "queried", _("查单")
        SUCCEEDED = "succeeded", _("支付成功")
        AMOUNT_MISMATCH = "amount_mismatch", _("金额不符")
        LATE_PAYMENT = "late_payment", _("订单已关闭后到账")
        DUPLICATE_PAYMENT = "duplicate_payment", _("重复支付")
        FAILED = "failed", _("支付失败")
        CLOSED = "closed", _("关闭支付单")
        REFUND_REQUESTED = "refund_requested", _("申请退款")
        REFUND_SUCCEEDED = "refund_succeeded", _("退款成功")
        REFUND_FAILED = "refund_failed", _("退款失败")
        REFUND_ABNORMAL = "refund_abnormal", _("退款异常")

    attempt = models.ForeignKey(
        PaymentAttempt, on_delete=models.PROTECT, related_name="events", verbose_name=_("支付单")
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payment_events", verbose_name=_("订单"))
    kind = models.CharField(_("类型"), max_length=24, choices=Kind.choices)
    gateway_reference = models.CharField(_("平台单号"), max_length=128, blank=True)
    amount_fen = models.IntegerField(_("金额(分)"), null=True, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("支付记录")
        verbose_name_plural = _("支付记录")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "kind", "gateway_reference"],
                condition=~Q(gateway_reference=""),
                name="paymentevent_once_per_reference",
            ),
        ]

    def __str__(self):
        return f"{self.attempt_id} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("支付记录只能追加，不能修改"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("支付记录只能追加，不能删除"))


class Refund(models.Model):
    """Money going back through the gateway of the payment. `out_refund_no` is fixed when the row is
    created, before the gateway is called, so a retry refunds once."""

    class State(models.TextChoices):
        PENDING = "pending", _("待退款")
        PROCESSING = "processing", _("退款中")
        SUCCEEDED = "succeeded", _("已退款")
        FAILED = "failed", _("退款失败")
        ABNORMAL = "abnormal", _("退款异常")

    class Cause(models.TextChoices):
        AFTER_SALE = "after_sale", _("售后退款")
        STAFF_CANCEL = "staff_cancel", _("门店取消订单")
        LATE_PAYMENT = "late_payment", _("订单关闭后到账")
        DUPLICATE_PAYMENT = "duplicate_payment", _("重复支付")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("订单"))
    attempt = models.ForeignKey(
        PaymentAttempt, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("原支付单")
    )
    after_sale = models.ForeignKey(
        "orders.AfterSale", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds",
        verbose_name=_("售后单"),
    )
    cause = models.CharField(_("原因类型"), max_length=24, choices=Cause.choices)
    out_refund_no = models.CharField(_("退款单号"), max_length=64, unique=True)
    amount = money_field(_("退款金额"))
    amount_fen = models.PositiveIntegerField(_("退款金额(分)"))
    # {order line id: [quantity, amount string]}: what goes back per line (empty: money only, e.g. a
    # late or duplicate payment that never became the order's)
    lines = models.JSONField(_("退款明细"), default=dict, blank=True)
    restock = models.BooleanField(_("退回库存"), default=False)
    includes_delivery_fee = models.BooleanField(_("含运费"), default=False)
    counts_for_order = models.BooleanField(
        _("计入订单退款"), default=True, help_text=_("重复支付、关闭后到账的退款不计入订单已退金额")
    )
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.PENDING)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    gateway_refund_id = models.CharField(_("平台退款单号"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("经办人")
    )
    attempts = models.PositiveIntegerField(_("调用次数"), default=0)
    next_try_at = models.DateTimeField(_("下次处理时间"), null=True, blank=True)
    succeeded_at = models.DateTimeField(_("退款成功时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("退款单")
        verbose_name_plural = _("退款单")
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "next_try_at"], name="refund_state_nexttry")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_gt_0"),
        ]

    def __str__(self):
        return self.out_refund_no

    @property
    def reference(self):
        """``order:<no>:refund:<id>``: what the stock, points and coupon movements of this refund carry."""
        from core.references import order_step_ref

        return order_step_ref(self.order.number, f"refund:{self.pk}")
