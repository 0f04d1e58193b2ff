"""The one pickup verification screen (自提核销台), shared by pickup orders and the points mall's
exchanges: /backoffice/orders/pickups/.

The clerk types or scans a 6-digit code; the lookup is a POST (a code never lands in an access log
or the browser history) and searches the clerk's chosen store only: its open pickup ORDERS
(orders.services.find_pickup_orders) and its open points-mall exchanges. The screen shows what it
found, an order's lines with the quantities still to hand over and a stepper for a partial
hand-over, or the mall item, and confirms through the right service (orders.services.verify_pickup
or marketing.services.verify_pickup).

A confirmation carries what the screen showed (the quantities left per line, the exchange id):
when the order or exchange changed meanwhile (a double click, a colleague at the next till) the
clerk is told it was already handed over and nothing more is handed out. For orders that check is
made under the order's lock, in the same transaction as the hand-over.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.numbers import id_or_none
from marketing import services as mall_services
from marketing.models import PointsExchange, PointsItem
from stores.lookups import TooManyLookups, finish_lookup, start_lookup
from stores.scope import choose_store, get_scoped_object_or_404

from .. import services
from ..backoffice_forms import is_pickup_code, normalise_pickup_code
from ..errors import Code, OrderError
from ..models import Order, OrderLine, PickupRecord
from .common import staff_with_any

ORDER_VIEW, ORDER_VERIFY = "orders.view_order", "orders.fulfil_order"
MALL_VIEW, MALL_VERIFY = "marketing.view_pointsexchange", "marketing.change_pointsexchange"
LISTED = 50
RECENT = 10
Done = PointsExchange.Status


class AlreadyHandedOver(OrderError):
    """What the screen showed is no longer so: the goods went out meanwhile."""


def _url(store):
    return f"{reverse('orders_bo:pickups')}?{urlencode({'store': store.pk})}"


# --- reads --------------------------------------------------------------------------------------
def lookup_orders(store, code):
    """Open pickup orders of this store with this code, their lines with what is left to hand over;
    when none is open, the last one completed with it (so the clerk reads "already picked up")."""
    found = services.find_pickup_orders(store, code)
    for order in found:
        order.line_rows = list(order.lines.all())
        order.left = sum(line.held_quantity for line in order.line_rows)
    if found:
        return found, None
    done = (
        Order.objects.filter(store=store, pickup_code=code, fulfilment=Order.Fulfilment.PICKUP,
                             status=Order.Status.COMPLETED)
        .order_by("-completed_at", "-pk").only("pk", "number", "completed_at").first()
    )
    return [], done


def lookup_exchange(store, code):
    """The product exchange at this store with this code: the open one, else the latest handed
    over, else the latest cancelled or expired one (so the clerk reads why it cannot be verified)."""
    exchange = (
        PointsExchange.objects.filter(store=store, pickup_code=code, kind=PointsItem.Kind.PRODUCT)
        .select_related("user", "sku__product", "picked_up_by")
        .annotate(rank=Case(When(status=Done.AWAITING_PICKUP, then=Value(0)), When(status=Done.DONE, then=Value(1)),
                            default=Value(2), output_field=IntegerField()))
        .order_by("rank", "-pk").first()
    )
    if exchange is not None:
        exchange.is_overdue = bool(exchange.status == Done.AWAITING_PICKUP and exchange.pickup_deadline
                                   and exchange.pickup_deadline <= timezone.now())
    return exchange


def _lists(request, store, context):
    """Below the form: what waits at this store, and the last hand-overs (codes are never listed:
    the shopper shows theirs at the counter)."""
    user = request.user
    now = timezone.now()
    if user.has_perm(ORDER_VIEW):
        lines = Prefetch("lines", queryset=OrderLine.objects.only("pk", "order_id", "product_name", "quantity"))
        context["waiting_orders"] = list(
            Order.objects.filter(store=store, fulfilment=Order.Fulfilment.PICKUP, status=Order.Status.READY_FOR_PICKUP)
            .select_related("user").prefetch_related(lines).order_by("pickup_slot_start", "pk")[:LISTED]
        )
        records = list(
            PickupRecord.objects.filter(store=store).select_related("order__user", "verified_by")
            .prefetch_related(Prefetch("order__lines", queryset=OrderLine.objects.only("pk", "order_id",
                                                                                     "product_name")))
            .order_by("-pk")[:RECENT]
        )
        for record in records:
            names = {str(line.pk): line.product_name for line in record.order.lines.all()}
            record.items = [(names.get(str(pk), "?"), n) for pk, n in (record.quantities or {}).items()]
        context["recent_records"] = records
    if user.has_perm(MALL_VIEW):
        waiting = list(
            PointsExchange.objects.filter(store=store, status=Done.AWAITING_PICKUP)
            .select_related("user", "sku").order_by("pickup_deadline", "pk")[:LISTED]
        )
        for row in waiting:
            row.is_overdue = bool(row.pickup_deadline and row.pickup_deadline <= now)
        context["waiting_exchanges"] = waiting
        context["recent_exchanges"] = list(
            PointsExchange.objects.filter(store=store, status=Done.DONE, kind=PointsItem.Kind.PRODUCT)
            .select_related("user", "sku", "picked_up_by").order_by("-picked_up_at", "-pk")[:RECENT]
        )


def _screen(request, store, stores, *, code="", status=200, logged=False):
    """The screen, with the lookup of `code` when one was posted. A lookup is logged and counted
    against guessing (stores.lookups) unless `logged` says the confirmation that failed already was."""
    user = request.user
    context = {
        "store": store, "stores": stores, "many_stores": len(stores) > 1, "code": code,
        "sees_orders": user.has_perm(ORDER_VIEW), "sees_mall": user.has_perm(MALL_VIEW),
        "verifies_orders": user.has_perm(ORDER_VERIFY), "verifies_mall": user.has_perm(MALL_VERIFY),
        # the 扫码 button uses WeChat's scanner inside WeChat where the JS-SDK is configured
        "wechat_jssdk": bool(settings.WECHAT_APP_ID),
    }
    if store is None:
        return render(request, "orders/backoffice/pickups.html", context)
    if code:
        if not is_pickup_code(code):
            context["lookup_error"] = _("请输入 6 位数字自提码")
        else:
            try:
                attempt = None if logged else start_lookup(user=user, store=store, code=code, purpose="pickup")
            except TooManyLookups as exc:
                context["lookup_error"], status = str(exc), 429
            else:
                found, done = lookup_orders(store, code) if context["sees_orders"] else ([], None)
                exchange = lookup_exchange(store, code) if context["sees_mall"] else None
                context.update(found_orders=found, done_order=done, exchange=exchange, looked_up=True)
                if attempt is not None:
                    finish_lookup(attempt, found=bool(found or done or exchange))
                if not found and done is None and exchange is None:
                    context["lookup_error"] = _("自提码无效、已核销或不属于本门店")
    _lists(request, store, context)
    return render(request, "orders/backoffice/pickups.html", context, status=status)


@staff_with_any(ORDER_VIEW, MALL_VIEW)
def pickups(request):
    """GET: the screen for the chosen store. POST: look a code up (the same screen with results)."""
    raw_store = request.POST.get("store") if request.method == "POST" else request.GET.get("store")
    store, stores = choose_store(request.user, raw_store)
    code = normalise_pickup_code(request.POST.get("code")) if request.method == "POST" else ""
    return _screen(request, store, stores, code=code)


# --- confirm ------------------------------------------------------------------------------------
def _shown_quantities(post, lines):
    """({line id: quantity to hand over}, {line id: quantity the screen said was left}) from the
    form's qty_<id> and left_<id> fields, for this order's lines only."""
    wanted, shown = {}, {}
    for line in lines:
        raw = post.get(f"qty_{line.pk}")
        if raw is not None:
            wanted[line.pk] = raw
        left = post.get(f"left_{line.pk}")
        if left is not None:
            shown[line.pk] = left
    return wanted, shown


@transaction.atomic
def verify_order_as_shown(*, store, code, order, post, by):
    """Hand over what the clerk confirmed, if the order still holds exactly what the screen showed
    (checked under the order's lock); else AlreadyHandedOver and nothing changes."""
    locked = services.lock_order(order)
    lines = list(OrderLine.objects.filter(order=locked).order_by("pk"))
    wanted, shown = _shown_quantities(post, lines)
    now_left = {line.pk: str(line.held_quantity) for line in lines}
    if any(now_left[pk] != str(value).strip() for pk, value in shown.items()) or (
        locked.status not in (Order.Status.PAID, Order.Status.READY_FOR_PICKUP)
    ):
        raise AlreadyHandedOver(_("订单 %(no)s 刚刚已核销过，请勿重复交付；如需继续提货请重新查询"),
                                code=Code.PICKUP_INVALID, params={"no": locked.number})
    return services.verify_pickup(store=store, code=code, by=by, quantities=wanted or None, order_id=locked.pk)


def _counted(request, store, code):
    """A confirmation by code is a lookup too (a forged form could try codes): logged and counted;
    None, with the reason shown, when this clerk or store has had too many that found nothing."""
    if store is None:
        raise Http404("no store")
    try:
        return start_lookup(user=request.user, store=store, code=code, purpose="pickup")
    except TooManyLookups as exc:
        messages.error(request, str(exc))
        return None


def _verify_order(request, store, stores, code):
    if not request.user.has_perm(ORDER_VERIFY):
        raise PermissionDenied
    order_id = id_or_none(request.POST.get("order"))
    if order_id is None:
        raise Http404("bad id")
    order = get_scoped_object_or_404(Order, request.user, pk=order_id)
    attempt = _counted(request, store, code)
    if attempt is None:
        return redirect(_url(store))
    try:
        if order.store_id != store.pk:
            raise OrderError(_("自提码无效、已核销或不属于本门店"), code=Code.PICKUP_INVALID)
        order, record = verify_order_as_shown(store=store, code=code, order=order, post=request.POST, by=request.user)
    except AlreadyHandedOver as exc:
        finish_lookup(attempt, found=True)
        messages.warning(request, str(exc))
        return redirect(_url(store))
    except DomainError as exc:
        finish_lookup(attempt, found=False)
        messages.error(request, str(exc))
        return _screen(request, store, stores, code=code, logged=True)
    finish_lookup(attempt, found=True)
    handed = sum(record.quantities.values())
    if order.status == Order.Status.COMPLETED:
        messages.success(request, _("核销成功：订单 %(no)s 本次交付 %(n)s 件，已全部提货，交易完成") % {
            "no": order.number, "n": handed})
    else:
        left = sum(line.held_quantity for line in OrderLine.objects.filter(order=order))
        messages.success(request, _("核销成功：订单 %(no)s 本次交付 %(n)s 件，还有 %(left)s 件待提") % {
            "no": order.number, "n": handed, "left": left})
    return redirect(_url(store))


def _exchange_already_done(store, code, exchange_id):
    return (
        PointsExchange.objects.filter(store=store, pickup_code=code, status=Done.DONE, pk=exchange_id)
        .select_related("picked_up_by").first()
    )


def _verify_exchange(request, store, stores, code):
    if not request.user.has_perm(MALL_VERIFY):
        raise PermissionDenied
    exchange_id = id_or_none(request.POST.get("exchange"))
    if exchange_id is None:
        raise Http404("bad id")
    get_scoped_object_or_404(PointsExchange, request.user, pk=exchange_id)  # another store's: 404
    attempt = _counted(request, store, code)
    if attempt is None:
        return redirect(_url(store))
    done = _exchange_already_done(store, code, exchange_id)
    if done is not None:
        finish_lookup(attempt, found=True)
    else:
        try:
            exchange = mall_services.verify_pickup(store=store, code=code, by=request.user)
        except DomainError as exc:
            done = _exchange_already_done(store, code, exchange_id)
            if done is None:
                finish_lookup(attempt, found=False)
                messages.error(request, str(exc))
                return _screen(request, store, stores, code=code, logged=True)
            finish_lookup(attempt, found=True)
        else:
            finish_lookup(attempt, found=True)
            spec = exchange.sku.spec_text if exchange.sku_id else ""
            messages.success(request, _("核销成功：%(title)s%(spec)s × 1，请将商品交给会员 %(member)s") % {
                "title": exchange.title, "spec": f"（{spec}）" if spec else "", "member": exchange.user.staff_label})
            return redirect(_url(store))
    when = date_format(timezone.localtime(done.picked_up_at), "Y-m-d H:i")
    messages.warning(request, _("该自提码已核销（%(when)s，核销人 %(by)s），请勿重复发货") % {
        "when": when, "by": str(done.picked_up_by) if done.picked_up_by else "-"})
    return redirect(_url(store))


@staff_with_any(ORDER_VIEW, MALL_VIEW)
@require_POST
def pickup_verify(request):
    """Confirm a hand-over shown on the screen: ``kind`` "order" (with qty_<line id> per line) or
    "exchange"."""
    store, stores = choose_store(request.user, request.POST.get("store") or "-")  # the form names its store
    code = normalise_pickup_code(request.POST.get("code"))
    kind = request.POST.get("kind")
    if kind == "order":
        return _verify_order(request, store, stores, code)
    if kind == "exchange":
        return _verify_exchange(request, store, stores, code)
    raise Http404("unknown kind")
