"""An order, its lines (with every amount that refunds and commission will read), its timeline.

States and the allowed moves between them are data (`Order.PIPELINE`), as in django-oscar; the one
function that moves an order (orders.services.transition) checks this table, changes the status by
a conditional UPDATE and writes an OrderEvent in the same transaction.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.references import order_ref

ZERO = Decimal("0.00")


def money_field(verbose_name, **kwargs):
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("待付款")
        PAID = "paid", _("待发货")
        SHIPPED = "shipped", _("已发货")
        DELIVERING = "delivering", _("配送中")
        READY_FOR_PICKUP = "ready_for_pickup", _("待自提")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已取消")
        CLOSED = "closed", _("已关闭")

    class Fulfilment(models.TextChoices):
        PICKUP = "pickup", _("到店自提")
        DELIVERY = "delivery", _("同城配送")
        EXPRESS = "express", _("快递")

    # allowed next states (oscar's pipeline); CLOSED is reached when everything paid was refunded
    PIPELINE = {
        Status.PENDING_PAYMENT: {Status.PAID, Status.CANCELLED},
        Status.PAID: {Status.SHIPPED, Status.DELIVERING, Status.READY_FOR_PICKUP, Status.COMPLETED, Status.CLOSED},
        Status.SHIPPED: {Status.COMPLETED, Status.CLOSED},
        Status.DELIVERING: {Status.COMPLETED, Status.CLOSED},
        Status.READY_FOR_PICKUP: {Status.COMPLETED, Status.CLOSED},
        Status.COMPLETED: {Status.CLOSED},
        Status.CANCELLED: set(),
        Status.CLOSED: set(),
    }
    OPEN_STATUSES = (Status.PENDING_PAYMENT, Status.PAID, Status.SHIPPED, Status.DELIVERING, Status.READY_FOR_PICKUP)
    # paid and not yet out of the store: stock is still held for it
    HOLDING_STATUSES = (Status.PENDING_PAYMENT, Status.PAID, Status.READY_FOR_PICKUP)

    public_id = models.UUIDField(_("公开编号"), default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("订单号"), max_length=24, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("会员")
    )
    store = models.ForeignKey("stores.Store", on_delete=models.PROTECT, related_name="orders", verbose_name=_("门店"))
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True
    )
    fulfilment = models.CharField(_("配送方式"), max_length=16, choices=Fulfilment.choices)
    checkout_token = models.CharField(_("结算页标识"), max_length=64)

    # amounts: what the lines add up to (stored, never recomputed later)
    goods_amount = money_field(_("商品金额"))
    member_discount = money_field(_("会员折扣"))
    coupon_discount = money_field(_("优惠券抵扣"))
    points_discount = money_field(_("积分抵扣"))
    points_used = models.PositiveIntegerField(_("使用积分"), default=0)
    delivery_fee = money_field(_("运费"))
    adjustment = money_field(_("改价"), help_text=_("付款前门店改价：负数为优惠"))
    pay_amount = money_field(_("应付金额"))
    paid_amount = money_field(_("实付金额"))
    refunded_amount = money_field(_("已退款"))
    # what the goods finally cost when the order completed (paid minus refunds before completion):
    # the basis of the points it earned, and of the share a later refund takes back
    completed_goods_amount = models.DecimalField(
        _("完成时商品实付"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    member_coupon = models.ForeignKey(
        "marketing.MemberCoupon", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("使用的优惠券"),
    )
    coupon_name = models.CharField(_("优惠券"), max_length=64, blank=True)
    level_name = models.CharField(_("下单时会员等级"), max_length=32, blank=True)
    level_discount_percent = models.DecimalField(_("会员折扣(%)"), max_digits=5, decimal_places=2, default=100)
    points_multiplier = models.DecimalField(
        _("积分倍率"), max_digits=4, decimal_places=2, null=True, blank=True, help_text=_("付款时的会员等级倍率")
    )

    # where it goes (a snapshot: a later change of the address book does not move the parcel)
    receiver_name = models.CharField(_("收货人"), max_length=32, blank=True)
    receiver_phone = models.CharField(_("收货电话"), max_length=20, blank=True)
    province = models.CharField(_("省份"), max_length=32, blank=True)
    city = models.CharField(_("城市"), max_length=32, blank=True)
    district = models.CharField(_("区县"), max_length=32, blank=True)
    address_detail = models.CharField(_("详细地址"), max_length=200, blank=True)
    pickup_slot_start = models.DateTimeField(_("自提时段开始"), null=True, blank=True)
    pickup_slot_end = models.DateTimeField(_("自提时段结束"), null=True, blank=True)
    pickup_code = models.CharField(_("自提码"), max_length=6, blank=True)
    courier_name = models.CharField(_("配送员"), max_length=32, blank=True)
    courier_phone = models.CharField(_("配送员电话"), max_length=20, blank=True)

    buyer_remark = models.CharField(_("买家留言"), max_length=200, blank=True)
    merchant_remark = models.CharField(_("商家备注"), max_length=500, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    payment_channel = models.CharField(_("支付方式"), max_length=24, blank=True)

    pay_deadline = models.DateTimeField(_("支付截止"), null=True, blank=True)
    paid_at = models.DateTimeField(_("付款时间"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("发货/备货时间"), null=True, blank=True)
    auto_confirm_at = models.DateTimeField(_("自动确认收货时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("下单时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("订单")
        verbose_name_plural = _("订单")
        ordering = ["-created_at", "-id"]
        indexes = [
            # lists read newest first by (-created_at, -id): the index must end in both, or every
            # page sorts the whole store (or member) first (0.6 s at 100,000 orders)
            models.Index(fields=["user", "-created_at", "-id"], name="order_user_recent_id"),
            models.Index(fields=["store", "status", "-created_at", "-id"], name="order_store_status_recent_id"),
            models.Index(fields=["store", "-created_at", "-id"], name="order_store_recent_id"),
            # the back-office queue filtered by delivery method: each tab's capped count and its page
            # read one range of this index (without it PostgreSQL scanned the table: 180 ms at 100,000)
            models.Index(fields=["store", "fulfilment", "status", "-created_at", "-id"],
                         name="order_store_fulfil_status_id"),
            # sales figures and the back-office home read orders by when they were paid
            models.Index(fields=["store", "paid_at"], name="order_store_paid"),
            models.Index(fields=["status", "pay_deadline"], name="order_status_deadline"),
            models.Index(fields=["status", "auto_confirm_at"], name="order_status_autoconfirm"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "checkout_token"], name="order_once_per_checkout"),
            models.UniqueConstraint(
                fields=["store", "pickup_code"],
                condition=Q(status__in=["paid", "ready_for_pickup"], fulfilment="pickup") & ~Q(pickup_code=""),
                name="order_open_pickup_code_unique",
            ),
            models.CheckConstraint(condition=Q(refunded_amount__lte=F("paid_amount")), name="order_refund_lte_paid"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="order_refund_gte_0"),
            models.CheckConstraint(condition=Q(pay_amount__gte=0), name="order_pay_amount_gte_0"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="order_paid_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(goods_amount__gte=0, member_discount__gte=0, coupon_discount__gte=0,
                            points_discount__gte=0, delivery_fee__gte=0),
                name="order_amounts_not_negative",
            ),
        ]
        permissions = [
            ("fulfil_order", _("发货、备货、核销订单")),
            ("refund_order", _("审核售后、退款")),
            ("change_order_price", _("付款前改价")),
        ]

    def __str__(self):
        return self.number

    @property
    def reference(self):
        """What its stock reservation, coupon use and points carry: ``order:<number>``."""
        return order_ref(self.number)

    @property
    def is_pickup(self):
        return self.fulfilment == self.Fulfilment.PICKUP

    @property
    def refundable_amount(self):
        return self.paid_amount - self.refunded_amount

    @property
    def address_text(self):
        city = self.city if self.city != self.province else ""
        return f"{self.province}{city}{self.district}{self.address_detail}"

    @property
    def shopper_status_label(self):
        """What the shopper reads: 待付款 / 待发货 / 待收货 / 待自提 / 已完成 …"""
        if self.status == self.Status.PAID:
            return _("待备货") if self.is_pickup else _("待发货")
        if self.status in (self.Status.SHIPPED, self.Status.DELIVERING):
            return _("待收货")
        return self.get_status_display()


class OrderLine(models.Model):
    """One SKU of an order, with a snapshot of what was bought and every amount allocated to it to
    the fen: paid_amount = unit_price × quantity − member_discount − coupon_discount − points_discount
    + adjustment (a staff price change before payment, allocated to the lines).
    Refunds and commission read these stored amounts; they never recompute them."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("订单"))
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("商品"))
    product_name = models.CharField(_("商品名称"), max_length=120)
    spec_text = models.CharField(_("规格"), max_length=200, blank=True)
    sku_code = models.CharField(_("SKU编码"), max_length=40)
    image_url = models.CharField(_("图片"), max_length=255, blank=True)
    unit_price = money_field(_("单价"))
    price_source = models.CharField(_("价格来源"), max_length=32, blank=True, help_text=_("为空为原价；促销价写活动"))
    quantity = models.PositiveIntegerField(_("数量"))
    takes_member_discount = models.BooleanField(_("参与会员折扣"), default=True)
    member_discount = money_field(_("会员折扣"))
    coupon_discount = money_field(_("优惠券分摊"))
    points_discount = money_field(_("积分抵扣分摊"))
    points_used = models.PositiveIntegerField(_("分摊积分"), default=0)
    adjustment = money_field(_("改价分摊"))
    paid_amount = money_field(_("实付金额"))
    refunded_amount = money_field(_("已退款"))
    refunded_quantity = models.PositiveIntegerField(_("已退数量"), default=0)
    fulfilled_quantity = models.PositiveIntegerField(_("已出库数量"), default=0)
    # units refunded before they left the store: their hold went back to the shelf
    released_quantity = models.PositiveIntegerField(_("退款释放数量"), default=0)

    class Meta:
        verbose_name = _("订单商品")
        verbose_name_plural = _("订单商品")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sku"], name="orderline_one_per_sku"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_gt_0"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="orderline_paid_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("paid_amount")),
                name="orderline_refund_lte_paid",
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=F("quantity")), name="orderline_refunded_qty_lte_qty"
            ),
            models.CheckConstraint(
                condition=Q(fulfilled_quantity__lte=F("quantity") - F("released_quantity")),
                name="orderline_fulfilled_released_lte_qty",
            ),
            models.CheckConstraint(
                condition=Q(released_quantity__lte=F("refunded_quantity")), name="orderline_released_lte_refunded"
            ),
        ]

    def __str__(self):
        return f"{self.product_name} {self.spec_text} x {self.quantity}".strip()

    @property
    def line_total(self):
        return self.unit_price * self.quantity

    @property
    def refundable_quantity(self):
        return self.quantity - self.refunded_quantity

    @property
    def held_quantity(self):
        """Units still reserved in the store for this line (neither handed over nor refunded)."""
        return self.quantity - self.fulfilled_quantity - self.released_quantity


class OrderEvent(models.Model):
    """The order's timeline, shown to shopper and staff. Append-only."""

    class Kind(models.TextChoices):
        STATUS = "status", _("状态变更")
        PAYMENT = "payment", _("支付")
        PRICE = "price", _("改价")
        REMARK = "remark", _("备注")
        SHIPMENT = "shipment", _("物流")
        PICKUP = "pickup", _("核销")
        AFTER_SALE = "after_sale", _("售后")
        REFUND = "refund", _("退款")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("订单"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(_("原状态"), max_length=20, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )
    actor_label = models.CharField(_("操作方"), max_length=64, blank=True)
    note = models.CharField(_("说明"), max_length=255, blank=True)
    visible_to_shopper = models.BooleanField(_("买家可见"), default=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("订单记录")
        verbose_name_plural = _("订单记录")
        ordering = ["id"]

    def __str__(self):
        return f"{self.order_id} {self.kind} {self.to_status}"


class PickupRecord(models.Model):
    """One hand-over at the counter: which units of which lines the clerk gave out (a pickup order
    may be collected over several visits)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="pickups", verbose_name=_("订单"))
    store = models.ForeignKey("stores.Store", on_delete=models.PROTECT, related_name="+", verbose_name=_("门店"))
    quantities = models.JSONField(_("核销数量"), help_text=_("{订单商品ID: 数量}"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("核销人")
    )
    created_at = models.DateTimeField(_("核销时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("自提核销记录")
        verbose_name_plural = _("自提核销记录")
        ordering = ["id"]

    def __str__(self):
        return f"{self.order_id} pickup {self.pk}"
