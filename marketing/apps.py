from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("营销")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the home page's cache upkeep
