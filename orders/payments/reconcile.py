"""Daily reconciliation (对账): the gateways' bills of one local day compared line by line with our
payment and refund events.

What is compared
- A bill is downloaded once per gateway class that implements `download_bill` (the channels that
  share one merchant account, WeChat Pay's JSAPI, H5 and Native, are one bill) for every channel
  configured in settings.PAYMENT_GATEWAYS whose gateway `is_available()`. The development gateway
  keeps no bill (nothing leaves the shop) and is not reconciled.
- Ours: PaymentEvent SUCCEEDED (a payment: the attempt's out_trade_no and the amount confirmed) and
  REFUND_SUCCEEDED (a refund: its out_refund_no and amount_fen) recorded during the local day
  (Asia/Shanghai) on any of the bill's channels. Theirs: the bill's payment and refund lines.
  Payments pair by out_trade_no, refunds by out_refund_no.
- Differences (orders.models.ReconciliationDifference.Kind): MISSING_HERE (the bill has it, we have
  no such event), MISSING_THERE (we have it, the bill does not), AMOUNT_DIFFERS; and, needing no
  work, OTHER_DAY (both have it, on either side of midnight: we learnt of a payment at 00:00:03
  that the gateway completed at 23:59:58) and NOT_OURS (a line whose out_trade_no is no attempt of
  ours at all: Alipay's bill covers the whole seller account, other apps' trades appear in it).
- Totals per channel (payments and refunds, count and fen, ours and theirs) and per bill for the
  lines that are not ours. A day without differences is CLEAN.

Guarantees
- Bills are downloaded outside any transaction. The comparison and its writes are one transaction
  under the day's row lock (ReconciliationDay, select_for_update): two runs of a day (the beat and a
  staff click) take turns and never mix their rows.
- Idempotent: a bill that compared replaces that day's differences of that bill; every run stays as
  history (ReconciliationRun) with what it found.
- A bill that is not available yet (before PAYMENT_BILL_READY_HOUR the next morning, or a gateway
  raising BillNotReady) makes a NOT_YET run without asking or with nothing compared; a GatewayError
  (or any failure of a gateway's download) is recorded in the run with its message, never raised.
  Neither touches that bill's last result: the hourly beat (reconcile_due_days) asks again until
  the bill compares.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError
from stores.scope import is_hq

from ..models import (
    PaymentAttempt,
    PaymentEvent,
    ReconciliationDay,
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
)
from .dev import DevGateway
from .gateways import BillRow, Gateway, GatewayError, gateway_classes

logger = logging.getLogger("orders.payments.reconcile")

SHANGHAI = ZoneInfo("Asia/Shanghai")
Status = ReconciliationRun.Status
Kind = ReconciliationDifference.Kind
PAYMENT, REFUND = ReconciliationDifference.RowKind.PAYMENT, ReconciliationDifference.RowKind.REFUND
FINAL = (Status.CLEAN, Status.DIFFERENCES)  # a bill that compared; the others are asked again
PRECEDENCE = (Status.DIFFERENCES, Status.FAILED, Status.NOT_YET, Status.CLEAN)  # a day shows the first it has
RERUN_INTERVAL = timedelta(minutes=1)  # staff's 对账 button, per day
LOOKUP_CHUNK = 2000  # values per IN (...) when a bill is looked up in our tables


class Code(StrEnum):
    FORBIDDEN = "forbidden"
    DAY_NOT_OVER = "day_not_over"
    TOO_SOON = "too_soon"
    UNKNOWN_CHANNEL = "unknown_channel"


class ReconcileError(DomainError):
    code = "reconcile_error"


class BillNotReady(GatewayError):
    """A gateway's answer that the day's bill is still being made (WeChat Pay's STATEMENT_CREATING):
    the run is NOT_YET rather than FAILED. It belongs beside GatewayError in gateways.py, where the
    gateways can raise it; until then only a gateway that imports it from here does."""


# --- the bills ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bill:
    """One bill to download: the gateway class that implements download_bill, and every configured
    channel it serves (their events are compared with it together)."""

    key: str
    label: str
    channels: tuple
    gateway_class: type


def configured_bills(channels=None):
    """The bills of the configured channels, in settings order. `channels` picks the bills that
    serve any of them (a bill is always compared with all of its channels); a channel that has no
    bill to reconcile is a ReconcileError."""
    groups = {}
    for channel, cls in gateway_classes().items():
        if issubclass(cls, DevGateway) or not cls.is_available():
            continue
        owner = next(k for k in cls.__mro__ if "download_bill" in vars(k))
        if owner is Gateway:
            continue  # no bill of its own to download
        key = f"{owner.__module__}.{owner.__qualname__}"
        group = groups.setdefault(key, {"label": str(cls.label or channel), "channels": [], "class": cls})
        group["channels"].append(channel)
    bills = [Bill(key, g["label"], tuple(g["channels"]), g["class"]) for key, g in groups.items()]
    if channels is not None:
        wanted = {str(c) for c in channels}
        unknown = wanted - {c for bill in bills for c in bill.channels}
        if unknown:
            raise ReconcileError(_("这些支付渠道没有可对账的账单：%(names)s"), code=Code.UNKNOWN_CHANNEL,
                                 params={"names": ", ".join(sorted(unknown))})
        bills = [bill for bill in bills if wanted & set(bill.channels)]
    return bills


def bill_ready_at(day):
    """When the gateways' bills of `day` can be downloaded: WeChat Pay's trade bill and Alipay's
    after about 10:00 the next morning (PAYMENT_BILL_READY_HOUR)."""
    hour = int(getattr(settings, "PAYMENT_BILL_READY_HOUR", 10))
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI) + timedelta(hours=hour)


def day_window(day):
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


@dataclass
class Download:
    bill: Bill
    status: str  # "ok", Status.NOT_YET or Status.FAILED
    rows: list = field(default_factory=list)
    error: str = ""


def _valid_row(row):
    return (
        isinstance(row, BillRow) and row.kind in (PAYMENT, REFUND)
        and isinstance(row.out_trade_no, str) and isinstance(row.out_refund_no or "", str)
        and isinstance(row.amount_fen, int) and not isinstance(row.amount_fen, bool) and row.amount_fen >= 0
    )


def download(bill, day, now):
    """The bill's rows, or why there are none (never raises for the gateway's sake)."""
    ready = bill_ready_at(day)
    if now < ready:
        return Download(bill, Status.NOT_YET, error=_("账单在 %(at)s 后才能下载") % {
            "at": ready.strftime("%Y-%m-%d %H:%M")})
    try:
        rows = list(bill.gateway_class().download_bill(day))
    except BillNotReady as exc:
        return Download(bill, Status.NOT_YET, error=str(exc)[:500])
    except GatewayError as exc:
        logger.warning("bill %s of %s: %s", bill.key, day, exc)
        return Download(bill, Status.FAILED, error=str(exc)[:500])
    except Exception as exc:  # a gateway's bug must stop neither the other bills nor the beat
        logger.exception("bill %s of %s could not be read", bill.key, day)
        return Download(bill, Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
    bad = next((row for row in rows if not _valid_row(row)), None)
    if bad is not None:
        logger.error("bill %s of %s has a line that is not a BillRow: %r", bill.key, day, bad)
        return Download(bill, Status.FAILED, error=_("账单中有无法识别的行：%(row)s") % {"row": repr(bad)[:300]})
    return Download(bill, "ok", rows=rows)


# --- comparing ----------------------------------------------------------------------------------
@dataclass
class Line:
    """A payment or refund, ours (an event) or theirs (a bill row)."""

    row_kind: str
    out_trade_no: str
    out_refund_no: str
    fen: int | None
    channel: str = ""
    attempt_id: int | None = None
    order_id: int | None = None
    at: datetime | None = None
    reference: str = ""

    @property
    def key(self):
        return self.row_kind, (self.out_refund_no if self.row_kind == REFUND else self.out_trade_no)


def _chunks(values):
    values = sorted(values)
    for i in range(0, len(values), LOOKUP_CHUNK):
        yield values[i:i + LOOKUP_CHUNK]


def _local_day(moment):
    return moment.astimezone(SHANGHAI).date() if moment else None


def _our_lines(channels, start, end):
    events = (
        PaymentEvent.objects.filter(
            kind__in=(PaymentEvent.Kind.SUCCEEDED, PaymentEvent.Kind.REFUND_SUCCEEDED),
            attempt__channel__in=channels, created_at__gte=start, created_at__lt=end,
        )
        .order_by("id")
        .values("kind", "amount_fen", "gateway_reference", "created_at", "attempt_id", "order_id",
                "attempt__out_trade_no", "attempt__channel")
    )
    lines = []
    for e in events:
        refund = e["kind"] == PaymentEvent.Kind.REFUND_SUCCEEDED
        lines.append(Line(
            REFUND if refund else PAYMENT, e["attempt__out_trade_no"], e["gateway_reference"] if refund else "",
            e["amount_fen"], channel=e["attempt__channel"], attempt_id=e["attempt_id"], order_id=e["order_id"],
            at=e["created_at"], reference=e["gateway_reference"],
        ))
    return lines


def _attempts_by_trade(trade_nos):
    found = {}
    for chunk in _chunks({n for n in trade_nos if n and len(n) <= 32}):
        for row in PaymentAttempt.objects.filter(out_trade_no__in=chunk).values(
            "pk", "order_id", "channel", "out_trade_no", "state"
        ):
            found[row["out_trade_no"]] = row
    return found


def _difference(kind, *, bill, day, theirs=None, ours=None, note=""):
    line = theirs or ours
    return ReconciliationDifference(
        day=day, bill=bill.key, channel=(ours or theirs).channel, kind=kind, row_kind=line.row_kind,
        out_trade_no=line.out_trade_no[:64], out_refund_no=(line.out_refund_no or "")[:64],
        gateway_reference=(theirs.reference if theirs else "")[:128],
        theirs_fen=theirs.fen if theirs else None, ours_fen=ours.fen if ours else None,
        attempt_id=line.attempt_id, order_id=line.order_id,
        occurred_at=theirs.at if theirs else None, recorded_at=ours.at if ours else None, note=str(note)[:200],
    )


def _explain_theirs(lonely, *, bill, day, attempts):
    """Bill lines of our trades that no event of this day matched: ours from another day (OTHER_DAY,
    or AMOUNT_DIFFERS when the amounts differ too), else MISSING_HERE with what we know of it."""
    payments = [line for line in lonely if line.row_kind == PAYMENT]
    refunds = [line for line in lonely if line.row_kind == REFUND and line.out_refund_no]
    seen = {}
    for chunk in _chunks({line.attempt_id for line in payments}):
        for e in PaymentEvent.objects.filter(kind=PaymentEvent.Kind.SUCCEEDED, attempt_id__in=chunk).order_by("id") \
                .values("attempt_id", "created_at", "amount_fen"):
            seen.setdefault((PAYMENT, e["attempt_id"]), e)
    refund_states = {}
    for chunk in _chunks({line.out_refund_no for line in refunds}):
        for e in PaymentEvent.objects.filter(kind=PaymentEvent.Kind.REFUND_SUCCEEDED, gateway_reference__in=chunk) \
                .order_by("id").values("gateway_reference", "created_at", "amount_fen"):
            seen.setdefault((REFUND, e["gateway_reference"]), e)
        for r in Refund.objects.filter(out_refund_no__in=chunk).values("out_refund_no", "state"):
            refund_states[r["out_refund_no"]] = r["state"]
    differences = []
    for line in lonely:
        ours = seen.get((PAYMENT, line.attempt_id) if line.row_kind == PAYMENT else (REFUND, line.out_refund_no))
        if ours is not None and _local_day(ours["created_at"]) != day:
            mate = Line(line.row_kind, line.out_trade_no, line.out_refund_no, ours["amount_fen"], line.channel,
                        line.attempt_id, line.order_id, at=ours["created_at"])
            note = _("我方记录在 %(day)s") % {"day": _local_day(ours["created_at"]).isoformat()}
            kind = Kind.OTHER_DAY if ours["amount_fen"] == line.fen else Kind.AMOUNT_DIFFERS
            differences.append(_difference(kind, bill=bill, day=day, theirs=line, ours=mate, note=note))
            continue
        if ours is not None:
            note = _("账单中重复出现")
        elif line.row_kind == PAYMENT:
            state = attempts.get(line.out_trade_no, {}).get("state", "")
            note = _("我方支付单状态：%(state)s") % {"state": PaymentAttempt.State(state).label if state else "-"}
        elif line.out_refund_no in refund_states:
            note = _("我方退款单状态：%(state)s") % {"state": Refund.State(refund_states[line.out_refund_no]).label}
        else:
            note = _("我方没有这笔退款单（可能在商户平台直接退款）")
        differences.append(_difference(Kind.MISSING_HERE, bill=bill, day=day, theirs=line, note=note))
    return differences


def _explain_ours(lonely, *, bill, day, start, end):
    """Our events of this day that no bill line matched: listed on another day's bill when that
    day's comparison found this very event across midnight (OTHER_DAY), else MISSING_THERE."""
    trades = {line.out_trade_no for line in lonely if line.row_kind == PAYMENT}
    refund_nos = {line.out_refund_no for line in lonely if line.row_kind == REFUND}
    elsewhere = {}
    lookups = [Q(row_kind=PAYMENT, out_trade_no__in=chunk) for chunk in _chunks(trades)]
    lookups += [Q(row_kind=REFUND, out_refund_no__in=chunk) for chunk in _chunks(refund_nos)]
    for lookup in lookups:
        found = ReconciliationDifference.objects.filter(
            lookup, kind__in=(Kind.OTHER_DAY, Kind.AMOUNT_DIFFERS), recorded_at__gte=start, recorded_at__lt=end,
        ).exclude(day=day).values("row_kind", "out_trade_no", "out_refund_no", "day")
        for d in found:
            key = d["row_kind"], d["out_refund_no"] if d["row_kind"] == REFUND else d["out_trade_no"]
            elsewhere[key] = d["day"]
    differences = []
    for line in lonely:
        other = elsewhere.get(line.key)
        if other is not None:
            note = _("平台账单记在 %(day)s") % {"day": other.isoformat()}
            differences.append(_difference(Kind.OTHER_DAY, bill=bill, day=day, ours=line, note=note))
        else:
            differences.append(_difference(Kind.MISSING_THERE, bill=bill, day=day, ours=line))
    return differences


def _empty_totals():
    return {"payments": [0, 0], "refunds": [0, 0]}  # [count, fen]


def _add(totals, line):
    bucket = totals["refunds" if line.row_kind == REFUND else "payments"]
    bucket[0] += 1
    bucket[1] += line.fen or 0


def compare(bill, rows, *, day):
    """(differences, section) of one bill's rows against our events of `day` (no writes)."""
    start, end = day_window(day)
    ours = _our_lines(bill.channels, start, end)
    attempts = _attempts_by_trade({row.out_trade_no for row in rows})
    theirs, foreign = [], []
    for row in rows:
        attempt = attempts.get(row.out_trade_no)
        line = Line(row.kind, row.out_trade_no, row.out_refund_no if row.kind == REFUND else "", row.amount_fen,
                    channel=attempt["channel"] if attempt else "", attempt_id=attempt["pk"] if attempt else None,
                    order_id=attempt["order_id"] if attempt else None, at=row.occurred_at,
                    reference=row.gateway_reference or "")
        (theirs if attempt else foreign).append(line)

    waiting = defaultdict(list)
    for line in ours:
        waiting[line.key].append(line)
    differences, lonely_theirs = [], []
    for line in theirs:
        mates = waiting.get(line.key)
        if not mates:
            lonely_theirs.append(line)
            continue
        mate = mates.pop(0)
        if mate.fen != line.fen:
            differences.append(_difference(Kind.AMOUNT_DIFFERS, bill=bill, day=day, theirs=line, ours=mate))
    lonely_ours = [line for mates in waiting.values() for line in mates]
    differences += _explain_theirs(lonely_theirs, bill=bill, day=day, attempts=attempts)
    differences += _explain_ours(lonely_ours, bill=bill, day=day, start=start, end=end)
    differences += [_difference(Kind.NOT_OURS, bill=bill, day=day, theirs=line) for line in foreign]

    totals = {channel: {"ours": _empty_totals(), "theirs": _empty_totals()} for channel in bill.channels}
    for side, lines in (("ours", ours), ("theirs", theirs)):
        for line in lines:
            totals.setdefault(line.channel, {"ours": _empty_totals(), "theirs": _empty_totals()})
            _add(totals[line.channel][side], line)
    not_ours = _empty_totals()
    for line in foreign:
        _add(not_ours, line)
    action = sum(1 for d in differences if d.kind in ReconciliationDifference.ACTION_KINDS)
    section = {
        "label": bill.label, "channels": list(bill.channels),
        "status": Status.DIFFERENCES if action else Status.CLEAN, "error": "",
        "totals": totals, "not_ours_totals": not_ours,
        "differences": action, "other_day": sum(1 for d in differences if d.kind == Kind.OTHER_DAY),
        "not_ours": len(foreign),
    }
    return differences, section


def overall(statuses):
    statuses = set(statuses)
    return next((s for s in PRECEDENCE if s in statuses), Status.NO_GATEWAY)


# --- the use cases ------------------------------------------------------------------------------
def reconcile_day(day, *, channels=None, trigger=ReconciliationRun.Trigger.COMMAND, by=None, now=None):
    """Reconcile one local day with the bills of the configured gateways (those serving `channels`,
    when given) and return the run. Downloads happen first, outside any transaction; then the day's
    row is locked, each bill that downloaded is compared and replaces its differences of that day,
    and the run and the day's state are written. Not-yet-available and failed bills are recorded,
    never raised; a bill's earlier result stays until it compares again."""
    if not isinstance(day, date) or isinstance(day, datetime):
        raise TypeError("day must be a date")
    clock = now is None
    now = now or timezone.now()
    bills = configured_bills(channels)
    downloads = [download(bill, day, now) for bill in bills]
    return _record(day, downloads, trigger=trigger, by=by, started_at=now,
                   finished_at=timezone.now() if clock else now)


@transaction.atomic
def _record(day, downloads, *, trigger, by, started_at, finished_at):
    ReconciliationDay.objects.get_or_create(day=day)
    state = ReconciliationDay.objects.select_for_update().get(day=day)
    run = ReconciliationRun.objects.create(day=day, status=Status.NO_GATEWAY, trigger=trigger, requested_by=by,
                                           started_at=started_at, finished_at=finished_at)
    sections, found = {}, []
    for fetched in downloads:
        bill = fetched.bill
        if fetched.status == "ok":
            differences, section = compare(bill, fetched.rows, day=day)
            ReconciliationDifference.objects.filter(day=day, bill=bill.key).delete()
            for difference in differences:
                difference.run = run
            found += differences
        else:
            section = {"label": bill.label, "channels": list(bill.channels), "status": fetched.status,
                       "error": fetched.error, "differences": 0, "other_day": 0, "not_ours": 0}
        section.update(run=run.pk, at=finished_at.isoformat())
        sections[bill.key] = section
        previous = state.bills.get(bill.key)
        if section["status"] in FINAL or not previous or previous.get("status") not in FINAL:
            state.bills[bill.key] = section
        else:  # keep what the bill last compared to; say that asking again did not work
            previous["retry"] = {"status": fetched.status, "error": fetched.error, "run": run.pk,
                                 "at": finished_at.isoformat()}
    ReconciliationDifference.objects.bulk_create(found, batch_size=500)

    run.bills = sections
    run.status = overall(s["status"] for s in sections.values())
    run.differences = sum(s["differences"] for s in sections.values())
    run.not_ours = sum(s["not_ours"] for s in sections.values())
    run.save(update_fields=["bills", "status", "differences", "not_ours"])
    state.status = overall(s["status"] for s in state.bills.values())
    state.differences = sum(s.get("differences", 0) for s in state.bills.values())
    state.not_ours = sum(s.get("not_ours", 0) for s in state.bills.values())
    state.checked_at = finished_at
    state.save(update_fields=["bills", "status", "differences", "not_ours", "checked_at"])
    return run


def reconcile_due_days(*, now=None):
    """What the beat runs (hourly from 10:30): every day of the last PAYMENT_RECONCILE_DAYS days,
    oldest first, whose configured bills have not all compared yet (never tried, not available yet,
    failed) is reconciled for those bills. Repeated once every bill compared, it downloads nothing.
    Returns the runs it made."""
    now = now or timezone.now()
    bills = configured_bills()
    if not bills:
        return []
    today = now.astimezone(SHANGHAI).date()
    days = [today - timedelta(days=n) for n in range(int(getattr(settings, "PAYMENT_RECONCILE_DAYS", 3)), 0, -1)]
    known = {row.day: row.bills for row in ReconciliationDay.objects.filter(day__in=days).only("day", "bills")}
    runs = []
    for day in days:
        compared = known.get(day, {})
        due = [bill for bill in bills if compared.get(bill.key, {}).get("status") not in FINAL]
        if due:
            channels = [channel for bill in due for channel in bill.channels]
            runs.append(reconcile_day(day, channels=channels, trigger=ReconciliationRun.Trigger.SCHEDULE, now=now))
    return runs


@transaction.atomic
def request_reconciliation(day, *, by, now=None):
    """Staff's 对账 button: HQ only, a day that is over, at most once a minute per day (a conditional
    UPDATE of the day's `requested_at`, so two clicks at once start one run). The run goes to the
    worker once this commits; raises ReconcileError otherwise and changes nothing."""
    now = now or timezone.now()
    if not is_hq(by):
        raise ReconcileError(_("只有总部可以对账"), code=Code.FORBIDDEN)
    if day >= now.astimezone(SHANGHAI).date():
        raise ReconcileError(_("只能对账今天以前的日期"), code=Code.DAY_NOT_OVER)
    ReconciliationDay.objects.get_or_create(day=day)
    took = ReconciliationDay.objects.filter(
        Q(requested_at__isnull=True) | Q(requested_at__lte=now - RERUN_INTERVAL), day=day,
    ).update(requested_at=now)
    if not took:
        raise ReconcileError(_("这一天刚刚对过账，请一分钟后再试"), code=Code.TOO_SOON)
    from .. import tasks
    from ..services.base import enqueue_on_commit

    enqueue_on_commit(tasks.reconcile_payments_day, day.isoformat(), by.pk)
