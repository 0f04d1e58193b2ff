"""Today's order figures for the back-office home (core.backoffice.dashboard).

core has no hook for other apps' cards yet; this is what one would call, in the pattern of
settings.MEMBER_CENTRE_EXTRAS: ``dashboard_cards(request)`` returns the context of
templates/orders/backoffice/_home_cards.html (sales and orders paid today, orders waiting to be
fulfilled, after-sales waiting for review, at the user's stores; every store for HQ), or None for
staff who may not see orders. One query (orders.reports.today_figures)."""

from urllib.parse import urlencode

from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from stores.scope import is_hq, store_ids_for

from .. import reports
from ..models import AfterSale, Order

TEMPLATE = "orders/backoffice/_home_cards.html"


def dashboard_cards(request):
    user = request.user
    if not user.has_perm("orders.view_order"):
        return None
    stores = None if is_hq(user) else store_ids_for(user)
    return {"template": TEMPLATE, "order_figures": reports.today_figures(stores)}


def _per_store(qs, field):
    return dict(qs.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))


def _queue_url(tab):
    def url(store_id=None):
        return reverse("orders_bo:queue") + "?" + urlencode({"tab": tab, **({} if store_id is None else
                                                                            {"store": store_id})})
    return url


def _after_sales_url(store_id=None):
    return reverse("orders_bo:after_sales") + ("" if store_id is None else "?" + urlencode({"store": store_id}))


def workbench_store_figures(user, store_ids):
    """The order side of the workbench's per-store table (settings.WORKBENCH_STORE_FIGURES):
    [(key, label, {store_id: count}, url(store_id=None))] for the stores in `store_ids` (None: every
    store), or [] for staff who may not see orders. Three grouped counts, whatever the stores."""
    if not user.has_perm("orders.view_order"):
        return []
    orders = Order.objects.all() if store_ids is None else Order.objects.filter(store_id__in=store_ids)
    asked = AfterSale.objects.filter(status=AfterSale.Status.REQUESTED)
    if store_ids is not None:
        asked = asked.filter(order__store_id__in=store_ids)
    return [
        ("to_fulfil", _("待发货/待备货"), _per_store(orders.filter(status=Order.Status.PAID), "store"),
         _queue_url("to_fulfil")),
        ("pickups_waiting", _("待自提"), _per_store(orders.filter(status=Order.Status.READY_FOR_PICKUP), "store"),
         _queue_url("pickup")),
        ("after_sales", _("售后待审核"), _per_store(asked, "order__store"), _after_sales_url),
    ]
