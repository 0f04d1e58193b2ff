"""The store workbench (工作台) on the back-office home (core's dashboard, through
settings.BACKOFFICE_DASHBOARD_EXTRAS): what waits for the user's stores (every store for HQ),
each number a link: low-stock items with 补货 (a transfer into the store, prefilled), transfers to
dispatch and to receive. Three small queries, none growing with the number of rows."""

from urllib.parse import urlencode

from django.urls import reverse

from .models import LowStockAlert, Transfer
from .scope import is_hq, scope_queryset, store_ids_for

TEMPLATE = "stores/backoffice/_workbench_cards.html"
LOW_ITEMS = 5


def workbench_cards(request):
    user = request.user
    if not user.has_perm("stores.view_stock"):
        return None
    alerts = scope_queryset(LowStockAlert.objects.filter(status=LowStockAlert.Status.OPEN), user, "stock__store")
    low_items = list(alerts.select_related("stock__store", "stock__sku__product").order_by("available_at_open", "pk")
                     [:LOW_ITEMS])
    for alert in low_items:
        stock = alert.stock
        want = max(stock.low_threshold * 2 - stock.available, 1)
        alert.restock_url = reverse("stores_bo:transfer_create") + "?" + urlencode(
            {"destination": stock.store_id, "lines": f"{stock.sku.code} {want}"})
    to_dispatch = Transfer.objects.filter(status=Transfer.Status.DRAFT)
    to_receive = Transfer.objects.filter(status=Transfer.Status.DISPATCHED)
    if not is_hq(user):  # a store's own: what it sends, and what comes to it
        mine = store_ids_for(user)
        to_dispatch, to_receive = to_dispatch.filter(source__in=mine), to_receive.filter(destination__in=mine)
    return {
        "template": TEMPLATE,
        "low_stock": alerts.count(),
        "low_items": low_items,
        "to_dispatch": to_dispatch.count(),
        "to_receive": to_receive.count(),
        "hq": is_hq(user),
    }
