from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from core import views as core_views
from members.auth.views import admin_login

admin.site.site_header = _("多门店分销 管理后台")
admin.site.site_title = _("多门店分销")
admin.site.index_title = _("总部与门店管理")
admin.site.login = admin_login  # staff sign in on /accounts/staff-login/ (allauth, rate-limited)

urlpatterns = [
    path("", include("catalog.urls")),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("members.auth.urls")),  # before allauth: overrides login and weixin
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("backoffice/", include("core.backoffice_urls")),
    path("backoffice/members/", include("members.backoffice_urls")),
    path("backoffice/stores/", include("stores.backoffice_urls")),
    path("backoffice/marketing/", include("marketing.backoffice_urls")),
    path("backoffice/orders/", include("orders.backoffice_urls")),
    path("members/", include("members.urls")),
    path("stores/", include("stores.urls")),
    path("marketing/", include("marketing.urls")),
    path("orders/", include("orders.urls")),
    path("payments/", include("orders.payments.urls")),
    path("distribution/", include("distribution.urls")),
]

if settings.BENCH_ENDPOINTS:
    urlpatterns.append(path("_bench/hello", core_views.bench_hello, name="bench_hello"))

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "core.views.bad_request"
handler403 = "core.error_pages.permission_denied"
handler404 = "core.error_pages.page_not_found"
handler500 = "core.views.server_error"
