from celery import shared_task


@shared_task(name="catalog.tasks.apply_listing_schedule")
def apply_listing_schedule():
    """Every minute (beat): apply due scheduled listing/delisting times. Idempotent."""
    from .services import apply_listing_schedule as apply

    listed, delisted = apply()
    return {"listed": listed, "delisted": delisted}


@shared_task(name="catalog.tasks.generate_thumbnails")
def generate_thumbnails(image_id):
    """(Re)make one image's thumbnails; a no-op when they exist for its current file."""
    from .models import ProductImage
    from .services import generate_thumbnails as generate

    image = ProductImage.objects.filter(pk=image_id).first()
    return bool(image and generate(image))
