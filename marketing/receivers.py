"""Cache upkeep for what marketing shows on the home page: a banner, a notice or a coupon (a banner
may link to it) saved or deleted bumps the catalogue cache's "home" area only (catalog.cache)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog import cache as catalog_cache

from .models import Banner, Coupon, HomeNotice


@receiver([post_save, post_delete], sender=Banner, dispatch_uid="marketing_banner_changed")
@receiver([post_save, post_delete], sender=HomeNotice, dispatch_uid="marketing_notice_changed")
@receiver([post_save, post_delete], sender=Coupon, dispatch_uid="marketing_coupon_home_changed")
def home_content_changed(sender, raw=False, **kwargs):
    catalog_cache.bump_area("home")
