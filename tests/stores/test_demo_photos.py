"""The demo stores' galleries (stores.demo.seed_photos): drawn with Pillow, added through the
service so the worker makes their thumbnails, the first photo the cover; a second run changes
nothing."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count

from stores import demo
from stores.models import Store, StorePhoto

pytestmark = pytest.mark.django_db


def media_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_demo_galleries_have_thumbnails_and_a_cover_and_load_once(settings, django_capture_on_commit_callbacks):
    lines = []
    demo.seed(lines.append)
    get_user_model().objects.create_superuser("admin", password="pw-123456")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert demo.seed_photos(lines.append) == 3 + 2 + 2 + 3  # photos and covers
    counts = dict(Store.objects.filter(photos__isnull=False).values_list("code").annotate(n=Count("photos")))
    assert counts == {code: len(views) for code, views in demo.PHOTOS.items()}
    for photo in StorePhoto.objects.select_related("store"):
        assert (photo.width, photo.height) in ((1600, 1200), (1200, 1500))
        assert photo.as_strip.width in (750, 600) and photo.as_thumb.height == 300
        assert photo.as_strip.url != photo.image.url
    for code in demo.PHOTOS:
        store = Store.objects.get(code=code)
        first = store.photos.order_by("position").first()
        assert store.cover.name == first.image.name and store.cover_image.url == first.as_strip.url
    # the manager's store: by the demo manager; elsewhere by HQ (neither refused)
    files, rows = media_files(settings), list(StorePhoto.objects.values())
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert demo.seed_photos(lines.append) == 0
    assert media_files(settings) == files and list(StorePhoto.objects.values()) == rows


def test_demo_pictures_need_no_cjk_font(monkeypatch):
    import io

    from PIL import Image

    from stores import demo_art

    monkeypatch.setattr(demo_art, "cjk_font", lambda size: None)
    for view in demo_art.VIEWS:
        with Image.open(io.BytesIO(demo_art.store_picture("静安寺店", "sh-jingan", view))) as picture:
            assert picture.format == "JPEG" and picture.size == demo_art.SIZES[view]
