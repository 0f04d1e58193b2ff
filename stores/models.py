"""Stores, their hours and staff; stock per store x SKU with its append-only ledger; transfers;
low-stock alerts and back-office notifications.

Stock invariants (enforced by the database where it can): on_hand >= 0, reserved >= 0,
reserved <= on_hand, low_threshold >= 0, one row per (store, sku), on_hand == sum of the
row's StockMovement.quantity and reserved == sum of its reserved_delta, and reserved == the sum
of `held` over its StockReservation rows (all three checked by `manage.py check_stock`). Units are
reserved, released and sold only through a reservation, by the reference that owns it
(core.references). Only stores.services changes stock.
"""

import hashlib
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.images import ImageField, clean_image
from core.references import doc_ref, transfer_ref


class Store(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("营业")
        PAUSED = "paused", _("暂停营业")
        CLOSED = "closed", _("停业")

    class PickupSlot(models.IntegerChoices):
        HALF_HOUR = 30, _("30 分钟")
        HOUR = 60, _("1 小时")
        TWO_HOURS = 120, _("2 小时")

    name = models.CharField(_("门店名称"), max_length=64)
    code = models.SlugField(_("门店编码"), max_length=32, unique=True)
    cover = ImageField(_("封面图"), upload_to="stores/%Y/%m/", blank=True)
    # the cover's "strip" thumbnail, like a gallery photo's (core.thumbnails; made by stores.photos)
    cover_thumbnails = models.JSONField(_("封面缩略图"), default=dict, blank=True, editable=False)
    province = models.CharField(_("省"), max_length=32)
    city = models.CharField(_("市"), max_length=32, db_index=True)
    district = models.CharField(_("区"), max_length=32, blank=True)
    street = models.CharField(_("详细地址"), max_length=128)
    latitude = models.FloatField(
        _("纬度"), validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("经度"), validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    phone = models.CharField(_("电话"), max_length=32, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    pickup_enabled = models.BooleanField(_("支持自提"), default=True)
    delivery_enabled = models.BooleanField(_("支持配送"), default=False)
    delivery_radius_km = models.DecimalField(
        _("配送半径（公里）"), max_digits=6, decimal_places=2, default=0,
        validators=[MinValueValidator(0)],
    )
    delivery_fee = models.DecimalField(
        _("同城配送费"), max_digits=12, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    delivery_min_order = models.DecimalField(
        _("同城起送金额"), max_digits=12, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))], help_text=_("订单商品金额达到此金额才可同城配送"),
    )
    express_enabled = models.BooleanField(_("支持快递发货"), default=True)
    pickup_lead_minutes = models.PositiveIntegerField(
        _("自提备货时间（分钟）"), default=30, validators=[MaxValueValidator(7 * 24 * 60)],
        help_text=_("下单后至少经过这么久才能到店自提"),
    )
    pickup_slot_minutes = models.PositiveSmallIntegerField(
        _("自提时段长度（分钟）"), choices=PickupSlot.choices, default=PickupSlot.HOUR,
    )
    is_archived = models.BooleanField(
        _("已归档"), default=False,
        help_text=_("有订单或库存记录的门店删除时归档，不再对顾客显示"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("门店")
        verbose_name_plural = _("门店")
        ordering = ["city", "name"]
        permissions = [("hq_all_stores", _("总部：查看和管理所有门店"))]
        indexes = [
            # the store list near a location: a range of latitudes, then longitudes (selectors.store_list)
            models.Index(fields=["latitude", "longitude"], name="store_lat_lng"),
            # the store list without a location: by city and name, one city's or all
            models.Index(fields=["city", "name", "id"], name="store_city_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90), name="store_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180, longitude__lte=180), name="store_longitude_range"
            ),
            models.CheckConstraint(condition=Q(delivery_radius_km__gte=0), name="store_radius_gte_0"),
            models.CheckConstraint(condition=Q(delivery_fee__gte=0), name="store_delivery_fee_gte_0"),
            models.CheckConstraint(condition=Q(delivery_min_order__gte=0), name="store_delivery_min_order_gte_0"),
            models.CheckConstraint(condition=Q(pickup_lead_minutes__gte=0), name="store_pickup_lead_gte_0"),
            models.CheckConstraint(
                condition=Q(pickup_slot_minutes__in=[30, 60, 120]), name="store_pickup_slot_choices"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def address(self):
        return f"{self.province}{self.city if self.city != self.province else ''}{self.district}{self.street}"

    @property
    def map_url(self):
        """A plain Amap marker link: opens the map app or web page, no API key needed. (Numbers
        need no quoting: one quote_plus, not urlencode's six, as the store list has 20 a page.)"""
        from urllib.parse import quote_plus

        return (f"https://uri.amap.com/marker?position={self.longitude}%2C{self.latitude}"
                f"&name={quote_plus(self.name)}&src=mendian")

    @property
    def accepts_orders(self):
        return self.status == self.Status.OPEN and not self.is_archived

    @property
    def cover_image(self):
        """The cover as shown (a Thumb: url, width, height): its thumbnail, or the uploaded file
        until that is made; None without a cover."""
        from core.thumbnails import pick

        return pick(self.cover_thumbnails, "strip", self.cover)


STORE_PHOTO_LIMIT = 9


class StorePhoto(models.Model):
    """A picture in a store's gallery (门店相册), shown on its shop page by `position`, then id.

    The file goes through core.images like every upload (decoded, re-encoded, pixel limit, no
    EXIF). `digest` is the SHA-256 of the stored bytes: the same picture sent twice to one store
    (a double submit, a second tab) is added once (stores.photos). At most STORE_PHOTO_LIMIT a store.
    `thumbnails` holds its "strip" and "thumb" thumbnails (core.thumbnails), made once by the worker
    after the upload commits; pages show the original until then."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="photos", verbose_name=_("门店"))
    image = ImageField(_("照片"), upload_to="stores/photos/%Y/%m/", width_field="width", height_field="height")
    width = models.PositiveIntegerField(_("宽"), default=0, editable=False)
    height = models.PositiveIntegerField(_("高"), default=0, editable=False)
    caption = models.CharField(_("说明"), max_length=60, blank=True)
    position = models.PositiveIntegerField(_("排序"), default=0, help_text=_("数字越小越靠前"))
    digest = models.CharField(_("内容摘要"), max_length=64, blank=True, editable=False)
    thumbnails = models.JSONField(_("缩略图"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("门店照片")
        verbose_name_plural = _("门店相册")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["store", "position", "id"], name="storephoto_store_position")]

    def __str__(self):
        return self.caption or PurePath(self.image.name or "").name

    def save(self, *args, **kwargs):
        # a new file (from a service, the admin or a form) is cleaned once here if nothing has yet,
        # and its digest taken from the bytes that will be stored
        if self.image and not self.image._committed:
            cleaned = clean_image(self.image, max_bytes=self.image.field.max_bytes)
            self.image.file, self.image.name = cleaned, cleaned.name
            self.digest = hashlib.sha256(cleaned.file.getvalue()).hexdigest()
        super().save(*args, **kwargs)

    def thumb(self, alias):
        """The Thumb (url, width, height) of a thumbnail ("strip", "thumb"), or of the original
        until it is made. No query, no file read."""
        from core.thumbnails import pick

        return pick(self.thumbnails, alias, self.image, self.width, self.height)

    @property
    def as_strip(self):
        return self.thumb("strip")

    @property
    def as_thumb(self):
        return self.thumb("thumb")


class StoreHours(models.Model):
    """One opening range on one weekday. A weekday with no range is a closed day; a range whose
    closing time is not after its opening time runs overnight into the next day (22:00-02:00),
    and 00:00-00:00 means open around the clock."""

    class Weekday(models.IntegerChoices):
        MON = 0, _("周一")
        TUE = 1, _("周二")
        WED = 2, _("周三")
        THU = 3, _("周四")
        FRI = 4, _("周五")
        SAT = 5, _("周六")
        SUN = 6, _("周日")

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="hours", verbose_name=_("门店"))
    weekday = models.PositiveSmallIntegerField(_("星期"), choices=Weekday.choices)
    opens = models.TimeField(_("开门"))
    closes = models.TimeField(_("关门"))

    class Meta:
        verbose_name = _("营业时间")
        verbose_name_plural = _("营业时间")
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="storehours_weekday_range"),
            models.UniqueConstraint(fields=["store", "weekday", "opens"], name="storehours_unique_start"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    @property
    def overnight(self):
        return self.closes <= self.opens


class StoreStaff(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", _("店长")
        CLERK = "clerk", _("店员")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_roles", verbose_name=_("用户")
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="staff", verbose_name=_("门店"))
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.CLERK)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("门店员工")
        verbose_name_plural = _("门店员工")
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="storestaff_unique_user_store")]

    def __str__(self):
        return f"{self.user} @ {self.store} ({self.get_role_display()})"


class Stock(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="stock", verbose_name=_("门店"))
    sku = models.ForeignKey("catalog.Sku", on_delete=models.CASCADE, related_name="store_stock", verbose_name=_("SKU"))
    on_hand = models.IntegerField(_("在库"), default=0)
    reserved = models.IntegerField(_("已预留"), default=0)
    low_threshold = models.IntegerField(_("低库存阈值"), default=5)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("门店库存")
        verbose_name_plural = _("门店库存")
        ordering = ["store_id", "sku_id"]
        constraints = [
            models.UniqueConstraint(fields=["store", "sku"], name="stock_unique_store_sku"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_gte_0"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_lte_on_hand"),
            models.CheckConstraint(condition=Q(low_threshold__gte=0), name="stock_threshold_gte_0"),
        ]

    def __str__(self):
        return f"{self.store} / {self.sku}"

    @property
    def available(self):
        return self.on_hand - self.reserved

    @property
    def is_low(self):
        return self.available < self.low_threshold


class StockMovement(models.Model):
    """Append-only: a row is never updated or deleted. `quantity` is the signed change of on_hand,
    `reserved_delta` the signed change of reserved; the *_after columns are the row's values right
    after this movement (read by the same UPDATE ... RETURNING that applied it)."""

    class Reason(models.TextChoices):
        RECEIVE = "receive", _("入库")
        SALE = "sale", _("销售")
        RETURN = "return", _("退货入库")
        ADJUST = "adjust", _("盘点调整")
        TRANSFER_OUT = "transfer_out", _("调拨出库")
        TRANSFER_IN = "transfer_in", _("调拨入库")
        RESERVE = "reserve", _("预留")
        RELEASE = "release", _("释放预留")
        ISSUE = "issue", _("出库")
        REVERSAL = "reversal", _("冲销")

    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="movements", verbose_name=_("库存"))
    reason = models.CharField(_("类型"), max_length=16, choices=Reason.choices)
    quantity = models.IntegerField(_("在库变化"), default=0)
    reserved_delta = models.IntegerField(_("预留变化"), default=0)
    on_hand_after = models.IntegerField(_("变动后在库"))
    reserved_after = models.IntegerField(_("变动后预留"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("操作人"),
    )
    note = models.CharField(_("备注"), max_length=255, blank=True)
    reference = models.CharField(_("关联单据"), max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("库存流水")
        verbose_name_plural = _("库存流水")
        ordering = ["-id"]
        indexes = [models.Index(fields=["stock", "-id"], name="stockmove_stock_id_desc")]
        constraints = [
            # One intent, one movement: an order's reservation, release, sale or return (and a
            # staff adjustment carrying its form's id) retried or re-sent changes stock once.
            models.UniqueConstraint(
                fields=["stock", "reason", "reference"],
                condition=models.Q(reason__in=["reserve", "release", "sale", "return", "adjust"])
                & ~models.Q(reference=""),
                name="stockmove_once_per_reference",
            ),
            # A stock document (doc:<no>) moves each of its rows once, whatever the reason.
            models.UniqueConstraint(
                fields=["stock", "reason", "reference"],
                condition=models.Q(reference__startswith="doc:"),
                name="stockmove_once_per_document",
            ),
            # A transfer's short line is settled once (transfer:<id>:difference:<line id>).
            models.UniqueConstraint(
                fields=["stock", "reason", "reference"],
                condition=models.Q(reference__startswith="transfer:", reference__contains=":difference:"),
                name="stockmove_once_per_transfer_difference",
            ),
        ]

    IDEMPOTENT_REASONS = frozenset({"reserve", "release", "sale", "return", "adjust"})

    def __str__(self):
        return f"{self.get_reason_display()} {self.quantity:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("库存流水只能追加，不能修改"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("库存流水只能追加，不能删除"))


class StockReservation(models.Model):
    """Units of one stock row held for one reference (an order, a points-mall exchange), as
    Saleor's Allocation: what a reference reserved can be released or sold only by that
    reference, never taken from a shared pool.

    `quantity` is what was reserved and never changes; `sold` and `released` only grow, each by a
    conditional UPDATE that also sets `state`, so `held` = quantity - sold - released can't go
    below 0 and the state always agrees with the counts (both checked by the database). The
    stock row's `reserved` is the sum of `held` over its reservations.
    """

    class State(models.TextChoices):
        HELD = "held", _("预留中")
        SOLD = "sold", _("已售出")
        RELEASED = "released", _("已释放")
        CLOSED = "closed", _("部分售出，其余已释放")

    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("库存"))
    reference = models.CharField(_("关联单据"), max_length=64, db_index=True)
    quantity = models.IntegerField(_("预留数量"))
    sold = models.IntegerField(_("已售出"), default=0)
    released = models.IntegerField(_("已释放"), default=0)
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.HELD)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("库存预留")
        verbose_name_plural = _("库存预留")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["stock", "reference"], name="stockreservation_unique_stock_reference"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="stockreservation_quantity_gt_0"),
            models.CheckConstraint(condition=Q(sold__gte=0), name="stockreservation_sold_gte_0"),
            models.CheckConstraint(condition=Q(released__gte=0), name="stockreservation_released_gte_0"),
            models.CheckConstraint(
                condition=Q(quantity__gte=F("sold") + F("released")), name="stockreservation_used_lte_quantity"
            ),
            models.CheckConstraint(
                condition=(
                    Q(state="held", quantity__gt=F("sold") + F("released"))
                    | Q(state="sold", quantity=F("sold"), released=0)
                    | Q(state="released", quantity=F("released"), sold=0)
                    | Q(state="closed", quantity=F("sold") + F("released"), sold__gt=0, released__gt=0)
                ),
                name="stockreservation_state_matches_counts",
            ),
        ]

    def __str__(self):
        return f"{self.reference} · {self.stock_id} x {self.quantity}"

    @property
    def held(self):
        return self.quantity - self.sold - self.released


class Transfer(models.Model):
    """A transfer between two stores: draft -> dispatched (the units leave the source) -> received
    (what arrived enters the destination). Units sent but not received are the transfer's
    difference: it stays open (`difference_status`) until HQ settles every short line
    (stores.transfer_differences)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        DISPATCHED = "dispatched", _("已发出")
        RECEIVED = "received", _("已收货")
        CANCELLED = "cancelled", _("已取消")

    class Difference(models.TextChoices):
        NONE = "", _("无差异")
        OPEN = "open", _("差异待处理")
        RESOLVED = "resolved", _("差异已处理")

    # allowed next states, one place (as oscar's pipeline)
    PIPELINE = {
        Status.DRAFT: {Status.DISPATCHED, Status.CANCELLED},
        Status.DISPATCHED: {Status.RECEIVED, Status.CANCELLED},
        Status.RECEIVED: set(),
        Status.CANCELLED: set(),
    }

    source = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="transfers_out", verbose_name=_("调出门店")
    )
    destination = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="transfers_in", verbose_name=_("调入门店")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    difference_status = models.CharField(
        _("收货差异"), max_length=16, choices=Difference.choices, default=Difference.NONE, blank=True,
    )
    short_quantity = models.PositiveIntegerField(_("少到件数"), default=0, help_text=_("发出但未收到的件数"))
    note = models.CharField(_("备注"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("调拨单")
        verbose_name_plural = _("调拨单")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["-id"], condition=Q(difference_status="open"), name="transfer_difference_open"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_distinct_stores"),
            models.CheckConstraint(
                condition=Q(difference_status="", short_quantity=0)
                | Q(difference_status__in=["open", "resolved"], short_quantity__gt=0, status="received"),
                name="transfer_difference_only_when_short",
            ),
        ]

    def __str__(self):
        return f"DB{self.pk:06d}" if self.pk else "DB------"

    @property
    def reference(self):
        return transfer_ref(self.pk)

    @property
    def difference_open(self):
        return self.difference_status == self.Difference.OPEN


class TransferLine(models.Model):
    class Resolution(models.TextChoices):
        LOST = "lost", _("确认损耗")
        RETURNED = "returned", _("退回调出门店")
        DELIVERED = "delivered", _("补收到调入门店")

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines", verbose_name=_("调拨单"))
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("调拨数量"))
    quantity_received = models.PositiveIntegerField(_("实收数量"), null=True, blank=True)
    resolution = models.CharField(_("差异处理"), max_length=16, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("差异处理人"),
    )
    resolved_at = models.DateTimeField(_("差异处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("调拨明细")
        verbose_name_plural = _("调拨明细")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "sku"], name="transferline_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transferline_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_received__isnull=True) | Q(quantity_received__lte=F("quantity")),
                name="transferline_received_lte_sent",
            ),
            # only a short line is settled, and a settled one says when
            models.CheckConstraint(
                condition=Q(resolution="")
                | Q(quantity_received__isnull=False, quantity_received__lt=F("quantity"), resolved_at__isnull=False),
                name="transferline_resolution_only_when_short",
            ),
        ]

    def __str__(self):
        return f"{self.sku_id} x {self.quantity}"

    @property
    def shortage(self):
        if self.quantity_received is None:
            return None
        return self.quantity - self.quantity_received

    @property
    def difference_open(self):
        return bool(self.shortage) and not self.resolution

    @property
    def difference_words(self):
        """The line's difference in words, in its product's unit: "少到 1 件，差异待处理" / "少到 1 盒，已确认损耗"
        (reads sku.product: select it with the line)."""
        from .transfer_differences import shortage_words

        return shortage_words(self.shortage, self.resolution, self.sku.product.unit) if self.shortage else ""


class TransferEvent(models.Model):
    """The transfer's timeline: each state it entered, and HQ settling its difference ("resolved")."""

    RESOLVED = "resolved"
    CHOICES = [*Transfer.Status.choices, (RESOLVED, _("差异已处理"))]

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events", verbose_name=_("调拨单"))
    status = models.CharField(_("状态"), max_length=16, choices=CHOICES)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("操作人")
    )
    note = models.CharField(_("备注"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("调拨记录")
        verbose_name_plural = _("调拨记录")
        ordering = ["id"]

    def __str__(self):
        return f"{self.transfer_id} {self.status}"


class LowStockAlert(models.Model):
    """At most one open alert per stock row (a partial unique index): raised in the transaction
    of the movement that took available under the threshold, closed by the one that restored it."""

    class Status(models.TextChoices):
        OPEN = "open", _("待补货")
        CLOSED = "closed", _("已恢复")

    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("库存"))
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.OPEN)
    available_at_open = models.IntegerField(_("触发时可用"))
    threshold = models.IntegerField(_("阈值"))
    opened_at = models.DateTimeField(_("触发时间"), auto_now_add=True)
    closed_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)
    messaged_at = models.DateTimeField(
        _("消息发送时间"), null=True, blank=True, help_text=_("店长的微信/短信消息发出后记录；为空则由巡检重发")
    )

    class Meta:
        verbose_name = _("低库存预警")
        verbose_name_plural = _("低库存预警")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["stock"], condition=Q(status="open"), name="lowstockalert_one_open_per_stock"
            ),
        ]

    def __str__(self):
        return f"{self.stock} ({self.get_status_display()})"


class StoreNotification(models.Model):
    """A message to one staff member in the back office (the unread ones make the menu badge)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_notifications", verbose_name=_("接收人")
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("门店"))
    alert = models.ForeignKey(
        LowStockAlert, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications",
        verbose_name=_("预警"),
    )
    kind = models.CharField(_("类型"), max_length=32, default="low_stock")
    title = models.CharField(_("标题"), max_length=128)
    body = models.TextField(_("内容"), blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("门店通知")
        verbose_name_plural = _("门店通知")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="storenotif_user_unread")]
        constraints = [
            models.UniqueConstraint(fields=["user", "alert"], name="storenotif_one_per_user_alert"),
        ]

    def __str__(self):
        return self.title


class CodeLookup(models.Model):
    """One short code typed at a store's counter (a pickup code, looked up or confirmed): who, when,
    which store, which code and what came of it. The lookups that found nothing are what limits
    guessing (stores.lookups)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("查询中")
        FOUND = "found", _("找到")
        MISSED = "missed", _("未找到")
        REFUSED = "refused", _("过于频繁，已拒绝")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="code_lookups", verbose_name=_("操作人")
    )
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="code_lookups", verbose_name=_("门店"))
    purpose = models.CharField(_("用途"), max_length=32)
    code = models.CharField(_("输入的码"), max_length=32)
    outcome = models.CharField(_("结果"), max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("核销码查询记录")
        verbose_name_plural = _("核销码查询记录")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="codelookup_user_time"),
            models.Index(fields=["store", "created_at"], name="codelookup_store_time"),
        ]

    def __str__(self):
        return f"{self.store} {self.code} ({self.get_outcome_display()})"


class StockDocument(models.Model):
    """A stock document: a header and its lines, numbered, with a state, an author and a timeline
    (StockDocumentEvent). 入库 receipt, 出库 issue, 盘点 stocktake.

    A draft's lines may change; posting moves every line through the stock ledger under the
    reference ``doc:<number>`` (stores.documents) and the document never changes again. A posted
    document is undone only by another document, its reversal (``reversal_of``), posted at once.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("入库单")
        ISSUE = "issue", _("出库单")
        STOCKTAKE = "stocktake", _("盘点单")

    class State(models.TextChoices):
        DRAFT = "draft", _("草稿")
        POSTED = "posted", _("已过账")
        CANCELLED = "cancelled", _("已作废")

    class Source(models.TextChoices):
        SUPPLIER = "supplier", _("供应商")
        HQ = "hq", _("总部")

    class IssueReason(models.TextChoices):
        DAMAGE = "damage", _("报损")
        OWN_USE = "own_use", _("自用")
        RETURN_TO_SUPPLIER = "return_to_supplier", _("退回供应商")
        OTHER = "other", _("其他")

    PIPELINE = {
        State.DRAFT: {State.POSTED, State.CANCELLED},
        State.POSTED: set(),
        State.CANCELLED: set(),
    }
    PREFIX = {Kind.RECEIPT: "RK", Kind.ISSUE: "CK", Kind.STOCKTAKE: "PD"}

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    number = models.CharField(_("单号"), max_length=32, unique=True, null=True, blank=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="documents", verbose_name=_("门店"))
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.DRAFT)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices, blank=True)
    supplier = models.CharField(_("供应商"), max_length=64, blank=True)
    issue_reason = models.CharField(_("出库原因"), max_length=32, choices=IssueReason.choices, blank=True)
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("盘点分类"), help_text=_("为空表示全店盘点"),
    )
    note = models.CharField(_("备注"), max_length=255, blank=True)
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal",
        verbose_name=_("冲销的单据"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("制单人"),
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("过账人"),
    )
    posted_at = models.DateTimeField(_("过账时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("库存单据")
        verbose_name_plural = _("库存单据")
        ordering = ["-id"]
        indexes = [models.Index(fields=["store", "kind", "-id"], name="stockdoc_store_kind_id")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="posted", posted_at__isnull=False) | ~Q(state="posted"),
                name="stockdoc_posted_has_time",
            ),
        ]

    def __str__(self):
        return self.number or f"{self.PREFIX.get(self.kind, 'DJ')}-------"

    @property
    def reference(self):
        return doc_ref(self.number)

    @property
    def is_draft(self):
        return self.state == self.State.DRAFT


class StockDocumentLine(models.Model):
    """One SKU on a document. Receipt and issue: `quantity` (and a receipt's optional
    `unit_cost`). Stocktake: `counted` and `expected`, the row's on_hand when the count was typed,
    so sales between the count and the posting are not lost: the posting applies
    counted - expected to the stock as it is then. `delta` is the signed change the posting made
    (for a reversal, set when it is made: minus the reversed line's)."""

    document = models.ForeignKey(StockDocument, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name=_("单据"))
    sku = models.ForeignKey("catalog.Sku", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("数量"), null=True, blank=True)
    unit_cost = models.DecimalField(_("成本单价"), max_digits=12, decimal_places=2, null=True, blank=True)
    counted = models.PositiveIntegerField(_("实盘数量"), null=True, blank=True)
    expected = models.IntegerField(_("盘点时账面数量"), null=True, blank=True)
    counted_at = models.DateTimeField(_("盘点时间"), null=True, blank=True)
    delta = models.IntegerField(_("库存变化"), null=True, blank=True)

    class Meta:
        verbose_name = _("单据明细")
        verbose_name_plural = _("单据明细")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["document", "sku"], name="stockdocline_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__isnull=True) | Q(quantity__gt=0),
                                   name="stockdocline_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_cost__isnull=True) | Q(unit_cost__gte=0),
                                   name="stockdocline_unit_cost_gte_0"),
            models.CheckConstraint(condition=Q(counted__isnull=True) | Q(counted__gte=0),
                                   name="stockdocline_counted_gte_0"),
        ]

    def __str__(self):
        return f"{self.sku_id} x {self.quantity if self.quantity is not None else self.counted}"

    @property
    def variance(self):
        if self.counted is None or self.expected is None:
            return None
        return self.counted - self.expected


class StockDocumentEvent(models.Model):
    """The document's timeline: created, lines imported, posted, cancelled, reversed."""

    class Action(models.TextChoices):
        CREATED = "created", _("创建")
        IMPORTED = "imported", _("导入明细")
        POSTED = "posted", _("过账")
        CANCELLED = "cancelled", _("作废")
        REVERSED = "reversed", _("被冲销")

    document = models.ForeignKey(StockDocument, on_delete=models.CASCADE, related_name="events",
                                 verbose_name=_("单据"))
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("操作人")
    )
    note = models.CharField(_("备注"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("单据记录")
        verbose_name_plural = _("单据记录")
        ordering = ["id"]

    def __str__(self):
        return f"{self.document_id} {self.action}"
