"""Checkout (确认订单): GET shows the quote (orders.services.build_quote) for the choices in the
query string (htmx re-renders the form on every change); POST places the order
(orders.services.place_order) with the page's token and the amount it showed.

What the page sends is choices only. The store is the session's chosen store: a form naming
another (tampered, or switched in another tab) is refused. The lines are the cart's ticked lines
that can be bought there, or the 立即购买 item kept in the session. One page token is one order:
a double submit, a retry or the back button and submit again return the order already placed."""

import functools
import uuid
from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from catalog.templatetags.catalog_tags import product_img, yuan
from core import shell
from members.services import points_value
from stores.context_processors import get_chosen_store

from .. import selectors, services
from ..errors import Code, OrderError
from ..forms import CheckoutForm
from ..services.checkout import AUTO
from . import checkout_form
from ._common import is_htmx
from .cart import BUY_NOW_KEY, cart_view


def _lines(request, source):
    """[(sku id, quantity)] to check out, and a note about ticked lines left out."""
    if source == "buy_now":
        item = request.session.get(BUY_NOW_KEY)
        if isinstance(item, dict) and item.get("sku") and item.get("quantity"):
            return [(item["sku"], item["quantity"])], ""
        return [], ""
    view = cart_view(request)
    skipped = [row for row in view.rows if row.line.selected and not row.buyable]
    note = ""
    if skipped:
        note = _("%(n)s 件已勾选的商品在当前门店无法购买，未计入本单") % {"n": len(skipped)}
    return view.checkout_lines, note


def _shown_quote(request, form, store, source):
    """The quote the page shows, and a note about ticked lines left out. From the cart, the ticked
    lines go to the quote as they are (one query, no separate judging of the cart): when some
    cannot be bought in this store, the quote is made again without them and the note says so."""
    if source == "buy_now":
        lines, _note = _lines(request, source)
        return services.build_quote(request.user, _checkout_request(form, lines, store, source)), ""
    lines = selectors.ticked_cart_lines(request.user)
    quote = services.build_quote(request.user, _checkout_request(form, lines, store, source))
    skipped = [line for line in quote.lines if not line.ok]
    if not skipped:
        return quote, ""
    buyable = [(line.sku.pk, line.quantity) for line in quote.lines if line.ok]
    quote = services.build_quote(request.user, _checkout_request(form, buyable, store, source))
    return quote, _("%(n)s 件已勾选的商品在当前门店无法购买，未计入本单") % {"n": len(skipped)}


def _checkout_request(form, lines, store, source):
    data = form.cleaned_data if form.is_bound else {}
    return services.CheckoutRequest(
        lines=lines, store=store, fulfilment=data.get("fulfilment") or "", address_id=data.get("address"),
        slot=data.get("slot") or "", coupon=data.get("coupon", AUTO), use_points=bool(data.get("use_points")),
        remark=data.get("remark") or "", source=source,
    )


def _slot_value(start):
    start = timezone.localtime(start)
    return f"{start.date().isoformat()}T{start.hour:02d}:{start.minute:02d}"


@functools.lru_cache(maxsize=256)
def _slot_groups(slots, today, language):
    """The pickup-time <option>s grouped by day (<optgroup>), none selected, built in one pass and
    kept per process for these slots, day and language: a store open round the clock offers ~140
    slots over three days, the same for every shopper until the first one passes. The day's label
    is escaped; the rest is digits formatted here."""
    names = {0: _("今天"), 1: _("明天"), 2: _("后天")}
    groups = OrderedDict()
    for start, end in slots:
        start, end = timezone.localtime(start), timezone.localtime(end)
        day = start.date()
        if day not in groups:
            ahead = (day - today).days
            groups[day] = (escape(f"{names[ahead]} {day:%m-%d}" if ahead in names else f"{day:%m-%d}"), [])
        label, options = groups[day]
        hhmm = f"{start.hour:02d}:{start.minute:02d}"
        options.append(f'<option value="{day.isoformat()}T{hhmm}">{label} {hhmm}-{end.hour:02d}:{end.minute:02d}</option>')
    return "".join(f'<optgroup label="{label}">{"".join(options)}</optgroup>' for label, options in groups.values())


def _slot_options(quote):
    """The pickup-time <option>s with the quote's slot selected."""
    if not quote.slots:
        return ""
    html = _slot_groups(tuple(quote.slots), timezone.localdate(), translation.get_language())
    if quote.slot:
        value = _slot_value(quote.slot[0])
        html = html.replace(f'<option value="{value}">', f'<option value="{value}" selected>', 1)
    return mark_safe(html)  # noqa: S308 - labels escaped in _slot_groups, the rest is digits


FORM_TEMPLATE = "orders/partials/_checkout_form.html"
PAGE_LAYOUT = {"hide_tabbar": True}


def _line_rows(quote):
    """What the form shows of each line, worked out here rather than by filters and tags in the
    template's loop: the image tag, the name, the spec, the problem, the unit price and quantity."""
    rows = []
    for line in quote.lines:
        sku = line.sku
        if sku is None:
            rows.append({"gone": True, "problem": line.problem})
            continue
        product = sku.product
        rows.append({
            "gone": False, "off": not line.ok, "img": product_img(sku.image or product.cover, "card", "od-item__img", product.name),
            "name": product.name, "spec": sku.spec_text, "problem": line.problem, "price": yuan(sku.price),
            "quantity": line.quantity,
        })
    return rows


def _fulfilment_rows(quote):
    """The fulfilment choices as the form shows them: checked, disabled, and the fee or why not."""
    rows = []
    for option in quote.fulfilment_options:
        if not option.available:
            fee = _("不可用")
        elif option.fee:
            fee = _("运费 ¥%(fee)s") % {"fee": yuan(option.fee)}
        else:
            fee = _("免运费")
        rows.append({"code": option.code, "label": option.label, "on": option.code == quote.fulfilment,
                     "available": option.available, "fee": fee, "reason": option.reason})
    return rows


def _coupon_rows(quote):
    """The member's coupons as the form lists them (the discount and the day each one expires)."""
    return [{"pk": str(o.copy.pk), "name": o.copy.coupon.name, "usable": o.usable, "discount": yuan(o.discount),
             "reason": o.reason, "until": timezone.localtime(o.copy.valid_until).date().isoformat()}
            for o in quote.coupons]


def _amounts(totals):
    """The breakdown's figures, "0.00" where the quote has none (no lines, no store)."""
    def figure(name):
        return yuan(getattr(totals, name, None) or 0)

    return {name: figure(name) for name in ("goods_amount", "member_discount", "coupon_discount", "points_discount",
                                            "delivery_fee")}


@functools.lru_cache(maxsize=64)
def _urls(script_prefix, source, fulfilment):
    """The form's own address and its two ways out (add an address, switch store) coming back to
    it with these choices: the same for every shopper, worked out once per process (reverse and
    urlencode cost more than the rest of the page's links). `script_prefix` is part of the key."""
    checkout_url = reverse("orders:checkout")
    here = f"{checkout_url}?{urlencode({'source': source, 'fulfilment': fulfilment})}"
    return (checkout_url, f"{reverse('members:address_create')}?{urlencode({'next': here})}",
            f"{reverse('stores:list')}?{urlencode({'next': here})}")


def _page(request, form, quote, *, token, source, note="", error="", status=200):
    """The form alone for htmx; else the page: its layout kept per process (core.shell) around the
    form. The form's markup is built by orders.views.checkout_form."""
    checkout_url, add_address_url, switch_store_url = _urls(get_script_prefix(), source, quote.fulfilment)
    points = quote.points_quote
    usable = [o for o in quote.coupons if o.usable]
    context = {
        "quote": quote,
        "store": quote.request.store,
        "source": source,
        "token": token,
        "note": note,
        "error": error,
        "form_errors": [str(e) for errors in form.errors.values() for e in errors] if form.is_bound else [],
        "slot_options": _slot_options(quote),
        "lines": _line_rows(quote),
        "fulfilments": _fulfilment_rows(quote),
        "coupons": _coupon_rows(quote),
        "amounts": _amounts(quote.totals),
        "pay_amount": yuan(quote.pay_amount),
        "coupon_choice": str(quote.coupon.copy.pk) if quote.coupon else "none",
        "usable_coupons": usable,
        "points_offer": points.max_points if points else 0,
        "points_offer_value": points_value(points.max_points) if points else 0,
        "checkout_url": checkout_url,
        "add_address_url": add_address_url,
        "switch_store_url": switch_store_url,
        "csrf_token": shell.csrf_token(request),  # the one the kept layout gets too
        "hide_tabbar": True,
    }
    context["form_html"] = checkout_form.render(context)
    if is_htmx(request):
        return render(request, FORM_TEMPLATE, context, status=status)
    response = shell.render_page(request, "orders/checkout.html", context, context["form_html"], layout=PAGE_LAYOUT)
    response.status_code = status
    return response


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request):
    if request.method == "POST":
        return _place(request)
    form = CheckoutForm(request.GET)
    form.is_valid()  # bad choices are reported; the quote takes the defaults for them
    source = form.cleaned_data.get("source", "cart")
    store = get_chosen_store(request)
    quote, note = _shown_quote(request, form, store, source)
    if not quote.request.lines and not is_htmx(request):
        messages.info(request, _("请先在购物车中勾选要结算的商品") if source == "cart" else _("请重新选择商品"))
        return redirect("orders:cart")
    token = form.cleaned_data.get("token") or uuid.uuid4().hex
    return _page(request, form, quote, token=token, source=source, note=note)


def _place(request):
    form = CheckoutForm(request.POST)
    valid = form.is_valid()
    source = form.cleaned_data.get("source", "cart")
    store = get_chosen_store(request)
    token = form.cleaned_data.get("token") or ""
    error = ""
    if not valid:
        error = form.first_error()
    elif not token or form.cleaned_data.get("expected") is None:
        error = _("页面已过期，请刷新后重新提交")
    elif form.cleaned_data.get("store") != (store.pk if store else None):
        error = _("门店已变更，请确认订单信息后重新提交")
    lines, note = _lines(request, source)
    checkout_request = _checkout_request(form, lines, store, source)
    if not error:
        try:
            order = services.place_order(request.user, checkout_request, token=token,
                                         expected_pay_amount=form.cleaned_data["expected"])
        except OrderError as exc:
            error = str(exc)
            if exc.code == Code.TOKEN_REQUIRED:
                token = ""
        else:
            if source == "buy_now":
                request.session.pop(BUY_NOW_KEY, None)
            return redirect("orders:pay", public_id=order.public_id)
    quote = services.build_quote(request.user, checkout_request)
    return _page(request, form, quote, token=token or uuid.uuid4().hex, source=source, note=note, error=error,
                 status=400)
