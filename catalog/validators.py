"""Upload checks for catalogue images: the shared ones of core.images.

`validate_image_file` is named by the catalogue's migrations; it is core.images'
validate_uploaded_image: a new upload is decoded (JPEG/PNG/WebP/GIF only, within
settings.IMAGE_MAX_PIXELS and 10 MB), re-encoded without EXIF under its real extension, or refused
with a message; a file already in storage is not read again.
"""

from core.images import MAX_IMAGE_BYTES, validate_uploaded_image

validate_image_file = validate_uploaded_image

__all__ = ["MAX_IMAGE_BYTES", "validate_image_file"]
