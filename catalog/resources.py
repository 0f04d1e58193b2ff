"""CSV import and export of products and SKUs (django-import-export).

A file either imports completely or reports its errors and saves nothing: every import runs in
one transaction (IMPORT_EXPORT_USE_TRANSACTIONS) that is rolled back when any row has an error or
a validation error (`import_catalog_file`, the admin's dry run). Rows are validated with the
models' full_clean: the same price limits, sanitised description and unique combinations as the
admin. `cost_price` is exported for staff only: the admin is staff-only.

Columns
- products: id (blank = new), name, subtitle, category ("食品饮料/休闲零食", a unique name, or an id),
  tags, sort_weight, sales_base, member_discount_enabled (1/0; a missing column or a blank cell keeps
  the product's value, 1 for a new product), status (draft/listed/delisted), video_url, description
- skus: code (the key), product (product id), spec ("颜色:红色;尺码:XL", blank for a product without
  options), price, market_price, cost_price, barcode, weight, is_enabled (1/0)
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import tablib
from django.db import transaction
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from core.money import to_money
from core.numbers import INT_MAX, id_or_none, parse_int

from .models import Category, OptionType, OptionValue, Product, Sku
from .services import option_key_for, spec_text_for


class CategoryWidget(widgets.ForeignKeyWidget):
    """A category by path ("食品饮料/休闲零食"), unique name or id; exported as its path."""

    def __init__(self):
        super().__init__(Category, "pk")

    def clean(self, value, row=None, **kwargs):
        value = str(value or "").strip()
        if not value:
            raise ValueError(_("分类不能为空"))
        if value.isdigit():  # "²" is a digit too: id_or_none reads ASCII digits within range only
            category_id = id_or_none(value)
            category = Category.objects.filter(pk=category_id).first() if category_id else None
        else:
            parts = [p.strip() for p in value.split("/") if p.strip()]
            candidates = list(Category.objects.filter(name=parts[-1]))
            if len(parts) > 1:
                candidates = [
                    c for c in candidates
                    if [a.name for a in c.get_ancestors(include_self=True)][-len(parts):] == parts
                ]
            category = candidates[0] if len(candidates) == 1 else None
            if len(candidates) > 1:
                raise ValueError(_("分类「%(name)s」不唯一，请写完整路径，如 父分类/子分类") % {"name": value})
        if category is None:
            raise ValueError(_("分类「%(name)s」不存在") % {"name": value})
        return category

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return "/".join(c.name for c in value.get_ancestors(include_self=True))


class IntegerWidget(widgets.IntegerWidget):
    def clean(self, value, row=None, **kwargs):
        if self.is_empty(value):
            return None
        try:
            return parse_int(str(value).strip(), minimum=-INT_MAX - 1, maximum=INT_MAX)
        except ValueError:
            raise ValueError(_("「%(value)s」不是整数") % {"value": value}) from None


class DecimalWidget(widgets.DecimalWidget):
    """A plain decimal (weight). Spreadsheet floats arrive as numbers: read them through str()."""

    def clean(self, value, row=None, **kwargs):
        if self.is_empty(value):
            return None
        try:
            amount = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("「%(value)s」不是有效的数字") % {"value": value}) from None
        if not amount.is_finite():
            raise ValueError(_("「%(value)s」不是有效的数字") % {"value": value})
        return amount


class MoneyWidget(DecimalWidget):
    """A price in yuan, parsed by core.money like every other amount. "¥1,299.00" is accepted; a
    value with fractions of a fen is refused rather than silently rounded."""

    def clean(self, value, row=None, **kwargs):
        if self.is_empty(value):
            return None
        text = str(value).strip().replace("¥", "").replace("￥", "")
        amount = super().clean(text, row, **kwargs)
        money = to_money(amount)
        if money != amount:
            raise ValueError(_("「%(value)s」的金额最多两位小数") % {"value": value})
        return money


class FlagWidget(widgets.BooleanWidget):
    """A yes/no column: 1/0, true/false, 是/否, yes/no, or a spreadsheet's TRUE/FALSE; blank is
    None (the field then keeps the instance's value). Anything else is an error, never a silent no."""

    TRUE_WORDS = {"1", "true", "yes", "y", "是"}
    FALSE_WORDS = {"0", "false", "no", "n", "否"}

    def clean(self, value, row=None, **kwargs):
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("", "none", "null"):
            return None
        if text.endswith(".0"):  # a spreadsheet number: 1.0 / 0.0
            text = text[:-2]
        if text in self.TRUE_WORDS:
            return True
        if text in self.FALSE_WORDS:
            return False
        raise ValueError(_("「%(value)s」应为 1 或 0") % {"value": value})


class ProductResource(resources.ModelResource):
    category = fields.Field(attribute="category", column_name="category", widget=CategoryWidget())
    sort_weight = fields.Field(attribute="sort_weight", column_name="sort_weight", widget=IntegerWidget())
    sales_base = fields.Field(attribute="sales_base", column_name="sales_base", widget=IntegerWidget())
    # an absent column is skipped by import-export; a blank cell cleans to None and is not saved
    member_discount_enabled = fields.Field(
        attribute="member_discount_enabled", column_name="member_discount_enabled", widget=FlagWidget(),
        saves_null_values=False,
    )

    class Meta:
        model = Product
        fields = (
            "id", "name", "subtitle", "category", "tags", "sort_weight", "sales_base",
            "member_discount_enabled", "status", "video_url", "description",
        )
        export_order = fields
        import_id_fields = ("id",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False

    def get_or_init_instance(self, instance_loader, row):
        if not str(row.get("id") or "").strip():
            row["id"] = None
            return self.init_instance(row), True
        return super().get_or_init_instance(instance_loader, row)


def parse_spec(spec):
    """"颜色:红色;尺码:XL" -> [("颜色", "红色"), ("尺码", "XL")]; ValueError when malformed."""
    pairs = []
    for part in str(spec or "").replace("；", ";").replace("：", ":").split(";"):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            raise ValueError(_("规格格式应为 规格名:规格值;规格名:规格值"))
        name, value = (s.strip() for s in part.split(":", 1))
        if not name or not value:
            raise ValueError(_("规格格式应为 规格名:规格值;规格名:规格值"))
        pairs.append((name, value))
    names = [n for n, _v in pairs]
    if len(set(names)) != len(names):
        raise ValueError(_("同一规格出现了两次"))
    return pairs


class SkuResource(resources.ModelResource):
    product = fields.Field(attribute="product", column_name="product", widget=widgets.ForeignKeyWidget(Product, "pk"))
    spec = fields.Field(attribute="spec_text", column_name="spec", readonly=True)
    is_enabled = fields.Field(attribute="is_enabled", column_name="is_enabled", widget=widgets.BooleanWidget())
    price = fields.Field(attribute="price", column_name="price", widget=MoneyWidget())
    market_price = fields.Field(attribute="market_price", column_name="market_price", widget=MoneyWidget())
    cost_price = fields.Field(attribute="cost_price", column_name="cost_price", widget=MoneyWidget())
    weight = fields.Field(attribute="weight", column_name="weight", widget=DecimalWidget())

    class Meta:
        model = Sku
        fields = (
            "code", "product", "spec", "price", "market_price", "cost_price", "barcode", "weight", "is_enabled",
        )
        export_order = fields
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = False

    def dehydrate_spec(self, sku):
        values = sorted(sku.option_values.all(), key=lambda v: (v.option_type.sort_order, v.option_type_id))
        return ";".join(f"{v.option_type.name}:{v.value}" for v in values)

    def get_export_queryset(self, request=None, **kwargs):
        return Sku.objects.select_related("product").prefetch_related("option_values__option_type")

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except Exception as exc:  # collect with the spec error below
            if hasattr(exc, "error_dict"):
                errors.update(exc.error_dict)
            else:
                raise
        if instance.product_id and "product" not in errors:
            try:
                pairs = parse_spec(row.get("spec"))
            except ValueError as exc:
                errors["spec_text"] = [str(exc)]
            else:
                instance._option_values = self._values_for(instance.product, pairs)
                instance.option_key = option_key_for(instance._option_values)
                instance.spec_text = spec_text_for(instance._option_values)
        if errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(errors)

    @staticmethod
    def _values_for(product, pairs):
        values = []
        for order, (name, value) in enumerate(pairs):
            option_type, _created = OptionType.objects.get_or_create(
                product=product, name=name, defaults={"sort_order": order}
            )
            option_value, _created = OptionValue.objects.get_or_create(
                option_type=option_type, value=value, defaults={"sort_order": option_type.values.count()}
            )
            values.append(option_value)
        return values

    def after_save_instance(self, instance, row, **kwargs):
        values = getattr(instance, "_option_values", None)
        if values is not None:
            instance.option_values.set(values)


@dataclass
class ImportReport:
    """What an import did: counts per kind, and per-row errors (row number from 1, first data row)."""

    total_rows: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors


def _row_messages(result):
    messages = []
    for row_number, row_errors in result.row_errors():
        for error in row_errors:
            messages.append((row_number, str(error.error)))
    for invalid in result.invalid_rows:
        for field_name, errors in invalid.error_dict.items():
            for error in errors:
                text = error if isinstance(error, str) else " ".join(getattr(error, "messages", [str(error)]))
                label = "" if field_name == "__all__" else f"{field_name}: "
                messages.append((invalid.number, f"{label}{text}"))
    for error in result.base_errors:
        messages.append((0, str(error.error)))
    return sorted(messages, key=lambda m: m[0])


def import_catalog_file(resource_class, data, *, file_format="csv", dry_run=False, progress=None):
    """Import products or SKUs from CSV (or xlsx) text/bytes: all rows, or none.

    Returns an ImportReport; with errors, nothing is saved (the transaction is rolled back), and
    each error names its row number. `progress(done, total)` is called as rows are processed."""
    dataset = tablib.Dataset().load(data, format=file_format)
    resource = resource_class()
    if progress:
        total = len(dataset)
        original = resource.after_import_row

        def after_import_row(row, row_result, **kwargs):
            original(row, row_result, **kwargs)
            progress(kwargs.get("row_number", 0), total)

        resource.after_import_row = after_import_row
    with transaction.atomic():
        result = resource.import_data(
            dataset, dry_run=dry_run, raise_errors=False, use_transactions=True,
            rollback_on_validation_errors=True, collect_failed_rows=True,
        )
        report = ImportReport(
            total_rows=result.total_rows,
            new=result.totals.get("new", 0),
            updated=result.totals.get("update", 0),
            skipped=result.totals.get("skip", 0),
            errors=_row_messages(result),
        )
        if report.errors:
            transaction.set_rollback(True)
    return report
