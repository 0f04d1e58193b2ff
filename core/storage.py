import logging
import os
import secrets

from django.core.files.storage import FileSystemStorage
from django.utils._os import safe_makedirs
from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; before collectstatic (tests, a first start) plain names.

    Without this fallback every page would fail until collectstatic has run once.
    """

    manifest_strict = False
    # url() of a name, kept per process: the shop's base template alone asks for six on every page,
    # and the manifest (read when the storage is made) does not change under a running process
    URL_MEMO_SIZE = 2048

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls = {}

    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        found = self._urls.get(name)
        if found is None:
            found = super().url(name)
            if len(self._urls) < self.URL_MEMO_SIZE:
                self._urls[name] = found
        return found

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            log.debug("static file %s not collected; serving its plain name", name)
            return name


class _Staged:
    """A complete file on disk, handed to FileSystemStorage._save to be moved into place."""

    def __init__(self, path):
        self.path = path

    def temporary_file_path(self):
        return self.path


class MediaStorage(FileSystemStorage):
    """The uploads' storage (MEDIA_ROOT): a file appears under its name complete or not at all.

    Django's FileSystemStorage creates the target and then writes it chunk by chunk, so a write
    that fails half-way (a full disk, a broken upload stream, an error while reading the content)
    leaves a truncated file under the real name. Here the content is written to a hidden
    ``.upload-….part`` file in the same directory, which is renamed to the chosen name once
    complete (Django's own move, keeping its choice of a free name and its permissions) and
    removed if anything fails first.
    """

    def _save(self, name, content):
        directory = os.path.dirname(self.path(name))
        if self.directory_permissions_mode is not None:
            safe_makedirs(directory, self.directory_permissions_mode, exist_ok=True)
        else:
            os.makedirs(directory, exist_ok=True)
        staged = os.path.join(directory, f".upload-{secrets.token_hex(8)}.part")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk if isinstance(chunk, bytes) else str(chunk).encode())
            return super()._save(name, _Staged(staged))
        finally:
            try:
                os.unlink(staged)
            except FileNotFoundError:
                pass
