"""Back-office pages of the marketing app: confirming the pickup (核销) of points-mall goods, and
coupon statistics. Codes are looked up on the verification screen shared with pickup orders
(orders_bo:pickups); the old pickups page sends the clerk there.

Every store a page works on comes from stores.scope.stores_for(user): a store id outside the user's
scope answers 404, whether it came in the query string or in a tampered POST. The verification
itself is services.verify_pickup, which checks the scope once more under its row lock.
"""

from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.errors import DomainError
from core.numbers import id_or_none
from stores.lookups import TooManyLookups, finish_lookup, start_lookup
from stores.scope import choose_store

from . import services
from .backoffice_forms import CouponStatsFilterForm, is_pickup_code, normalise_pickup_code
from .models import Coupon, MemberCoupon, PointsExchange

CHART_COUPONS = 12
CHART_LABEL = 8
Status = PointsExchange.Status


# --- pickup verification ----------------------------------------------------------------------
# The lookup and the lists live on the one verification screen shared with pickup orders,
# /backoffice/orders/pickups/ (orders_bo:pickups): the clerk types a code once, whatever it is for.
def _pickups_url(store, **params):
    query = {"store": store.pk, **params} if store is not None else params
    url = reverse("orders_bo:pickups")
    return f"{url}?{urlencode(query)}" if query else url


@staff_required(perm="marketing.view_pointsexchange")
def pickups(request):
    """The old points-mall pickup page: goes to the shared verification screen, for the same store
    (a store outside the user's scope still answers 404). A code in the query is not carried over:
    the shared screen looks codes up by POST, so they stay out of URLs and logs."""
    store, _stores = choose_store(request.user, request.GET.get("store"))
    return redirect(_pickups_url(store))


def _already_verified(store, code, exchange_id):
    """The exchange the confirm form showed, if it has been handed over meanwhile (a double submit,
    or a colleague at the next till)."""
    qs = PointsExchange.objects.filter(store=store, pickup_code=code, status=Status.DONE)
    exchange_id = id_or_none(exchange_id)
    if exchange_id is not None:
        qs = qs.filter(pk=exchange_id)
    else:
        qs = qs.filter(picked_up_at__gte=timezone.now() - timedelta(minutes=10))
    return qs.select_related("picked_up_by").order_by("-picked_up_at").first()


def _already_message(request, exchange):
    when = date_format(timezone.localtime(exchange.picked_up_at), "Y-m-d H:i")
    by = str(exchange.picked_up_by) if exchange.picked_up_by else "-"
    messages.warning(
        request, _("该自提码已核销（%(when)s，核销人 %(by)s），请勿重复发货") % {"when": when, "by": by}
    )


@staff_required(perm=("marketing.view_pointsexchange", "marketing.change_pointsexchange"))
@require_POST
def pickup_verify(request):
    """Confirm a pickup. The form carries the store, the code and the exchange shown; a second
    submit of the same form says "already verified" and changes nothing."""
    store, _stores = choose_store(request.user, request.POST.get("store") or "-")  # the form names its store
    if store is None:
        raise Http404("no store")
    code = normalise_pickup_code(request.POST.get("code"))
    exchange_id = request.POST.get("exchange")
    try:  # a confirmation by code is a lookup: logged, and counted against guessing
        attempt = start_lookup(user=request.user, store=store, code=code, purpose="pickup")
    except TooManyLookups as exc:
        messages.error(request, str(exc))
        return redirect(_pickups_url(store))
    done = _already_verified(store, code, exchange_id) if is_pickup_code(code) and exchange_id else None
    if done is not None:
        finish_lookup(attempt, found=True)
        _already_message(request, done)
        return redirect(_pickups_url(store))
    try:
        exchange = services.verify_pickup(store=store, code=code, by=request.user)
    except DomainError as exc:
        done = _already_verified(store, code, exchange_id) if is_pickup_code(code) else None
        finish_lookup(attempt, found=done is not None)
        if done is not None:
            _already_message(request, done)
        else:
            messages.error(request, str(exc))
        return redirect(_pickups_url(store))
    finish_lookup(attempt, found=True)
    spec = exchange.sku.spec_text if exchange.sku_id else ""
    messages.success(
        request,
        _("核销成功：%(title)s%(spec)s × 1，请将商品交给会员 %(member)s")
        % {"title": exchange.title, "spec": f"（{spec}）" if spec else "", "member": exchange.user.staff_label},
    )
    return redirect(_pickups_url(store))


# --- coupon statistics ------------------------------------------------------------------------
def coupon_usage(*, now=None, since=None, until=None, active_only=False):
    """Every coupon with the copies claimed in [since, until): issued, used, expired (past their end
    unused, whether or not the expiry task has run), void and still usable. One query."""
    now = now or timezone.now()
    window = Q()
    if since is not None:
        window &= Q(copies__claimed_at__gte=since)
    if until is not None:
        window &= Q(copies__claimed_at__lt=until)
    S = MemberCoupon.Status
    qs = Coupon.objects.all()
    if active_only:
        qs = qs.filter(is_active=True)
    rows = list(
        qs.annotate(
            issued=Count("copies", filter=window & Q(copies__isnull=False)),
            used=Count("copies", filter=window & Q(copies__status=S.USED)),
            expired=Count(
                "copies",
                filter=window & (Q(copies__status=S.EXPIRED) | Q(copies__status=S.UNUSED, copies__valid_until__lte=now)),
            ),
            void=Count("copies", filter=window & Q(copies__status=S.VOID)),
            unused=Count("copies", filter=window & Q(copies__status=S.UNUSED, copies__valid_until__gt=now)),
        ).order_by("-created_at", "-pk")
    )
    for row in rows:
        row.use_rate = _rate(row.used, row.issued)
    return rows


def _rate(part, whole):
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _day_start(day):
    return timezone.make_aware(datetime.combine(day, time.min))


@staff_required(perm="marketing.view_coupon")
def coupon_stats(request):
    """对优惠券的使用情况进行统计和分析: per coupon and in total, with charts of the busiest coupons."""
    form = CouponStatsFilterForm(request.GET or None)
    since = until = None
    active_only = False
    if form.is_bound and form.is_valid():
        if form.cleaned_data["date_from"]:
            since = _day_start(form.cleaned_data["date_from"])
        if form.cleaned_data["date_to"]:
            until = _day_start(form.cleaned_data["date_to"] + timedelta(days=1))
        active_only = form.cleaned_data["active_only"]
    rows = coupon_usage(since=since, until=until, active_only=active_only)
    totals = {key: sum(getattr(r, key) for r in rows) for key in ("issued", "used", "expired", "void", "unused")}
    totals["use_rate"] = _rate(totals["used"], totals["issued"])
    busiest = sorted((r for r in rows if r.issued), key=lambda r: (-r.issued, r.pk))[:CHART_COUPONS]
    # short axis labels, or ECharts drops every other one; the table below has the full names
    chart = [
        {"name": r.name if len(r.name) <= CHART_LABEL else r.name[:CHART_LABEL] + "…", "issued": r.issued,
         "used": r.used, "rate": float(r.use_rate or 0)}
        for r in busiest
    ]
    return render(
        request,
        "marketing/backoffice/coupon_stats.html",
        {"form": form, "rows": rows, "totals": totals, "chart": chart},
    )
