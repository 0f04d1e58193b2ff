import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.errors import CatalogError
from catalog.models import ProductImage
from catalog.services import add_product_image, generate_thumbnails

from .factories import png_bytes, product, upload

pytestmark = pytest.mark.django_db


def _bilevel_png(size):
    """A PNG of `size` that is a few KB however many pixels it has."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", size).save(buffer, "PNG")
    return buffer.getvalue()


class BigUpload(SimpleUploadedFile):
    """An upload that claims 50 MB without allocating it."""

    @property
    def size(self):
        return 50 * 1024 * 1024

    @size.setter
    def size(self, value):
        pass


@pytest.mark.parametrize(
    "file,message",
    [
        (upload("a.png", b"not an image at all"), "图片"),
        (upload("a.jpg", png_bytes()[:40]), "图片"),
        (BigUpload("big.png", png_bytes(), content_type="image/png"), "MB"),
        (upload("huge.png", _bilevel_png((6001, 6001))), "3600 万像素（当前 6001×6001）"),
        (upload("a.bmp", png_bytes(fmt="BMP"), "image/bmp"), "JPEG"),
    ],
    ids=["text", "truncated", "50MB", "too-many-pixels", "bmp"],
)
def test_bad_image_is_refused_with_clear_message_and_nothing_saved(file, message):
    item = product()
    with pytest.raises(CatalogError) as excinfo:
        add_product_image(item, file)
    assert message in str(excinfo.value)
    assert not ProductImage.objects.exists()
    item.refresh_from_db()
    assert item.cover_id is None


def test_thumbnails_are_made_once_with_sizes_and_first_image_is_cover(django_capture_on_commit_callbacks):
    item = product()
    with django_capture_on_commit_callbacks(execute=True):
        first = add_product_image(item, upload("a.png", png_bytes(size=(800, 600))))
        second = add_product_image(item, upload("b.jpg", png_bytes(size=(500, 500), fmt="JPEG"), "image/jpeg"))
    first.refresh_from_db()
    assert first.thumbnails["card"]["width"] == 360 and first.thumbnails["card"]["height"] == 360
    assert first.thumbnails["detail"]["width"] == 750
    assert generate_thumbnails(first) is False  # already made for this file
    item.refresh_from_db()
    assert item.cover_id == first.pk
    ProductImage.objects.filter(pk=second.pk).update(sort_order=0)
    first.sort_order = 5
    first.save()
    item.refresh_from_db()
    assert item.cover_id == second.pk


def test_detail_page_renders_images_with_width_and_height(client):
    item = product(image=True)
    body = client.get(f"/products/{item.pk}/").content.decode()
    url, width, height = item.images.get().thumb("detail")
    assert f'src="{url}" width="{width}" height="{height}"' in body


def test_category_icon_is_shown_as_a_small_thumbnail(client, django_assert_max_num_queries):
    from catalog.models import Category

    for i in range(12):
        top = Category(name=f"酒水{i}")
        top.icon = upload("icon.png", png_bytes(size=(500, 500)))
        top.full_clean()
        top.save()
    top.refresh_from_db()
    assert "112x112" in top.icon_thumb
    with django_assert_max_num_queries(8):
        body = client.get("/").content.decode()
    assert "酒水" in body
    assert f'src="{top.icon.url}"' not in body and "112x112" in body


def test_thumbnails_are_made_after_commit_and_refresh_cached_pages(django_capture_on_commit_callbacks):
    from catalog import cache as catalog_cache

    item = product()
    with django_capture_on_commit_callbacks() as after_commit:
        image = add_product_image(item, upload("c.png", png_bytes(size=(900, 900))))
    image.refresh_from_db()
    assert not image.thumbnails and image.thumb("card")[0] == image.image.url  # original meanwhile
    before = catalog_cache.version()
    for callback in after_commit:
        callback()
    image.refresh_from_db()
    assert image.thumbnails["card"]["width"] == 360
    assert catalog_cache.version() != before


def test_thumbnails_are_made_in_place_when_the_broker_is_down(monkeypatch, django_capture_on_commit_callbacks):
    from catalog import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.generate_thumbnails, "delay", broker_down)
    item = product()
    with django_capture_on_commit_callbacks(execute=True):
        image = add_product_image(item, upload("d.png", png_bytes(size=(400, 400))))
    image.refresh_from_db()
    assert image.thumbnails["card"]["width"] == 360
