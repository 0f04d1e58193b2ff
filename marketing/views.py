"""Shopper pages of marketing: the points mall (积分商城), exchange records, coupon wallet and the
coupon centre (领券中心). Thin: parse input, call one service or selector, render."""

import functools

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import shell
from core.errors import DomainError
from core.numbers import page_number
from members.auth.guards import has_bound_phone
from members.models import Member
from stores.selectors import chosen_store_id

from . import mall_cache, selectors, services
from .models import PointsExchange, PointsItem

EXCHANGES_PAGE = 20
MAX_PAGE = 10_000
WALLET_LIMIT = 100
WALLET_TABS = [("unused", gettext_lazy("未使用")), ("used", gettext_lazy("已使用")), ("expired", gettext_lazy("已过期"))]


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


def _balance(request, *, with_counts=False):
    """The member's points balance, or None for a visitor: one query. `with_counts` (a page with
    the tab bar): the same query also reads the columns the apps above marketing add through
    settings.POINTS_MALL_COUNTS (the cart badge's pieces), left in request.points_mall_counts for
    them (marketing imports none of them)."""
    user = request.user
    if not user.is_authenticated:
        return None
    counts = tuple(getattr(settings, "POINTS_MALL_COUNTS", ())) if with_counts else ()
    sql, params, at, names = _balance_statement(connection.vendor, counts)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params[:at], user.pk, *params[at + 1:]])
        row = cursor.fetchone()
    if row is None:  # no member profile yet: no points (the badge counts its own way)
        return 0
    if names:
        request.points_mall_counts = {name: value or 0 for name, value in zip(names, row[1:], strict=True)}
    return row[0] or 0


_NOBODY = -736451982  # the user id the statement is compiled with, replaced by the member's


@functools.lru_cache(maxsize=8)
def _balance_statement(vendor, counts):
    """(sql, params, index of the user id in params, names of the extra columns) of the balance and
    the POINTS_MALL_COUNTS columns (each a dotted callable returning {name: expression on the member
    row}, `OuterRef("user_id")`), compiled by the ORM once per process: on the mall's every request,
    compiling it cost more than running it."""
    extra = {}
    for dotted in counts:
        extra.update(import_string(dotted)())
    qs = (
        Member.objects.filter(user_id=_NOBODY)
        .annotate(**{f"x_{name}": value for name, value in extra.items()})
        .values("points_balance", *(f"x_{name}" for name in extra))
    )
    sql, params = qs.query.sql_with_params()
    where = [i for i, value in enumerate(params) if value == _NOBODY]
    assert len(where) == 1, sql  # noqa: S101 - a change of the query above must not pass silently
    return sql, tuple(params), where[0], tuple(extra)


def _items(kind=None):
    # the product cover comes by join too, so a card needs no query of its own
    return selectors.open_items(kind=kind).select_related("sku__product__cover")


def _page(request):
    """The page asked for, between 1 and MAX_PAGE (a larger one would overflow the SQL OFFSET)."""
    return page_number(request.GET.get("page"), maximum=MAX_PAGE)


# --- points mall -----------------------------------------------------------------------------
def mall(request):
    """The points mall: the member's balance (one query, the tab bar badge's count read with it),
    then the item grid, the same for every shopper, from marketing.mall_cache (one query to render
    it when a card changed)."""
    kind = request.GET.get("kind")
    if kind not in PointsItem.Kind.values:
        kind = None
    balance = _balance(request, with_counts=True)
    context = {"kind": kind or "", "balance": balance}
    top = _mall_top(request, kind or "", balance)
    key = mall_cache.grid_key(get_language(), kind or "all")
    grid = mall_cache.get(key)
    if grid is None:
        items, good_until = selectors.mall_grid_items(kind)
        context["items"] = items
        grid = render_to_string("marketing/partials/_mall_grid.html", {"items": items})
        mall_cache.set(key, grid, good_until)
    body = mark_safe(top + grid)  # noqa: S308 - our own rendered templates
    return shell.render_page(request, "marketing/mall.html", context, body, layout={"active_tab": "me"})


_BALANCE_MARKER = "mdbalance:7d2a"


def _mall_top(request, kind, balance):
    """The mall's head, balance and tabs: for a member the same but for the balance, so rendered
    once per language and tab in this process with a marker for it (not with DEBUG: templates may
    change); a visitor's (a login link back to this very URL) is rendered for the request."""
    if balance is None:
        return render_to_string("marketing/partials/_mall_top.html", {"kind": kind, "balance": None}, request=request)
    key = (get_language(), kind)
    html = mall_cache.tops.get(key)
    if html is None:
        html = render_to_string("marketing/partials/_mall_top.html", {"kind": kind, "balance": _BALANCE_MARKER})
        if not settings.DEBUG:
            mall_cache.tops[key] = html
    return mark_safe(html.replace(_BALANCE_MARKER, str(int(balance))))  # noqa: S308 - our template and an int


def _item_or_404(pk):
    item = _items().filter(pk=pk).first()
    if item is None:
        raise Http404(_("兑换商品不存在或已下架"))
    return item


def _render_item(request, item, *, error=None, store_id=None, status=200):
    stores = selectors.pickup_stores(item) if item.kind == PointsItem.Kind.PRODUCT else []
    chosen = None
    wanted = store_id if store_id is not None else chosen_store_id(request)
    for store in stores:
        if str(store.pk) == str(wanted) and store.available > 0:
            chosen = store.pk
    in_stock = [s for s in stores if s.available > 0]
    if chosen is None and store_id is None and len(in_stock) == 1:
        chosen = in_stock[0].pk  # the only store that has it
    balance = _balance(request)
    limit_reached = bool(
        item.per_member_limit
        and request.user.is_authenticated
        and selectors.held_exchanges(request.user, item) >= item.per_member_limit
    )
    needs_phone = (
        item.kind == PointsItem.Kind.PRODUCT and request.user.is_authenticated and not has_bound_phone(request.user)
    )
    return render(
        request,
        "marketing/mall_item.html",
        {
            "item": item,
            "stores": stores,
            "any_stock": bool(in_stock),
            "chosen_store_id": chosen,
            "balance": balance,
            "short_of_points": balance is not None and balance < item.points,
            "short_by": item.points - balance if balance is not None else 0,
            "sold_out": item.is_exhausted,
            "limit_reached": limit_reached,
            "needs_phone": needs_phone,
            "bind_phone_url": _bind_phone_url(item),
            "error": error,
            "active_tab": "me",
            "hide_tabbar": True,
        },
        status=status,
    )


def _bind_phone_url(item):
    """Bind the phone, then come back to the item page (never to the POST-only exchange URL)."""
    next_url = reverse("marketing:mall_item", args=[item.pk])
    return f"{reverse('account_bind_phone')}?{urlencode({'next': next_url})}"


def mall_item(request, pk):
    return _render_item(request, _item_or_404(pk))


@login_required
@require_POST
def mall_exchange(request, pk):
    item = _item_or_404(pk)
    store_id = request.POST.get("store_id") or None
    if item.kind == PointsItem.Kind.PRODUCT and not has_bound_phone(request.user):
        # the store calls the shopper about a pickup, so goods need a verified phone (coupons do not)
        messages.info(request, _("兑换实物需要先绑定手机号，方便门店联系您"))
        return redirect(_bind_phone_url(item))
    try:
        exchange = services.exchange_points(
            request.user,
            item.pk,
            request_id=request.POST.get("request_id", ""),
            store_id=store_id,
            expected_points=request.POST.get("points"),  # the price the page showed
        )
    except DomainError as exc:
        return _render_item(request, item, error=str(exc), store_id=store_id or "", status=400)
    if exchange.kind == PointsItem.Kind.COUPON:
        messages.success(request, _("兑换成功，优惠券已放入“我的优惠券”"))
    else:
        messages.success(request, _("兑换成功，请凭自提码到门店领取"))
    return redirect("marketing:exchange_detail", pk=exchange.pk)


# --- exchange records ------------------------------------------------------------------------
@login_required
def exchange_list(request):
    page = _page(request)
    start = (page - 1) * EXCHANGES_PAGE
    rows = list(selectors.exchanges_for(request.user)[start : start + EXCHANGES_PAGE + 1])
    return render(
        request,
        "marketing/exchange_list.html",
        {
            "exchanges": rows[:EXCHANGES_PAGE],
            "page": page,
            "next_page": page + 1 if len(rows) > EXCHANGES_PAGE else None,
            "active_tab": "me",
        },
    )


def _own_exchange_or_404(request, pk):
    exchange = selectors.exchanges_for(request.user).filter(pk=pk).first()
    if exchange is None:
        raise Http404(_("兑换记录不存在"))
    return exchange


def pickup_qr_svg(code):
    """The pickup code as an inline SVG QR code (rendered on the server: no JavaScript, no image file)."""
    image = qrcode.make(code, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    label = format_html('<svg class="mk-qr" role="img" aria-label="{}" ', _("自提码二维码"))
    return mark_safe(svg.replace("<svg ", label, 1))  # noqa: S308 - generated by qrcode from 6 digits


@login_required
def exchange_detail(request, pk):
    exchange = _own_exchange_or_404(request, pk)
    awaiting = exchange.status == PointsExchange.Status.AWAITING_PICKUP
    # past its deadline but not yet closed by the worker: the store can no longer hand it over
    overdue = awaiting and exchange.pickup_deadline is not None and exchange.pickup_deadline <= timezone.now()
    return render(
        request,
        "marketing/exchange_detail.html",
        {
            "exchange": exchange,
            "awaiting": awaiting,
            "overdue": overdue,
            "qr_svg": pickup_qr_svg(exchange.pickup_code) if awaiting and not overdue else "",
            "active_tab": "me",
            "hide_tabbar": True,
        },
    )


@login_required
@require_POST
def exchange_cancel(request, pk):
    try:
        services.cancel_exchange(pk, user=request.user)
    except DomainError as exc:
        if getattr(exc, "code", "") == "not_found":
            raise Http404(str(exc)) from exc
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已取消兑换，积分已退回，可在“积分明细”查看"))
    return redirect("marketing:exchange_detail", pk=pk)


# --- coupons ---------------------------------------------------------------------------------
@login_required
def coupon_wallet(request):
    tab = request.GET.get("tab")
    if tab not in selectors.WALLET_TABS:
        tab = "unused"
    # usable ones end soonest first; used and expired ones newest first, and years of them are
    # not worth a page: the latest WALLET_LIMIT are shown
    coupons = list(selectors.wallet(request.user, tab)[: WALLET_LIMIT + 1])
    return render(
        request,
        "marketing/coupon_wallet.html",
        {
            "tab": tab,
            "tabs": WALLET_TABS,
            "coupons": coupons[:WALLET_LIMIT],
            "more": len(coupons) > WALLET_LIMIT,
            "limit": WALLET_LIMIT,
            "active_tab": "me",
        },
    )


def coupon_centre(request):
    return render(
        request,
        "marketing/coupon_centre.html",
        {"coupons": list(selectors.claimable_coupons(request.user)), "active_tab": "me"},
    )


@require_POST
def coupon_claim(request, pk):
    if not request.user.is_authenticated:
        login_url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': reverse('marketing:coupon_centre')})}"
        if _is_htmx(request):
            # a redirect would be followed by htmx and the login page swapped into the card
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        return redirect(login_url)
    error = None
    try:
        services.claim_coupon(request.user, pk)
    except DomainError as exc:
        error = str(exc)
    if _is_htmx(request):
        # the card again, with the new state (claimed, limit reached, sold out) or the reason
        coupon = selectors.claimable_coupons(request.user).filter(pk=pk).first()
        return render(
            request,
            "marketing/partials/_claim_card.html",
            {"coupon": coupon, "pk": pk, "error": error, "claimed": error is None},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("领取成功，已放入“我的优惠券”"))
    return redirect("marketing:coupon_centre")
