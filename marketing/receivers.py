"""Cache upkeep: a banner, a notice or a coupon (a banner may link to it) saved or deleted bumps the
catalogue cache's "home" area only (catalog.cache); a mall item or a coupon saved or deleted bumps the
points mall's grid (marketing.mall_cache)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog import cache as catalog_cache

from . import mall_cache
from .models import Banner, Coupon, HomeNotice, PointsItem


@receiver([post_save, post_delete], sender=Banner, dispatch_uid="marketing_banner_changed")
@receiver([post_save, post_delete], sender=HomeNotice, dispatch_uid="marketing_notice_changed")
@receiver([post_save, post_delete], sender=Coupon, dispatch_uid="marketing_coupon_home_changed")
def home_content_changed(sender, raw=False, **kwargs):
    catalog_cache.bump_area("home")


@receiver([post_save, post_delete], sender=PointsItem, dispatch_uid="marketing_points_item_mall_changed")
@receiver([post_save, post_delete], sender=Coupon, dispatch_uid="marketing_coupon_mall_changed")
def mall_changed(sender, raw=False, **kwargs):
    """A mall item or a coupon (its terms, its stop) saved or deleted: the mall's grid is rendered afresh."""
    mall_cache.bump()
