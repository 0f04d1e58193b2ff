"""Coupons and the points mall (积分商城).

Quantities two shoppers can race for (a coupon's total, a mall item's quota) are counters changed
only by conditional UPDATEs in marketing.services, with CheckConstraints behind them, so a bug
elsewhere fails loudly instead of overselling.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.validators import validate_image_file
from core.images import ImageField
from core.money import floor_fen, to_money
from core.references import mall_ref

ZERO = Decimal("0.00")


class Coupon(models.Model):
    """A coupon definition (券模板). Shoppers hold copies of it as MemberCoupon rows."""

    class Kind(models.TextChoices):
        FULL_REDUCTION = "full_reduction", _("满减券")
        DISCOUNT = "discount", _("折扣券")
        NO_THRESHOLD = "no_threshold", _("无门槛券")

    class Validity(models.TextChoices):
        FIXED = "fixed", _("固定日期")
        RELATIVE = "relative", _("领取后N天内有效")

    class Scope(models.TextChoices):
        ALL = "all", _("全部商品")
        CATEGORIES = "categories", _("指定分类")
        PRODUCTS = "products", _("指定商品")

    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.FULL_REDUCTION)
    amount = models.DecimalField(
        _("减免金额"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.01"))], help_text=_("满减券、无门槛券：减多少元"),
    )
    discount_percent = models.DecimalField(
        _("折扣(%)"), max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("99.99"))],
        help_text=_("折扣券：按原价的百分之几付款，85 即 8.5 折"),
    )
    max_discount = models.DecimalField(
        _("最多优惠"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.01"))], help_text=_("折扣券的优惠上限，留空不限"),
    )
    threshold = models.DecimalField(
        _("使用门槛"), max_digits=12, decimal_places=2, default=ZERO,
        validators=[MinValueValidator(ZERO)], help_text=_("订单满多少元可用，0 为无门槛"),
    )
    validity = models.CharField(_("有效期类型"), max_length=16, choices=Validity.choices, default=Validity.RELATIVE)
    valid_from = models.DateTimeField(_("生效时间"), null=True, blank=True)
    valid_until = models.DateTimeField(_("失效时间"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(
        _("有效天数"), null=True, blank=True, validators=[MinValueValidator(1)], help_text=_("领取后多少天内有效"),
    )
    total_quantity = models.PositiveIntegerField(_("发放总量"), null=True, blank=True, help_text=_("留空不限量"))
    issued_count = models.PositiveIntegerField(_("已发放"), default=0, editable=False)
    per_member_limit = models.PositiveSmallIntegerField(
        _("每人限领"), default=1, validators=[MinValueValidator(1)], help_text=_("领券中心免费领取时的每人上限"),
    )
    claimable = models.BooleanField(_("可免费领取"), default=False, help_text=_("在领券中心展示，会员可免费领取"))
    scope = models.CharField(_("适用范围"), max_length=16, choices=Scope.choices, default=Scope.ALL)
    scope_categories = models.ManyToManyField(
        "catalog.Category", blank=True, related_name="+", verbose_name=_("适用分类"),
        help_text=_("适用范围为“指定分类”时：这些分类及其子分类的商品可用"),
    )
    scope_products = models.ManyToManyField(
        "catalog.Product", blank=True, related_name="+", verbose_name=_("适用商品"),
        help_text=_("适用范围为“指定商品”时：仅这些商品可用"),
    )
    description = models.CharField(_("使用说明"), max_length=255, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("优惠券")
        verbose_name_plural = _("优惠券")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_quantity__isnull=True) | Q(issued_count__lte=F("total_quantity")),
                name="coupon_issued_within_total",
            ),
            models.CheckConstraint(
                # NULL > 0 is unknown, and a CHECK passes on unknown: say "not null" explicitly
                condition=Q(kind="discount", discount_percent__isnull=False)
                | (~Q(kind="discount") & Q(amount__isnull=False, amount__gt=0)),
                name="coupon_kind_has_its_value",
            ),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="coupon_threshold_not_negative"),
            models.CheckConstraint(
                condition=Q(validity="relative", valid_days__isnull=False, valid_days__gte=1)
                | Q(validity="fixed", valid_until__isnull=False),
                name="coupon_validity_complete",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == self.Kind.DISCOUNT:
            if self.discount_percent is None:
                errors["discount_percent"] = _("折扣券需要填写折扣")
        elif not self.amount:
            errors["amount"] = _("请填写减免金额")
        if self.kind == self.Kind.FULL_REDUCTION and self.amount and self.threshold <= self.amount:
            errors["threshold"] = _("满减券的门槛必须大于减免金额")
        if self.kind == self.Kind.NO_THRESHOLD and self.threshold:
            errors["threshold"] = _("无门槛券的门槛必须为 0")
        if self.validity == self.Validity.FIXED:
            if not self.valid_until:
                errors["valid_until"] = _("固定日期的券需要失效时间")
            elif self.valid_from and self.valid_from >= self.valid_until:
                errors["valid_until"] = _("失效时间必须晚于生效时间")
        elif not self.valid_days:
            errors["valid_days"] = _("请填写领取后的有效天数")
        if self.total_quantity is not None and self.pk and self.total_quantity < self.issued_count:
            errors["total_quantity"] = _("发放总量不能少于已发放数量")
        if errors:
            raise ValidationError(errors)

    # -- reading -----------------------------------------------------------------------------
    @property
    def remaining(self):
        """Copies left to issue, or None when unlimited."""
        if self.total_quantity is None:
            return None
        return max(self.total_quantity - self.issued_count, 0)

    def is_issuable(self, now=None):
        """Whether a copy can be given now: active, not sold out, not past a fixed end date."""
        now = now or timezone.now()
        if not self.is_active or self.remaining == 0:
            return False
        return not (self.validity == self.Validity.FIXED and self.valid_until and self.valid_until <= now)

    def window_for(self, claimed_at):
        """(valid_from, valid_until) of a copy issued at `claimed_at`."""
        if self.validity == self.Validity.FIXED:
            return (self.valid_from or claimed_at), self.valid_until
        return claimed_at, claimed_at + timezone.timedelta(days=self.valid_days)

    def discount_for(self, subtotal):
        """Yuan taken off `subtotal` (the eligible goods total): zero under the threshold, never more
        than the subtotal itself, a discount coupon rounded down to the fen and capped."""
        subtotal = to_money(subtotal)
        if subtotal <= ZERO or subtotal < self.threshold:
            return ZERO
        if self.kind == self.Kind.DISCOUNT:
            off = floor_fen(subtotal * (Decimal(100) - self.discount_percent) / Decimal(100))
            if self.max_discount is not None:
                off = min(off, self.max_discount)
        else:
            off = self.amount
        return min(to_money(off), subtotal)

    @property
    def face_text(self):
        """The big figure on the coupon card: "¥10" or "8.5折"."""
        if self.kind == self.Kind.DISCOUNT:
            tenths = (self.discount_percent / Decimal(10)).normalize()
            return _("%(d)s折") % {"d": format(tenths, "f")}
        return "¥" + format(self.amount.normalize(), "f")

    @property
    def scope_text(self):
        """Where it can be used, for the coupon card: 全场通用 / 指定分类可用 / 指定商品可用."""
        if self.scope == self.Scope.CATEGORIES:
            return _("指定分类可用")
        if self.scope == self.Scope.PRODUCTS:
            return _("指定商品可用")
        return _("全场通用")

    @property
    def condition_text(self):
        if self.threshold and self.threshold > 0:
            return _("满%(t)s元可用") % {"t": format(self.threshold.normalize(), "f")}
        return _("无门槛")


class MemberCoupon(models.Model):
    """One shopper's copy of a coupon (我的优惠券).

    `(coupon, source, reference)` is unique when a reference is given, so a retried grant (an
    exchange, a referral reward) issues one copy.
    """

    class Status(models.TextChoices):
        UNUSED = "unused", _("未使用")
        USED = "used", _("已使用")
        EXPIRED = "expired", _("已过期")
        VOID = "void", _("已作废")

    class Source(models.TextChoices):
        CLAIM = "claim", _("领取")
        EXCHANGE = "exchange", _("积分兑换")
        GRANT = "grant", _("后台发放")
        REWARD = "reward", _("活动奖励")

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="copies", verbose_name=_("优惠券"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coupons", verbose_name=_("会员")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.UNUSED)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    reference = models.CharField(_("来源单号"), max_length=64, blank=True)
    valid_from = models.DateTimeField(_("生效时间"))
    valid_until = models.DateTimeField(_("失效时间"), db_index=True)
    claimed_at = models.DateTimeField(_("领取时间"), default=timezone.now)
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    used_reference = models.CharField(_("使用订单"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("会员优惠券")
        verbose_name_plural = _("会员优惠券")
        ordering = ["valid_until", "pk"]
        indexes = [models.Index(fields=["user", "status", "valid_until"], name="membercoupon_wallet")]
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "source", "reference"],
                condition=~Q(reference=""),
                name="membercoupon_once_per_reference",
            ),
        ]

    def __str__(self):
        return f"{self.coupon} · {self.user_id}"

    def is_usable(self, now=None):
        now = now or timezone.now()
        return self.status == self.Status.UNUSED and self.valid_from <= now < self.valid_until


class PointsItem(models.Model):
    """Something in the points mall: a coupon, or one unit of a SKU picked up in a store."""

    class Kind(models.TextChoices):
        COUPON = "coupon", _("优惠券")
        PRODUCT = "product", _("实物商品")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("名称"), max_length=64)
    image = ImageField(_("图片"), upload_to="marketing/%Y/%m/", blank=True)
    description = models.TextField(_("说明"), blank=True)
    points = models.PositiveIntegerField(_("所需积分"), validators=[MinValueValidator(1)])
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, null=True, blank=True, related_name="points_items",
        verbose_name=_("兑换的优惠券"),
    )
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.PROTECT, null=True, blank=True, related_name="points_items",
        verbose_name=_("兑换的商品SKU"),
    )
    quantity = models.PositiveIntegerField(_("可兑换总量"), null=True, blank=True, help_text=_("留空不限量"))
    exchanged_count = models.PositiveIntegerField(_("已兑换"), default=0, editable=False)
    per_member_limit = models.PositiveSmallIntegerField(
        _("每人限兑"), null=True, blank=True, validators=[MinValueValidator(1)], help_text=_("留空不限"),
    )
    starts_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    ends_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    is_active = models.BooleanField(_("上架"), default=True)
    sort_order = models.IntegerField(_("排序"), default=0, help_text=_("数字小的排前面"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("积分商城商品")
        verbose_name_plural = _("积分商城商品")
        ordering = ["sort_order", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(exchanged_count__lte=F("quantity")),
                name="pointsitem_exchanged_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(kind="coupon", coupon__isnull=False, sku__isnull=True)
                | Q(kind="product", sku__isnull=False, coupon__isnull=True),
                name="pointsitem_kind_matches_target",
            ),
            models.CheckConstraint(condition=Q(points__gte=1), name="pointsitem_points_positive"),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == self.Kind.COUPON:
            if not self.coupon_id:
                errors["coupon"] = _("请选择兑换的优惠券")
            if self.sku_id:
                errors["sku"] = _("优惠券兑换不需要选择商品")
        elif self.kind == self.Kind.PRODUCT:
            if not self.sku_id:
                errors["sku"] = _("请选择兑换的商品SKU")
            if self.coupon_id:
                errors["coupon"] = _("实物兑换不需要选择优惠券")
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            errors["ends_at"] = _("结束时间必须晚于开始时间")
        if self.quantity is not None and self.pk and self.quantity < self.exchanged_count:
            errors["quantity"] = _("可兑换总量不能少于已兑换数量")
        if errors:
            raise ValidationError(errors)

    @property
    def remaining(self):
        if self.quantity is None:
            return None
        return max(self.quantity - self.exchanged_count, 0)

    @property
    def is_exhausted(self):
        """Nothing left to give: its own quota is used up, or the coupon behind it can no longer be
        issued (sold out, stopped, ended). Shown as 已兑完 rather than offering a doomed exchange."""
        if self.remaining == 0:
            return True
        return self.kind == self.Kind.COUPON and self.coupon is not None and not self.coupon.is_issuable()

    def is_open(self, now=None):
        now = now or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class PointsExchange(models.Model):
    """One exchange in the points mall (兑换记录).

    Its points go out under the ledger reference ``mall:<pk>`` and, for goods, one unit is reserved
    in the chosen store under the same reference, so every step is idempotent. `request_id` (one per
    confirmation form) makes a double-submitted form exchange once.
    """

    class Status(models.TextChoices):
        AWAITING_PICKUP = "awaiting_pickup", _("待自提")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")
        EXPIRED = "expired", _("已过期")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_exchanges", verbose_name=_("会员")
    )
    item = models.ForeignKey(PointsItem, on_delete=models.PROTECT, related_name="exchanges", verbose_name=_("兑换商品"))
    kind = models.CharField(_("类型"), max_length=16, choices=PointsItem.Kind.choices)
    title = models.CharField(_("名称"), max_length=64)
    points = models.PositiveIntegerField(_("消耗积分"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices)
    request_id = models.CharField(_("请求编号"), max_length=64)
    member_coupon = models.OneToOneField(
        MemberCoupon, on_delete=models.PROTECT, null=True, blank=True, related_name="exchange",
        verbose_name=_("获得的优惠券"),
    )
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="points_exchanges",
        verbose_name=_("自提门店"),
    )
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("商品SKU")
    )
    pickup_code = models.CharField(_("自提码"), max_length=6, blank=True)
    pickup_deadline = models.DateTimeField(_("自提截止"), null=True, blank=True)
    picked_up_at = models.DateTimeField(_("提货时间"), null=True, blank=True)
    picked_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("核销人"),
    )
    closed_at = models.DateTimeField(_("取消/过期时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("取消人"),
        help_text=_("门店代会员取消时记录；会员自己取消或过期时为空"),
    )
    created_at = models.DateTimeField(_("兑换时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("积分兑换记录")
        verbose_name_plural = _("积分兑换记录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "request_id"], name="pointsexchange_once_per_request"),
            models.UniqueConstraint(
                fields=["store", "pickup_code"],
                condition=Q(status="awaiting_pickup"),
                name="pointsexchange_open_pickup_code_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="awaiting_pickup") | (Q(store__isnull=False) & ~Q(pickup_code="")),
                name="pointsexchange_pickup_has_store_and_code",
            ),
        ]

    def __str__(self):
        return f"{self.title} · {self.get_status_display()}"

    @property
    def reference(self):
        """The reference its points and stock movements carry."""
        return mall_ref(self.pk)


# --- home page content HQ arranges (marketing.home) ------------------------------------------
def validate_site_path(value):
    """A link of HQ's content: a path on this shop only ("/coupons/centre/"), never another site,
    `//host`, a scheme such as `javascript:` or a control character (core.navigation)."""
    from django.core.exceptions import ValidationError

    from core.navigation import is_safe_path

    if not is_safe_path(value) or " " in value:
        raise ValidationError(_("请填写本站页面路径，以 / 开头，例如 /coupons/centre/"), code="not_site_path")


class ScheduledContent(models.Model):
    """Shown while active and within [starts_at, ends_at) (either end may be open)."""

    starts_at = models.DateTimeField(_("开始时间"), null=True, blank=True, help_text=_("留空表示立即开始"))
    ends_at = models.DateTimeField(_("结束时间"), null=True, blank=True, help_text=_("留空表示一直展示"))
    sort_order = models.PositiveIntegerField(_("排序"), default=0, help_text=_("数字越小越靠前"))
    is_active = models.BooleanField(_("启用"), default=True)
    # the create form's one-time id: a double submit makes one row (marketing.home)
    request_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True
        ordering = ["sort_order", "id"]

    def clean(self):
        from django.core.exceptions import ValidationError

        super().clean()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("结束时间必须晚于开始时间")}, code="schedule_order")

    def is_showing(self, now=None):
        now = now or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class Banner(ScheduledContent):
    """A slide of the home page's carousel, linking to a product, a category, a coupon (its card in
    the coupon centre) or a path on this shop."""

    class LinkKind(models.TextChoices):
        NONE = "none", _("不跳转")
        PRODUCT = "product", _("商品")
        CATEGORY = "category", _("分类")
        COUPON = "coupon", _("优惠券")
        PATH = "path", _("站内页面")

    title = models.CharField(_("标题"), max_length=40, help_text=_("图片的替代文字，也用于后台列表"))
    image = ImageField(
        _("图片"), upload_to="marketing/banners/%Y/%m/", validators=[validate_image_file],
        help_text=_("建议 750×320 像素，JPEG/PNG/WebP/GIF，不超过 10 MB"),
    )
    link_kind = models.CharField(_("跳转类型"), max_length=16, choices=LinkKind.choices, default=LinkKind.NONE)
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("商品"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", verbose_name=_("分类"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    coupon = models.ForeignKey(
        Coupon, verbose_name=_("优惠券"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    path = models.CharField(_("页面路径"), max_length=200, blank=True, validators=[validate_site_path])

    class Meta(ScheduledContent.Meta):
        verbose_name = _("首页轮播图")
        verbose_name_plural = _("首页轮播图")
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="banner_schedule_in_order",
            ),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        super().clean()
        needed = {
            self.LinkKind.PRODUCT: ("product", self.product_id, _("请选择商品")),
            self.LinkKind.CATEGORY: ("category", self.category_id, _("请选择分类")),
            self.LinkKind.COUPON: ("coupon", self.coupon_id, _("请选择优惠券")),
            self.LinkKind.PATH: ("path", self.path, _("请填写页面路径")),
        }.get(self.link_kind)
        if needed and not needed[1]:
            raise ValidationError({needed[0]: needed[2]}, code="link_target_missing")
        # only the chosen kind's target is kept
        for kind, field in (("product", "product"), ("category", "category"), ("coupon", "coupon")):
            if self.link_kind != kind:
                setattr(self, field, None)
        if self.link_kind != self.LinkKind.PATH:
            self.path = ""


class HomeNotice(ScheduledContent):
    """The home page's notice bar (公告): one line of text, optionally a link on this shop. When
    several are showing, the first by order is shown."""

    text = models.CharField(_("公告内容"), max_length=60)
    link_path = models.CharField(
        _("链接"), max_length=200, blank=True, validators=[validate_site_path], help_text=_("可选，本站页面路径")
    )

    class Meta(ScheduledContent.Meta):
        verbose_name = _("首页公告")
        verbose_name_plural = _("首页公告")
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="homenotice_schedule_in_order",
            ),
        ]

    def __str__(self):
        return self.text
