"""What HQ arranges on the shop's home page and search page: the banner carousel and the notice bar
(models here), the featured products and the search page's hot words (models in catalog, whose
pages read them; HQ arranges them here with the rest, as marketing may use catalog).

Writes: save_content / delete_content, for HQ staff only (`by` must hold the model's change
permission), each in a transaction. A create form carries a one-time `request_id`: a double submit
makes one row. The receivers (marketing.receivers, catalog.receivers) bump the catalogue cache's
"home" or "search" area, so an edit shows at once and every other cached page stays warm.

Reads: home_content() gives the banners and the notice showing now. The rows are cached as plain
data, their schedules included, under the "home" area (catalog.cache.area_key); the schedule is
applied on every request, so a banner starts and ends on the second with no write at all.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from catalog import cache as catalog_cache
from catalog import pagecache
from catalog import selectors as catalog_selectors
from catalog.models import Category, FeaturedProduct, HotSearchWord

from .errors import MarketingError
from .models import Banner, HomeNotice

MAX_BANNERS = 8
# what HQ edits here; a category only for its place and icon in the home grid (saved, never made
# or deleted here: that stays in the admin)
CONTENT_MODELS = (Banner, HomeNotice, FeaturedProduct, HotSearchWord, Category)


class HomeContentError(MarketingError):
    code = "home_content_invalid"


def _check_staff(model, by):
    permission = f"{model._meta.app_label}.change_{model._meta.model_name}"
    if by is None or not (by.is_active and by.is_staff and by.has_perm(permission)):
        raise HomeContentError(_("只有总部可以编辑首页内容"), code="not_allowed")


def save_content(instance, *, by, request_id=None):
    """Validate and save a banner, notice, featured product or hot word; returns (row, created).

    A new row with a `request_id` already used returns the row that id made (created False), so a
    double submit or a re-sent POST adds nothing. Raises ValidationError for bad values (the form
    shows it) and HomeContentError when `by` may not edit home content."""
    model = type(instance)
    if model not in CONTENT_MODELS:
        raise TypeError(model)
    _check_staff(model, by)
    uses_request_id = request_id is not None and instance.pk is None and hasattr(instance, "request_id")
    if uses_request_id:
        done = model.objects.filter(request_id=request_id).first()
        if done is not None:
            return done, False
        instance.request_id = request_id
    instance.full_clean()
    try:
        with transaction.atomic():
            created = instance.pk is None
            instance.save()
    except IntegrityError:
        # the same request saved by a concurrent submit, or a unique value taken meanwhile
        if uses_request_id:
            done = model.objects.filter(request_id=request_id).first()
            if done is not None:
                return done, False
        raise ValidationError(_("保存失败：内容与已有记录重复，请刷新后重试"), code="duplicate") from None
    return instance, created


@transaction.atomic
def delete_content(model, pk, *, by):
    """Delete one row; True when it was there (a second submit finds nothing and changes nothing)."""
    if model not in CONTENT_MODELS or model is Category:
        raise TypeError(model)
    _check_staff(model, by)
    deleted = 0
    for row in model.objects.select_for_update().filter(pk=pk):
        row.delete()  # one by one, so that post_delete bumps the page's cache
        deleted += 1
    return bool(deleted)


# --- reads ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slide:
    title: str
    image_url: str
    href: str
    starts_at: object
    ends_at: object
    until: object  # the coupon's own end, when the banner links to a fixed-date coupon

    def showing(self, now):
        return (
            (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
            and (self.until is None or now < self.until)
        )


def _banner_href(banner):
    """Where the slide goes, or None when its target is gone (delisted product, inactive category
    or coupon): such a slide is not shown."""
    kind = banner.link_kind
    if kind == Banner.LinkKind.PRODUCT:
        return reverse("catalog:product", args=[banner.product_id]) if banner.product_listed else None
    if kind == Banner.LinkKind.CATEGORY:
        node = catalog_selectors.get_category(banner.category_id) if banner.category_id else None
        return reverse("catalog:category", args=[banner.category_id]) if node else None
    if kind == Banner.LinkKind.COUPON:
        coupon = banner.coupon
        if coupon is None or not coupon.is_active or not coupon.claimable:
            return None
        return reverse("marketing:coupon_centre") + f"#claim-{coupon.pk}"
    if kind == Banner.LinkKind.PATH:
        return banner.path
    return ""


def _build_home_content():
    listed = catalog_selectors.listed_products().filter(pk=OuterRef("product_id"))
    banners = (
        Banner.objects.filter(is_active=True)
        .annotate(product_listed=Exists(listed))
        .select_related("coupon")
        .order_by("sort_order", "id")
    )
    slides = []
    for banner in banners:
        href = _banner_href(banner)
        if href is None or not banner.image:
            continue
        coupon = banner.coupon if banner.link_kind == Banner.LinkKind.COUPON else None
        until = coupon.valid_until if coupon is not None and coupon.validity == coupon.Validity.FIXED else None
        slides.append(Slide(banner.title, banner.image.url, href, banner.starts_at, banner.ends_at, until))
    notices = [
        {"text": n.text, "href": n.link_path, "starts_at": n.starts_at, "ends_at": n.ends_at}
        for n in HomeNotice.objects.filter(is_active=True).order_by("sort_order", "id")
    ]
    return {"slides": slides, "notices": notices}


def home_content(now=None):
    """{"banners": [Slide, ...] (at most MAX_BANNERS), "notice": {...} or None} showing now.
    No query when warm; two (banners, notices) when cold."""
    name = catalog_cache.area_key("home", "content", get_language())
    content = catalog_cache.get(name)
    if content is None:
        content = _build_home_content()
        catalog_cache.set(name, content)
    now = now or timezone.now()
    # a home page kept whole for visitors (catalog.pagecache) lives until the next start or end
    changes = [
        when for row in content["slides"] for when in (row.starts_at, row.ends_at, row.until)
    ] + [when for row in content["notices"] for when in (row["starts_at"], row["ends_at"])]
    pagecache.valid_until(min((when for when in changes if when is not None and when > now), default=None))
    slides = [slide for slide in content["slides"] if slide.showing(now)][:MAX_BANNERS]
    notice = next(
        (n for n in content["notices"]
         if (n["starts_at"] is None or n["starts_at"] <= now) and (n["ends_at"] is None or now < n["ends_at"])),
        None,
    )
    return {"banners": slides, "notice": notice}
