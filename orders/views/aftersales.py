"""After-sales (售后): ask for a refund on an order (kind, reason, quantities per line, photos, the
refund it would give shown as the quantities change), follow a request's progress, withdraw it,
and send the return tracking number. Only the buyer's own requests are found."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.numbers import parse_int

from .. import selectors, services
from ..errors import OrderError
from ..forms import AfterSaleForm, ReturnForm
from ..models import AfterSale
from ..services.aftersales import MAX_PHOTOS
from ..services.fulfilment import CARRIERS
from ._common import is_htmx


def _quantities(request, lines, *, default_all):
    """The steppers' values read leniently for the preview: what does not parse counts as 0."""
    chosen = {}
    for line in lines:
        raw = request.GET.get(f"qty_{line.pk}")
        if raw is None:
            n = line.refundable_quantity if default_all else 0
        else:
            try:
                n = parse_int(raw, minimum=0, maximum=line.refundable_quantity)
            except ValueError:
                n = 0
        chosen[line.pk] = n
    return chosen


@login_required
@require_http_methods(["GET", "POST"])
def after_sale_request(request, public_id):
    order = selectors.order_with_lines(request.user, public_id)
    if order is None:
        raise Http404(_("订单不存在"))
    lines = list(order.lines.all())
    open_one = next((a for a in order.after_sales.all() if a.is_open), None)
    if open_one is not None:
        messages.info(request, _("该订单已有进行中的售后申请"))
        return redirect("orders:after_sale", number=open_one.number)
    allowed, why = services.can_request(order)
    if not allowed:
        messages.error(request, why)
        return redirect("orders:detail", public_id=order.public_id)
    error = ""
    if request.method == "POST":
        form = AfterSaleForm(request.POST, lines=lines, files=request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                after_sale = services.request_after_sale(
                    order, user=request.user, kind=data["kind"], reason=data["reason"],
                    description=data["description"], quantities=data["quantities"], request_id=data["request_id"],
                    photos=form.photos,
                )
            except OrderError as exc:
                error = str(exc)
            else:
                messages.success(request, _("售后申请已提交，请等待门店处理"))
                return redirect("orders:after_sale", number=after_sale.number)
        else:
            error = form.first_error()
        quantities = _posted_quantities(request, lines)
        request_id = form.cleaned_data.get("request_id") or uuid.uuid4().hex
        kind, reason = request.POST.get("kind", ""), request.POST.get("reason", "")
        description = form.cleaned_data.get("description", "")
    else:
        quantities = _quantities(request, lines, default_all=not request.GET)
        request_id = uuid.uuid4().hex
        kind = request.GET.get("kind") or AfterSale.Kind.REFUND_ONLY
        reason, description = request.GET.get("reason", ""), ""
    amount, fee_back, preview_note = selectors.refund_preview(
        order, lines, {pk: n for pk, n in quantities.items() if n})
    context = {
        "order": order,
        "rows": [(line, quantities.get(line.pk, 0)) for line in lines],
        "amount": amount,
        "fee_back": fee_back,
        "preview_note": preview_note,
        "kinds": AfterSale.Kind.choices,
        "reasons": AfterSale.Reason.choices,
        "kind": kind if kind in AfterSale.Kind.values else AfterSale.Kind.REFUND_ONLY,
        "reason": reason if reason in AfterSale.Reason.values else "",
        "description": description,
        "request_id": request_id,
        "max_photos": MAX_PHOTOS,
        "anything_fulfilled": any(line.fulfilled_quantity for line in lines),
        "error": error,
        "hide_tabbar": True,
    }
    if is_htmx(request) and request.method == "GET":
        return render(request, "orders/partials/_refund_amount.html", context)
    return render(request, "orders/after_sale_form.html", context, status=400 if error else 200)


def _posted_quantities(request, lines):
    chosen = {}
    for line in lines:
        try:
            chosen[line.pk] = parse_int(request.POST.get(f"qty_{line.pk}", "0"), minimum=0,
                                        maximum=line.refundable_quantity)
        except ValueError:
            chosen[line.pk] = 0
    return chosen


def _own_after_sale(request, number):
    after_sale = selectors.after_sale_for(request.user, number)
    if after_sale is None:
        raise Http404(_("售后单不存在"))
    return after_sale


@login_required
@require_http_methods(["GET"])
def after_sale_detail(request, number):
    after_sale = _own_after_sale(request, number)
    return render(
        request,
        "orders/after_sale_detail.html",
        {
            "after_sale": after_sale,
            "order": after_sale.order,
            "events": selectors.after_sale_events(after_sale),
            "steps": _steps(after_sale),
            "can_withdraw": after_sale.status in (AfterSale.Status.REQUESTED, AfterSale.Status.AWAITING_RETURN),
            "awaiting_return": after_sale.status == AfterSale.Status.AWAITING_RETURN,
            "carriers": list(CARRIERS.items()),
            "hide_tabbar": True,
        },
    )


def _steps(after_sale):
    """The progress bar: [(label, done, current)]."""
    status = after_sale.status
    S = AfterSale.Status
    names = [_("提交申请"), _("门店审核")]
    if after_sale.kind == AfterSale.Kind.RETURN_REFUND:
        names.append(_("寄回商品"))
    names.append(_("退款完成"))
    if status in (S.REJECTED, S.WITHDRAWN):
        return [(names[0], True, False), (after_sale.get_status_display(), True, True)]
    reached = {
        S.REQUESTED: 1,
        S.AWAITING_RETURN: 2,
        S.RETURNED: 2,
        S.REFUNDING: len(names) - 1,
        S.REFUNDED: len(names),
    }[status]
    return [(name, i < reached, i == reached - 1 if status != S.REFUNDED else i == len(names) - 1)
            for i, name in enumerate(names)]


@login_required
@require_POST
def after_sale_withdraw(request, number):
    after_sale = _own_after_sale(request, number)
    if after_sale.status == AfterSale.Status.WITHDRAWN:
        messages.info(request, _("售后申请已撤销"))
    else:
        try:
            services.withdraw_after_sale(after_sale, user=request.user)
        except OrderError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已撤销售后申请"))
    return redirect("orders:after_sale", number=after_sale.number)


@login_required
@require_POST
def after_sale_return(request, number):
    after_sale = _own_after_sale(request, number)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.first_error())
    else:
        try:
            services.submit_return(after_sale, user=request.user, carrier_code=form.cleaned_data["carrier"],
                                   tracking_no=form.cleaned_data["tracking_no"])
        except OrderError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("退货物流已提交，门店收到商品后为您退款"))
    return redirect("orders:after_sale", number=after_sale.number)
