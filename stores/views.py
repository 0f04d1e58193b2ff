"""Shopper pages: the store list (nearest first), a store's page, choosing a store, and the
WeChat JS-SDK config used to ask for the location inside WeChat."""

import functools
import hashlib
import threading
import time
from html import escape
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import get_random_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core import shell
from core.navigation import is_own_url, safe_next
from core.numbers import page_number

from . import selectors
from .context_processors import CHOSEN_COOKIE, CHOSEN_SESSION_KEY
from .hours import week_table
from .models import Store, StoreHours
from .wechat import jsapi_signature

LOCATION_COOKIE = selectors.LOCATION_COOKIE


def _location(request):
    """(lat, lng), and whether to remember it: from the query string, else the location cookie
    (a cookie, not the session: an anonymous visitor's first list costs no session write)."""
    coords = selectors.valid_coordinates(request.GET.get("lat"), request.GET.get("lng"))
    if coords:
        return coords, _cookie_value(coords) != request.COOKIES.get(LOCATION_COOKIE)
    if "lat" in request.GET or "lng" in request.GET:
        return None, False  # bad coordinates: ignore them, fall back to the city
    return selectors.saved_location(request), False


def _cookie_value(coords):
    return f"{coords[0]:.5f},{coords[1]:.5f}"


def _secure_cookie(request):
    """Our cookies are Secure as Django's own are (session, CSRF, language): always under HTTPS=1,
    whatever a proxy said of the request, and on any request that came over HTTPS."""
    return bool(getattr(settings, "SESSION_COOKIE_SECURE", False)) or request.is_secure()


CARD_TEMPLATE = "stores/partials/_store_card.html"
CARD_SECONDS = 3600
# rendered into a cached card in place of what differs from one shopper to the next, and replaced
# on the way out: the distance, and the `next` the store's link carries
DISTANCE_MARK = "distmark4b7d1stores0card"
NEXT_MARK = "nextmark9e2a6stores0card"
_SOME_PK = 2147483647  # reversed once per request; each card's link is this with its own id


@functools.cache
def _card_template_digest():
    return hashlib.sha1(get_template(CARD_TEMPLATE).template.source.encode()).hexdigest()[:12]


def card_cache_key(store, chosen, language):
    """The cache key of a store's card: a digest of everything the card shows but the distance and
    `next` (the store's name, address, phone, services, status, whether it is open now, whether it
    is the shopper's store), its language and the template's source. A store changed in any way
    its card shows has another key: a cached card is never stale and needs no invalidation, and
    shoppers anywhere share it."""
    return _shared_card_key(_card_shown(store, chosen), language)


def _card_shown(store, chosen):
    """Everything a store's card shows but the distance and `next`."""
    return (
        store.pk, store.name, store.province, store.city, store.district, store.street, store.phone, store.status,
        store.is_open_now, bool(store.distance_text), store.pickup_enabled, store.delivery_enabled,
        str(store.delivery_radius_km), repr(store.latitude), repr(store.longitude), chosen,
    )


def _shared_card_key(shown, language):
    digest = hashlib.sha1(repr(shown).encode()).hexdigest()
    return f"stores:card:{_card_template_digest()}:{language}:{digest}"


# Cards this process keeps in front of the shared cache, oldest dropped first, by what they show
# (_card_shown) and their language: a kept card is as fresh as the shared one, and a page of cards
# found here costs no round trip to Redis nor any digest.
CARDS_KEPT = 4096
_kept_cards = {}
_kept_cards_lock = threading.Lock()


def _keep_cards(cards):
    if settings.DEBUG:
        return
    with _kept_cards_lock:
        _kept_cards.update(cards)
        while len(_kept_cards) > CARDS_KEPT:
            del _kept_cards[next(iter(_kept_cards))]


def forget_kept_cards():
    """Tests that count the cache's round trips start from an empty process."""
    with _kept_cards_lock:
        _kept_cards.clear()


def attach_card_html(stores, *, chosen_id, next_url):
    """Set `card_html` on each store of a list page: from this process's copy or the shared cache
    when this exact card was rendered before (at most one round trip for the page), else rendered
    and stored; then the distance and the links' `next` are written in. Without the cache (Redis
    down) every card this process has not kept is rendered."""
    if not stores:
        return stores
    language = translation.get_language()
    local_keys = [(_card_shown(store, store.pk == chosen_id), language) for store in stores]
    found = {key: _kept_cards[key] for key in local_keys if key in _kept_cards}
    if len(found) < len(local_keys):
        shared_keys = {key: _shared_card_key(*key) for key in local_keys if key not in found}
        shared = cache.get_many(list(shared_keys.values()))
        from_shared = {key: shared[shared_key] for key, shared_key in shared_keys.items() if shared_key in shared}
        _keep_cards(from_shared)
        found.update(from_shared)
        detail = reverse("stores:detail", args=[_SOME_PK]).replace(str(_SOME_PK), "{}")
        choose = reverse("stores:choose", args=[_SOME_PK]).replace(str(_SOME_PK), "{}")
        rendered = {}
        for store, key in zip(stores, local_keys, strict=True):
            if key not in found:
                store.detail_url = detail.format(store.pk) + NEXT_MARK
                store.choose_url = choose.format(store.pk)
                found[key] = rendered[key] = render_to_string(CARD_TEMPLATE, {
                    "store": store, "chosen": store.pk == chosen_id,
                    "distance": DISTANCE_MARK if store.distance_text else "",
                })
        if rendered:
            cache.set_many({shared_keys[key]: html for key, html in rendered.items()}, CARD_SECONDS)
            _keep_cards(rendered)
    # html.escape and SafeString: what django.utils.html.escape and mark_safe give for a str, without
    # their check for lazy arguments on each of the page's cards (it cost as much as the rest here)
    suffix = escape("?" + urlencode({"next": next_url})) if next_url else ""
    for store, key in zip(stores, local_keys, strict=True):
        html = found[key].replace(NEXT_MARK, suffix).replace(DISTANCE_MARK, escape(store.distance_text))
        store.card_html = SafeString(html)  # our template's output, with escaped values written in
    return stores


PAGE_TEMPLATE = "stores/store_list.html"
PAGE_BODY_TEMPLATE = "stores/partials/_store_page.html"
LIST_TEMPLATE = "stores/partials/_store_list.html"
LIST_MARK = "<!--md:stores-list-->"
FRAMES_KEPT = 256
_frames = {}
_frames_lock = threading.Lock()


def _page_frame(request, context):
    """The store list's body around its list, as (before, after) with core.shell's CSRF marker for
    the token: rendered once per process for each language, location known or not, city, cities
    and next (while FRAMES_KEPT are not all taken: `next` and `city` come from the query string)."""
    key = (translation.get_language(), context["located"], context["city"], tuple(context["cities"]),
           context["next"], context["wechat_jssdk"])
    parts = _frames.get(key)
    if parts is None:
        html = render_to_string(PAGE_BODY_TEMPLATE, {
            **context, "list_html": mark_safe(LIST_MARK), "csrf_token": shell.CSRF_MARKER,
        }, request=request)
        before, _mark, after = html.partition(LIST_MARK)
        parts = (before, after)
        if not settings.DEBUG:
            with _frames_lock:
                if len(_frames) < FRAMES_KEPT:
                    _frames[key] = parts
    return parts


CARDS_MARK = "<!--md:stores-cards-->"
MORE_URL_MARK = "moremark7c3f0stores0list"
_lists = {}  # (language, any stores, a next page) -> the list's HTML cut at the marks


def _list_html(context):
    """LIST_TEMPLATE's output for this page: rendered once per process for each language, with or
    without stores and a next page, with marks where the cards and the 加载更多 URL go (escaped, as
    the template escapes it), which are put in per request."""
    key = (translation.get_language(), bool(context["stores"]), context["page_obj"].has_next)
    parts = _lists.get(key)
    if parts is None:
        html = render_to_string(LIST_TEMPLATE, {**context, "cards_html": mark_safe(CARDS_MARK), "more_url": MORE_URL_MARK})
        parts = [part.split(MORE_URL_MARK) for part in html.split(CARDS_MARK)]
        if not settings.DEBUG:
            with _frames_lock:
                _lists[key] = parts
    more_url = escape(context["more_url"])
    return context["cards_html"].join(more_url.join(part) for part in parts)


def forget_page_frames():
    """Tests that change templates or translations."""
    with _frames_lock:
        _frames.clear()
        _lists.clear()


@require_GET
def store_list(request):
    """The stores nearest the shopper (or by city), STORE_LIST_PAGE_SIZE a page: htmx 加载更多
    appends the next page, which is asked for at the same location as this one. The whole page's
    layout and the body around the list are kept per process (core.shell, _page_frame): a request
    renders only its list, from cards most often kept too (attach_card_html)."""
    coords, remember = _location(request)
    city = selectors.clean_query(request.GET.get("city"))[:32] or None
    partial = bool(request.headers.get("HX-Request"))  # 加载更多, or a city picked: the list alone
    page = selectors.store_list(lat=coords[0] if coords else None, lng=coords[1] if coords else None, city=city,
                                page=page_number(request.GET.get("page"), maximum=1000))
    more = {"page": page.next_page_number}
    if coords:
        more.update(lat=repr(coords[0]), lng=repr(coords[1]))
    if city:
        more["city"] = city
    next_url = safe_next(request, "")
    if next_url:
        more["next"] = next_url
    chosen_id = selectors.chosen_store_id(request)
    context = {
        "stores": attach_card_html(page.stores, chosen_id=chosen_id, next_url=next_url),
        "cards_html": mark_safe("".join(f"{store.card_html}\n" for store in page.stores)),  # noqa: S308 - safe cards
        "page_obj": page,
        "more_url": reverse("stores:list") + "?" + urlencode(more),
        "located": bool(coords),
        "city": city or "",
        "chosen_id": chosen_id,
        "active_tab": "home",
        "wechat_jssdk": bool(settings.WECHAT_APP_ID),
        # where choosing a store leads back to (the cart, checkout): a path on this site only
        "next": next_url,
    }
    if partial:
        response = render(request, LIST_TEMPLATE, context)
    else:
        context["cities"] = selectors.cities()
        list_html = _list_html(context)
        before, after = _page_frame(request, context)
        token = shell.csrf_token(request)
        body = mark_safe(before.replace(shell.CSRF_MARKER, token) + list_html + after)  # noqa: S308 - our templates' output
        response = shell.render_page(request, PAGE_TEMPLATE, context, body,
                                     layout={"active_tab": "home", "wechat_jssdk": context["wechat_jssdk"]})
    if remember:
        response.set_cookie(LOCATION_COOKIE, _cookie_value(coords), max_age=24 * 3600,
                            samesite="Lax", secure=_secure_cookie(request), httponly=True)
    return response


@require_GET
def store_detail(request, pk):
    """A store's page: its photos, hours, address, and what it has in stock, STORE_STOCK_PAGE_SIZE rows a page
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
    photos = selectors.store_photos(store)
    selectors.decorate([store])
    saved = selectors.saved_location(request)
    if saved:
        store.distance_km = selectors.haversine_km(saved[0], saved[1], store.latitude, store.longitude)
    weekday_names = dict(StoreHours.Weekday.choices)
    context = {
        "store": store,
        "week": [(weekday_names[day], ranges) for day, ranges in week_table(hours)],
        "photos": photos,
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
                        secure=_secure_cookie(request), httponly=True)
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
