"""Shopper pages: the store list (nearest first), a store's page, choosing a store, and the
WeChat JS-SDK config used to ask for the location inside WeChat."""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.navigation import is_own_url, safe_next
from core.numbers import page_number

from . import selectors
from .context_processors import CHOSEN_COOKIE, CHOSEN_SESSION_KEY
from .hours import week_table
from .models import Store, StoreHours
from .wechat import jsapi_signature

PAGE_SIZE = 10  # the nearest few; more through 加载更多
LOCATION_COOKIE = selectors.LOCATION_COOKIE


def _location(request):
    """(lat, lng), and whether to remember it: from the query string, else the location cookie
    (a cookie, not the session: an anonymous visitor's first list costs no session write)."""
    coords = selectors.valid_coordinates(request.GET.get("lat"), request.GET.get("lng"))
    if coords:
        return coords, coords != selectors.saved_location(request)
    if "lat" in request.GET or "lng" in request.GET:
        return None, False  # bad coordinates: ignore them, fall back to the city
    return selectors.saved_location(request), False


class _Page:
    """A page without COUNT: fetch one row more than shown to know whether there is a next page."""

    def __init__(self, qs, raw_number):
        self.number = page_number(raw_number, maximum=1000)
        start = (self.number - 1) * PAGE_SIZE
        rows = list(qs[start:start + PAGE_SIZE + 1])
        self.has_next = len(rows) > PAGE_SIZE
        self.object_list = rows[:PAGE_SIZE]
        self.next_page_number = self.number + 1


@require_GET
def store_list(request):
    coords, remember = _location(request)
    city = request.GET.get("city", "").strip()[:32] or None
    qs = selectors.store_list(lat=coords[0] if coords else None, lng=coords[1] if coords else None, city=city)
    page = _Page(qs, request.GET.get("page"))
    stores = selectors.decorate(page.object_list)
    context = {
        "stores": stores,
        "page_obj": page,
        "located": bool(coords),
        "city": city or "",
        "cities": selectors.cities(),
        "chosen_id": selectors.chosen_store_id(request),
        "active_tab": "home",
        "wechat_jssdk": bool(settings.WECHAT_APP_ID),
        # where choosing a store leads back to (the cart, checkout): a path on this site only
        "next": safe_next(request, ""),
    }
    template = "stores/partials/_store_list.html" if request.headers.get("HX-Request") else "stores/store_list.html"
    response = render(request, template, context)
    if remember:
        response.set_cookie(LOCATION_COOKIE, f"{coords[0]:.5f},{coords[1]:.5f}", max_age=24 * 3600,
                            samesite="Lax", secure=request.is_secure(), httponly=True)
    return response


@require_GET
def store_detail(request, pk):
    """A store's page: hours, address, and what it has in stock, STORE_STOCK_PAGE_SIZE rows a page
    (htmx 加载更多 appends the next page's rows; without JavaScript the link opens that page),
    each row linking to its product with the SKU selected."""
    try:
        store = selectors.store_detail(pk)
    except Store.DoesNotExist as exc:
        raise Http404 from exc
    stock, page, has_next = selectors.store_stock_page(store, request.GET.get("page"))
    stock_context = {"store": store, "stock": stock, "stock_page": page, "stock_has_next": has_next}
    if request.headers.get("HX-Request") and "page" in request.GET:
        return render(request, "stores/partials/_stock_rows.html", stock_context)
    hours = list(store.hours.all())
    selectors.decorate([store])
    saved = selectors.saved_location(request)
    if saved:
        store.distance_km = selectors.haversine_km(saved[0], saved[1], store.latitude, store.longitude)
    weekday_names = dict(StoreHours.Weekday.choices)
    context = {
        "store": store,
        "week": [(weekday_names[day], ranges) for day, ranges in week_table(hours)],
        "today": timezone.localdate().weekday(),
        **stock_context,
        "chosen_id": selectors.chosen_store_id(request),
        "active_tab": "home",
        "hide_tabbar": False,
        "next": safe_next(request, ""),
    }
    return render(request, "stores/store_detail.html", context)


@require_POST
def choose_store(request, pk):
    """Remember the shopper's store: in the session, and a year-long cookie for when it expires."""
    if not selectors.visible_stores().filter(pk=pk).exists():
        raise Http404
    request.session[CHOSEN_SESSION_KEY] = pk
    target = safe_next(request, "/")
    response = redirect(target)
    if request.headers.get("HX-Request"):
        response.status_code = 204
        response["HX-Redirect"] = target
    response.set_cookie(CHOSEN_COOKIE, str(pk), max_age=365 * 24 * 3600, samesite="Lax",
                        secure=request.is_secure(), httponly=True)
    from django.contrib import messages

    messages.success(request, _("已选择门店"))
    return response


JSAPI_TICKET_CACHE_KEY = "stores.wechat.jsapi_ticket"


def get_jsapi_ticket(client=None):
    """The JS-SDK ticket, shared by every worker through Django's cache (Redis in production)."""
    ticket = cache.get(JSAPI_TICKET_CACHE_KEY)
    if ticket:
        return ticket
    if client is None:
        from core.wechat import get_client

        client = get_client()
    response = client.jsapi.get_ticket()
    ticket = response["ticket"]
    cache.set(JSAPI_TICKET_CACHE_KEY, ticket, max(60, int(response.get("expires_in", 7200)) - 300))
    return ticket


@never_cache
@require_GET
def wechat_jssdk_config(request):
    """wx.config parameters for the page URL given in ?url= (the page's own URL, fragment removed).
    404 when WeChat is not configured: the page then uses the browser's location."""
    if not (settings.WECHAT_APP_ID and settings.WECHAT_APP_SECRET):
        raise Http404
    url = request.GET.get("url", "").split("#", 1)[0]
    if not is_own_url(url, request):
        return JsonResponse({"error": "bad_url"}, status=400)
    try:
        ticket = get_jsapi_ticket()
    except Exception:  # WeChat unreachable or refused: the page falls back to the browser
        return JsonResponse({"error": "unavailable"}, status=503)
    timestamp = int(time.time())
    nonce = get_random_string(16)
    return JsonResponse(
        {
            "appId": settings.WECHAT_APP_ID,
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": jsapi_signature(ticket, nonce, timestamp, url),
            # scanQRCode: the back office's product picker reads barcodes with WeChat's camera
            "jsApiList": ["getLocation", "openLocation", "scanQRCode"],
        }
    )
