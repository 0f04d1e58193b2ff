"""门店相册: the write use cases of a store's photo gallery.

Every change locks the store row first (one writer per store at a time: stores come before stock
rows in the lock order), so the limit of STORE_PHOTO_LIMIT, the order and the same-picture check
hold when a form is sent twice or from two tabs. Only a manager of the store, or HQ, may change it
(`by` is required). Files are checked by core.images before anything here sees them; a file
whose row is never committed is removed by core.uploads, and a deleted photo's file is removed
after commit unless the store's cover still shows it.
"""

import hashlib
import logging

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.images import clean_image

from .models import STORE_PHOTO_LIMIT, Store, StorePhoto
from .scope import manages_store

log = logging.getLogger(__name__)

CAPTION_LENGTH = StorePhoto._meta.get_field("caption").max_length


class PhotoError(DomainError):
    """Codes: not_manager, no_files, limit_reached."""

    code = "photo_error"


def _lock(store, by):
    if not manages_store(by, store):
        raise PhotoError(_("只有店长或总部可以修改门店相册"), code="not_manager")
    return Store.objects.select_for_update().only("pk", "cover").get(pk=store.pk)


def clean_caption(text):
    """The caption as shown: printable characters only, runs of spaces made one, at most CAPTION_LENGTH."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text or ""))
    return " ".join(text.split())[:CAPTION_LENGTH]


def digest_of(cleaned):
    return hashlib.sha256(cleaned.file.getvalue()).hexdigest()


@transaction.atomic
def add_store_photos(store, files, *, by, caption=""):
    """Add pictures at the end of `store`'s gallery: (the photos added, how many were skipped
    because the gallery already holds the same picture). All or nothing: if the new ones would
    take the gallery past STORE_PHOTO_LIMIT, none is added (PhotoError limit_reached). Locks the store."""
    cleaned = [clean_image(file) for file in files]  # already clean from the form: returned as they are
    if not cleaned:
        raise PhotoError(_("请选择要上传的照片"), code="no_files")
    _lock(store, by)
    digests = list(StorePhoto.objects.filter(store_id=store.pk).values_list("digest", flat=True))
    have, count = set(digests), len(digests)
    new, skipped = [], 0
    for image in cleaned:
        digest = digest_of(image)
        if digest in have:
            skipped += 1
            continue
        have.add(digest)
        new.append(image)
    if count + len(new) > STORE_PHOTO_LIMIT:
        raise PhotoError(
            _("门店相册最多 %(limit)s 张照片，还可以上传 %(left)s 张"),
            code="limit_reached",
            params={"limit": STORE_PHOTO_LIMIT, "left": max(STORE_PHOTO_LIMIT - count, 0)},
        )
    last = StorePhoto.objects.filter(store_id=store.pk).aggregate(m=Max("position"))["m"]
    start = 0 if last is None else last + 1
    caption = clean_caption(caption)
    added = []
    for offset, image in enumerate(new):
        photo = StorePhoto(store_id=store.pk, caption=caption, position=start + offset)
        photo.image = image
        photo.save()
        added.append(photo)
    return added, skipped


@transaction.atomic
def set_caption(photo, caption, *, by):
    """Change a photo's caption (the same caption again changes nothing)."""
    _lock(photo.store, by)
    caption = clean_caption(caption)
    StorePhoto.objects.filter(pk=photo.pk).update(caption=caption)
    photo.caption = caption
    return photo


@transaction.atomic
def move_photo(photo, to, *, by):
    """Put `photo` at place `to` (0 = first, clamped to the gallery) and number the gallery 0, 1, 2…
    A target, not a step: the same request twice leaves the same order. Locks the store."""
    _lock(photo.store, by)
    photos = list(
        StorePhoto.objects.filter(store_id=photo.store_id).only("pk", "position").order_by("position", "pk")
    )
    moving = next((p for p in photos if p.pk == photo.pk), None)
    if moving is None:  # deleted meanwhile
        return photo
    photos.remove(moving)
    photos.insert(max(0, min(to, len(photos))), moving)
    changed = []
    for position, each in enumerate(photos):
        if each.position != position:
            each.position = position
            changed.append(each)
    StorePhoto.objects.bulk_update(changed, ["position"])
    photo.position = moving.position
    return photo


@transaction.atomic
def set_cover(photo, *, by):
    """Show this photo as the store's cover (the store list and the top of its page). The cover
    names the photo's file; deleting the photo later keeps the file while the cover uses it."""
    store = _lock(photo.store, by)
    if store.cover.name != photo.image.name:
        Store.objects.filter(pk=store.pk).update(cover=photo.image.name, updated_at=timezone.now())
    return photo


@transaction.atomic
def delete_photo(photo, *, by):
    """Remove a photo from the gallery (its file goes after commit, see remove_file). Deleting one
    already gone changes nothing. Locks the store."""
    _lock(photo.store, by)
    StorePhoto.objects.filter(pk=photo.pk).delete()


def photo_deleted(sender, instance, **kwargs):
    """post_delete of StorePhoto (a service, the admin, a store deleted): remove its file once the
    deletion has committed."""
    name = instance.image.name
    if name:
        storage = instance.image.storage
        transaction.on_commit(lambda: remove_file(storage, name))


def remove_file(storage, name):
    """Delete a photo's file that no photo and no store cover names any more."""
    if StorePhoto.objects.filter(image=name).exists() or Store.objects.filter(cover=name).exists():
        return
    try:
        storage.delete(name)
    except Exception:
        log.exception("could not remove %s, the file of a deleted store photo", name)
