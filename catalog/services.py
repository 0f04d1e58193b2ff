"""Every write to the catalogue: products, SKU grids, images, listing on and off the shelf.

Each service runs in one transaction and raises a CatalogError (nothing saved) on bad input.
Derived columns (`Product.price_min/price_max`, `Product.cover`) are refreshed here and by the
receivers in catalog/receivers.py, so readers never aggregate per product.
Any change shoppers can see bumps the catalogue cache version (catalog.cache), except the sales
count (add_sales): a sale must not empty every cached page, so shown sales figures may lag the
database by up to catalog.cache.SALES_STALENESS seconds.
"""

import itertools
import logging
from dataclasses import dataclass

import nh3
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import cache as catalog_cache
from .errors import CatalogError, DuplicateCombination
from .models import OptionType, OptionValue, Product, ProductImage, Sku

log = logging.getLogger(__name__)

# --- rich description -------------------------------------------------------------------------
ALLOWED_TAGS = {
    "p", "br", "hr", "span", "div", "strong", "b", "em", "i", "u", "s", "del", "sub", "sup", "small",
    "h2", "h3", "h4", "h5", "ul", "ol", "li", "blockquote", "table", "thead", "tbody", "tr", "th", "td",
    "a", "img", "figure", "figcaption",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


def sanitize_description(html):
    """Clean merchant HTML: normal formatting and images stay; scripts, event handlers (onclick…),
    javascript:/data: URLs, iframes and inline styles (they could fake parts of the page) are
    removed. Idempotent."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# --- products ---------------------------------------------------------------------------------
def _full_clean(instance, exclude=None):
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        messages = []
        for field, errors in exc.message_dict.items():
            label = instance._meta.get_field(field).verbose_name if field != "__all__" else ""
            messages.extend(f"{label}: {e}" if label else str(e) for e in errors)
        raise CatalogError("；".join(messages), code="validation") from exc


@transaction.atomic
def create_product(*, name, category, price=None, **fields):
    """Create a product (draft unless `status` is given). With `price`, also its single default
    SKU (a product without options has exactly one SKU). The description is sanitised."""
    product = Product(name=name, category=category, **fields)
    product.description = sanitize_description(product.description)
    if product.status == Product.Status.LISTED and product.listed_at is None:
        product.listed_at = timezone.now()
    _full_clean(product)
    product.save()
    if price is not None:
        ensure_default_sku(product, price=price)
    catalog_cache.bump()
    return product


@transaction.atomic
def update_product(product, **fields):
    """Change a product's fields with validation (description sanitised)."""
    for key, value in fields.items():
        setattr(product, key, value)
    product.description = sanitize_description(product.description)
    _full_clean(product)
    product.save()
    catalog_cache.bump()
    return product


def next_sku_code(product):
    n = product.skus.count() + 1
    while True:
        code = f"P{product.pk:05d}-{n:02d}"
        if not Sku.objects.filter(code=code).exists():
            return code
        n += 1


@transaction.atomic
def ensure_default_sku(product, *, price, **fields):
    """The single SKU of a product without options (option_key ""). Creates it or updates its price."""
    if product.option_types.exists():
        raise CatalogError(_("该商品有规格，请生成规格组合"), code="has_options")
    sku = product.skus.filter(option_key="").first()
    if sku is None:
        sku = Sku(product=product, option_key="", code=fields.pop("code", None) or next_sku_code(product))
    sku.price = price
    for key, value in fields.items():
        setattr(sku, key, value)
    _full_clean(sku, exclude=["product"])
    sku.save()
    refresh_price_range(product)
    return sku


# --- options and the SKU grid -----------------------------------------------------------------
def option_key_for(values):
    return "-".join(str(v.pk) for v in sorted(values, key=lambda v: v.pk))


def spec_text_for(values):
    return " / ".join(v.value for v in sorted(values, key=lambda v: (v.option_type.sort_order, v.option_type_id)))


@transaction.atomic
def set_options(product, options):
    """Declare a product's option types and values, e.g. {"颜色": ["红色", "蓝色"], "尺码": ["S", "M"]}.

    Adds what is missing and keeps everything that exists (never deletes a value a SKU uses);
    call generate_sku_grid() afterwards. Returns the number of types and values created."""
    created = 0
    for type_order, (type_name, values) in enumerate(options.items()):
        type_name = str(type_name).strip()
        if not type_name:
            raise CatalogError(_("规格名不能为空"), code="option_name")
        option_type, was_created = OptionType.objects.get_or_create(
            product=product, name=type_name, defaults={"sort_order": type_order}
        )
        created += was_created
        seen = set()
        for value_order, value in enumerate(values):
            value = str(value).strip()
            if not value:
                raise CatalogError(_("规格值不能为空"), code="option_value")
            if value in seen:
                raise DuplicateCombination(
                    _("规格「%(type)s」的值「%(value)s」重复"), params={"type": type_name, "value": value}
                )
            seen.add(value)
            __, was_created = OptionValue.objects.get_or_create(
                option_type=option_type, value=value, defaults={"sort_order": value_order}
            )
            created += was_created
    return created


@dataclass
class GridResult:
    created: int = 0
    disabled: int = 0
    kept: int = 0


@transaction.atomic
def generate_sku_grid(product, *, price=None, market_price=None):
    """Make one SKU per combination of the product's option values.

    Guarantees: existing SKUs are kept (same id, code, price) when a value is added; SKUs whose
    combination no longer exists are disabled, never deleted (orders and stock point at them); a
    product without options gets its single default SKU. New SKUs take `price`, else the lowest
    existing price; with neither, CatalogError. Locks the product row so two admins generating at
    once cannot create the same combination twice (the unique key would refuse it anyway)."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    types = list(product.option_types.prefetch_related("values").order_by("sort_order", "id"))
    for option_type in types:
        if not option_type.values.all():
            raise CatalogError(
                _("规格「%(type)s」还没有规格值"), code="option_empty", params={"type": option_type.name}
            )
    existing = {sku.option_key: sku for sku in product.skus.all()}
    if price is None:
        prices = [s.price for s in existing.values()]
        if not prices:
            raise CatalogError(_("请先填写默认售价"), code="price_required")
        price = min(prices)
    combinations = list(itertools.product(*[list(t.values.all()) for t in types])) if types else [()]
    wanted = {}
    for combo in combinations:
        wanted[option_key_for(combo)] = combo
    result = GridResult()
    n = product.skus.count()
    for key, combo in wanted.items():
        if key in existing:
            result.kept += 1
            sku = existing[key]
            text = spec_text_for(combo)
            if sku.spec_text != text:
                Sku.objects.filter(pk=sku.pk).update(spec_text=text)
            continue
        n += 1
        code = f"P{product.pk:05d}-{n:02d}"
        while Sku.objects.filter(code=code).exists():
            n += 1
            code = f"P{product.pk:05d}-{n:02d}"
        sku = Sku(
            product=product,
            code=code,
            option_key=key,
            spec_text=spec_text_for(combo),
            price=price,
            market_price=market_price,
            sort_order=len(existing) + result.created,
        )
        _full_clean(sku, exclude=["product", "option_values"])
        sku.save()
        if combo:
            sku.option_values.set(combo)
        result.created += 1
    stale = [sku.pk for key, sku in existing.items() if key not in wanted and sku.is_enabled]
    if stale:
        result.disabled = Sku.objects.filter(pk__in=stale).update(is_enabled=False)
    refresh_price_range(product)
    return result


@transaction.atomic
def set_sku_option_values(sku, values):
    """Give a SKU its combination (one value of each of its product's option types).

    Refuses a value of another product, two values of one type, a missing type, or a combination
    another SKU of the product already has (DuplicateCombination)."""
    values = list(values)
    types = {t.pk for t in sku.product.option_types.all()}
    value_types = [v.option_type_id for v in values]
    if any(v.option_type.product_id != sku.product_id for v in values):
        raise CatalogError(_("规格值不属于该商品"), code="option_foreign")
    if len(set(value_types)) != len(value_types) or set(value_types) != types:
        raise CatalogError(_("每个规格必须且只能选择一个值"), code="option_incomplete")
    key = option_key_for(values)
    if Sku.objects.filter(product=sku.product_id, option_key=key).exclude(pk=sku.pk).exists():
        raise DuplicateCombination(
            _("规格组合「%(spec)s」已存在"), params={"spec": spec_text_for(values)}
        )
    sku.option_key = key
    sku.spec_text = spec_text_for(values)
    sku.save(update_fields=["option_key", "spec_text", "updated_at"])
    sku.option_values.set(values)
    return sku


@transaction.atomic
def save_skus(product, rows):
    """Update several SKUs of one product at once from dicts {id, price, market_price, cost_price,
    barcode, weight, is_enabled}. All rows are validated first; one bad row saves nothing."""
    skus = {s.pk: s for s in product.skus.all()}
    errors = []
    for index, row in enumerate(rows, 1):
        sku = skus.get(row.get("id"))
        if sku is None:
            errors.append(str(_("第 %(n)s 行：SKU 不存在") % {"n": index}))
            continue
        for field in ("price", "market_price", "cost_price", "barcode", "weight", "is_enabled"):
            if field in row:
                setattr(sku, field, row[field])
        try:
            _full_clean(sku, exclude=["product", "option_values"])
        except CatalogError as exc:
            errors.append(str(_("第 %(n)s 行：%(error)s") % {"n": index, "error": exc}))
    if errors:
        raise CatalogError("\n".join(errors), code="validation")
    for sku in skus.values():
        sku.save()
    refresh_price_range(product)
    return len(rows)


def refresh_price_range(product):
    """Store the min/max price of the product's enabled SKUs (NULL when none is enabled)."""
    bounds = Sku.objects.filter(product=product.pk, is_enabled=True).aggregate(lo=Min("price"), hi=Max("price"))
    Product.objects.filter(pk=product.pk).update(price_min=bounds["lo"], price_max=bounds["hi"])
    product.price_min, product.price_max = bounds["lo"], bounds["hi"]
    catalog_cache.bump()


# --- images -----------------------------------------------------------------------------------
THUMBNAIL_ALIASES = ("card", "detail")


def generate_thumbnails(image):
    """Make the card and detail thumbnails of one ProductImage once, and remember their names and
    sizes on the row. Safe to call again: skips when they exist for the current file."""
    from core import thumbnails

    if not image.image:
        return False
    if thumbnails.is_current(image.thumbnails, image.image):
        return False
    info = thumbnails.make(image.image, thumbnails.alias_options(THUMBNAIL_ALIASES))
    ProductImage.objects.filter(pk=image.pk).update(thumbnails=info)
    image.thumbnails = info
    return True


ICON_THUMBNAIL = {"size": (112, 112), "crop": True, "quality": 85}


def generate_category_icon(category):
    """Make the category icon's small thumbnail once and remember its name on the row."""
    from easy_thumbnails.files import get_thumbnailer

    from .models import Category

    if not category.icon:
        if category.icon_thumb:
            Category.objects.filter(pk=category.pk).update(icon_thumb="")
            category.icon_thumb = ""
        return False
    if category.icon_thumb and category.icon_thumb.startswith(category.icon.name):
        return False
    name = get_thumbnailer(category.icon).get_thumbnail(ICON_THUMBNAIL).name
    Category.objects.filter(pk=category.pk).update(icon_thumb=name)
    category.icon_thumb = name
    return True


def refresh_cover(product):
    """The cover is the product's first image by sort order."""
    first = ProductImage.objects.filter(product=product.pk).order_by("sort_order", "id").values_list("pk", flat=True).first()
    Product.objects.filter(pk=product.pk).update(cover=first)
    product.cover_id = first
    catalog_cache.bump()


@transaction.atomic
def add_product_image(product, file, *, alt="", sort_order=None):
    """Check and store an image: a JPEG/PNG/WebP/GIF within 10 MB and settings.IMAGE_MAX_PIXELS,
    re-encoded without EXIF under its real extension (core.images); its thumbnails are made by the
    worker after commit; refresh the cover. A bad file raises CatalogError and stores nothing."""
    if sort_order is None:
        last = product.images.aggregate(m=Max("sort_order"))["m"]
        sort_order = 0 if last is None else last + 1
    image = ProductImage(product=product, alt=alt, sort_order=sort_order)
    image.image = file
    _full_clean(image, exclude=["product"])
    image.save()  # the post_save receiver has the worker make its thumbnails after commit
    refresh_cover(product)
    return image


# --- on and off the shelf ---------------------------------------------------------------------
@transaction.atomic
def list_products(products, *, now=None):
    """Put products on the shelf. A product without an enabled SKU cannot be listed; it is left
    as it is and reported. Returns (listed_count, [refused product names])."""
    now = now or timezone.now()
    ids = [p.pk for p in products]
    sellable = set(
        Product.objects.filter(pk__in=ids, skus__is_enabled=True).values_list("pk", flat=True).distinct()
    )
    refused = list(Product.objects.filter(pk__in=ids).exclude(pk__in=sellable).values_list("name", flat=True))
    changed = Product.objects.filter(pk__in=sellable).exclude(status=Product.Status.LISTED).update(
        status=Product.Status.LISTED, listed_at=now, list_at=None
    )
    catalog_cache.bump()
    return changed, refused


@transaction.atomic
def delist_products(products):
    """Take products off the shelf at once: shopper pages, search, cart and checkout stop
    offering them immediately (the cache version is bumped in the same call)."""
    ids = [p.pk for p in products]
    changed = Product.objects.filter(pk__in=ids).exclude(status=Product.Status.DELISTED).update(
        status=Product.Status.DELISTED, delist_at=None
    )
    catalog_cache.bump()
    return changed


@transaction.atomic
def apply_listing_schedule(now=None):
    """Apply due scheduled listing and delisting times. Idempotent: an applied time is cleared,
    so a second run changes nothing and a product a merchant delisted by hand after its listing
    time is not listed again. Delisting wins when both are due. Returns (listed, delisted)."""
    now = now or timezone.now()
    delisted = Product.objects.filter(delist_at__lte=now).update(
        status=Product.Status.DELISTED, delist_at=None, list_at=None
    )
    due = Product.objects.filter(list_at__lte=now)
    with_skus = Sku.objects.filter(is_enabled=True).values("product_id")
    listed = due.filter(pk__in=with_skus).exclude(status=Product.Status.LISTED).update(
        status=Product.Status.LISTED, listed_at=now, list_at=None
    )
    # already listed, or no sellable SKU: the time is consumed either way (logged, not retried)
    for name in due.exclude(pk__in=with_skus).values_list("name", flat=True):
        log.warning("scheduled listing of %s skipped: no enabled SKU", name)
    due.update(list_at=None)
    if listed or delisted:
        catalog_cache.bump()
    return listed, delisted


def add_sales(product_id, quantity):
    """Count sold units on the product (orders call this when an order completes; a refund passes
    a negative quantity). One conditional UPDATE; never below zero; returns 1 when counted, 0 when
    refused (unknown product, or the count would go negative).

    Deliberately does not bump the catalogue cache version: cards and product pages show the new
    figure once their fragments expire, within catalog.cache.SALES_STALENESS seconds, and every
    other cached page stays warm. Joins the caller's transaction when there is one."""
    quantity = int(quantity)
    query = Product.objects.filter(pk=product_id)
    if quantity < 0:
        query = query.filter(sales_count__gte=-quantity)
    return query.update(sales_count=F("sales_count") + quantity)
