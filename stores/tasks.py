"""Thin Celery wrappers around stores.services."""

from celery import shared_task

from . import services


@shared_task(name="stores.tasks.notify_low_stock", acks_late=True)
def notify_low_stock(alert_id):
    return services.notify_low_stock(alert_id)


@shared_task(name="stores.tasks.sweep_low_stock")
def sweep_low_stock():
    opened, closed = services.sweep_low_stock()
    return {"opened": opened, "closed": closed}


@shared_task(name="stores.tasks.make_photo_thumbnails")
def make_photo_thumbnails(photo_id):
    """A store photo's thumbnails, once (stores.photos); a no-op when made or the photo is gone."""
    from . import photos

    return photos.make_photo_thumbnails(photo_id)


@shared_task(name="stores.tasks.make_cover_thumbnails")
def make_cover_thumbnails(store_id):
    """A store cover's thumbnail, once (stores.photos); a no-op when made or the cover is gone."""
    from . import photos

    return photos.make_cover_thumbnails(store_id)
