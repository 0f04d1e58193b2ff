"""Today's order figures for the back-office home (core.backoffice.dashboard).

core has no hook for other apps' cards yet; this is what one would call, in the pattern of
settings.MEMBER_CENTRE_EXTRAS: ``dashboard_cards(request)`` returns the context of
templates/orders/backoffice/_home_cards.html (sales and orders paid today, orders waiting to be
fulfilled, after-sales waiting for review, at the user's stores; every store for HQ), or None for
staff who may not see orders. One query (orders.reports.today_figures)."""

from stores.scope import is_hq, store_ids_for

from .. import reports

TEMPLATE = "orders/backoffice/_home_cards.html"


def dashboard_cards(request):
    user = request.user
    if not user.has_perm("orders.view_order"):
        return None
    stores = None if is_hq(user) else store_ids_for(user)
    return {"template": TEMPLATE, "order_figures": reports.today_figures(stores)}
