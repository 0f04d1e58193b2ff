"""Keep derived catalogue data in step however a row is saved (services, admin, CSV import).

- a SKU saved or deleted: the product's price range is recomputed;
- an image saved: its thumbnails are made once by the worker after commit (skipped when they
  exist for that file) and the product's cover is refreshed; an image deleted: the cover is refreshed;
- a category saved: its icon thumbnail is made once;
- anything shoppers see changed: the catalogue cache version is bumped; the home page's featured
  list and the search page's hot words bump only their page's area (catalog.cache).
"""

import logging

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import cache as catalog_cache
from .models import Category, FeaturedProduct, HotSearchWord, Product, ProductImage, Sku

log = logging.getLogger(__name__)


@receiver(post_save, sender=Category, dispatch_uid="catalog_category_icon")
def category_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    from .services import generate_category_icon

    try:
        generate_category_icon(instance)
    except Exception:  # pages fall back to the uploaded icon
        log.exception("icon thumbnail of category %s could not be made", instance.pk)


@receiver([post_save, post_delete], sender=Category, dispatch_uid="catalog_category_changed")
@receiver([post_save, post_delete], sender=Product, dispatch_uid="catalog_product_changed")
def catalogue_changed(sender, raw=False, **kwargs):
    catalog_cache.bump()


@receiver([post_save, post_delete], sender=FeaturedProduct, dispatch_uid="catalog_featured_changed")
def featured_changed(sender, raw=False, **kwargs):
    catalog_cache.bump_area("home")  # shown on the home page only: the catalogue stays cached


@receiver([post_save, post_delete], sender=HotSearchWord, dispatch_uid="catalog_hot_word_changed")
def hot_word_changed(sender, raw=False, **kwargs):
    catalog_cache.bump_area("search")


@receiver([post_save, post_delete], sender=Sku, dispatch_uid="catalog_sku_changed")
def sku_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    from .services import refresh_price_range

    refresh_price_range(Product(pk=instance.product_id))


@receiver(post_save, sender=ProductImage, dispatch_uid="catalog_image_saved")
def image_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    from django.db import transaction

    from .services import refresh_cover

    if not (instance.thumbnails or {}).get("source") == instance.image.name:
        # resizing a 6000-pixel upload takes seconds: the worker does it after commit, and pages
        # show the original until then (ProductImage.thumb falls back to it)
        image_id = instance.pk
        transaction.on_commit(lambda: _enqueue_thumbnails(image_id))
    refresh_cover(Product(pk=instance.product_id))


def _enqueue_thumbnails(image_id):
    from . import tasks

    try:
        tasks.generate_thumbnails.delay(image_id)
    except Exception:  # broker down: make them here rather than never
        log.exception("could not enqueue thumbnails of product image %s; making them now", image_id)
        tasks.generate_thumbnails(image_id)


@receiver(post_delete, sender=ProductImage, dispatch_uid="catalog_image_deleted")
def image_deleted(sender, instance, **kwargs):
    from .services import refresh_cover

    refresh_cover(Product(pk=instance.product_id))
