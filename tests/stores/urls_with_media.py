"""The project's URLs plus uploaded media, so browser tests (DEBUG off) show store photos. The
media folder is read from settings on each request: every test has its own (tests/conftest.py)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from config.urls import urlpatterns as project_urlpatterns


def media(request, path):
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", media),
    *project_urlpatterns,
]
