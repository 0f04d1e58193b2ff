"""A failed upload leaves no file behind (core.storage.MediaStorage, core.uploads): not when the
write breaks half-way, not when the row that was to name the file is never committed."""

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from catalog.models import ProductImage
from catalog.services import add_product_image
from core import uploads
from core.images import CleanImage
from core.storage import MediaStorage
from members.models import Member
from tests.catalog.factories import png_bytes, product
from tests.members.factories import make_user

pytestmark = pytest.mark.django_db


def media_files(settings):
    """Every file under MEDIA_ROOT, hidden ones (a staged ".upload-….part") included."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def jpeg(name="photo.jpg", size=(120, 90)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def disk_fails_half_way(monkeypatch):
    """The storage gets the first chunk of an upload, then the disk is full."""

    def chunks(self, chunk_size=None):
        yield self.read(64)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(CleanImage, "chunks", chunks)


def test_the_storage_of_uploads_is_the_one_that_writes_whole_files():
    assert isinstance(default_storage, MediaStorage)


def test_a_write_that_breaks_half_way_leaves_no_partial_file(settings, disk_fails_half_way):
    item = product()
    with pytest.raises(OSError, match="No space left"):
        add_product_image(item, jpeg())
    assert media_files(settings) == []
    assert not ProductImage.objects.exists()


def test_the_storage_never_overwrites_and_leaves_only_the_named_file(settings):
    first = default_storage.save("t/a.jpg", CleanImage(b"one", "a.jpg", image_format="JPEG", width=1, height=1))
    second = default_storage.save("t/a.jpg", CleanImage(b"two", "a.jpg", image_format="JPEG", width=1, height=1))
    assert first == "t/a.jpg" and second != first and second.startswith("t/a_") and second.endswith(".jpg")
    assert default_storage.open(first).read() == b"one" and default_storage.open(second).read() == b"two"
    assert media_files(settings) == sorted([first, second])
    assert oct(Path(default_storage.path(first)).stat().st_mode & 0o777) == oct(settings.FILE_UPLOAD_PERMISSIONS)


def test_a_file_whose_row_rolls_back_is_removed_when_the_scope_ends(settings):
    item = product()
    with uploads.scope():
        with pytest.raises(IntegrityError):
            with transaction.atomic():
                image = add_product_image(item, jpeg())
                assert media_files(settings) == [image.image.name]  # written before the row
                raise IntegrityError("a later step of the same save failed")
        assert media_files(settings) == [image.image.name]  # until the scope ends
    assert media_files(settings) == []
    assert not ProductImage.objects.exists()


def test_a_file_whose_row_is_saved_is_kept_and_a_scope_inside_a_scope_waits_for_the_outer_one(settings):
    item = product()
    with uploads.scope():
        with uploads.scope():
            kept = add_product_image(item, jpeg("kept.jpg"))
        with pytest.raises(IntegrityError), transaction.atomic():
            with uploads.scope():
                dropped = add_product_image(item, jpeg("dropped.jpg"))
            assert dropped.image.name in media_files(settings)  # the inner scope decided nothing
            raise IntegrityError("rolled back after the inner scope ended")
    assert media_files(settings) == [kept.image.name]
    assert list(ProductImage.objects.values_list("image", flat=True)) == [kept.image.name]


# --- through the pages -------------------------------------------------------------------------
@pytest.fixture
def shopper(client):
    user = make_user(nickname="小林")
    client.force_login(user)
    return user


def post_avatar(client, upload):
    return client.post(reverse("members:profile"), {"nickname": "小林", "gender": "unknown", "avatar": upload})


def test_an_avatar_whose_profile_save_fails_leaves_no_file(client, shopper, settings, monkeypatch):
    save = Member.save

    def failing_save(self, *args, **kwargs):
        if "gender" in (kwargs.get("update_fields") or ()):
            raise DatabaseError("the database went away mid-transaction")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Member, "save", failing_save)
    client.raise_request_exception = False
    response = post_avatar(client, jpeg("me.jpg"))
    assert response.status_code == 500
    shopper.refresh_from_db()
    assert not shopper.avatar
    assert media_files(settings) == []


def test_an_avatar_whose_write_breaks_leaves_no_file(client, shopper, settings, disk_fails_half_way):
    client.raise_request_exception = False
    assert post_avatar(client, jpeg("me.jpg")).status_code == 500
    shopper.refresh_from_db()
    assert not shopper.avatar
    assert media_files(settings) == []


def test_a_refused_avatar_writes_nothing(client, shopper, settings):
    response = post_avatar(client, SimpleUploadedFile("me.jpg", b"\xff\xd8\xff\xe0 cut short"))
    assert response.status_code == 200
    assert "图片文件不完整或已损坏，请重新上传" in response.content.decode()
    assert media_files(settings) == []


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("hq", password="pw-123456"))
    return client


def test_a_product_image_whose_admin_save_fails_leaves_no_file(admin_client, settings, monkeypatch):
    from catalog import services
    from tests.forms import form_data

    item = product()
    data = form_data(admin_client.get(f"/admin/catalog/product/{item.pk}/change/").content, "product_form")
    data["images-0-image"] = SimpleUploadedFile("new.png", png_bytes(size=(300, 300)), content_type="image/png")

    def cover_fails(product):
        raise IntegrityError("the cover could not be set")

    monkeypatch.setattr(services, "refresh_cover", cover_fails)
    admin_client.raise_request_exception = False
    response = admin_client.post(f"/admin/catalog/product/{item.pk}/change/", data)
    assert response.status_code == 500
    assert not ProductImage.objects.exists()
    assert media_files(settings) == []
