"""Template helpers for catalogue pages: images with their sizes, price ranges, stock states."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def product_img(image, alias="card", css_class="", alt="", loading="lazy"):
    """<img> of a ProductImage's generated thumbnail with width/height (no layout jump), or a
    neutral placeholder block when there is no image. Never queries the database."""
    if image is None or not getattr(image, "image", None):
        return format_html('<span class="{} catalog-noimg" role="img" aria-label="{}"></span>', css_class, alt)
    url, width, height = image.thumb(alias)
    return format_html(
        '<img class="{}" src="{}" width="{}" height="{}" alt="{}" loading="{}" decoding="async">',
        css_class, url, width or "", height or "", alt or image.alt, loading,
    )


@register.filter
def clean_html(html):
    """Merchant HTML, sanitised again at render time (it is cleaned on save too; this also covers
    rows written by bulk updates). Safe to mark as safe afterwards."""
    from django.utils.safestring import mark_safe

    from ..services import sanitize_description

    return mark_safe(sanitize_description(html))  # noqa: S308 - nh3 removed scripts and handlers


@register.filter
def yuan(amount):
    """12.5 -> "12.50" (the ¥ sign is in the template, smaller)."""
    if amount is None:
        return ""
    return f"{amount:.2f}"


@register.filter
def stock_of(sku_stock, sku_id):
    """The stock entry of one SKU from the optional `sku_stock` context dict, normalised to
    {"state": "in_stock"|"low"|"out"|"no_store"|"unknown", "available": int|None, "label": str}.
    "no_store": the stores app knows stock per store and the shopper has not chosen one yet;
    "unknown": no stock provider at all (the catalogue on its own), shown as 有货."""
    entry = (sku_stock or {}).get(sku_id) if isinstance(sku_stock, dict) else None
    if not entry:
        return {"state": "unknown", "available": None, "label": _("有货")}
    state = entry.get("state", "in_stock")
    available = entry.get("available")
    if state == "out":
        label = _("缺货")
    elif state == "no_store":
        label = _("选择门店查看库存")
    elif state == "low" and available is not None:
        label = _("仅剩 %(n)s 件") % {"n": available}
    else:
        label = _("有货")
    return {"state": state, "available": available, "label": label}


def sold_out_stock():
    """The stock entry of every SKU of a product that no store can sell (see stock_of)."""
    return {"state": "out", "available": 0, "label": _("已售罄")}
