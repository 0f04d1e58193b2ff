"""Upload checks for catalogue images: a real image, of an allowed format, not too big.

Runs as a model field validator, so the admin, forms and services all refuse the same files with
the same message, before anything is saved.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_SIDE = 6000
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def validate_image_file(file):
    """Refuse anything that is not a JPEG/PNG/WebP/GIF within 10 MB and 6000x6000 pixels.

    Only a new upload is checked. A file already in storage (a saved row's FieldFile, which Django
    marks committed) passed this check when it was uploaded; re-reading it on every save would
    fetch it from the object store and, as the admin closes it after the first read, fail on an
    image nobody touched (HQ could not save any product that had a picture)."""
    if getattr(file, "_committed", False):
        return
    size = getattr(file, "size", None)
    if size is not None and size > MAX_IMAGE_BYTES:
        raise ValidationError(
            _("图片不能超过 %(limit)s MB（当前 %(size).1f MB）"),
            code="image_too_large",
            params={"limit": MAX_IMAGE_BYTES // (1024 * 1024), "size": size / (1024 * 1024)},
        )
    try:
        position = file.tell()
    except (AttributeError, OSError, ValueError):
        position = None
    try:
        file.seek(0)
        with Image.open(file) as probe:
            image_format = probe.format
            width, height = probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(_("上传的文件不是有效的图片"), code="not_an_image") from None
    finally:
        if position is not None:
            try:
                file.seek(position)
            except (OSError, ValueError):
                pass
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(
            _("图片格式仅支持 JPEG、PNG、WebP、GIF"), code="image_format"
        )
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise ValidationError(
            _("图片尺寸不能超过 %(limit)s×%(limit)s 像素（当前 %(w)s×%(h)s）"),
            code="image_dimensions",
            params={"limit": MAX_IMAGE_SIDE, "w": width, "h": height},
        )
