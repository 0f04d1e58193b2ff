"""The store workbench (工作台) on the back-office home (core's dashboard, through
settings.BACKOFFICE_DASHBOARD_EXTRAS): what waits for the user's stores (every store for HQ),
each number a link to the list it counts, filtered: low-stock items with 补货 (a transfer into the
store, prefilled, for whoever can send from another store; else a receipt for the store), transfers to dispatch and to receive, transfers received short whose difference
waits for HQ, and stocktakes in progress (draft count sheets).

HQ also gets the same numbers per store, and the chain's totals, with the order side of each store
(orders to fulfil, pickups waiting, after-sales to review) from the apps named in
settings.WORKBENCH_STORE_FIGURES (stores may not import orders). Every figure comes from a grouped
count (one per kind of work, grouped by store) plus the short low-stock list and, for HQ, the store
names: the number of queries does not grow with the stores or the rows."""

from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .models import LowStockAlert, StockDocument, Store, Transfer
from .scope import is_hq, scope_queryset, store_ids_for, stores_for

TEMPLATE = "stores/backoffice/_workbench_cards.html"
LOW_ITEMS = 5
FIGURES = ("low_stock", "to_dispatch", "to_receive", "differences", "stocktakes")
LABELS = {
    "low_stock": _("低库存商品"),
    "to_dispatch": _("调拨待发出"),
    "to_receive": _("调拨待收货"),
    "differences": _("调拨差异待处理"),
    "stocktakes": _("盘点进行中"),
}


def _grouped(qs, field):
    return dict(qs.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))


def store_figures(user):
    """{figure: {store_id: count}} for the user's stores (all for HQ), five queries."""
    hq = is_hq(user)
    mine = None if hq else store_ids_for(user)

    def scoped(qs, field):
        return qs if mine is None else qs.filter(**{f"{field}__in": mine})

    return {
        "low_stock": _grouped(scoped(LowStockAlert.objects.filter(status=LowStockAlert.Status.OPEN), "stock__store"),
                              "stock__store"),
        "to_dispatch": _grouped(scoped(Transfer.objects.filter(status=Transfer.Status.DRAFT), "source"), "source"),
        "to_receive": _grouped(scoped(Transfer.objects.filter(status=Transfer.Status.DISPATCHED), "destination"),
                               "destination"),
        # a difference is the receiving store's to explain and HQ's to settle
        "differences": _grouped(
            scoped(Transfer.objects.filter(difference_status=Transfer.Difference.OPEN), "destination"), "destination"
        ),
        "stocktakes": _grouped(
            scoped(StockDocument.objects.filter(kind=StockDocument.Kind.STOCKTAKE, state=StockDocument.State.DRAFT),
                   "store"),
            "store",
        ),
    }


def figure_url(figure, store_id=None):
    """The filtered list behind a number (one store's, or the user's stores' with no store)."""
    store = {} if store_id is None else {"store": store_id}
    if figure == "low_stock":
        return reverse("stores_bo:alerts") + ("?" + urlencode(store) if store else "")
    if figure == "to_dispatch":
        return reverse("stores_bo:transfers") + "?" + urlencode({"status": "draft", **_side("source", store_id)})
    if figure == "to_receive":
        return reverse("stores_bo:transfers") + "?" + urlencode({"status": "dispatched",
                                                                  **_side("destination", store_id)})
    if figure == "differences":
        return reverse("stores_bo:transfers") + "?" + urlencode({"difference": "open",
                                                                  **_side("destination", store_id)})
    return reverse("stores_bo:documents") + "?" + urlencode({"kind": "stocktake", "state": "draft", **store})


def _side(name, store_id):
    return {} if store_id is None else {name: store_id}


def restock_url(user, stock, other_stores):
    """Where 补货 starts for this low stock row, or None: a transfer into the store, filled in, for
    whoever can send from another store (`other_stores(store_id)`: HQ, staff of two stores); else a
    receipt (入库) for the store. A one-store clerk or manager sends transfers only from their store
    (the transfer form chooses it and never offers it as the destination), so a transfer would take
    the goods out of the low store, not bring them in."""
    if user.has_perm("stores.add_transfer") and other_stores(stock.store_id):
        want = max(stock.low_threshold * 2 - stock.available, 1)
        return reverse("stores_bo:transfer_create") + "?" + urlencode(
            {"destination": stock.store_id, "lines": f"{stock.sku.code} {want}"})
    if user.has_perm("stores.add_stockdocument"):
        return reverse("stores_bo:document_create", args=[StockDocument.Kind.RECEIPT]) + "?" + urlencode(
            {"store": stock.store_id})
    return None


def add_restock_urls(user, alerts):
    """Set `restock_url` on each open alert of the list (its stock, store and SKU loaded): one query
    for the user's working stores when there is an alert and the user is not HQ, none otherwise."""
    alerts = [alert for alert in alerts if alert.status == LowStockAlert.Status.OPEN]
    if is_hq(user):
        def other_stores(store_id):
            return True
    else:
        working = set(stores_for(user).filter(is_archived=False).values_list("pk", flat=True)) if alerts else set()

        def other_stores(store_id):
            return bool(working - {store_id})
    for alert in alerts:
        alert.restock_url = restock_url(user, alert.stock, other_stores)


def workbench_cards(request):
    user = request.user
    if not user.has_perm("stores.view_stock"):
        return None
    hq = is_hq(user)
    figures = store_figures(user)
    totals = {name: sum(per_store.values()) for name, per_store in figures.items()}
    alerts = scope_queryset(LowStockAlert.objects.filter(status=LowStockAlert.Status.OPEN), user, "stock__store")
    low_items = list(alerts.select_related("stock__store", "stock__sku__product").order_by("available_at_open", "pk")
                     [:LOW_ITEMS])
    add_restock_urls(user, low_items)
    per_store, labels = [], [LABELS[f] for f in FIGURES]
    total_cells = [(LABELS[f], totals[f], figure_url(f)) for f in FIGURES]
    if hq:
        others = [row for path in settings.WORKBENCH_STORE_FIGURES for row in import_string(path)(user, None)]
        labels += [label for _key, label, _counts, _url in others]
        total_cells += [(label, sum(counts.values()), url()) for _key, label, counts, url in others]
        for store_id, name in Store.objects.filter(is_archived=False).order_by("city", "name", "pk").values_list(
            "pk", "name"
        ):
            cells = [(LABELS[f], figures[f].get(store_id, 0), figure_url(f, store_id)) for f in FIGURES]
            cells += [(label, counts.get(store_id, 0), url(store_id)) for _key, label, counts, url in others]
            per_store.append({"pk": store_id, "name": name, "cells": cells})
    return {
        "template": TEMPLATE,
        **totals,
        "urls": {name: figure_url(name) for name in FIGURES},
        "low_items": low_items,
        "per_store": per_store,
        "labels": labels,
        "total_cells": total_cells,
        "hq": hq,
    }
