"""One order in the back office: everything about it (buyer, lines and amounts, payments and
refunds with their events, the timeline with staff-only events, parcels and pickups), the actions
its state allows, and the printable 80 mm ticket.

Each action is a small form posting to its own URL, which loads the order through the user's
scope (another store's id: 404), needs the action's permission (else 403), and calls one service
with ``by=request.user``; the service checks scope, permission and state once more under the
order's lock. An OrderError becomes a message and nothing changed.
"""

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.errors import DomainError
from core.money import fen_to_yuan

from .. import services
from ..backoffice_forms import (
    DispatchForm,
    ParcelForm,
    PriceForm,
    ReasonForm,
    RemarkForm,
    RouteForm,
    ShipForm,
)
from ..models import AfterSale, Order, PaymentAttempt, Refund, Shipment
from ..services.fulfilment import CARRIERS
from ..tracking import add_manual_event
from .common import form_error, report_error, scoped_order, staff_status_label

S = Order.Status
F = Order.Fulfilment
IN_FLIGHT = (Refund.State.PENDING, Refund.State.PROCESSING, Refund.State.ABNORMAL)


def detail_queryset():
    return Order.objects.select_related("store", "user").prefetch_related(
        "lines",
        "events",
        Prefetch("payments", queryset=PaymentAttempt.objects.order_by("id").prefetch_related("events")),
        Prefetch("refunds", queryset=Refund.objects.order_by("id").select_related("requested_by")),
        Prefetch("shipments", queryset=Shipment.objects.order_by("id").prefetch_related("events")),
        "pickups__verified_by",
        Prefetch("after_sales", queryset=AfterSale.objects.order_by("-id")),
    )


def available_actions(order, user, *, open_after_sale, refund_in_flight, anything_fulfilled):
    """The actions this user may take on this order now (the page shows these forms only; the
    services refuse anything else anyway)."""
    can = user.has_perm
    actions = set()
    status = order.status
    if status == S.PENDING_PAYMENT:
        if can("orders.change_order"):
            actions.add("cancel")
        if can("orders.change_order_price"):
            actions.add("price")
    if can("orders.fulfil_order"):
        if status == S.PAID and not open_after_sale:
            actions.add({F.EXPRESS: "ship", F.DELIVERY: "dispatch", F.PICKUP: "ready"}[order.fulfilment])
        if status == S.SHIPPED:
            actions.add("parcel")
        if status in (S.SHIPPED, S.COMPLETED) and order.fulfilment == F.EXPRESS:
            actions.add("route")
        if status == S.DELIVERING:
            actions.add("delivered")
        if status in (S.PAID, S.READY_FOR_PICKUP) and order.fulfilment == F.PICKUP and not open_after_sale:
            actions.add("verify")
    if (status in (S.PAID, S.READY_FOR_PICKUP) and can("orders.refund_order") and not open_after_sale
            and not refund_in_flight and not anything_fulfilled):
        actions.add("cancel_refund")
    if can("orders.change_order"):
        actions.add("remark")
    return actions


def _payments(order):
    """Attempts with their events; refunds with the events of their out_refund_no (from the same
    prefetched rows: no query per refund)."""
    attempts = list(order.payments.all())
    by_reference = {}
    for attempt in attempts:
        attempt.amount_yuan = fen_to_yuan(attempt.amount_fen)
        for event in attempt.events.all():
            event.amount_yuan = fen_to_yuan(event.amount_fen) if event.amount_fen is not None else None
            if event.gateway_reference:
                by_reference.setdefault(event.gateway_reference, []).append(event)
    refunds = list(order.refunds.all())
    for refund in refunds:
        refund.event_rows = by_reference.get(refund.out_refund_no, [])
    return attempts, refunds


def order_context(order, user):
    lines = list(order.lines.all())
    names = {str(line.pk): line.product_name for line in lines}
    pickups = list(order.pickups.all())
    for record in pickups:
        record.items = [(names.get(str(pk), "?"), n) for pk, n in (record.quantities or {}).items()]
    attempts, refunds = _payments(order)
    after_sales = list(order.after_sales.all())
    open_after_sale = next((a for a in after_sales if a.is_open), None)
    refund_in_flight = any(r.state in IN_FLIGHT and r.counts_for_order for r in refunds)
    actions = available_actions(
        order, user, open_after_sale=open_after_sale is not None, refund_in_flight=refund_in_flight,
        anything_fulfilled=any(line.fulfilled_quantity for line in lines),
    )
    return {
        "order": order,
        "status_label": staff_status_label(order),
        "channel_label": dict(PaymentAttempt.Channel.choices).get(order.payment_channel, order.payment_channel),
        "lines": lines,
        "item_count": sum(line.quantity for line in lines),
        "events": list(order.events.all()),
        "attempts": attempts,
        "refunds": refunds,
        "shipments": list(order.shipments.all()),
        "pickups": pickups,
        "after_sales": after_sales,
        "open_after_sale": open_after_sale,
        "actions": actions,
        "carriers": list(CARRIERS.items()),
        "price_form": PriceForm(initial={"goods_adjustment": order.adjustment, "delivery_fee": order.delivery_fee}),
        "remark_form": RemarkForm(initial={"remark": order.merchant_remark}),
    }


@staff_required(perm="orders.view_order")
def detail(request, pk):
    order = scoped_order(request, pk, detail_queryset())
    return render(request, "orders/backoffice/detail.html", order_context(order, request.user))


def qr_svg(text, label):
    """`text` as an inline SVG QR code (drawn on the server: no script, no image file)."""
    svg = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=1).to_string(encoding="unicode")
    opening = format_html('<svg class="obo-qr" role="img" aria-label="{}" ', label)
    return mark_safe(svg.replace("<svg ", opening, 1))  # noqa: S308 - generated by qrcode from an order number


@staff_required(perm="orders.view_order")
def ticket(request, pk):
    """The 80 mm ticket (小票): store, number and its QR code, time, lines, amounts, where it goes."""
    order = scoped_order(request, pk, Order.objects.select_related("store", "user").prefetch_related("lines"))
    lines = list(order.lines.all())
    return render(request, "orders/backoffice/ticket.html", {
        "order": order, "lines": lines, "status_label": staff_status_label(order),
        "item_count": sum(line.quantity for line in lines),
        "qr": qr_svg(order.number, _("订单号二维码")),
    })


# --- actions ------------------------------------------------------------------------------------
def _back(order):
    return redirect("orders_bo:detail", pk=order.pk)


def _run(request, order, call, success):
    try:
        call()
    except DomainError as exc:
        report_error(request, exc)
    else:
        messages.success(request, success)
    return _back(order)


def _action(perm):
    def decorate(view):
        return staff_required(perm=("orders.view_order", perm))(require_POST(view))

    return decorate


@_action("orders.fulfil_order")
def ship(request, pk):
    order = scoped_order(request, pk)
    form = ShipForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    return _run(request, order, lambda: services.ship_order(order, by=request.user, parcels=form.parcels),
                _("已发货（%(n)s 个包裹），已通知买家") % {"n": len(form.parcels)})


@_action("orders.fulfil_order")
def add_parcel(request, pk):
    order = scoped_order(request, pk)
    form = ParcelForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    data = form.cleaned_data
    return _run(request, order, lambda: services.add_parcel(order, by=request.user, carrier_code=data["carrier"],
                                                            tracking_no=data["tracking_no"]),
                _("已补充包裹"))


@_action("orders.fulfil_order")
def add_route(request, pk):
    """A route line typed by staff for one of this order's parcels (tracking.add_manual_event)."""
    order = scoped_order(request, pk)
    form = RouteForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    data = form.cleaned_data
    if not Shipment.objects.filter(pk=data["shipment"], order=order).exists():
        messages.error(request, _("包裹不存在"))
        return _back(order)
    return _run(request, order, lambda: add_manual_event(
        data["shipment"], by=request.user, occurred_at=data["occurred_at"], context=data["context"],
        location=data["location"]), _("已添加物流轨迹"))


@_action("orders.fulfil_order")
def dispatch(request, pk):
    order = scoped_order(request, pk)
    form = DispatchForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    data = form.cleaned_data
    return _run(request, order, lambda: services.dispatch_delivery(
        order, by=request.user, courier_name=data["courier_name"], courier_phone=data["courier_phone"]),
        _("配送员已出发，已通知买家"))


@_action("orders.fulfil_order")
def delivered(request, pk):
    order = scoped_order(request, pk)
    return _run(request, order, lambda: services.mark_delivered(order, by=request.user), _("已确认送达，订单完成"))


@_action("orders.fulfil_order")
def ready(request, pk):
    order = scoped_order(request, pk)
    return _run(request, order, lambda: services.mark_ready_for_pickup(order, by=request.user),
                _("已备货，已通知买家到店自提"))


@_action("orders.change_order")
def cancel(request, pk):
    order = scoped_order(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    return _run(request, order, lambda: services.cancel_order(order, by=request.user,
                                                              reason=form.cleaned_data["reason"]),
                _("订单已取消，库存、优惠券和积分已退回"))


@_action("orders.refund_order")
def cancel_refund(request, pk):
    order = scoped_order(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    return _run(request, order, lambda: services.staff_cancel_paid_order(order, by=request.user,
                                                                         reason=form.cleaned_data["reason"]),
                _("已取消订单并发起全额退款，退款成功后订单关闭"))


@_action("orders.change_order_price")
def change_price(request, pk):
    order = scoped_order(request, pk)
    form = PriceForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    data = form.cleaned_data
    return _run(request, order, lambda: services.change_price(
        order, by=request.user, goods_adjustment=data["goods_adjustment"], delivery_fee=data["delivery_fee"],
        reason=data["reason"]), _("已改价，买家需按新价格付款"))


@_action("orders.change_order")
def remark(request, pk):
    order = scoped_order(request, pk)
    form = RemarkForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(order)
    return _run(request, order, lambda: services.set_merchant_remark(order, by=request.user,
                                                                     remark=form.cleaned_data["remark"]),
                _("商家备注已保存"))
