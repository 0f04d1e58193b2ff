from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The shared kernel: money, errors, health, the page shells and the demo-data runner.

    It imports no other app of ours; every other app may import it.
    """

    name = "core"
    verbose_name = _("基础")

    def ready(self):
        from django.conf import settings
        from PIL import Image

        from . import checks  # noqa: F401  (registers the system checks)
        from .permissions import connect_signals

        connect_signals()

        # every decode in the process (thumbnails included) refuses a bomb over twice the upload limit
        Image.MAX_IMAGE_PIXELS = int(settings.IMAGE_MAX_PIXELS)
