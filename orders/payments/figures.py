"""Money through each payment channel per local day (Asia/Shanghai), for HQ's reconciliation page:
two aggregate queries (succeeded attempts, succeeded refunds), never a loop over rows.

What counts: every attempt that succeeded, by the time it succeeded — late and duplicate payments
too, because the money did arrive (their automatic refunds are counted under refunds) — and every
refund that succeeded, by its channel of payment, by the time it succeeded. Amounts in fen from the
rows, shown as Decimal yuan.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.money import fen_to_yuan

from ..models import PaymentAttempt, Refund

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = 30


def paid_by_channel_and_day(days=DAYS, now=None):
    """The last `days` local days up to today: {"days": ["2026-11-01", …] oldest first,
    "series": [{channel, label, paid: [yuan …], refunded: [yuan …]}] one per channel that moved money,
    "totals": [{channel, label, paid_count, paid, refund_count, refunded, net}] for the period}."""
    now = now or timezone.now()
    today = now.astimezone(SHANGHAI).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=SHANGHAI)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    paid = (
        PaymentAttempt.objects.filter(state=PaymentAttempt.State.SUCCEEDED, succeeded_at__gte=start,
                                      succeeded_at__lt=end)
        .annotate(day=TruncDate("succeeded_at", tzinfo=SHANGHAI)).order_by()
        .values("day", "channel").annotate(n=Count("pk"), fen=Sum("amount_fen"))
    )
    refunded = (
        Refund.objects.filter(state=Refund.State.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end)
        .annotate(day=TruncDate("succeeded_at", tzinfo=SHANGHAI)).order_by()
        .values("day", "attempt__channel").annotate(n=Count("pk"), fen=Sum("amount_fen"))
    )
    cells = {}  # (side, channel, day) -> (count, fen)
    for row in paid:
        cells[("paid", row["channel"], row["day"])] = (row["n"], row["fen"] or 0)
    for row in refunded:
        cells[("refunded", row["attempt__channel"], row["day"])] = (row["n"], row["fen"] or 0)
    labels = dict(PaymentAttempt.Channel.choices)
    channels = [c for c in labels if any(key[1] == c for key in cells)]
    channels += sorted({key[1] for key in cells} - set(channels))  # a channel no longer in the choices
    day_list = [first + timedelta(days=i) for i in range(days)]
    series, totals = [], []
    for channel in channels:
        per_side = {}
        for side in ("paid", "refunded"):
            per_side[side] = [cells.get((side, channel, day), (0, 0)) for day in day_list]
        paid_fen = sum(fen for _n, fen in per_side["paid"])
        refunded_fen = sum(fen for _n, fen in per_side["refunded"])
        label = str(labels.get(channel, channel))
        series.append({
            "channel": channel, "label": label,
            "paid": [str(fen_to_yuan(fen)) for _n, fen in per_side["paid"]],
            "refunded": [str(fen_to_yuan(fen)) for _n, fen in per_side["refunded"]],
        })
        totals.append({
            "channel": channel, "label": label,
            "paid_count": sum(n for n, _fen in per_side["paid"]), "paid": fen_to_yuan(paid_fen),
            "refund_count": sum(n for n, _fen in per_side["refunded"]), "refunded": fen_to_yuan(refunded_fen),
            "net": fen_to_yuan(paid_fen - refunded_fen),
        })
    return {"days": [d.isoformat() for d in day_list], "series": series, "totals": totals}
