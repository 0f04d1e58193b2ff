"""The project's URLs plus one view that fails, to see the 500 page a shopper would get."""

from django.urls import path

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("secret-database-password=hunter2 in a traceback")


urlpatterns = [path("boom/", boom), *project_urlpatterns]
