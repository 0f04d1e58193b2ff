"""The sales dashboard (销售看板): one store's figures (or every store's, for HQ) for today, the
last 7 or the last 30 days, from the aggregate queries of orders.reports, drawn with ECharts by
static/backoffice/backoffice.js (data in json_script blocks, no inline script)."""

from django.shortcuts import render

from core.backoffice import staff_required

from .. import reports
from ..backoffice_forms import PERIODS
from .common import pick_store


@staff_required(perm="orders.view_order")
def dashboard(request):
    choice = pick_store(request, request.GET.get("store"))
    key = request.GET.get("period")
    key = key if key in PERIODS else "today"
    context = {"choice": choice, "period_key": key,
               "periods": [{"key": k, "label": label} for k, (_days, label) in PERIODS.items()]}
    if choice.empty:
        return render(request, "orders/backoffice/no_store.html", context)
    stores = None if choice.all else choice.store
    p = reports.period(PERIODS[key][0])
    context.update(
        figures=reports.summary(stores, p),
        hours=reports.by_hour(stores, p),
        days=reports.by_day(stores, p) if p.days > 1 else [],
        top=reports.top_products(stores, p),
        period=p,
    )
    return render(request, "orders/backoffice/dashboard.html", context)
