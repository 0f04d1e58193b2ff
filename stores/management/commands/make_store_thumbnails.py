"""Make the thumbnails of store photos and covers that have none for their file yet: photos
uploaded before thumbnails existed, or whose worker never ran. Each is made here, one at a time,
through the same service as the worker's (stores.photos). Safe to run again: what is made is skipped."""

from django.core.management.base import BaseCommand

from core import thumbnails
from stores import photos
from stores.models import Store, StorePhoto


class Command(BaseCommand):
    help = "Make the missing thumbnails of store photos and covers (a second run makes none)."

    def handle(self, *args, **options):
        made = covers = 0
        for photo in StorePhoto.objects.only("pk", "image", "thumbnails").order_by("pk").iterator():
            if not thumbnails.is_current(photo.thumbnails, photo.image):
                made += int(photos.make_photo_thumbnails(photo.pk))
        for store in Store.objects.exclude(cover="").only("pk", "cover", "cover_thumbnails").order_by("pk").iterator():
            if not thumbnails.is_current(store.cover_thumbnails, store.cover):
                covers += int(photos.make_cover_thumbnails(store.pk))
        self.stdout.write(self.style.SUCCESS(f"Thumbnails made for {made} store photo(s) and {covers} cover(s)."))
