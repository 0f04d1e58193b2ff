"""Parcel tracking: the Kuaidi100 adapter faked at the HTTP level (`responses`) with its documented
query format, the polling sweep and its failure modes, and manual route lines typed by staff."""

import hashlib
import json
import threading
import time as time_module
from datetime import datetime, timedelta
from io import StringIO
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from orders import services, tasks, tracking
from orders.errors import Code, OrderError
from orders.models import Order, OrderEvent, Shipment, TrackingEvent
from orders.tracking import (
    KUAIDI100_URL,
    Kuaidi100Tracking,
    ManualTracking,
    State,
    add_manual_event,
    kuaidi100_sign,
    kuaidi100_state,
    poll_due_shipments,
)
from stores.models import StoreStaff

from .factories import checkout, make_order_staff, pay

pytestmark = pytest.mark.django_db
CHINA = ZoneInfo("Asia/Shanghai")
CUSTOMER, KEY = "CUST42", "K2x9demo"


@pytest.fixture
def kuaidi100(settings):
    settings.ORDER_TRACKING_PROVIDER = "orders.tracking.Kuaidi100Tracking"
    settings.KUAIDI100_CUSTOMER = CUSTOMER
    settings.KUAIDI100_KEY = KEY
    settings.KUAIDI100_TIMEOUT_SECONDS = 3
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def shipped(shopper, store, sku, manager, tracking_no="SF1234567890", carrier="shunfeng"):
    order = checkout(shopper, store, [(sku, 1)], fulfilment="express")
    pay(order)
    services.ship_order(order, by=manager, parcels=[(carrier, tracking_no)])
    return Shipment.objects.select_related("order").get(tracking_no=tracking_no)


def beijing(dt):
    return timezone.localtime(dt, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def good_answer(num, *, now=None, state="5"):
    """A successful real-time query answer, as Kuaidi100 documents it (newest first, resultv2=1)."""
    now = now or timezone.now()
    steps = [
        (now - timedelta(hours=1), "【上海市】快递员 王师傅 正在为您派件，电话 13900000000", "派件", "上海市,黄浦区"),
        (now - timedelta(hours=9), "【上海转运中心】已发出，下一站【上海黄浦营业点】", "在途", "上海市"),
        (now - timedelta(hours=20), "【上海静安营业点】已揽收", "揽收", "上海市,静安区"),
    ]
    return {
        "message": "ok", "nu": num, "ischeck": "0", "com": "shunfeng", "status": "200", "condition": "F00",
        "state": state,
        "data": [
            {"time": beijing(t), "ftime": beijing(t), "context": text, "status": word, "areaName": area}
            for t, text, word, area in steps
        ],
    }


def form_of(call):
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# --- the signature and the request ------------------------------------------------------------
def test_sign_matches_a_known_vector():
    param = '{"com":"yuantong","num":"500306190180","phone":"","from":"","to":"北京朝阳","resultv2":"1","show":"0","order":"desc"}'
    # computed independently: printf '%s' "<param>K2x9demoCUST42" | md5sum, upper-cased
    assert kuaidi100_sign(param, KEY, CUSTOMER) == "74E3AB2CF569F18976BCA794E7C03447"


def test_the_query_is_form_encoded_and_signed_over_the_exact_param_sent(kuaidi100, store, shopper, tea, manager):
    shipment = shipped(shopper, store, tea, manager)
    kuaidi100.add(responses.POST, KUAIDI100_URL, json=good_answer("SF1234567890"))
    poll_due_shipments()
    assert len(kuaidi100.calls) == 1
    call = kuaidi100.calls[0]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = form_of(call)
    assert set(form) == {"customer", "sign", "param"} and form["customer"] == CUSTOMER
    expected = hashlib.md5((form["param"] + KEY + CUSTOMER).encode("utf-8")).hexdigest().upper()
    assert form["sign"] == expected
    param = json.loads(form["param"])
    assert (param["com"], param["num"]) == ("shunfeng", "SF1234567890")
    assert param["phone"] == shipment.order.receiver_phone  # SF needs the receiver's phone
    assert param["resultv2"] == "1"


# --- answers ------------------------------------------------------------------------------------
def test_a_good_answer_stores_the_route_once(kuaidi100, store, shopper, tea, manager):
    shipment = shipped(shopper, store, tea, manager)
    now = timezone.now()
    kuaidi100.add(responses.POST, KUAIDI100_URL, json=good_answer("SF1234567890", now=now))
    summary = poll_due_shipments(now=now)
    assert (summary.due, summary.polled, summary.new_events, summary.failed) == (1, 1, 3, 0)
    events = list(TrackingEvent.objects.filter(shipment=shipment))  # newest first
    assert [e.state for e in events] == [State.DELIVERING, State.IN_TRANSIT, State.COLLECTED]
    assert events[0].location == "上海市,黄浦区" and "正在为您派件" in events[0].context
    assert abs(events[0].occurred_at - (now - timedelta(hours=1))) < timedelta(seconds=1)  # Beijing time read right
    shipment.refresh_from_db()
    assert shipment.last_state == State.DELIVERING and shipment.last_polled_at is not None

    # not due again within the polling interval: nobody is asked
    assert poll_due_shipments(now=now + timedelta(minutes=30)).due == 0
    assert len(kuaidi100.calls) == 1
    # due again later: the same route stores nothing twice
    again = poll_due_shipments(now=now + timedelta(hours=2))
    assert (again.polled, again.new_events) == (1, 0)
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3


def test_a_signed_parcel_is_not_asked_again(kuaidi100, store, shopper, tea, manager):
    shipment = shipped(shopper, store, tea, manager)
    answer = good_answer("SF1234567890", state="3")
    answer["ischeck"] = "1"
    kuaidi100.add(responses.POST, KUAIDI100_URL, json=answer)
    poll_due_shipments()
    shipment.refresh_from_db()
    assert shipment.last_state == State.SIGNED
    assert poll_due_shipments(now=timezone.now() + timedelta(days=1)).due == 0
    # signed for is not received: the order still waits for the buyer or the auto-confirm
    assert Order.objects.get(pk=shipment.order_id).status == Order.Status.SHIPPED


def test_an_error_answer_is_logged_and_asked_again_later(kuaidi100, store, shopper, tea, manager, caplog):
    shipment = shipped(shopper, store, tea, manager)
    now = timezone.now()
    kuaidi100.add(responses.POST, KUAIDI100_URL,
                  json={"result": False, "returnCode": "400", "message": "找不到对应公司"})
    summary = poll_due_shipments(now=now)
    assert (summary.polled, summary.failed, summary.stopped) == (0, 1, "")
    assert not TrackingEvent.objects.exists()
    assert "找不到对应公司" in caplog.text
    shipment.refresh_from_db()
    assert shipment.last_polled_at == now  # not again in this window, again in the next
    assert poll_due_shipments(now=now + timedelta(hours=2)).due == 1


def test_no_route_yet_is_not_a_failure(kuaidi100, store, shopper, tea, manager):
    shipped(shopper, store, tea, manager)
    kuaidi100.add(responses.POST, KUAIDI100_URL,
                  json={"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"})
    summary = poll_due_shipments()
    assert (summary.polled, summary.new_events, summary.failed) == (1, 0, 0)


def test_a_timeout_never_stops_the_sweep(kuaidi100, store, shopper, tea, manager, caplog):
    slow = shipped(shopper, store, tea, manager, tracking_no="SF0000000001")
    fine = shipped(shopper, store, tea, manager, tracking_no="SF0000000002")

    def answer(request):
        num = json.loads(parse_qs(request.body)["param"][0])["num"]
        if num == slow.tracking_no:
            raise requests.exceptions.ReadTimeout("read timed out")
        return 200, {}, json.dumps(good_answer(num))

    kuaidi100.add_callback(responses.POST, KUAIDI100_URL, callback=answer)
    summary = poll_due_shipments()
    assert (summary.due, summary.polled, summary.failed) == (2, 1, 1)
    assert not TrackingEvent.objects.filter(shipment=slow).exists()
    assert TrackingEvent.objects.filter(shipment=fine).count() == 3
    assert "ReadTimeout" in caplog.text


def test_garbage_answers_are_failures_not_crashes(kuaidi100, store, shopper, tea, manager):
    shipped(shopper, store, tea, manager)
    start = timezone.now()
    answers = [dict(body="<html>502</html>", status=502), dict(body="not json"), dict(json=[1, 2]),
               dict(json={"message": "ok", "state": "0", "data": "nope"})]
    for n, answer in enumerate(answers, start=1):
        kuaidi100.reset()
        kuaidi100.add(responses.POST, KUAIDI100_URL, **answer)
        summary = poll_due_shipments(now=start + timedelta(hours=3 * n))
        assert (summary.polled, summary.failed) == (0, 1), answer
    assert not TrackingEvent.objects.exists()


def test_a_bad_signature_config_stops_the_run_and_gives_the_parcels_back(kuaidi100, store, shopper, tea, manager,
                                                                          settings, caplog):
    settings.KUAIDI100_KEY = "a-wrong-key"
    first = shipped(shopper, store, tea, manager, tracking_no="SF0000000001")
    shipped(shopper, store, tea, manager, tracking_no="SF0000000002")
    kuaidi100.add(responses.POST, KUAIDI100_URL, json={"result": False, "returnCode": "503", "message": "验证签名失败"})
    summary = poll_due_shipments()
    assert len(kuaidi100.calls) == 1  # every call would fail the same way: stopped after the first
    assert summary.failed == 1 and "503" in summary.stopped
    assert Shipment.objects.filter(last_polled_at__isnull=True).count() == 2  # asked again once fixed
    assert "验证签名失败" in caplog.text
    with pytest.raises(CommandError):
        call_command("poll_tracking", stdout=StringIO())
    first.refresh_from_db()
    assert first.last_polled_at is None


def test_kuaidi100_without_credentials_asks_nobody(kuaidi100, settings, store, shopper, tea, manager):
    settings.KUAIDI100_KEY = ""
    shipped(shopper, store, tea, manager)
    summary = poll_due_shipments()
    assert summary.stopped and summary.polled == 0 and not kuaidi100.calls


# --- what is polled --------------------------------------------------------------------------
def test_only_shipped_orders_in_a_bounded_batch(kuaidi100, store, shopper, tea, manager):
    first = shipped(shopper, store, tea, manager, tracking_no="SF0000000001")
    second = shipped(shopper, store, tea, manager, tracking_no="SF0000000002")
    done = shipped(shopper, store, tea, manager, tracking_no="SF0000000003")
    services.complete_order(done.order, by=shopper)
    kuaidi100.add_callback(responses.POST, KUAIDI100_URL, callback=lambda request: (
        200, {}, json.dumps(good_answer(json.loads(parse_qs(request.body)["param"][0])["num"]))))
    summary = poll_due_shipments(limit=1)
    assert (summary.due, summary.polled) == (1, 1)
    asked = [json.loads(form_of(c)["param"])["num"] for c in kuaidi100.calls]
    assert asked == [first.tracking_no]
    poll_due_shipments()
    asked = [json.loads(form_of(c)["param"])["num"] for c in kuaidi100.calls]
    assert asked == [first.tracking_no, second.tracking_no]  # the completed order's parcel never


def test_a_parcel_claimed_by_an_overlapping_run_is_skipped(kuaidi100, store, shopper, tea, manager):
    shipment = shipped(shopper, store, tea, manager)
    stale = Shipment.objects.get(pk=shipment.pk)
    assert tracking._claim(stale, timezone.now())
    assert not tracking._claim(stale, timezone.now())  # the other run sees it taken


def test_the_manual_default_polls_nothing(store, shopper, tea, manager):
    assert django_settings.ORDER_TRACKING_PROVIDER == "orders.tracking.ManualTracking"
    shipped(shopper, store, tea, manager)
    with responses.RequestsMock():  # any HTTP call would raise ConnectionError here
        summary = poll_due_shipments()
        out = StringIO()
        call_command("poll_tracking", stdout=out)
    assert not summary.polls and summary.polled == 0
    assert "手工录入" in out.getvalue()


def test_the_provider_is_chosen_in_settings_and_builds_its_client_lazily(settings):
    assert isinstance(tracking.get_provider(), ManualTracking)
    settings.ORDER_TRACKING_PROVIDER = "orders.tracking.Kuaidi100Tracking"
    provider = tracking.get_provider()
    assert isinstance(provider, Kuaidi100Tracking) and provider._session is None


def test_the_beat_task_runs_the_sweep(kuaidi100, store, shopper, tea, manager):
    shipped(shopper, store, tea, manager)
    kuaidi100.add(responses.POST, KUAIDI100_URL, json=good_answer("SF1234567890"))
    entry = django_settings.CELERY_BEAT_SCHEDULE["orders.poll_tracking"]
    assert entry["task"] == tasks.poll_tracking.name and entry["schedule"] == 2 * 3600
    result = tasks.poll_tracking.delay().get()
    assert result["polled"] == 1 and result["new_events"] == 3


def test_the_command_prints_what_it_did(kuaidi100, store, shopper, tea, manager):
    shipped(shopper, store, tea, manager)
    kuaidi100.add(responses.POST, KUAIDI100_URL, json=good_answer("SF1234567890"))
    out = StringIO()
    call_command("poll_tracking", stdout=out)
    assert "已查询 1 个" in out.getvalue() and "新增轨迹 3 条" in out.getvalue()
    out = StringIO()
    call_command("poll_tracking", stdout=out)  # nothing due any more
    assert "待查询 0 个包裹" in out.getvalue()


@pytest.mark.parametrize("code,expected", [
    ("0", State.IN_TRANSIT), ("1", State.COLLECTED), ("3", State.SIGNED), ("5", State.DELIVERING),
    ("14", State.REJECTED), ("301", State.SIGNED), ("501", State.DELIVERING), ("1002", State.IN_TRANSIT),
    (4, State.RETURNED), ("", ""), (None, ""), ("99", ""), ("abc", ""),
])
def test_kuaidi100_states(code, expected):
    assert kuaidi100_state(code) == expected


# --- manual route lines ----------------------------------------------------------------------
def test_staff_add_a_route_line_by_hand_once(store, shopper, tea, manager):
    shipment = shipped(shopper, store, tea, manager)
    when = timezone.now() - timedelta(hours=2)
    event = add_manual_event(shipment, by=manager, occurred_at=when, context="已到达上海转运中心",
                             state=State.IN_TRANSIT, location="上海")
    again = add_manual_event(shipment.pk, by=manager, occurred_at=when, context="已到达上海转运中心",
                             state=State.IN_TRANSIT, location="上海")
    assert again.pk == event.pk and TrackingEvent.objects.filter(shipment=shipment).count() == 1
    shipment.refresh_from_db()
    assert shipment.last_state == State.IN_TRANSIT
    assert OrderEvent.objects.filter(order=shipment.order, kind=OrderEvent.Kind.SHIPMENT,
                                     note__contains="已到达上海转运中心").count() == 1
    naive = datetime.now() - timedelta(hours=1)  # noqa: DTZ005 - a form may hand a naive local time
    add_manual_event(shipment, by=manager, occurred_at=naive, context="派件中")
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2


def test_bad_manual_route_lines_change_nothing(store, shopper, tea, manager, other_manager):
    shipment = shipped(shopper, store, tea, manager)
    when = timezone.now() - timedelta(hours=1)
    clerk = make_order_staff(role=StoreStaff.Role.CLERK)
    StoreStaff.objects.create(user=clerk, store=store, role=StoreStaff.Role.CLERK)
    clerk.user_permissions.clear()
    cases = [
        (dict(by=other_manager), Code.NOT_FOUND),  # another store's staff
        (dict(by=clerk), Code.FORBIDDEN),  # no fulfil_order permission
        (dict(by=None), Code.FORBIDDEN),
        (dict(context=""), Code.SHIPMENT_INVALID),
        (dict(context="x" * 256), Code.SHIPMENT_INVALID),
        (dict(context="已\x00揽收"), Code.SHIPMENT_INVALID),
        (dict(state="teleported"), Code.SHIPMENT_INVALID),
        (dict(location="地" * 65), Code.SHIPMENT_INVALID),
        (dict(occurred_at=timezone.now() + timedelta(days=1)), Code.SHIPMENT_INVALID),
        (dict(occurred_at="2026-01-01 10:00"), Code.SHIPMENT_INVALID),
    ]
    for change, code in cases:
        kwargs = dict(by=manager, occurred_at=when, context="已揽收", state="", location="")
        kwargs.update(change)
        with pytest.raises(OrderError) as refused:
            add_manual_event(shipment, **kwargs)
        assert refused.value.code == code, change
    with pytest.raises(OrderError) as missing:
        add_manual_event(999999, by=manager, occurred_at=when, context="已揽收")
    assert missing.value.code == Code.NOT_FOUND
    assert not TrackingEvent.objects.exists()


def test_no_manual_route_lines_for_an_order_not_shipped(store, shopper, tea, manager):
    shipment = shipped(shopper, store, tea, manager)
    Order.objects.filter(pk=shipment.order_id).update(status=Order.Status.CLOSED)
    with pytest.raises(OrderError) as refused:
        add_manual_event(shipment, by=manager, occurred_at=timezone.now(), context="已揽收")
    assert refused.value.code == Code.INVALID_TRANSITION


class CountingProvider(tracking.TrackingProvider):
    """Records which parcels it was asked about, slowly enough for two sweeps to overlap."""

    polls = True

    def __init__(self, asked):
        self.asked = asked

    def track(self, shipment):
        self.asked.append(shipment.pk)
        time_module.sleep(0.05)
        return tracking.TrackingResult(state=State.IN_TRANSIT, events=[
            (timezone.now() - timedelta(hours=1), "快件已到达转运中心", State.IN_TRANSIT, "上海")])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_sweeps_ask_about_each_parcel_once(store, shopper, tea, manager):
    for n in range(6):
        shipped(shopper, store, tea, manager, tracking_no=f"SF00000000{n:02d}")
    asked, barrier, summaries = [], threading.Barrier(2), [None, None]

    def sweep(i):
        try:
            barrier.wait(timeout=30)
            summaries[i] = poll_due_shipments(provider=CountingProvider(asked))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(asked) == sorted(Shipment.objects.values_list("pk", flat=True))  # each once, none twice
    # how many each saw due depends on timing (the other may have polled some already); between
    # them they asked about each parcel once
    assert all(s.polled <= s.due <= 6 for s in summaries)
    assert summaries[0].polled + summaries[1].polled == 6
    assert TrackingEvent.objects.count() == 6
