"""Uploaded images are images and only images: decoded, re-encoded, named by their real format.

Every picture a person uploads (product images, category icons, avatars, store covers,
points-mall pictures, after-sale photos) goes through `clean_image`, whatever its name or content
type claims:

- it is opened by Pillow as JPEG, PNG, WebP or GIF only; anything else (PDF, EPS, TIFF, ICO,
  BMP, SVG, text…) is refused, and so is a file Pillow cannot decode to the end (truncated, damaged);
- width × height is checked against ``settings.IMAGE_MAX_PIXELS`` from the header, before a single
  pixel is decoded: a 10,000 × 10,000 PNG is 11 KB on the wire and 300 MB in memory;
- the pixels are turned upright by the EXIF orientation, then written afresh with no EXIF, XMP or
  comments (no GPS position, camera serial or date leaves the shopper's phone); only the colour
  profile is kept;
- the result is named by its real format: JPEG stays .jpg, WebP stays .webp, PNG stays .png and a
  GIF becomes a .png of its first frame (an animation keeps its first frame, as does an animated
  WebP or PNG).

`ImageField` (the model field every upload uses) does this when a new file is assigned and
validated or saved, never for a file already in storage: saving a product whose pictures nobody
touched neither re-reads nor re-encodes them. Its form field refuses a bad file with a Chinese
message beside the field. A new file that is saved is also remembered (core.uploads) so that it is
removed again if the row that was to point at it is never committed.
"""

import io
import logging
import warnings
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import models
from django.db.models.fields.files import FieldFile, ImageFieldFile
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# what Pillow may open an upload as (an MPO, a phone's JPEG with extra pictures, opens as JPEG)
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# the format an upload is stored in, by the format it came in, and its extension
STORED_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "PNG"}
EXTENSION = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
CONTENT_TYPE = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPT = "image/jpeg,image/png,image/webp,image/gif"
STEM_LENGTH = 40  # of the stored name, before the extension: upload_to and Django's suffix fit in 100

MESSAGES = {
    "not_an_image": _("只能上传 JPEG、PNG、WebP 或 GIF 图片"),
    "damaged": _("图片文件不完整或已损坏，请重新上传"),
    "too_many_pixels": _("图片像素过多：最多 %(limit)s 万像素（当前 %(w)s×%(h)s）"),
    "far_too_many_pixels": _("图片像素过多：最多 %(limit)s 万像素"),
    "too_large": _("图片不能超过 %(limit)s MB（当前 %(size).1f MB）"),
}


def max_pixels():
    return int(settings.IMAGE_MAX_PIXELS)


def refuse(code, **params):
    return ValidationError(MESSAGES[code], code=code, params=params or None)


class CleanImage(ContentFile):
    """The re-encoded bytes of an accepted upload, named by their format. Being one is the mark
    that the check has been made (it is never made twice for the same upload)."""

    def __init__(self, data, name, *, image_format, width, height):
        super().__init__(data, name=name)
        self.image_format = image_format
        self.content_type = CONTENT_TYPE[image_format]
        self.width, self.height = width, height


def stored_name(original, image_format):
    """`original`'s stem (made safe, at most STEM_LENGTH characters, no further dots) with the
    extension of `image_format`: "IMG_0001.HEIC.pdf" → "IMG_0001_HEIC.jpg"."""
    stem = PurePath(str(original or "")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = stem.replace(".", "_").strip("_- ")
    try:
        stem = get_valid_filename(stem)
    except Exception:  # SuspiciousFileOperation for a name with nothing left
        stem = ""
    return (stem[:STEM_LENGTH] or "image") + EXTENSION[image_format]


def clean_image(file, *, max_bytes=MAX_IMAGE_BYTES, name=None):
    """A CleanImage of `file` (an upload, a File, a FieldFile not yet saved, or bytes), or a
    ValidationError with a message for the person who chose the file. An already clean image is
    returned as it is."""
    if isinstance(file, FieldFile) and not file._committed:
        name = name or file.name
        file = file.file
    if isinstance(file, CleanImage):
        return file
    if isinstance(file, bytes | bytearray):
        file = ContentFile(bytes(file))
    name = name or getattr(file, "name", None) or "image"
    size = getattr(file, "size", None)
    if size is not None and max_bytes and size > max_bytes:
        raise refuse("too_large", limit=max_bytes // (1024 * 1024), size=size / (1024 * 1024))
    try:
        file.seek(0)
    except (AttributeError, OSError, ValueError):
        pass
    source = _open(file)
    try:
        return _reencode(source, name)
    finally:
        source.close()


def _open(file):
    """The opened (not yet decoded) image, its size checked against the pixel limit."""
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns from IMAGE_MAX_PIXELS on; ours refuses just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = Image.open(file, formats=OPEN_FORMATS)
    except Image.DecompressionBombError:
        # over twice the limit: Pillow refuses before telling the size
        raise refuse("far_too_many_pixels", **_limit(limit)) from None
    except Exception as exc:  # noqa: BLE001 (whatever a parser trips on in untrusted bytes is a refusal)
        log.debug("upload not opened as an image: %r", exc)
        # an allowed format's signature that Pillow cannot open is a damaged file, not a wrong one
        raise refuse("damaged" if _signature(file) else "not_an_image") from None
    if source.format not in STORED_FORMAT:
        source.close()
        raise refuse("not_an_image")
    width, height = source.size
    if width < 1 or height < 1:
        source.close()
        raise refuse("damaged")
    if width * height > limit:
        source.close()
        raise refuse("too_many_pixels", w=width, h=height, **_limit(limit))
    return source


def _signature(file):
    """The allowed format `file` starts like, if any."""
    try:
        file.seek(0)
        head = file.read(16)
    except (AttributeError, OSError, ValueError):
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _limit(pixels):
    """The pixel limit in 万 (ten thousands, as Chinese counts pixels) and in megapixels."""
    return {"limit": f"{pixels / 10_000:g}", "megapixels": f"{pixels / 1_000_000:g}"}


def _reencode(source, name):
    stored = STORED_FORMAT[source.format]
    icc_profile = source.info.get("icc_profile")
    try:
        # the first frame only, decoded to the end: a truncated file fails here, not on a page
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source.seek(0)
            source.load()
    except Exception as exc:  # noqa: BLE001 (as in _open)
        log.debug("upload not decoded: %r", exc)
        raise refuse("damaged") from None
    try:
        ImageOps.exif_transpose(source, in_place=True)
    except Exception as exc:  # noqa: BLE001 (an unreadable orientation: the picture as it was stored)
        log.info("EXIF orientation of an upload not applied: %r", exc)
    image, options = _for_format(source, stored)
    if icc_profile and image.mode not in ("1", "P", "I", "I;16"):
        options["icc_profile"] = icc_profile
    # nothing of the original's metadata rides along: no exif=, xmp=, pnginfo= or comment
    image.info = {}
    buffer = io.BytesIO()
    try:
        image.save(buffer, stored, **options)
    except (OSError, ValueError) as exc:
        log.warning("an accepted %s upload could not be re-encoded as %s: %s", source.format, stored, exc)
        raise refuse("damaged") from None
    return CleanImage(
        buffer.getvalue(), stored_name(name, stored), image_format=stored, width=image.width, height=image.height
    )


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def _for_format(image, stored):
    """(image in a mode `stored` can write, encoder options)."""
    transparency = image.info.get("transparency")
    if stored == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        return image, {"quality": 90, "optimize": True}
    if stored == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        return image, {"quality": 90, "method": 4}
    # PNG
    options = {}
    if image.mode in ("1", "L", "P", "RGB", "I", "I;16") and transparency is not None:
        options["transparency"] = transparency
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image, options


def validate_uploaded_image(value):
    """Model-field validator: a new upload is cleaned in place (the FieldFile then holds the
    re-encoded image under its real extension) or refused; a file already in storage is left
    alone (it passed when it was uploaded; re-reading it on every save would fetch it from storage
    and fail on an image nobody touched)."""
    if getattr(value, "_committed", False):
        return
    if isinstance(value, FieldFile):
        if isinstance(value.file, CleanImage):
            return
        cleaned = clean_image(value, max_bytes=getattr(value.field, "max_bytes", MAX_IMAGE_BYTES))
        value.file, value.name = cleaned, cleaned.name
        return
    clean_image(value)


class ImageFormField(forms.FileField):
    """A file input that gives back a CleanImage, or the reason it refused the file."""

    def __init__(self, *, max_bytes=MAX_IMAGE_BYTES, **kwargs):
        kwargs.pop("max_length", None)  # the stored name is ours, not the one the browser sent
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.FileInput) and "accept" not in widget.attrs:
            attrs["accept"] = ACCEPT
        return attrs

    def to_python(self, data):
        data = super().to_python(data)
        if data is None:
            return None
        return clean_image(data, max_bytes=self.max_bytes)


class CleanImageFieldFile(ImageFieldFile):
    def save(self, name, content, save=True):
        if not isinstance(content, CleanImage):
            content = clean_image(content, max_bytes=self.field.max_bytes, name=name)
        super().save(content.name, content, save=save)
        from . import uploads

        uploads.saved(self.instance, self.field, self.name)

    save.alters_data = True


class ImageField(models.ImageField):
    """An ImageField whose uploads are checked, re-encoded and named by format (see the module).

    It is Django's ImageField for migrations (same column, same deconstruction): switching a
    field to it needs no migration."""

    attr_class = CleanImageFieldFile
    default_validators = [validate_uploaded_image]

    def __init__(self, *args, max_bytes=MAX_IMAGE_BYTES, **kwargs):
        self.max_bytes = max_bytes
        super().__init__(*args, **kwargs)

    def update_dimension_fields(self, instance, force=False, *args, **kwargs):
        # a raw upload is measured once it is cleaned (validated or saved), never parsed before
        value = instance.__dict__.get(self.attname)
        if isinstance(value, FieldFile):
            value = None if value._committed else getattr(value, "_file", None)
        if isinstance(value, File) and not isinstance(value, CleanImage):
            return
        super().update_dimension_fields(instance, force, *args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.ImageField", args, kwargs

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": ImageFormField, "max_bytes": self.max_bytes, **kwargs})
