"""Named thumbnails of an uploaded picture, made once and remembered on its row.

Pages never resize a picture. A worker makes its thumbnails once, after the upload commits, with
easy-thumbnails, and the row keeps what a page needs to show them, in a JSONField:

    {"source": <the picture's file name>, <alias>: {"name": …, "width": …, "height": …}, …}

so that an <img> gets its src, width and height without touching easy-thumbnails' tables or the
files. Until they are made (or when they could not be) a page shows the original picture (`pick`).
The apps say which thumbnails they want (names and options, from settings.THUMBNAIL_ALIASES or
their own constants); this module makes them, names them, and removes them with their picture.
"""

import logging
from typing import NamedTuple

log = logging.getLogger(__name__)


class Thumb(NamedTuple):
    """What an <img> needs: a URL and its size in pixels (None when unknown)."""

    url: str
    width: int | None
    height: int | None


def alias_options(names, target=None):
    """{name: options} of settings.THUMBNAIL_ALIASES for `target` ("app.Model.field"), falling back
    to the aliases every target shares; a name with no alias is left out."""
    from easy_thumbnails.alias import aliases

    found = {}
    for name in names:
        options = aliases.get(name, target=target)
        if options:
            found[name] = options
    return found


def is_current(info, fieldfile):
    """Whether `info` holds the thumbnails of the file `fieldfile` names now."""
    return bool(fieldfile) and (info or {}).get("source") == fieldfile.name


def make(fieldfile, options):
    """Make (or find, when easy-thumbnails already has it) one thumbnail of `fieldfile` per
    {alias: options} and return the info dict to keep on the row. Reads the picture from storage
    and resizes it: a worker's job, never a page's. Raises what Pillow or the storage raise."""
    from easy_thumbnails.files import get_thumbnailer

    thumbnailer = get_thumbnailer(fieldfile)
    info = {"source": fieldfile.name}
    for alias, alias_opts in options.items():
        thumb = thumbnailer.get_thumbnail(alias_opts)
        info[alias] = {"name": thumb.name, "width": thumb.width, "height": thumb.height}
    return info


def names(info):
    """The file names of the thumbnails in `info`."""
    return [entry["name"] for key, entry in (info or {}).items() if key != "source" and isinstance(entry, dict)]


def url(name):
    from easy_thumbnails.storage import thumbnail_default_storage

    return thumbnail_default_storage.url(name)


def pick(info, alias, fieldfile, width=None, height=None):
    """The Thumb of `alias` when `info` holds it for the file `fieldfile` names now, else the
    original picture at its own `width` and `height`; None without a picture. No query, no file read."""
    if not fieldfile:
        return None
    entry = (info or {}).get(alias) if is_current(info, fieldfile) else None
    if entry:
        return Thumb(url(entry["name"]), entry["width"], entry["height"])
    return Thumb(fieldfile.url, width or None, height or None)


def remove(source_storage, source_name, thumbnail_names=()):
    """Delete the thumbnails of the picture `source_name`: those named, and any easy-thumbnails
    recorded for it (one made by a worker while the row that would have named it was deleted),
    with easy-thumbnails' records of them. The caller has checked nothing uses the picture any more.
    A file that cannot be deleted is logged and left."""
    from easy_thumbnails.models import Source, Thumbnail
    from easy_thumbnails.storage import thumbnail_default_storage
    from easy_thumbnails.utils import get_storage_hash

    sources = Source.objects.filter(name=source_name, storage_hash=get_storage_hash(source_storage))
    doomed = set(thumbnail_names)
    doomed.update(Thumbnail.objects.filter(source__in=sources).values_list("name", flat=True))
    for name in sorted(doomed):
        try:
            thumbnail_default_storage.delete(name)
        except Exception:
            log.exception("could not remove the thumbnail %s of %s", name, source_name)
    sources.delete()  # their Thumbnail rows go with them
