import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="catalog.tasks.apply_listing_schedule")
def apply_listing_schedule():
    """Every minute (beat): apply due scheduled listing/delisting times. Idempotent."""
    from .services import apply_listing_schedule as apply

    listed, delisted = apply()
    return {"listed": listed, "delisted": delisted}


@shared_task(name="catalog.tasks.generate_thumbnails")
def generate_thumbnails(image_id):
    """(Re)make one image's thumbnails; a no-op when they exist for its current file."""
    from . import cache as catalog_cache
    from .models import ProductImage
    from .services import generate_thumbnails as generate

    image = ProductImage.objects.filter(pk=image_id).first()
    if image is None:
        return False
    try:
        made = generate(image)
    except Exception:  # a file Pillow verified but cannot resize: pages keep the original
        logger.exception("thumbnails of product image %s could not be made", image_id)
        return False
    if made:
        catalog_cache.bump()  # cached pages still point at the original image
    return made
