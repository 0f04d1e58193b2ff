"""Uploads are images and only images (core.images): whatever an upload's name says, it is decoded,
re-encoded without EXIF and stored under the extension of its real format, or refused."""

import io
import os
import warnings
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from core.images import ImageField, ImageFormField, clean_image, stored_name

WRONG_NAMES = ("photo.pdf", "photo.eps", "photo.ps", "photo.ico", "photo.tif")
# the format an upload is stored in, by its real format; every other format is refused
KEPT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "PNG", "WEBP": "WEBP"}
EXTENSION = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
GPS = 0x8825
ORIENTATION = 0x0112


def written_formats():
    """(format, bytes of a small picture in it) for every format this Pillow can write."""
    Image.init()
    made = []
    for fmt in sorted(Image.SAVE):
        for mode in ("RGB", "L", "P", "1"):
            buffer = io.BytesIO()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # "IM image format is deprecated"
                    Image.new(mode, (48, 32), 1).save(buffer, fmt)
            except Exception:  # noqa: BLE001 (a format that cannot write this mode, or at all)
                continue
            made.append((fmt, buffer.getvalue()))
            break
    return made


FORMATS = written_formats()


def media_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def bomb_png(side=10_000):
    """A side × side PNG (10,000 × 10,000 by default: 100 million pixels) of about 12 KB."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def photo_with_exif(fmt="JPEG", size=(40, 20)):
    """A picture whose left half is red and right half blue, taken "sideways": EXIF orientation 6
    (turn 90° clockwise to view), a GPS position, a camera make."""
    image = Image.new("RGB", size, (220, 0, 0))
    image.paste((0, 0, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "SecretCam"
    exif[GPS] = {1: "N", 2: (31.0, 13.0, 45.0), 3: "E", 4: (121.0, 28.0, 12.0)}
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def noise(fmt="JPEG", size=(200, 200)):
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, fmt)
    return buffer.getvalue()


def real_format(data):
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format, image.size, dict(image.getexif()), dict(image.info)


# --- every format, under every wrong name ------------------------------------------------------
def test_pillow_writes_the_formats_of_the_issue():
    written = {fmt for fmt, _data in FORMATS}
    assert {"JPEG", "PNG", "WEBP", "GIF", "PDF", "EPS", "TIFF", "ICO", "BMP"} <= written


@pytest.mark.parametrize("name", WRONG_NAMES)
@pytest.mark.parametrize(("fmt", "data"), FORMATS, ids=[fmt for fmt, _data in FORMATS])
def test_an_upload_under_a_wrong_name_is_stored_as_its_real_format_or_refused(fmt, data, name):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    if fmt not in KEPT:
        with pytest.raises(ValidationError) as excinfo:
            clean_image(upload)
        assert excinfo.value.messages == ["只能上传 JPEG、PNG、WebP 或 GIF 图片"]
        return
    cleaned = clean_image(upload)
    stored = KEPT[fmt]
    assert cleaned.name == "photo" + EXTENSION[stored]
    assert cleaned.content_type == f"image/{stored.lower()}"
    found, size, exif, _info = real_format(cleaned.read())
    assert found == stored and size == (48, 32) and not exif


def test_a_name_keeps_its_stem_without_dots_and_gets_the_real_extension():
    assert stored_name("IMG_0001.HEIC.pdf", "JPEG") == "IMG_0001_HEIC.jpg"
    assert stored_name("商品 主图.tif", "PNG") == "商品_主图.png"
    assert stored_name("../../etc/passwd", "WEBP") == "passwd.webp"
    assert stored_name("", "JPEG") == "image.jpg" and stored_name("..", "PNG") == "image.png"
    assert stored_name(".hidden.png", "PNG") == "hidden.png"
    assert stored_name("x" * 300 + ".gif", "PNG") == "x" * 40 + ".png"


# --- decompression bombs -----------------------------------------------------------------------
def forbid_decoding(monkeypatch):
    """From here on, fail the test if any pixel is decoded."""

    def decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    monkeypatch.setattr(Image.Image, "load", decode)


def test_a_10000_by_10000_png_of_a_few_kb_is_refused_without_decoding_it(monkeypatch):
    data = bomb_png()
    assert len(data) < 20_000
    forbid_decoding(monkeypatch)
    with pytest.raises(ValidationError) as excinfo:
        clean_image(SimpleUploadedFile("bomb.png", data, content_type="image/png"))
    assert excinfo.value.code == "far_too_many_pixels"
    assert excinfo.value.messages == ["图片像素过多：最多 3600 万像素"]


def test_the_pixel_limit_is_one_setting_and_the_message_gives_the_size(settings, monkeypatch):
    settings.IMAGE_MAX_PIXELS = 1_000_000
    data = bomb_png(1001)
    forbid_decoding(monkeypatch)
    with pytest.raises(ValidationError) as excinfo:
        clean_image(SimpleUploadedFile("wide.png", data))
    assert excinfo.value.messages == ["图片像素过多：最多 100 万像素（当前 1001×1001）"]


def test_an_image_at_the_limit_is_accepted(settings):
    settings.IMAGE_MAX_PIXELS = 1000 * 1000
    cleaned = clean_image(SimpleUploadedFile("edge.png", bomb_png(1000)))
    assert (cleaned.width, cleaned.height) == (1000, 1000)


def test_pillow_refuses_a_bomb_anywhere_in_the_process(settings):
    assert Image.MAX_IMAGE_PIXELS == settings.IMAGE_MAX_PIXELS == 6000 * 6000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb_png()))


def test_only_the_first_frame_of_an_animation_is_decoded_and_kept():
    frames = [Image.new("RGB", (60, 40), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    cleaned = clean_image(SimpleUploadedFile("anim.gif", buffer.getvalue()))
    assert cleaned.name == "anim.png"
    with Image.open(cleaned) as image:
        assert image.format == "PNG" and getattr(image, "n_frames", 1) == 1
        assert image.convert("RGB").getpixel((5, 5))[0] > 200  # the red first frame


# --- EXIF --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_is_stripped_after_the_orientation_is_applied(fmt):
    data = photo_with_exif(fmt)
    assert b"SecretCam" in data and real_format(data)[2][GPS]
    cleaned = clean_image(SimpleUploadedFile("sideways.pdf", data)).read()
    found, size, exif, info = real_format(cleaned)
    assert found == fmt and size == (20, 40)  # turned upright
    assert exif == {} and "exif" not in info and "xmp" not in info
    assert b"SecretCam" not in cleaned and b"Exif" not in cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        image = image.convert("RGB")
        top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 150 and top[2] < 80  # the left (red) half is on top once turned clockwise
    assert bottom[2] > 150 and bottom[0] < 80


def test_transparency_and_greyscale_survive_re_encoding():
    buffer = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 128, 0, 0)).save(buffer, "PNG")
    assert real_format(clean_image(SimpleUploadedFile("a.png", buffer.getvalue())).read())[3] == {}
    with Image.open(clean_image(SimpleUploadedFile("a.png", buffer.getvalue()))) as image:
        assert image.mode == "RGBA" and image.getpixel((1, 1))[3] == 0
    buffer = io.BytesIO()
    Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(buffer, "JPEG")
    with Image.open(clean_image(SimpleUploadedFile("print.jpg", buffer.getvalue()))) as image:
        assert image.mode == "RGB" and image.getpixel((1, 1))[0] > 200


# --- not an image --------------------------------------------------------------------------------
NOT_AN_IMAGE = "只能上传 JPEG、PNG、WebP 或 GIF 图片"
DAMAGED = "图片文件不完整或已损坏，请重新上传"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.png", b"not an image at all", NOT_AN_IMAGE),
        ("a.jpg", b"", NOT_AN_IMAGE),
        ("a.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', NOT_AN_IMAGE),
        ("a.exe", b"MZ\x90\x00" + b"\x00" * 200, NOT_AN_IMAGE),
        ("a.png", bomb_png(40)[:40], DAMAGED),  # cut inside the header
        ("a.gif", b"GIF89a" + b"\x00" * 20, DAMAGED),
        ("a.png", noise("PNG")[:20_000], DAMAGED),  # cut inside the pixels
        ("a.jpg", noise("JPEG")[:3000], DAMAGED),
        ("a.webp", noise("WEBP")[:3000], DAMAGED),
        ("a.gif", noise("GIF")[:3000], DAMAGED),
    ],
    ids=["text", "empty", "svg", "exe", "png-header", "gif-header", "truncated-png", "truncated-jpeg",
         "truncated-webp", "truncated-gif"],
)
def test_garbage_and_truncated_files_are_refused(name, data, message):
    with pytest.raises(ValidationError) as excinfo:
        clean_image(SimpleUploadedFile(name, data))
    assert excinfo.value.messages == [message]


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read():
    with pytest.raises(ValidationError) as excinfo:
        clean_image(SimpleUploadedFile("a.jpg", noise()), max_bytes=1024)
    assert excinfo.value.code == "too_large"


def test_the_form_field_refuses_with_the_reason_and_offers_only_images():
    field = ImageFormField(required=False)
    assert 'accept="image/jpeg,image/png,image/webp,image/gif"' in field.widget.render("f", None, field.widget_attrs(field.widget))
    with pytest.raises(ValidationError) as excinfo:
        field.clean(SimpleUploadedFile("a.tif", b"II*\x00 not really"))
    assert excinfo.value.messages == ["只能上传 JPEG、PNG、WebP 或 GIF 图片"]
    assert field.clean(SimpleUploadedFile("a" * 150 + ".pdf", noise())).name == "a" * 40 + ".jpg"


def test_every_uploaded_file_of_the_project_goes_through_core_images():
    from django.apps import apps
    from django.db import models

    fields = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField) and not isinstance(field, ImageField)
    ]
    assert fields == []
    uploads = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, ImageField)
    }
    assert {"catalog.Category.icon", "catalog.ProductImage.image", "members.User.avatar", "stores.Store.cover",
            "orders.AfterSalePhoto.image"} <= uploads
