"""Back-office pages for stock, transfers and alerts. Every row is loaded through stores.scope, so
another store's id answers 404 exactly like a missing one."""


from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.csv_export import streaming_csv
from core.errors import DomainError
from core.navigation import safe_next
from core.numbers import id_or_none, page_number

from . import selectors, services
from .backoffice_home import add_restock_urls
from .forms import AdjustForm, ThresholdForm, TransferForm
from .models import LowStockAlert, Stock, Store, StoreNotification, Transfer, TransferLine
from .scope import choose_store, get_scoped_object_or_404, is_hq, scope_queryset, stores_for

PAGE_SIZE = 50


def _current_store(request):
    """The store chosen in ?store= (or the form), checked against the user's scope; default their first."""
    return choose_store(request.user, request.GET.get("store") or request.POST.get("store"))


@staff_required(perm="stores.view_stock")
def stock_page(request):
    store, stores = _current_store(request)
    if store is None:
        return render(request, "stores/backoffice/no_store.html", {})
    from catalog.models import Category

    low_only = request.GET.get("low") == "1"
    category = id_or_none(request.GET.get("category"))
    q = request.GET.get("q", "")[:64]
    qs = selectors.backoffice_stock(store, low_only=low_only, category=category, q=q)
    page = Paginator(qs, PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    context = {
        "store": store,
        "stores": stores,
        "rows": page.object_list,
        "page_obj": page,
        "low_only": low_only,
        "category": category,
        "categories": list(Category.objects.filter(is_active=True).order_by("tree_id", "lft").values("pk", "name", "level")),
        "q": q,
        "querystring": request.GET.urlencode(),
    }
    return render(request, "stores/backoffice/stock.html", context)


@staff_required(perm="stores.view_stock")
def stock_export(request):
    store, _stores = _current_store(request)
    if store is None:
        raise Http404
    low_only = request.GET.get("low") == "1"
    category = id_or_none(request.GET.get("category"))
    rows = selectors.backoffice_stock(store, low_only=low_only, category=category, q=request.GET.get("q", "")[:64])
    header = [_("门店"), _("SKU编码"), _("商品"), _("规格"), _("在库"), _("已预留"), _("可用"), _("阈值")]
    lines = (
        [store.code, row.sku.code, row.sku.product.name, row.sku.spec_text,
         row.on_hand, row.reserved, row.avail, row.low_threshold]
        for row in rows.iterator(chunk_size=500)
    )
    stamp = timezone.localtime().strftime("%Y%m%d%H%M")
    return streaming_csv(f"stock-{store.code}-{stamp}.csv", header, lines)


def _scoped_stock(request, pk):
    return get_scoped_object_or_404(
        Stock.objects.select_related("store", "sku__product"), request.user, "store", pk=pk
    )


@staff_required(perm="stores.view_stock")
def stock_history(request, pk):
    from .references import describe

    stock = _scoped_stock(request, pk)
    movements = selectors.movements_for(stock)
    described = describe(m.reference for m in movements)
    for movement in movements:
        movement.ref_label, movement.ref_url = described.get(movement.reference, ("", None))
    return render(request, "stores/backoffice/stock_history.html", {"stock": stock, "movements": movements})


def _row_response(request, stock, *, form=None, threshold_form=None, done="", status=200):
    """The stock row again (htmx), with the error of the form sent or `done`, what was changed."""
    stock = Stock.objects.select_related("store", "sku__product").get(pk=stock.pk)
    stock.avail = stock.available
    return render(
        request,
        "stores/backoffice/partials/_stock_row.html",
        {"row": stock, "store": stock.store, "form": form, "threshold_form": threshold_form, "done": done},
        status=status,
    )


@staff_required(perm="stores.change_stock")
@require_POST
def stock_adjust(request, pk):
    stock = _scoped_stock(request, pk)
    form = AdjustForm(request.POST)
    if form.is_valid():
        try:
            services.adjust_stock(stock, form.cleaned_data["delta"], reason=form.cleaned_data["reason"],
                                  by=request.user, reference=form.reference())
        except DomainError as exc:
            form.add_error(None, str(exc))
    if request.headers.get("HX-Request"):
        return _row_response(request, stock, form=form if form.errors else None,
                             done="" if form.errors else _("库存已调整"))
    if form.errors:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    else:
        messages.success(request, _("库存已调整"))
    return redirect(f"{reverse('stores_bo:stock')}?store={stock.store_id}")


@staff_required(perm="stores.change_stock")
@require_POST
def stock_threshold(request, pk):
    stock = _scoped_stock(request, pk)
    form = ThresholdForm(request.POST)
    if form.is_valid():
        try:
            services.set_threshold(stock, form.cleaned_data["low_threshold"], by=request.user)
        except DomainError as exc:
            form.add_error(None, str(exc))
    if request.headers.get("HX-Request"):
        return _row_response(request, stock, threshold_form=form if form.errors else None,
                             done="" if form.errors else _("阈值已保存"))
    if form.errors:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    else:
        messages.success(request, _("阈值已保存"))
    return redirect(f"{reverse('stores_bo:stock')}?store={stock.store_id}")


# --- transfers --------------------------------------------------------------------------------
TRANSFER_SCOPE = ("source", "destination")


@staff_required(perm="stores.view_transfer")
def transfer_list(request):
    qs = scope_queryset(Transfer.objects.select_related("source", "destination", "created_by"), request.user,
                        TRANSFER_SCOPE)
    status = request.GET.get("status")
    if status in Transfer.Status.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    # 差异待处理: received short and not yet settled by HQ (a partial index on the open ones)
    difference = request.GET.get("difference")
    if difference in (Transfer.Difference.OPEN, Transfer.Difference.RESOLVED):
        qs = qs.filter(difference_status=difference)
    else:
        difference = ""
    # the workbench's per-store numbers link here: one store as the source or as the destination
    # (an id outside the user's scope finds nothing, the scope above still applies)
    source, destination = id_or_none(request.GET.get("source")), id_or_none(request.GET.get("destination"))
    if source:
        qs = qs.filter(source_id=source)
    if destination:
        qs = qs.filter(destination_id=destination)
    page = Paginator(qs.order_by("-id"), PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    return render(
        request,
        "stores/backoffice/transfer_list.html",
        {"page_obj": page, "transfers": page.object_list, "status": status, "statuses": Transfer.Status.choices,
         "difference": difference, "source": source or "", "destination": destination or ""},
    )


@staff_required(perm="stores.add_transfer")
def transfer_create(request):
    source_stores = stores_for(request.user).filter(is_archived=False)
    all_stores = Store.objects.filter(is_archived=False)
    # a one-store manager sends from their store: it is chosen, and not offered as the destination
    only = list(source_stores[:2])
    only = only[0] if len(only) == 1 else None
    if only is not None:
        all_stores = all_stores.exclude(pk=only.pk)
    # 补货 on the workbench opens this form filled in: into the store, the SKU and a quantity
    initial = {} if request.method == "POST" else {
        "destination": request.GET.get("destination", "")[:20], "lines": request.GET.get("lines", "")[:200]}
    if only is not None:
        initial["source"] = only.pk
    form = TransferForm(request.POST or None, source_stores=source_stores, all_stores=all_stores, initial=initial)
    if only is not None:
        form.fields["source"].empty_label = None
    if request.method == "POST" and form.is_valid():
        try:
            transfer = services.create_transfer(
                form.cleaned_data["source"], form.cleaned_data["destination"], form.cleaned_data["lines"],
                by=request.user, note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("调拨单已创建"))
            return redirect("stores_bo:transfer_detail", pk=transfer.pk)
    # the product picker shows the available stock of the source store (the one chosen, else the
    # first that is not the destination: 补货 opens the form with only the destination filled in)
    form.fields["source"].widget.attrs["data-picker-store"] = "#transfer-picker"
    chosen = id_or_none(form["source"].value())
    picker_store = only or (source_stores.filter(pk=chosen).first() if chosen else None)
    if picker_store is None:
        destination = id_or_none(form["destination"].value())
        others = source_stores.exclude(pk=destination) if destination else source_stores
        picker_store = others.order_by("pk").first() or source_stores.first()
    return render(request, "stores/backoffice/transfer_form.html",
                  {"form": form, "picker_store": picker_store,
                   "wechat_jssdk": bool(settings.WECHAT_APP_ID)})


def _scoped_transfer(request, pk):
    return get_scoped_object_or_404(
        Transfer.objects.select_related("source", "destination", "created_by"), request.user, TRANSFER_SCOPE, pk=pk
    )


@staff_required(perm="stores.view_transfer")
def transfer_detail(request, pk):
    transfer = _scoped_transfer(request, pk)
    from .scope import user_can_work_on

    lines = list(transfer.lines.select_related("sku__product"))
    events = list(transfer.events.select_related("actor"))
    hq = is_hq(request.user)
    on_source = hq or user_can_work_on(request.user, transfer.source_id)
    on_destination = hq or user_can_work_on(request.user, transfer.destination_id)
    from .transfer_differences import transfer_words

    return render(
        request,
        "stores/backoffice/transfer_detail.html",
        {
            "transfer": transfer,
            "lines": lines,
            "events": events,
            "difference_words": transfer_words(transfer),
            "can_dispatch": on_source and transfer.status == Transfer.Status.DRAFT,
            "can_cancel": on_source and transfer.status in (Transfer.Status.DRAFT, Transfer.Status.DISPATCHED),
            "can_receive": on_destination and transfer.status == Transfer.Status.DISPATCHED,
            "can_resolve": hq and transfer.difference_open and request.user.has_perm("stores.change_transfer"),
            "resolutions": TransferLine.Resolution.choices,
        },
    )


def _transfer_action(request, pk, action):
    transfer = _scoped_transfer(request, pk)
    try:
        if action == "dispatch":
            services.dispatch_transfer(transfer, by=request.user)
            messages.success(request, _("已发货"))
        elif action == "receive":
            received = {}
            for line in transfer.lines.all():
                key = f"received_{line.pk}"
                if key in request.POST:
                    received[line.pk] = request.POST[key]
            services.receive_transfer(transfer, received, by=request.user, note=request.POST.get("note", "")[:200])
            messages.success(request, _("已收货"))
        elif action == "cancel":
            services.cancel_transfer(transfer, by=request.user, note=request.POST.get("note", "")[:200])
            messages.success(request, _("调拨已取消"))
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect("stores_bo:transfer_detail", pk=transfer.pk)


@staff_required(perm="stores.change_transfer")
@require_POST
def transfer_dispatch(request, pk):
    return _transfer_action(request, pk, "dispatch")


@staff_required(perm="stores.change_transfer")
@require_POST
def transfer_receive(request, pk):
    return _transfer_action(request, pk, "receive")


@staff_required(perm="stores.change_transfer")
@require_POST
def transfer_cancel(request, pk):
    return _transfer_action(request, pk, "cancel")


@staff_required(perm="stores.change_transfer")
@require_POST
def transfer_resolve(request, pk):
    """HQ settles a short receipt's difference, line by line, with a reason
    (stores.transfer_differences). A store's staff get 403; another store's transfer is a 404 for
    them before that, like any transfer out of scope."""
    from .transfer_differences import parse_resolutions, resolve_difference

    transfer = _scoped_transfer(request, pk)
    if not is_hq(request.user):
        raise PermissionDenied
    try:
        settled = resolve_difference(transfer, parse_resolutions(request.POST), by=request.user,
                                     reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        if settled:
            messages.success(request, _("已处理 %(n)s 行差异") % {"n": settled})
        else:
            messages.info(request, _("差异已经处理过，未重复处理"))
    return redirect("stores_bo:transfer_detail", pk=transfer.pk)


# --- alerts and notifications -----------------------------------------------------------------
@staff_required(perm="stores.view_lowstockalert")
def alert_list(request):
    status = request.GET.get("status", LowStockAlert.Status.OPEN)
    alerts = scope_queryset(
        LowStockAlert.objects.select_related("stock__store", "stock__sku__product"), request.user, "stock__store"
    )
    if status in LowStockAlert.Status.values:
        alerts = alerts.filter(status=status)
    store = id_or_none(request.GET.get("store"))  # the workbench's per-store link
    if store:
        alerts = alerts.filter(stock__store_id=store)
    page = Paginator(alerts.order_by("-id"), PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    add_restock_urls(request.user, page.object_list)  # 补货 on each open alert, as on the workbench
    notifications = list(
        StoreNotification.objects.filter(user=request.user).select_related("store").order_by("-id")[:30]
    )
    return render(
        request,
        "stores/backoffice/alerts.html",
        {"page_obj": page, "alerts": page.object_list, "status": status, "notifications": notifications,
         "statuses": LowStockAlert.Status.choices, "store": store or ""},
    )


@staff_required(perm="stores.view_lowstockalert")
def alert_detail(request, pk):
    alert = get_scoped_object_or_404(
        LowStockAlert.objects.select_related("stock__store", "stock__sku__product"), request.user, "stock__store",
        pk=pk,
    )
    return redirect(f"{reverse('stores_bo:stock_history', args=[alert.stock_id])}?alert={alert.pk}")


@staff_required(perm="stores.view_storenotification")
def notification_list(request):
    """The bell's page: the user's own notices (low stock, payments and refunds that need a
    person…), the open ones by default (?show=all for every one), each marked read on its own or
    all at once. A notice about a low-stock alert restocked since reads as closed."""
    show_all = request.GET.get("show") == "all"
    qs = selectors.notifications_for(request.user, only_open=not show_all)
    page = Paginator(qs, PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    return render(request, "stores/backoffice/notifications.html",
                  {"page_obj": page, "notices": page.object_list, "show_all": show_all})


@staff_required(perm="stores.view_storenotification")
@require_POST
def notifications_read(request):
    """Mark the user's own notices read (the ids given, else all); another user's id changes nothing."""
    ids = [i for i in (id_or_none(raw) for raw in request.POST.getlist("id")[:200]) if i is not None] or None
    if ids is None and request.POST.getlist("id"):
        ids = []  # only bad ids: mark nothing rather than everything
    services.mark_notifications_read(request.user, ids)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    messages.success(request, _("通知已全部标为已读") if ids is None else _("所选通知已标为已读"))
    return redirect(safe_next(request, reverse("stores_bo:notifications")))
