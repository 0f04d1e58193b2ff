"""The cart page and its htmx actions, adding from the product page, and 立即购买.

Every action answers an htmx request with the cart again (the `#cart` region: lines, total, bar)
and the badge count as an htmx event, and a plain form post with a redirect and a message, so
the page works without JavaScript. A refused action changes nothing and says why."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.errors import NotSellable
from catalog.selectors import get_sellable_sku, sellable_sku_product_id
from core.navigation import safe_next
from core.numbers import id_or_none, parse_id
from stores.context_processors import get_chosen_store

from .. import selectors, services
from ..errors import Code, OrderError
from ._common import is_htmx, toast, trigger

BUY_NOW_KEY = "orders.buy_now"


def cart_view(request):
    """The shopper's cart judged against the chosen store (the badge reuses its count)."""
    cart = services.cart_for(request)
    view = selectors.evaluate_cart(cart, store=get_chosen_store(request), user=request.user)
    selectors.remember_cart_count(request, view.count)
    return view


def _context(request, view, error=""):
    return {
        "view": view,
        "store": view.store,
        "error": error,
        "switch_store_url": f"{reverse('stores:list')}?{urlencode({'next': reverse('orders:cart')})}",
        "active_tab": "cart",
    }


@require_GET
def cart(request):
    view = cart_view(request)
    return render(request, "orders/cart.html", _context(request, view))


def _answer(request, *, error="", done=""):
    """The cart region again for htmx (with the error inline), else back to the cart page."""
    if is_htmx(request):
        view = cart_view(request)
        response = render(request, "orders/partials/_cart.html", _context(request, view, error))
        events = {"cart-changed": {"count": view.count}}
        if error:
            events["shop-toast"] = toast(error, "warn")
        return trigger(response, **events)
    if error:
        messages.error(request, error)
    elif done:
        messages.success(request, done)
    return redirect("orders:cart")


def _line_ids(request):
    ids = [id_or_none(raw) for raw in request.POST.getlist("line")[:200]]
    if not ids or None in ids:
        raise OrderError(_("购物车中没有这件商品"), code=Code.NOT_FOUND)
    return ids


@require_POST
def cart_update(request):
    """Change a line's quantity (the stepper or the typed number; 0 removes the line)."""
    cart = services.cart_for(request)
    try:
        line_id = _line_ids(request)[0]
        if cart is None:
            raise OrderError(_("购物车中没有这件商品"), code=Code.NOT_FOUND)
        # the stepper's buttons send `quantity`; the typed box (change, or Enter) sends `typed`
        services.set_line_quantity(cart, line_id, request.POST.get("quantity") or request.POST.get("typed"))
    except OrderError as exc:
        return _answer(request, error=str(exc))
    return _answer(request)


@require_POST
def cart_select(request):
    """Tick or untick lines (`line` repeated), or all of them (`all=1`)."""
    cart = services.cart_for(request)
    selected = request.POST.get("selected") == "1"
    try:
        if cart is None:
            raise OrderError(_("购物车是空的"), code=Code.EMPTY)
        line_ids = None if request.POST.get("all") == "1" else _line_ids(request)
        if not services.select_lines(cart, line_ids, selected) and line_ids is not None:
            raise OrderError(_("购物车中没有这件商品"), code=Code.NOT_FOUND)
    except OrderError as exc:
        return _answer(request, error=str(exc))
    return _answer(request)


@require_POST
def cart_remove(request):
    cart = services.cart_for(request)
    try:
        line_ids = _line_ids(request)
        removed = services.remove_lines(cart, line_ids) if cart is not None else 0
        if not removed:
            raise OrderError(_("购物车中没有这件商品"), code=Code.NOT_FOUND)
    except OrderError as exc:
        return _answer(request, error=str(exc))
    return _answer(request, done=_("已删除"))


def _product_url(sku_id):
    try:
        return reverse("catalog:product", args=[sellable_sku_product_id(sku_id)])
    except NotSellable:
        return reverse("catalog:home")


@require_POST
def cart_add(request):
    """加入购物车 from the product page's SKU sheet. htmx: no content, the badge count and a toast
    as events; a plain post: back to the product page with a message."""
    sku_id = id_or_none(request.POST.get("sku_id"))
    try:
        if sku_id is None:
            raise OrderError(_("请选择商品规格"), code=Code.NOT_SELLABLE)
        quantity = services.parse_quantity(request.POST.get("quantity", "1"))
        if request.user.is_authenticated:
            count = services.add_for_member(request.user, sku_id, quantity)
        else:
            cart = services.cart_for(request)
            if cart is None:
                sellable_sku_product_id(sku_id)  # no session cart is made for a SKU that cannot be sold
                cart = services.cart_for(request, create=True)
            services.add_to_cart(cart, sku_id, quantity)
            count = selectors.count_cart(request, cart)
    except (OrderError, NotSellable) as exc:
        message = str(exc) if isinstance(exc, OrderError) else _("该商品已下架或暂不可售")
        if is_htmx(request):
            return trigger(HttpResponse(status=204), **{"shop-toast": toast(message, "warn")})
        messages.error(request, message)
        return redirect(safe_next(request, reverse("catalog:home") if sku_id is None else _product_url(sku_id)))
    selectors.remember_cart_count(request, count)
    if is_htmx(request):
        return trigger(HttpResponse(status=204), **{"cart-changed": {"count": count},
                                                    "shop-toast": toast(_("已加入购物车"))})
    messages.success(request, _("已加入购物车"))
    return redirect(safe_next(request, _product_url(sku_id)))


@require_POST
def buy_now(request):
    """立即购买: the SKU and quantity wait in the session (the cart is left alone) and checkout
    opens with them alone."""
    try:
        sku_id = parse_id(request.POST.get("sku_id"))
    except ValueError:
        messages.error(request, _("请选择商品规格"))
        return redirect(safe_next(request, reverse("catalog:home")))
    try:
        quantity = services.parse_quantity(request.POST.get("quantity", "1"))
        get_sellable_sku(sku_id)
    except (OrderError, NotSellable) as exc:
        messages.error(request, str(exc) if isinstance(exc, OrderError) else _("该商品已下架或暂不可售"))
        return redirect(safe_next(request, _product_url(sku_id)))
    request.session[BUY_NOW_KEY] = {"sku": sku_id, "quantity": quantity}
    target = f"{reverse('orders:checkout')}?source=buy_now"
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)
