"""Parcel tracking: a small adapter chosen in settings (ORDER_TRACKING_PROVIDER), and the sweep that
asks it about parcels on their way.

Providers:
- `ManualTracking` (the embedded default): no network. Staff type route lines by hand through
  `add_manual_event` (the back office calls it); the sweep asks nothing.
- `Kuaidi100Tracking`: Kuaidi100's real-time query API (实时快递查询, POST form-encoded
  ``customer``, ``sign``, ``param`` to https://poll.kuaidi100.com/poll/query.do). ``param`` is a JSON
  object serialised ONCE; ``sign`` is MD5(param + key + customer) in upper-case hex over exactly the
  string sent. Needs KUAIDI100_CUSTOMER and KUAIDI100_KEY; its HTTP session is built on first use,
  never at import or worker start, and every call has a timeout (KUAIDI100_TIMEOUT_SECONDS).

The sweep (`poll_due_shipments`: beat task orders.tasks.poll_tracking every ORDER_TRACKING_POLL_HOURS,
and `manage.py poll_tracking`) asks about the parcels of SHIPPED orders not asked within the last
ORDER_TRACKING_POLL_HOURS (less 10 minutes, so the previous run's parcels are due again at the next
run), never-asked and longest-unasked first, at most ORDER_TRACKING_POLL_BATCH per run, skipping
parcels already signed for. Guarantees:
- Each parcel is claimed by a conditional UPDATE of its `last_polled_at` before the provider is
  asked, so two overlapping sweeps never ask (and pay) twice for one parcel.
- The provider is asked outside any transaction; its answer is stored through
  orders.services.record_tracking (a route line seen before is skipped), so a run repeated changes
  nothing more.
- Nothing raises out of the sweep. A provider error or timeout is logged and the parcel is asked
  again at a later run; a configuration error (no key, or Kuaidi100 refusing our signature or key)
  stops the run, since every call would fail the same way, and gives the parcel back unclaimed.
"""

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import Code, OrderError
from .models import Order, OrderEvent, Shipment, TrackingEvent

logger = logging.getLogger("orders.tracking")

DEFAULT_PROVIDER = "orders.tracking.ManualTracking"
POLL_SLACK = timedelta(minutes=10)
FUTURE_TOLERANCE = timedelta(minutes=5)
CHINA = ZoneInfo("Asia/Shanghai")  # carriers report Beijing time, whatever our TIME_ZONE


class State(models.TextChoices):
    """A parcel's state as we store it (TrackingEvent.state, Shipment.last_state)."""

    COLLECTED = "collected", gettext_lazy("已揽收")
    IN_TRANSIT = "in_transit", gettext_lazy("运输中")
    DELIVERING = "delivering", gettext_lazy("派送中")
    SIGNED = "signed", gettext_lazy("已签收")
    PROBLEM = "problem", gettext_lazy("疑难件")
    REJECTED = "rejected", gettext_lazy("拒签")
    RETURNING = "returning", gettext_lazy("退回中")
    RETURNED = "returned", gettext_lazy("已退签")
    REDIRECTED = "redirected", gettext_lazy("转投")
    CUSTOMS = "customs", gettext_lazy("清关中")


# nothing more will happen to these parcels: the sweep stops asking
FINAL_STATES = (State.SIGNED, State.RETURNED)


def state_label(state):
    """What people read for a stored state ("" for none or an unknown one)."""
    try:
        return State(state).label
    except ValueError:
        return ""


class TrackingError(Exception):
    """The provider could not answer now (network, timeout, its own error): ask again later."""


class TrackingConfigError(TrackingError):
    """Our configuration is wrong (no key, a signature or key the provider refuses): every call
    would fail the same way until someone fixes the settings."""


@dataclass
class TrackingResult:
    """A provider's answer: the parcel's current `state` (a State value or "") and its route lines
    [(occurred_at, context, state, location)], as orders.services.record_tracking takes them."""

    state: str = ""
    events: list = field(default_factory=list)


class TrackingProvider:
    """The interface. `polls`: whether the sweep asks this provider at all."""

    polls = False

    @classmethod
    def is_configured(cls):
        return True

    def track(self, shipment) -> TrackingResult:  # pragma: no cover - interface
        raise NotImplementedError


class ManualTracking(TrackingProvider):
    """No provider: staff add route lines by hand (`add_manual_event`). Asks nobody."""

    polls = False

    def track(self, shipment):
        return TrackingResult()


# --- Kuaidi100 --------------------------------------------------------------------------------
KUAIDI100_URL = "https://poll.kuaidi100.com/poll/query.do"
# Kuaidi100's `state`: 0 在途, 1 揽收, 2 疑难, 3 签收, 4 退签, 5 派件, 6 退回, 7 转投,
# 8 清关 (and 10-13 its customs steps), 14 拒签
KUAIDI100_STATES = {
    "0": State.IN_TRANSIT, "1": State.COLLECTED, "2": State.PROBLEM, "3": State.SIGNED, "4": State.RETURNED,
    "5": State.DELIVERING, "6": State.RETURNING, "7": State.REDIRECTED, "8": State.CUSTOMS, "10": State.CUSTOMS,
    "11": State.CUSTOMS, "12": State.CUSTOMS, "13": State.CUSTOMS, "14": State.REJECTED,
}
# the words of a route line's `status` (resultv2=1)
KUAIDI100_WORDS = {
    "在途": State.IN_TRANSIT, "揽收": State.COLLECTED, "疑难": State.PROBLEM, "签收": State.SIGNED,
    "退签": State.RETURNED, "派件": State.DELIVERING, "退回": State.RETURNING, "转投": State.REDIRECTED,
    "清关": State.CUSTOMS, "拒签": State.REJECTED,
}
# returnCode of a refused query: 500 = no route yet (not an error); these mean our settings are wrong
KUAIDI100_NO_RESULT = "500"
KUAIDI100_CONFIG_CODES = {"503", "601"}  # 验证签名失败; key expired or no queries left


def kuaidi100_sign(param: str, key: str, customer: str) -> str:
    """MD5(param + key + customer), upper-case hex, over exactly the `param` string that is sent."""
    return hashlib.md5((param + key + customer).encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def kuaidi100_state(code):
    """Our State for one of Kuaidi100's state codes, including its sub-states (101 已下单, 501 投柜,
    1002 干线 …: a three-digit code belongs to its first digit, a four-digit 10xx to 在途)."""
    code = str(code if code is not None else "").strip()
    if code in KUAIDI100_STATES:
        return KUAIDI100_STATES[code]
    if len(code) == 3 and code.isdigit():
        return KUAIDI100_STATES.get(code[0], "")
    if len(code) == 4 and code.startswith("10") and code.isdigit():
        return State.IN_TRANSIT
    return ""


def _kuaidi100_time(item):
    for name in ("ftime", "time"):
        raw = item.get(name)
        if isinstance(raw, str):
            try:
                return datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
            except ValueError:
                continue
    return None


def parse_kuaidi100(body):
    """A query answer (already known to be a success) as a TrackingResult. Route lines without a
    readable time or text are left out; the newest line carries the parcel's overall state."""
    if not isinstance(body, dict):
        raise TrackingError("Kuaidi100 answered something that is not a JSON object")
    overall = kuaidi100_state(body.get("state"))
    if not overall and str(body.get("ischeck") or "") == "1":
        overall = State.SIGNED
    items = body.get("data") or []
    if not isinstance(items, list):
        raise TrackingError("Kuaidi100 answered a `data` that is not a list")
    events = []
    for item in items:
        if not isinstance(item, dict):
            continue
        occurred_at, context = _kuaidi100_time(item), str(item.get("context") or "").strip()
        if occurred_at is None or not context:
            continue
        state = kuaidi100_state(item.get("statusCode")) or KUAIDI100_WORDS.get(str(item.get("status") or "").strip(), "")
        location = str(item.get("areaName") or item.get("location") or "").strip()
        events.append([occurred_at, context, state, location])
    if events and overall:
        max(events, key=lambda e: e[0])[2] = overall
    return TrackingResult(state=overall, events=[tuple(e) for e in events])


class Kuaidi100Tracking(TrackingProvider):
    polls = True

    def __init__(self, *, customer=None, key=None, url=None, timeout=None):
        self.customer = customer if customer is not None else getattr(settings, "KUAIDI100_CUSTOMER", "")
        self.key = key if key is not None else getattr(settings, "KUAIDI100_KEY", "")
        self.url = url or KUAIDI100_URL
        self.timeout = timeout or getattr(settings, "KUAIDI100_TIMEOUT_SECONDS", 10)
        self._session = None

    @classmethod
    def is_configured(cls):
        return bool(getattr(settings, "KUAIDI100_CUSTOMER", "") and getattr(settings, "KUAIDI100_KEY", ""))

    @property
    def session(self):
        """The HTTP client, built on first use."""
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def query_param(self, shipment):
        """The `param` string for one parcel (the phone is the receiver's: SF requires it)."""
        order = shipment.order
        return json.dumps(
            {
                "com": shipment.carrier_code, "num": shipment.tracking_no, "phone": order.receiver_phone or "",
                "from": "", "to": f"{order.province}{order.city}"[:40], "resultv2": "1", "show": "0", "order": "desc",
            },
            ensure_ascii=False, separators=(",", ":"),
        )

    def track(self, shipment):
        import requests

        if not (self.customer and self.key):
            raise TrackingConfigError("KUAIDI100_CUSTOMER and KUAIDI100_KEY must both be set")
        param = self.query_param(shipment)
        form = {"customer": self.customer, "sign": kuaidi100_sign(param, self.key, self.customer), "param": param}
        try:
            response = self.session.post(self.url, data=form, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TrackingError(f"Kuaidi100 unreachable: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code != 200:
            raise TrackingError(f"Kuaidi100 answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise TrackingError("Kuaidi100 answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise TrackingError("Kuaidi100 answered something that is not a JSON object")
        code = str(body.get("returnCode") or "")
        if body.get("result") is False or (code and code != "200"):
            message = str(body.get("message") or "")[:200]
            if code == KUAIDI100_NO_RESULT:
                return TrackingResult()  # no route line yet: nothing to store, ask again later
            if code in KUAIDI100_CONFIG_CODES:
                raise TrackingConfigError(f"Kuaidi100 refused our credentials ({code} {message})")
            raise TrackingError(f"Kuaidi100 error {code} {message}")
        return parse_kuaidi100(body)


def get_provider():
    """A new instance of the configured provider (its client is built on first use)."""
    return import_string(getattr(settings, "ORDER_TRACKING_PROVIDER", DEFAULT_PROVIDER) or DEFAULT_PROVIDER)()


# --- the sweep --------------------------------------------------------------------------------
@dataclass
class PollSummary:
    provider: str
    polls: bool = True  # False: the provider is manual, nothing was asked
    due: int = 0
    polled: int = 0
    new_events: int = 0
    failed: int = 0
    stopped: str = ""  # why the run ended early, if it did

    def as_dict(self):
        return asdict(self)


def due_shipments(now, limit):
    hours = int(getattr(settings, "ORDER_TRACKING_POLL_HOURS", 2))
    cutoff = now - timedelta(hours=hours) + POLL_SLACK
    return list(
        Shipment.objects.filter(order__status=Order.Status.SHIPPED)
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=cutoff))
        .exclude(last_state__in=FINAL_STATES)
        .select_related("order")
        .order_by(F("last_polled_at").asc(nulls_first=True), "pk")[:limit]
    )


def _claim(shipment, now):
    was = shipment.last_polled_at
    claimed = Shipment.objects.filter(pk=shipment.pk)
    claimed = claimed.filter(last_polled_at__isnull=True) if was is None else claimed.filter(last_polled_at=was)
    return claimed.update(last_polled_at=now) == 1


def poll_due_shipments(*, now=None, limit=None, provider=None):
    """Ask the provider about the parcels that are due (see the module docstring) and store what
    is new. Never raises; returns a PollSummary."""
    provider = provider or get_provider()
    summary = PollSummary(provider=type(provider).__name__)
    if not provider.polls:
        summary.polls = False
        return summary
    if not provider.is_configured():
        summary.stopped = "the tracking provider is not configured"
        logger.error("tracking: %s is chosen but not configured; nothing polled", summary.provider)
        return summary
    now = now or timezone.now()
    limit = limit or int(getattr(settings, "ORDER_TRACKING_POLL_BATCH", 200))
    due = due_shipments(now, limit)
    summary.due = len(due)
    for shipment in due:
        was = shipment.last_polled_at
        if not _claim(shipment, now):
            continue  # an overlapping run took it
        try:
            result = provider.track(shipment)
        except TrackingConfigError as exc:
            Shipment.objects.filter(pk=shipment.pk, last_polled_at=now).update(last_polled_at=was)
            summary.failed += 1
            summary.stopped = str(exc)
            logger.error("tracking: configuration refused, run stopped: %s", exc)
            break
        except TrackingError as exc:
            summary.failed += 1
            logger.warning("tracking: %s %s not tracked now: %s", shipment.carrier_code, shipment.tracking_no, exc)
            continue
        except Exception:
            summary.failed += 1
            logger.exception("tracking: %s %s failed", shipment.carrier_code, shipment.tracking_no)
            continue
        try:
            summary.new_events += _record(shipment, result.events)
        except Exception:
            summary.failed += 1
            logger.exception("tracking: could not store the route of %s %s", shipment.carrier_code,
                             shipment.tracking_no)
            continue
        summary.polled += 1
    return summary


def _record(shipment, events):
    from .services import record_tracking

    return record_tracking(shipment, events)


# --- manual route lines -----------------------------------------------------------------------
@transaction.atomic
def add_manual_event(shipment, *, by, occurred_at, context, state="", location=""):
    """Staff type one route line of a parcel (the embedded default has no provider). Only staff of
    the order's store (HQ: any) with orders.fulfil_order, only for a shipped or completed order;
    `occurred_at` is an aware datetime not in the future, `context` 1-255 characters, `state` one
    of State or "". The same line again (same time and text) is stored once and returned. Returns
    the TrackingEvent; raises OrderError and changes nothing otherwise."""
    from .services import lock_order, record_tracking
    from .services.base import record_event
    from .services.lifecycle import require_store_staff

    shipment_id = getattr(shipment, "pk", shipment)
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if not getattr(by, "pk", None):
        raise OrderError(_("您没有执行此操作的权限"), code=Code.FORBIDDEN)
    if order_id is None:
        raise OrderError(_("包裹不存在"), code=Code.NOT_FOUND)
    order = lock_order(order_id)
    require_store_staff(order, by, "orders.fulfil_order")
    if order.status not in (Order.Status.SHIPPED, Order.Status.COMPLETED):
        raise OrderError(_("只有已发货的订单可以添加物流轨迹"), code=Code.INVALID_TRANSITION)
    context = str(context or "").strip()
    if not context or len(context) > 255 or "\x00" in context:
        raise OrderError(_("请填写 1-255 字的物流信息"), code=Code.SHIPMENT_INVALID)
    location = str(location or "").strip()
    if len(location) > 64 or "\x00" in location:
        raise OrderError(_("地点最多 64 字"), code=Code.SHIPMENT_INVALID)
    if state and state not in State.values:
        raise OrderError(_("请选择物流状态"), code=Code.SHIPMENT_INVALID)
    if not isinstance(occurred_at, datetime):
        raise OrderError(_("请填写物流时间"), code=Code.SHIPMENT_INVALID)
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if occurred_at > timezone.now() + FUTURE_TOLERANCE:
        raise OrderError(_("物流时间不能晚于现在"), code=Code.SHIPMENT_INVALID)
    shipment = Shipment.objects.get(pk=shipment_id)
    if record_tracking(shipment, [(occurred_at, context, state, location)]):
        record_event(order, kind=OrderEvent.Kind.SHIPMENT, by=by, visible=False,
                     note=_("添加物流轨迹（%(parcel)s）：%(context)s") % {"parcel": shipment, "context": context[:150]})
    return TrackingEvent.objects.get(shipment=shipment, occurred_at=occurred_at, context=context)
