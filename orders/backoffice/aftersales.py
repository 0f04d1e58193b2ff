"""After-sales in the back office (售后): the queue by state with counts (one aggregate query), one
request with its photos, lines and amounts, and what staff do with it (approve, reject with a
reason, confirm the returned goods arrived, start a refund the gateway refused again). Refunds
that need a person (Refund.State.ABNORMAL) and refused ones are listed for staff.

Rows come through the user's stores (another store's after-sale id: 404); each action calls one
service of orders.services.aftersales, which checks scope and permission again under the lock.
"""

from django.contrib import messages
from django.db.models import Count, Prefetch, Q
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.errors import DomainError

from .. import services
from ..backoffice_forms import AFTER_SALE_TABS, NoteForm, RejectForm
from ..models import AfterSale, AfterSaleLine, Refund
from .common import form_error, page_of, pick_store, report_error, scoped_after_sale

A = AfterSale.Status
TAB_KEYS = [str(key) for key, _label in AFTER_SALE_TABS]
ABNORMAL_SHOWN = 20
AFTER_SALE_PAGES = 10_000  # after-sales are few next to orders: every page stays reachable
RETRY_SHOWN = 20


def _needs_retry(qs):
    """Refunding, and every refund the gateway was asked for was refused: a person must retry."""
    live = [Refund.State.PENDING, Refund.State.PROCESSING, Refund.State.SUCCEEDED, Refund.State.ABNORMAL]
    return qs.filter(status=A.REFUNDING, refunds__state=Refund.State.FAILED).exclude(refunds__state__in=live)


@staff_required(perm="orders.view_order")
def after_sale_list(request):
    choice = pick_store(request, request.GET.get("store"))
    tab = request.GET.get("tab")
    tab = tab if tab in TAB_KEYS else str(A.REQUESTED)
    context = {"choice": choice, "tab": tab}
    if choice.empty:
        return render(request, "orders/backoffice/no_store.html", context)
    scoped = choice.filter(AfterSale.objects.all(), "order__store")
    counts = scoped.order_by().aggregate(**{key: Count("pk", filter=Q(status=key)) for key in TAB_KEYS})
    listed = (
        scoped.filter(status=tab).select_related("order__store", "user")
        .prefetch_related(Prefetch("lines", queryset=AfterSaleLine.objects.select_related("order_line")))
        .order_by("-created_at", "-id")
    )
    page = page_of(listed, request.GET.get("page"), counts[tab], max_pages=AFTER_SALE_PAGES)
    store_param = {"store": choice.param}
    context.update(
        tabs=[{"key": key, "label": label, "count": counts[str(key)],
               "url": "?" + urlencode({**store_param, "tab": key})} for key, label in AFTER_SALE_TABS],
        page_obj=page,
        rows=list(page.object_list),
        page_query=urlencode({**store_param, "tab": tab}),
        abnormal=list(
            choice.filter(Refund.objects.filter(state=Refund.State.ABNORMAL), "order__store")
            .select_related("order__store", "after_sale").order_by("-id")[:ABNORMAL_SHOWN]
        ),
        retry=list(
            _needs_retry(scoped).select_related("order__store", "user").distinct().order_by("-id")[:RETRY_SHOWN]
        ),
    )
    return render(request, "orders/backoffice/after_sales.html", context)


def _detail_queryset():
    return AfterSale.objects.select_related("order__store", "order__user", "user", "handled_by").prefetch_related(
        Prefetch("lines", queryset=AfterSaleLine.objects.select_related("order_line")),
        "photos",
        Prefetch("refunds", queryset=Refund.objects.order_by("id")),
    )


def after_sale_actions(after_sale, user):
    if not user.has_perm("orders.refund_order"):
        return set()
    status = after_sale.status
    actions = set()
    if status == A.REQUESTED:
        actions |= {"approve", "reject"}
    if status == A.AWAITING_RETURN:
        actions.add("reject")
    if status == A.RETURNED:
        actions |= {"receive", "reject"}
    refunds = list(after_sale.refunds.all())
    if status == A.REFUNDING and refunds and all(r.state == Refund.State.FAILED for r in refunds):
        actions.add("retry")
    return actions


@staff_required(perm="orders.view_order")
def after_sale_detail(request, pk):
    after_sale = scoped_after_sale(request, pk, _detail_queryset())
    return render(request, "orders/backoffice/after_sale_detail.html", {
        "after_sale": after_sale,
        "order": after_sale.order,
        "lines": list(after_sale.lines.all()),
        "photos": list(after_sale.photos.all()),
        "refunds": list(after_sale.refunds.all()),
        "actions": after_sale_actions(after_sale, request.user),
    })


def _back(after_sale):
    return redirect("orders_bo:after_sale", pk=after_sale.pk)


def _run(request, after_sale, call, success):
    try:
        call()
    except DomainError as exc:
        report_error(request, exc)
    else:
        messages.success(request, success() if callable(success) else success)
    return _back(after_sale)


def _action(view):
    return staff_required(perm=("orders.view_order", "orders.refund_order"))(require_POST(view))


@_action
def approve(request, pk):
    after_sale = scoped_after_sale(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(after_sale)
    def success():
        if after_sale.kind != AfterSale.Kind.REFUND_ONLY:
            return _("已同意退货，等待买家寄回")
        # the gateway may have refunded at once (the dev gateway, a fast answer): say what is true now
        refunded = AfterSale.objects.filter(pk=after_sale.pk, status=AfterSale.Status.REFUNDED).exists()
        return _("已同意，款项已退回") if refunded else _("已同意退款，退款处理中")

    return _run(request, after_sale, lambda: services.approve_after_sale(after_sale, by=request.user,
                                                                         note=form.cleaned_data["note"]), success)


@_action
def reject(request, pk):
    after_sale = scoped_after_sale(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(after_sale)
    return _run(request, after_sale, lambda: services.reject_after_sale(after_sale, by=request.user,
                                                                        reason=form.cleaned_data["reason"]),
                _("已拒绝售后申请，已通知买家"))


@_action
def receive(request, pk):
    after_sale = scoped_after_sale(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        form_error(request, form)
        return _back(after_sale)
    return _run(request, after_sale, lambda: services.confirm_return(after_sale, by=request.user,
                                                                     note=form.cleaned_data["note"]),
                _("已确认收到退货，商品已入库，退款处理中"))


@_action
def retry(request, pk):
    after_sale = scoped_after_sale(request, pk)
    return _run(request, after_sale, lambda: services.retry_after_sale_refund(after_sale, by=request.user),
                _("已重新发起退款"))
