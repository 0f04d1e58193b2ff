"""HQ's reconciliation pages (支付对账): the recent days with their status and totals per channel,
the money through each channel per day (ECharts stacked bars), one day's differences with links to
their orders, and the 对账 button that runs a day again.

Who may open them: HQ only (stores.scope.is_hq: a superuser or staff holding stores.hq_all_stores).
The bills cover every store's takings at once, so no store-scoped view of them exists; a clerk or a
store manager gets 403 whatever orders permissions they hold. The service checks the same again.

Input: a day in the URL or ?end= is YYYY-MM-DD in ASCII digits between 2000-01-01 and today; in the
URL anything else is 404, in ?end= it falls back to the default window. Each page costs a fixed
number of queries, however many days, bills or differences it shows.
"""

import re
from datetime import date, timedelta
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.money import fen_to_yuan
from stores.scope import is_hq

from ..models import PaymentAttempt, ReconciliationDay, ReconciliationDifference, ReconciliationRun
from ..payments.figures import paid_by_channel_and_day
from ..payments.reconcile import SHANGHAI, ReconcileError, request_reconciliation

LIST_DAYS = 30
FIRST_DAY = date(2000, 1, 1)
NOT_OURS_SHOWN = 100
RUNS_SHOWN = 20
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Status = ReconciliationRun.Status
Kind = ReconciliationDifference.Kind
TAGS = {Status.CLEAN: "ok", Status.DIFFERENCES: "bad", Status.FAILED: "bad", Status.NOT_YET: "warn",
        Status.NO_GATEWAY: "warn"}


def hq_required(view):
    """Anonymous: the login page; staff who are not HQ: 403."""

    @staff_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_hq(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def today():
    return timezone.now().astimezone(SHANGHAI).date()


def read_day(raw):
    """The date `raw` spells (YYYY-MM-DD, ASCII digits, 2000-01-01 … today), else None."""
    if not isinstance(raw, str) or not _DAY.fullmatch(raw):
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= today() else None


def _yuan(pair):
    return {"count": pair[0], "amount": fen_to_yuan(pair[1])}


def present_section(section):
    """A bill's section (orders.payments.reconcile) as the templates read it: yuan, labels, tags."""
    labels = dict(PaymentAttempt.Channel.choices)
    status = section.get("status", Status.NOT_YET)
    channels = []
    for channel, totals in section.get("totals", {}).items():
        row = {"channel": channel, "label": labels.get(channel, channel)}
        for side in ("ours", "theirs"):
            row[side] = {kind: _yuan(totals[side][kind]) for kind in ("payments", "refunds")}
        row["agree"] = totals["ours"] == totals["theirs"]
        channels.append(row)
    retry = section.get("retry")
    return {
        "label": section.get("label", ""), "status": status, "status_label": Status(status).label,
        "tag": TAGS.get(status, "warn"), "error": section.get("error", ""), "channels": channels,
        "differences": section.get("differences", 0), "other_day": section.get("other_day", 0),
        "not_ours": section.get("not_ours", 0),
        "not_ours_totals": {k: _yuan(v) for k, v in section.get("not_ours_totals", {}).items()},
        "retry": {**retry, "status_label": Status(retry["status"]).label} if retry else None,
    }


def present_day(day, state):
    if state is None:
        return {"day": day, "state": None, "bills": [], "running": False}
    running = bool(state.requested_at and (not state.checked_at or state.checked_at < state.requested_at))
    return {
        "day": day, "state": state, "status_label": state.get_status_display(), "tag": TAGS.get(state.status, "warn"),
        "checked": state.checked_at is not None, "running": running,
        "bills": [present_section(s) for s in state.bills.values()],
    }


@hq_required
def reconciliation(request):
    """The last 30 days up to ?end= (default yesterday), newest first, and the channel figures."""
    yesterday = today() - timedelta(days=1)
    end = min(read_day(request.GET.get("end")) or yesterday, yesterday)
    days = [end - timedelta(days=i) for i in range(LIST_DAYS)]
    states = {s.day: s for s in ReconciliationDay.objects.filter(day__in=days)}
    earlier = end - timedelta(days=LIST_DAYS)
    later = end + timedelta(days=LIST_DAYS)
    context = {
        "rows": [present_day(day, states.get(day)) for day in days],
        "earlier": earlier.isoformat() if earlier >= FIRST_DAY else "",
        "later": min(later, yesterday).isoformat() if end < yesterday else "",
        "figures": paid_by_channel_and_day(),
    }
    return render(request, "orders/backoffice/reconciliation.html", context)


def _day_or_404(raw):
    day = read_day(raw)
    if day is None:
        raise Http404("not a day")
    return day


@hq_required
def reconciliation_day(request, day):
    """One day: each bill's totals, every difference (needing work first) with its order, the lines
    of other apps (the first 100), and the runs so far."""
    day = _day_or_404(day)
    state = ReconciliationDay.objects.filter(day=day).first()
    found = ReconciliationDifference.objects.filter(day=day).select_related("order").order_by("bill", "kind", "id")
    differences = list(found.exclude(kind=Kind.NOT_OURS))
    not_ours = list(found.filter(kind=Kind.NOT_OURS)[:NOT_OURS_SHOWN])
    runs = list(ReconciliationRun.objects.filter(day=day).select_related("requested_by").order_by("-id")[:RUNS_SHOWN])
    presented = present_day(day, state)
    context = {
        "day": day, "summary": presented, "over": day < today(),
        "bills": [{"key": key, **present_section(s)} for key, s in (state.bills.items() if state else [])],
        "to_do": [d for d in differences if d.needs_action],
        "other_day": [d for d in differences if d.kind == Kind.OTHER_DAY],
        "not_ours": not_ours, "not_ours_total": state.not_ours if state else 0,
        "runs": runs, "previous": day - timedelta(days=1), "next": day + timedelta(days=1) if day < today() else None,
    }
    return render(request, "orders/backoffice/reconciliation_day.html", context)


@hq_required
@require_POST
def reconcile_again(request, day):
    """对账: the day goes to the worker (at most once a minute per day); a refusal is a message."""
    day = _day_or_404(day)
    try:
        request_reconciliation(day, by=request.user)
    except ReconcileError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已开始对账 %(day)s，稍后刷新本页查看结果") % {"day": day.isoformat()})
    return redirect("orders_bo:reconciliation_day", day=day.isoformat())
