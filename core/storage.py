import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; before collectstatic (tests, a first start) plain names.

    Without this fallback every page would fail until collectstatic has run once.
    """

    manifest_strict = False

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            log.debug("static file %s not collected; serving its plain name", name)
            return name
