"""Catalogue admin for HQ staff: category tree, products with images, options and SKUs.

Saving a product with options generates the missing SKU combinations (keeping existing SKUs,
disabling vanished ones); a product without options keeps exactly one SKU. Bulk list/delist,
CSV import/export (all rows or none, with per-row errors) and a price-range filter.
Cost price appears here only: the admin is staff-only. The description has a rich-text editor
(catalog.widgets.RichTextarea) and the SKU grid a 批量填充 row; both are conveniences in the
browser, the server validates and sanitises as without them.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from mptt.admin import MPTTModelAdmin, TreeRelatedFieldListFilter

from . import cache as catalog_cache
from . import services
from .errors import CatalogError
from .models import Category, FeaturedProduct, HotSearchWord, OptionType, Product, ProductImage, Sku
from .resources import ProductResource, SkuResource
from .widgets import RichTextarea


@admin.register(Category)
class CategoryAdmin(MPTTModelAdmin):
    """Order siblings with `sort_order`; changing the parent moves the whole subtree."""

    list_display = ("name", "icon_preview", "sort_order", "is_active", "product_count")
    list_editable = ("sort_order", "is_active")
    search_fields = ("name",)
    mptt_level_indent = 24

    @admin.display(description=_("图标"))
    def icon_preview(self, obj):
        if not obj.icon:
            return "-"
        return format_html('<img src="{}" width="28" height="28" alt="" style="border-radius:4px">', obj.icon.url)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_total=Count("products"))

    @admin.display(description=_("商品数"), ordering="product_total")
    def product_count(self, obj):
        return obj.product_total

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # a changed sort order must re-place the node among its siblings
        if change and "sort_order" in form.changed_data:
            Category.objects.partial_rebuild(obj.tree_id)
            catalog_cache.bump()  # the rebuild writes by UPDATE, after the save's own bump


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 1
    fields = ("preview", "image", "alt", "sort_order")
    readonly_fields = ("preview",)

    @admin.display(description=_("预览"))
    def preview(self, obj):
        if not obj.pk or not obj.image:
            return "-"
        url, width, height = obj.thumb("card")
        return format_html('<img src="{}" width="60" height="60" alt="" style="object-fit:cover">', url)


class OptionTypeForm(forms.ModelForm):
    values_text = forms.CharField(
        label=_("规格值"),
        help_text=_("用逗号分隔，如：红色,蓝色,白色"),
        widget=forms.TextInput(attrs={"size": 50}),
    )

    class Meta:
        model = OptionType
        fields = ("name", "sort_order")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["values_text"].initial = ",".join(v.value for v in self.instance.values.all())

    def clean_values_text(self):
        raw = self.cleaned_data["values_text"].replace("，", ",")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise forms.ValidationError(_("至少填写一个规格值"))
        if len(set(values)) != len(values):
            raise forms.ValidationError(_("规格值有重复"))
        if any(len(v) > 32 for v in values):
            raise forms.ValidationError(_("每个规格值最多32个字"))
        return values


class OptionTypeInline(admin.TabularInline):
    model = OptionType
    form = OptionTypeForm
    extra = 0
    fields = ("name", "values_text", "sort_order")
    verbose_name = _("规格（保存后自动生成SKU组合）")
    verbose_name_plural = _("规格（保存后自动生成SKU组合）")


class SkuInlineForm(forms.ModelForm):
    class Meta:
        model = Sku
        fields = ("code", "price", "market_price", "cost_price", "barcode", "weight", "image", "is_enabled")
        widgets = {
            "code": forms.TextInput(attrs={"size": 12}),
            "barcode": forms.TextInput(attrs={"size": 14}),
            **{name: forms.NumberInput(attrs={"style": "width:7em", "step": "0.01"})
               for name in ("price", "market_price", "cost_price")},
            "weight": forms.NumberInput(attrs={"style": "width:6em", "step": "0.001"}),
        }


class SkuInline(admin.TabularInline):
    """The SKU grid, with a 批量填充 row above it (templates/catalog/admin/sku_inline.html,
    static/catalog/sku_fill.js) that copies one price, market price, cost or weight into every row."""

    model = Sku
    form = SkuInlineForm
    template = "catalog/admin/sku_inline.html"
    extra = 0
    can_delete = False
    fields = ("code", "spec", "price", "market_price", "cost_price", "barcode", "weight", "image", "is_enabled")
    readonly_fields = ("spec",)
    show_change_link = False

    @admin.display(description=_("规格"))
    def spec(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.spec_text or "-")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # only the product's own images can be a SKU's image
        image_field = formset.form.base_fields.get("image")
        if image_field is not None:
            image_field.queryset = ProductImage.objects.filter(product=obj) if obj else ProductImage.objects.none()
        return formset

    def has_add_permission(self, request, obj=None):
        return False  # SKUs come from the option grid (or the single default SKU)

    class Media:
        css = {"all": ("catalog/admin.css",)}
        js = (forms.Script("catalog/sku_fill.js", defer=True),)


class ProductAdminForm(forms.ModelForm):
    """The product editor: the description is edited with Quill (RichTextarea) and sanitised on
    save like any other description (Product.clean)."""

    video_url = forms.URLField(label=_("视频链接"), required=False, assume_scheme="https")
    default_price = forms.DecimalField(
        label=_("新SKU默认售价"),
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("999999.99"),
        help_text=_("生成新规格组合或无规格商品的SKU时使用；已有SKU的价格在下方SKU表中修改"),
    )
    unit = forms.CharField(label=_("单位"), max_length=8, required=False, help_text=_("计量单位，如 件、盒、瓶、千克；留空为“件”"))

    class Meta:
        model = Product
        widgets = {"description": RichTextarea()}
        fields = (
            "name", "subtitle", "category", "tags", "unit", "status", "sort_weight", "sales_base",
            "member_discount_enabled", "description", "video_url", "list_at", "delist_at",
        )

    def clean_unit(self):
        return (self.cleaned_data.get("unit") or "").strip() or "件"

    def clean(self):
        cleaned = super().clean()
        has_skus = bool(self.instance.pk and self.instance.skus.exists())
        if not has_skus and cleaned.get("default_price") is None:
            self.add_error("default_price", _("新商品请填写默认售价"))
        return cleaned


class PriceRangeFilter(admin.SimpleListFilter):
    title = _("价格区间")
    parameter_name = "price"
    RANGES = {
        "0-50": (Decimal("0"), Decimal("50")),
        "50-100": (Decimal("50"), Decimal("100")),
        "100-300": (Decimal("100"), Decimal("300")),
        "300-1000": (Decimal("300"), Decimal("1000")),
        "1000-": (Decimal("1000"), None),
    }

    def lookups(self, request, model_admin):
        return [
            ("0-50", _("50元以下")),
            ("50-100", _("50-100元")),
            ("100-300", _("100-300元")),
            ("300-1000", _("300-1000元")),
            ("1000-", _("1000元以上")),
            ("none", _("无可售SKU")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(price_min__isnull=True)
        if value in self.RANGES:
            low, high = self.RANGES[value]
            queryset = queryset.filter(price_min__gte=low)
            if high is not None:
                queryset = queryset.filter(price_min__lt=high)
        return queryset


@admin.register(Product)
class ProductAdmin(ImportExportModelAdmin):
    form = ProductAdminForm
    resource_classes = [ProductResource]
    list_display = (
        "cover_preview", "name", "category", "price_range", "status", "display_sales", "sort_weight", "updated_at",
    )
    list_display_links = ("cover_preview", "name")
    list_filter = ("status", ("category", TreeRelatedFieldListFilter), PriceRangeFilter, "member_discount_enabled")
    list_select_related = ("category", "cover")
    search_fields = ("name", "subtitle", "tags", "skus__code", "skus__barcode")
    search_help_text = _("按名称、副标题、标签、SKU编码或条形码搜索")
    list_per_page = 50
    actions = ["list_selected", "delist_selected", "generate_grid"]
    inlines = [ProductImageInline, OptionTypeInline, SkuInline]
    readonly_fields = ("price_min", "price_max", "sales_count", "listed_at")
    fieldsets = (
        (None, {"fields": ("name", "subtitle", "category", "tags", "unit", "status", "sort_weight")}),
        (_("价格与销量"), {"fields": (
            "default_price", "price_min", "price_max", "member_discount_enabled", "sales_base", "sales_count",
        )}),
        (_("详情"), {"fields": ("description", "video_url")}),
        (_("定时上下架"), {"fields": ("list_at", "delist_at", "listed_at")}),
    )

    @admin.display(description=_("封面"))
    def cover_preview(self, obj):
        if not obj.cover_id:
            return "-"
        url, _w, _h = obj.cover.thumb("card")
        return format_html('<img src="{}" width="48" height="48" alt="" style="object-fit:cover">', url)

    @admin.display(description=_("价格"), ordering="price_min")
    def price_range(self, obj):
        if obj.price_min is None:
            return "-"
        if obj.price_max != obj.price_min:
            return f"¥{obj.price_min} - ¥{obj.price_max}"
        return f"¥{obj.price_min}"

    @admin.display(description=_("销量"))
    def display_sales(self, obj):
        return obj.display_sales

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        product = form.instance
        for formset in formsets:
            if formset.model is OptionType:
                for option_form in formset.forms:
                    if option_form.instance.pk and "values_text" in option_form.cleaned_data:
                        self._sync_values(option_form.instance, option_form.cleaned_data["values_text"])
        price = form.cleaned_data.get("default_price")
        try:
            if product.option_types.exists():
                result = services.generate_sku_grid(product, price=price)
                if result.created or result.disabled:
                    self.message_user(
                        request,
                        _("已生成 %(created)s 个新SKU，停用 %(disabled)s 个已不存在的组合")
                        % {"created": result.created, "disabled": result.disabled},
                        messages.SUCCESS,
                    )
            elif price is not None or not product.skus.filter(option_key="").exists():
                services.ensure_default_sku(product, price=price)
            services.refresh_price_range(product)
        except CatalogError as exc:
            # the admin's change view is one transaction: re-raise as a form-level error is not
            # possible here, so roll the whole save back and tell the user why
            from django.db import transaction

            transaction.set_rollback(True)
            self.message_user(request, _("未保存：%(error)s") % {"error": exc}, messages.ERROR)

    @staticmethod
    def _sync_values(option_type, values):
        existing = {v.value: v for v in option_type.values.all()}
        for order, value in enumerate(values):
            if value in existing:
                if existing[value].sort_order != order:
                    existing[value].sort_order = order
                    existing[value].save(update_fields=["sort_order"])
            else:
                option_type.values.create(value=value, sort_order=order)
        # a removed value goes; its SKUs are disabled by the grid, never deleted
        option_type.values.exclude(value__in=values).delete()

    @admin.action(description=_("上架所选商品"), permissions=["change"])
    def list_selected(self, request, queryset):
        listed, refused = services.list_products(list(queryset))
        self.message_user(request, _("已上架 %(n)s 个商品") % {"n": listed}, messages.SUCCESS)
        if refused:
            self.message_user(
                request, _("以下商品没有可售SKU，未上架：%(names)s") % {"names": "、".join(refused)}, messages.WARNING
            )

    @admin.action(description=_("下架所选商品"), permissions=["change"])
    def delist_selected(self, request, queryset):
        changed = services.delist_products(list(queryset))
        self.message_user(request, _("已下架 %(n)s 个商品") % {"n": changed}, messages.SUCCESS)

    @admin.action(description=_("按规格生成SKU组合"), permissions=["change"])
    def generate_grid(self, request, queryset):
        created = disabled = 0
        for product in queryset:
            try:
                result = services.generate_sku_grid(product)
            except CatalogError as exc:
                self.message_user(request, f"{product.name}: {exc}", messages.ERROR)
                continue
            created += result.created
            disabled += result.disabled
        self.message_user(
            request, _("新建 %(c)s 个SKU，停用 %(d)s 个") % {"c": created, "d": disabled}, messages.SUCCESS
        )


@admin.register(Sku)
class SkuAdmin(ImportExportModelAdmin):
    """SKUs for search, import and export; they are created from their product's options."""

    resource_classes = [SkuResource]
    list_display = ("code", "product", "spec_text", "price", "market_price", "cost_price", "barcode", "is_enabled")
    list_filter = ("is_enabled", "product__status")
    list_select_related = ("product",)
    search_fields = ("code", "barcode", "product__name")
    readonly_fields = ("product", "spec_text", "option_key")
    exclude = ("option_values",)
    list_editable = ("price", "is_enabled")

    def has_add_permission(self, request):
        return False


@admin.register(FeaturedProduct)
class FeaturedProductAdmin(admin.ModelAdmin):
    """The home page's 精选推荐, in order (also edited in the back office's 首页装修)."""

    list_display = ("product", "sort_order", "created_at")
    list_editable = ("sort_order",)
    raw_id_fields = ("product",)
    ordering = ("sort_order", "id")
    list_select_related = ("product",)


@admin.register(HotSearchWord)
class HotSearchWordAdmin(admin.ModelAdmin):
    list_display = ("word", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    search_fields = ("word",)
    ordering = ("sort_order", "id")
