"""The 403 and 404 pages, in the look of the part of the site they answer for.

/backoffice/ and /admin/ get the back office's plain shell (no shop tab bar, no menu: rendered
without a query, so a clerk who typed another store's id sees "not found" and a way back, not the
shop); everything else gets the shop's page. A 404 raised under /backoffice/ gets this page even
with DEBUG on (`BackofficeNotFoundMiddleware`): "not your store" is a normal answer there, and a
store manager trying `make run` must not meet Django's debug page for it.
"""

from django.conf import settings
from django.http import Http404, HttpResponseForbidden, HttpResponseNotFound
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

BACKOFFICE_PREFIXES = ("/backoffice/", "/admin/")


def _backoffice(request):
    return request.path.startswith(BACKOFFICE_PREFIXES)


def _render(request, code, shop_template):
    if _backoffice(request):
        title, text = {
            403: (_("无权访问"), _("您没有权限访问此页面。门店员工只能查看和处理本人所在门店的数据；如需更多权限，请联系店长或总部。")),
            404: (_("页面不存在"), _("您访问的内容不存在，或不属于您所在的门店。")),
        }[code]
        return loader.render_to_string(
            "backoffice/error.html", {"code": code, "title": title, "text": text, "SITE_NAME": settings.SITE_NAME})
    return loader.render_to_string(shop_template, {"path": request.path}, request=request)


@requires_csrf_token
def page_not_found(request, exception=None):
    return HttpResponseNotFound(_render(request, 404, "404.html"))


@requires_csrf_token
def permission_denied(request, exception=None):
    return HttpResponseForbidden(_render(request, 403, "403.html"))


class BackofficeNotFoundMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Http404) and request.path.startswith("/backoffice/"):
            return page_not_found(request, exception)
        return None
