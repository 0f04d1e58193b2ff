"""门店相册: the write use cases of a store's photo gallery.

Every change locks the store row first (one writer per store at a time: stores come before stock
rows in the lock order), so the limit of STORE_PHOTO_LIMIT, the order and the same-picture check
hold when a form is sent twice or from two tabs. Only a manager of the store, or HQ, may change it
(`by` is required). Files are checked by core.images before anything here sees them; a file
whose row is never committed is removed by core.uploads, and a deleted photo's file and its
thumbnails are removed after commit unless the store's cover still shows it.

Thumbnails (core.thumbnails): a photo saved with a new file, however it was saved (a service, the
admin), has the worker make its "strip" and "thumb" thumbnails after commit; a cover uploaded
from a form gets its "strip" thumbnail the same way, and a cover picked from the gallery takes its
photo's. Pages show the original until they are made.
"""

import hashlib
import logging

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import thumbnails
from core.errors import DomainError
from core.images import clean_image

from .models import STORE_PHOTO_LIMIT, Store, StorePhoto
from .scope import manages_store

log = logging.getLogger(__name__)

CAPTION_LENGTH = StorePhoto._meta.get_field("caption").max_length
PHOTO_THUMBNAILS = ("strip", "thumb")
# the cover is shown like a gallery photo: with the same options, a cover picked from the gallery
# is its photo's strip thumbnail, the same file
COVER_THUMBNAILS = ("strip",)
THUMBNAIL_TARGET = "stores.StorePhoto.image"


class PhotoError(DomainError):
    """Codes: not_manager, no_files, limit_reached."""

    code = "photo_error"


def _lock(store, by):
    if not manages_store(by, store):
        raise PhotoError(_("只有店长或总部可以修改门店相册"), code="not_manager")
    return Store.objects.select_for_update().only("pk", "cover", "cover_thumbnails").get(pk=store.pk)


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
        name = photo.image.name
        info = StorePhoto.objects.filter(pk=photo.pk).values_list("thumbnails", flat=True).first() or {}
        cover_info = {"source": name, "strip": info["strip"]} if info.get("source") == name and "strip" in info else {}
        Store.objects.filter(pk=store.pk).update(cover=name, cover_thumbnails=cover_info, updated_at=timezone.now())
        old, storage, old_names = store.cover.name, store.cover.storage, thumbnails.names(store.cover_thumbnails)
        if old:  # the cover before: a deleted photo's file or an uploaded one goes once nothing names it
            transaction.on_commit(lambda: remove_file(storage, old, old_names))
        if not cover_info:  # its photo's thumbnails are not made yet: the worker makes (finds) them
            store_id = store.pk
            transaction.on_commit(lambda: enqueue_cover_thumbnails(store_id))
    return photo


@transaction.atomic
def delete_photo(photo, *, by):
    """Remove a photo from the gallery (its file goes after commit, see remove_file). Deleting one
    already gone changes nothing. Locks the store."""
    _lock(photo.store, by)
    StorePhoto.objects.filter(pk=photo.pk).delete()


def photo_deleted(sender, instance, **kwargs):
    """post_delete of StorePhoto (a service, the admin, a store deleted): remove its file and its
    thumbnails once the deletion has committed."""
    name = instance.image.name
    if name:
        storage = instance.image.storage
        names = thumbnails.names(instance.thumbnails)
        transaction.on_commit(lambda: remove_file(storage, name, names))


def remove_file(storage, name, thumbnail_names=()):
    """Delete a photo's file and its thumbnails (those named and any made for it) when no photo and
    no store cover names the file any more: a cover keeps them all."""
    if StorePhoto.objects.filter(image=name).exists() or Store.objects.filter(cover=name).exists():
        return
    try:
        storage.delete(name)
    except Exception:
        log.exception("could not remove %s, the file of a deleted store photo", name)
    thumbnails.remove(storage, name, thumbnail_names)


# --- thumbnails ---------------------------------------------------------------------------------------
def photo_saved(sender, instance, raw=False, **kwargs):
    """post_save of StorePhoto: a new file gets its thumbnails from the worker after commit
    (resizing a 6000-pixel upload takes seconds; pages show the original meanwhile)."""
    deferred = instance.get_deferred_fields()
    if raw or "image" in deferred or not instance.image:
        return
    # a partial row: the worker looks (and does nothing when they are made), rather than a query here
    if "thumbnails" not in deferred and thumbnails.is_current(instance.thumbnails, instance.image):
        return
    photo_id = instance.pk
    transaction.on_commit(lambda: _enqueue("make_photo_thumbnails", photo_id))


def cover_saved(sender, instance, raw=False, update_fields=None, **kwargs):
    """post_save of Store (the settings form, the admin): an uploaded cover gets its thumbnail from
    the worker after commit; a cleared cover forgets its thumbnail. A save that leaves the cover as it
    was costs no query."""
    if raw or (update_fields is not None and "cover" not in update_fields):
        return
    deferred = instance.get_deferred_fields()
    if "cover" in deferred:
        return
    store_id = instance.pk
    if "cover_thumbnails" in deferred:  # a partial row: the worker looks (and does nothing if made)
        if instance.cover:
            transaction.on_commit(lambda: enqueue_cover_thumbnails(store_id))
        return
    if thumbnails.is_current(instance.cover_thumbnails, instance.cover):
        return
    # the cover replaced or cleared: the file its thumbnails were made of goes (with them) once
    # nothing names it any more (a gallery photo still showing it keeps it)
    old = (instance.cover_thumbnails or {}).get("source")
    if old and old != instance.cover.name:
        storage, old_names = instance.cover.storage, thumbnails.names(instance.cover_thumbnails)
        transaction.on_commit(lambda: remove_file(storage, old, old_names))
    if instance.cover:
        transaction.on_commit(lambda: enqueue_cover_thumbnails(store_id))
    elif instance.cover_thumbnails:
        Store.objects.filter(pk=store_id, cover="").update(cover_thumbnails={})
        instance.cover_thumbnails = {}


def enqueue_cover_thumbnails(store_id):
    _enqueue("make_cover_thumbnails", store_id)


def _enqueue(task_name, pk):
    from . import tasks

    task = getattr(tasks, task_name)
    try:
        task.delay(pk)
    except Exception:  # broker down: make them here rather than never
        log.exception("could not enqueue %s(%s); making them now", task_name, pk)
        task(pk)


def make_photo_thumbnails(photo_id):
    """Make a photo's thumbnails and keep them on its row: True when made. Idempotent (nothing to
    do when they exist for its file); a photo deleted meanwhile, before or while they are made,
    leaves none behind; a picture that cannot be resized keeps the original on pages."""
    photo = StorePhoto.objects.filter(pk=photo_id).only("pk", "store_id", "image", "thumbnails").first()
    if photo is None or not photo.image or thumbnails.is_current(photo.thumbnails, photo.image):
        return False
    name, storage = photo.image.name, photo.image.storage
    try:
        info = thumbnails.make(photo.image, thumbnails.alias_options(PHOTO_THUMBNAILS, THUMBNAIL_TARGET))
    except Exception:
        log.exception("thumbnails of store photo %s could not be made", photo_id)
        remove_file(storage, name)  # if it was deleted meanwhile: whatever was made of it
        return False
    if not StorePhoto.objects.filter(pk=photo.pk, image=name).update(thumbnails=info):
        remove_file(storage, name, thumbnails.names(info))  # deleted meanwhile
        return False
    if "strip" in info:  # a cover picked from the gallery before these were made shows them too
        Store.objects.filter(cover=name).update(cover_thumbnails={"source": name, "strip": info["strip"]})
    return True


def make_cover_thumbnails(store_id):
    """Make a store's cover thumbnail (found, not made again, when the cover is a gallery photo's
    file whose thumbnails exist) and keep it on the store: True when kept. Idempotent; a cover
    changed or cleared meanwhile keeps what it has."""
    store = Store.objects.filter(pk=store_id).only("pk", "cover", "cover_thumbnails").first()
    if store is None or not store.cover or thumbnails.is_current(store.cover_thumbnails, store.cover):
        return False
    name = store.cover.name
    try:
        info = thumbnails.make(store.cover, thumbnails.alias_options(COVER_THUMBNAILS, THUMBNAIL_TARGET))
    except Exception:
        log.exception("the cover thumbnail of store %s could not be made", store_id)
        return False
    if not Store.objects.filter(pk=store.pk, cover=name).update(cover_thumbnails=info):
        remove_file(store.cover.storage, name, thumbnails.names(info))  # another cover meanwhile
        return False
    return True
