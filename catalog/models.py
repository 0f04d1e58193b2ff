"""Catalogue data: the category tree, products (SPU), their option types and values, SKUs, images.

Invariants kept here (database constraints where possible):
- prices are non-negative and below PRICE_LIMIT (no absurd prices);
- a SKU's option combination is unique within its product (`option_key`, the sorted ids of its
  option values, "" for the single SKU of a product without options);
- a SKU code is unique across the shop (stores and orders refer to SKUs by id, people by code);
- `Product.price_min/price_max` mirror the enabled SKUs' prices; services keep them in step so the
  list page needs no aggregate per product.
Writes go through catalog.services; shopper reads through catalog.selectors.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from mptt.models import MPTTModel, TreeForeignKey

from core.icons import CATEGORY_ICON_CHOICES
from core.images import ImageField

from .validators import validate_image_file

PRICE_LIMIT = Decimal("1000000.00")
price_validators = [
    MinValueValidator(Decimal("0.00"), message=_("价格不能为负数")),
    MaxValueValidator(PRICE_LIMIT - Decimal("0.01"), message=_("价格过大，请检查")),
]


class Category(MPTTModel):
    """A node of the category tree (any depth). Siblings are ordered by `sort_order`, then name."""

    name = models.CharField(_("名称"), max_length=64)
    parent = TreeForeignKey(
        "self", verbose_name=_("上级分类"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    icon = ImageField(
        _("图标"), upload_to="catalog/categories/%Y/%m/", blank=True, validators=[validate_image_file]
    )
    # the 112x112 thumbnail of the icon, made once when the icon is saved (catalog.receivers)
    icon_thumb = models.CharField(_("图标缩略图"), max_length=255, blank=True, editable=False)
    # an icon of the app's own set (catalog.icons), shown when no image is uploaded
    icon_name = models.CharField(
        _("图标样式"), max_length=32, blank=True, choices=CATEGORY_ICON_CHOICES,
        help_text=_("未上传图标图片时，首页分类宫格显示此图标"),
    )
    sort_order = models.PositiveIntegerField(_("排序"), default=0, help_text=_("数字越小越靠前"))
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class MPTTMeta:
        order_insertion_by = ["sort_order", "name"]

    class Meta:
        verbose_name = _("商品分类")
        verbose_name_plural = _("商品分类")

    def __str__(self):
        return self.name


class Product(models.Model):
    """A product as shoppers see it (SPU). What is sold is one of its SKUs."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        LISTED = "listed", _("已上架")
        DELISTED = "delisted", _("已下架")

    name = models.CharField(_("商品名称"), max_length=120)
    subtitle = models.CharField(_("副标题"), max_length=200, blank=True)
    description = models.TextField(_("商品详情"), blank=True, help_text=_("富文本；脚本和事件属性会被清除"))
    category = models.ForeignKey(
        Category, verbose_name=_("所属分类"), on_delete=models.PROTECT, related_name="products"
    )
    video_url = models.URLField(_("视频链接"), blank=True)
    tags = models.CharField(_("标签"), max_length=200, blank=True, help_text=_("多个标签用逗号分隔"))
    unit = models.CharField(_("单位"), max_length=8, default="件", help_text=_("计量单位，如 件、盒、瓶、千克"))
    sort_weight = models.IntegerField(_("排序权重"), default=0, help_text=_("越大越靠前（综合排序）"))
    sales_base = models.PositiveIntegerField(_("基础销量"), default=0, help_text=_("手工设置的展示销量基数"))
    sales_count = models.PositiveIntegerField(_("实际销量"), default=0, editable=False)
    # read by orders' pricing: the member level's discount applies only to products that take part
    member_discount_enabled = models.BooleanField(
        _("参与会员折扣"), default=True, help_text=_("会员等级折扣是否适用于本商品")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    list_at = models.DateTimeField(_("定时上架时间"), null=True, blank=True)
    delist_at = models.DateTimeField(_("定时下架时间"), null=True, blank=True)
    listed_at = models.DateTimeField(_("上架时间"), null=True, blank=True, editable=False)
    price_min = models.DecimalField(
        _("最低价"), max_digits=12, decimal_places=2, null=True, blank=True, editable=False
    )
    price_max = models.DecimalField(
        _("最高价"), max_digits=12, decimal_places=2, null=True, blank=True, editable=False
    )
    cover = models.ForeignKey(
        "ProductImage",
        verbose_name=_("封面"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("商品")
        verbose_name_plural = _("商品")
        ordering = ["-sort_weight", "-id"]
        indexes = [
            models.Index(fields=["status", "category", "-sort_weight"], name="catalog_prod_status_cat"),
            models.Index(fields=["status", "-sort_weight", "-id"], name="catalog_prod_status_weight"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price_min__gte=0), name="catalog_product_price_min_gte_0"),
            models.CheckConstraint(
                condition=Q(delist_at__isnull=True) | Q(list_at__isnull=True) | Q(delist_at__gt=models.F("list_at")),
                name="catalog_product_delist_after_list",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.status == self.Status.LISTED and self.listed_at is None:
            self.listed_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "listed_at"}
        super().save(*args, **kwargs)

    @property
    def display_sales(self):
        return self.sales_base + self.sales_count

    @property
    def tag_list(self):
        return [t.strip() for t in self.tags.replace("，", ",").split(",") if t.strip()]

    def is_sellable_at(self, when=None):
        """Status and schedule only, for data already in hand; whether shoppers may see or buy the
        product (active categories, an enabled SKU) is decided by catalog.selectors."""
        when = when or timezone.now()
        return (
            self.status == self.Status.LISTED
            and (self.list_at is None or self.list_at <= when)
            and (self.delist_at is None or self.delist_at > when)
        )

    def clean(self):
        from .services import sanitize_description

        super().clean()
        self.description = sanitize_description(self.description)
        if self.list_at and self.delist_at and self.delist_at <= self.list_at:
            from django.core.exceptions import ValidationError

            raise ValidationError({"delist_at": _("定时下架时间必须晚于定时上架时间")})


class ProductImage(models.Model):
    """An image of a product; the first by `sort_order` is the cover.

    `thumbnails` holds the generated thumbnails ({"card": {"name", "width", "height"}, ...}), made
    once on upload, so pages render <img width height> without touching the thumbnail tables.
    """

    product = models.ForeignKey(Product, verbose_name=_("商品"), on_delete=models.CASCADE, related_name="images")
    image = ImageField(
        _("图片"),
        upload_to="catalog/products/%Y/%m/",
        width_field="width",
        height_field="height",
        validators=[validate_image_file],
    )
    width = models.PositiveIntegerField(_("宽"), default=0, editable=False)
    height = models.PositiveIntegerField(_("高"), default=0, editable=False)
    alt = models.CharField(_("说明文字"), max_length=120, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    thumbnails = models.JSONField(_("缩略图"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("商品图片")
        verbose_name_plural = _("商品图片")
        ordering = ["sort_order", "id"]

    def __str__(self):
        return self.alt or self.image.name

    def thumb(self, alias):
        """(url, width, height) of a generated thumbnail, falling back to the original image."""
        from django.core.files.storage import default_storage

        info = (self.thumbnails or {}).get(alias)
        if info:
            return default_storage.url(info["name"]), info["width"], info["height"]
        return (self.image.url if self.image else ""), self.width, self.height


class OptionType(models.Model):
    """An option of a product (颜色, 尺码, 容量 …), with its values in order."""

    product = models.ForeignKey(Product, verbose_name=_("商品"), on_delete=models.CASCADE, related_name="option_types")
    name = models.CharField(_("规格名"), max_length=32)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("规格")
        verbose_name_plural = _("规格")
        ordering = ["sort_order", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="catalog_optiontype_unique_name")]

    def __str__(self):
        return self.name


class OptionValue(models.Model):
    option_type = models.ForeignKey(
        OptionType, verbose_name=_("规格"), on_delete=models.CASCADE, related_name="values"
    )
    value = models.CharField(_("规格值"), max_length=32)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("规格值")
        verbose_name_plural = _("规格值")
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["option_type", "value"], name="catalog_optionvalue_unique_value")
        ]

    def __str__(self):
        return self.value


class Sku(models.Model):
    """One sellable combination of a product's option values, with its own price.

    `option_key` is the sorted, dash-joined ids of its option values ("" for a product without
    options): unique per product, so a duplicate combination cannot be stored. `spec_text` is the
    human label ("红色 / XL") kept with it so carts and orders need no join to show it.
    `cost_price` is for staff only: never render it on shopper pages or in shopper JSON.
    """

    product = models.ForeignKey(Product, verbose_name=_("商品"), on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(_("SKU编码"), max_length=40, unique=True)
    option_values = models.ManyToManyField(OptionValue, verbose_name=_("规格值"), blank=True, related_name="skus")
    option_key = models.CharField(_("规格组合键"), max_length=200, blank=True, default="", editable=False)
    spec_text = models.CharField(_("规格"), max_length=200, blank=True, default="")
    price = models.DecimalField(_("售价"), max_digits=12, decimal_places=2, validators=price_validators)
    market_price = models.DecimalField(
        _("划线价"), max_digits=12, decimal_places=2, null=True, blank=True, validators=price_validators
    )
    cost_price = models.DecimalField(
        _("成本价"), max_digits=12, decimal_places=2, null=True, blank=True, validators=price_validators
    )
    barcode = models.CharField(_("条形码"), max_length=64, blank=True)
    weight = models.DecimalField(
        _("重量(千克)"),
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10000"))],
    )
    image = models.ForeignKey(
        ProductImage, verbose_name=_("SKU图片"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_enabled = models.BooleanField(_("启用"), default=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKU")
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "option_key"],
                name="catalog_sku_unique_combination",
                violation_error_message=_("该商品已有相同规格组合的SKU"),
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0) & Q(price__lt=PRICE_LIMIT),
                name="catalog_sku_price_range",
                violation_error_message=_("售价必须在 0 到 1000000 元之间"),
            ),
            models.CheckConstraint(
                condition=Q(market_price__isnull=True) | (Q(market_price__gte=0) & Q(market_price__lt=PRICE_LIMIT)),
                name="catalog_sku_market_price_range",
            ),
            models.CheckConstraint(
                condition=Q(cost_price__isnull=True) | (Q(cost_price__gte=0) & Q(cost_price__lt=PRICE_LIMIT)),
                name="catalog_sku_cost_price_range",
            ),
        ]

    def __str__(self):
        return f"{self.product.name} {self.spec_text}".strip() if self.product_id else self.code

    def clean(self):
        super().clean()
        if self.market_price is not None and self.price is not None and self.market_price < self.price:
            from django.core.exceptions import ValidationError

            raise ValidationError({"market_price": _("划线价不能低于售价")})

    @property
    def display_name(self):
        return f"{self.product.name} {self.spec_text}".strip()


class FeaturedProduct(models.Model):
    """HQ's ordered list of the home page's 精选推荐. Empty: the page falls back to sort weight
    (catalog.selectors.recommended_products). A product is in the list at most once; one that is
    not listed now is skipped, not shown."""

    product = models.OneToOneField(
        Product, verbose_name=_("商品"), on_delete=models.CASCADE, related_name="featured"
    )
    sort_order = models.PositiveIntegerField(_("排序"), default=0, help_text=_("数字越小越靠前"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("首页精选商品")
        verbose_name_plural = _("首页精选商品")
        ordering = ["sort_order", "id"]

    def __str__(self):
        return str(self.product)


class HotSearchWord(models.Model):
    """A word HQ puts under the search box (热门搜索), in order."""

    word = models.CharField(_("热搜词"), max_length=20, unique=True,
                            error_messages={"unique": _("该热搜词已存在")})
    sort_order = models.PositiveIntegerField(_("排序"), default=0, help_text=_("数字越小越靠前"))
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("热搜词")
        verbose_name_plural = _("热搜词")
        ordering = ["sort_order", "id"]

    def __str__(self):
        return self.word
