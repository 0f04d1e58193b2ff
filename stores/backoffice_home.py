"""The store workbench (工作台) on the back-office home (core's dashboard, through
settings.BACKOFFICE_DASHBOARD_EXTRAS): what waits for the user's stores (every store for HQ),
each number a link: low-stock items with 补货 (a transfer into the store, prefilled), transfers to
dispatch and to receive. Three small queries, none growing with the number of rows."""

from urllib.parse import urlencode

from django.urls import reverse

from .models import LowStockAlert, Transfer
from .scope import is_hq, scope_queryset

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
    transfers = Transfer.objects.all() if is_hq(user) else None
    if transfers is None:
        from .scope import store_ids_for

        mine = store_ids_for(user)
        to_dispatch = Transfer.objects.filter(source__in=mine, status=Transfer.Status.DRAFT)
        to_receive = Transfer.objects.filter(destination__in=mine, status=Transfer.Status.DISPATCHED)
    else:
        to_dispatch = transfers.filter(status=Transfer.Status.DRAFT)
        to_receive = transfers.filter(status=Transfer.Status.DISPATCHED)
    return {
        "template": TEMPLATE,
        "low_stock": alerts.count(),
        "low_items": low_items,
        "to_dispatch": to_dispatch.count(),
        "to_receive": to_receive.count(),
        "hq": is_hq(user),
    }
