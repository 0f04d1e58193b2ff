"""What orders need from a store: delivery settings (with their database checks and admin
fieldset), pickup slots inside the opening hours, and the delivery distance."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from stores.hours import SHANGHAI
from stores.models import Store, StoreHours
from stores.selectors import delivery_distance_km, pickup_slots

from .conftest import make_store

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, tzinfo=SHANGHAI)  # a Monday


def at(day, hour, minute=0):
    """Monday + `day` days at hour:minute, Shanghai time."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def store_with(hours, **settings):
    store = make_store(hours=False, **settings)
    StoreHours.objects.bulk_create([StoreHours(store=store, weekday=d, opens=o, closes=c) for d, o, c in hours])
    return Store.objects.get(pk=store.pk)


def every_day(opens, closes):
    return [(d, opens, closes) for d in range(7)]


def starts(slots):
    return [start for start, _end in slots]


# --- settings --------------------------------------------------------------------------------
def test_new_stores_get_sensible_defaults(db):
    store = make_store()
    assert (store.delivery_fee, store.delivery_min_order) == (Decimal("0.00"), Decimal("0.00"))
    assert (store.express_enabled, store.pickup_lead_minutes, store.pickup_slot_minutes) == (True, 30, 60)


@pytest.mark.parametrize(
    "field, value",
    [("delivery_fee", Decimal("-0.01")), ("delivery_min_order", Decimal("-1")), ("pickup_lead_minutes", -1),
     ("pickup_slot_minutes", 45), ("pickup_slot_minutes", 0)],
)
def test_the_database_refuses_bad_settings(db, field, value):
    store = make_store()
    with pytest.raises(IntegrityError), transaction.atomic():
        Store.objects.filter(pk=store.pk).update(**{field: value})


def test_hq_edits_the_delivery_and_pickup_settings_in_the_admin(client, db, hq_user):
    from django.contrib.auth.models import Permission

    hq_user.user_permissions.add(*Permission.objects.filter(content_type__app_label="stores",
                                                            codename__in=["change_store"]))
    store = make_store()
    client.force_login(hq_user)
    html = client.get(reverse("admin:stores_store_change", args=[store.pk])).content.decode()
    assert "配送与自提" in html
    for field in ("delivery_fee", "delivery_min_order", "express_enabled", "pickup_lead_minutes",
                  "pickup_slot_minutes", "delivery_radius_km"):
        assert f'name="{field}"' in html
    assert '<option value="120"' in html and '<option value="45"' not in html


def test_demo_stores_deliver_for_a_fee_above_a_minimum(db):
    from stores import demo

    demo.seed(lambda line: None)
    delivering = Store.objects.filter(delivery_enabled=True)
    assert delivering.count() >= 2
    assert {(s.delivery_fee, s.delivery_min_order, s.delivery_radius_km) for s in delivering} == {
        (Decimal("5.00"), Decimal("39.00"), Decimal("5.00"))
    }


# --- pickup slots ------------------------------------------------------------------------------
def test_slots_lie_inside_the_hours_and_start_after_the_lead_time(db):
    store = store_with(every_day(time(10), time(22)))  # lead 30, slot 60
    slots = pickup_slots(store, now=at(0, 9), days=3)
    assert len(slots) == 3 * 12
    assert slots[0] == (at(0, 10), at(0, 11)) and slots[11] == (at(0, 21), at(0, 22))
    assert slots[12] == (at(1, 10), at(1, 11)) and slots[-1] == (at(2, 21), at(2, 22))
    assert all(start.tzinfo is not None and start.utcoffset() == timedelta(hours=8) for start, _ in slots)
    assert all(end - start == timedelta(minutes=60) for start, end in slots)


@pytest.mark.parametrize(
    "slot, now, first",
    [
        (60, (10, 10), (11, 0)),  # 10:10 + 30 = 10:40, up to the hour grid
        (30, (10, 5), (11, 0)),  # 10:35 up to the half-hour grid
        (30, (10, 0), (10, 30)),  # exactly on the grid stays
        (120, (10, 10), (12, 0)),  # grid 10:00, 12:00, ...: 20:00-22:00 is the last
    ],
)
def test_the_lead_time_rounds_up_to_the_slot_grid(db, slot, now, first):
    store = store_with(every_day(time(10), time(22)), pickup_slot_minutes=slot)
    slots = pickup_slots(store, now=at(0, *now), days=1)
    assert slots[0] == (at(0, *first), at(0, *first) + timedelta(minutes=slot))
    assert slots[-1][1] == at(0, 22)


def test_a_longer_lead_time_pushes_the_first_slot(db):
    store = store_with(every_day(time(10), time(22)), pickup_lead_minutes=180)
    assert starts(pickup_slots(store, now=at(0, 10), days=1))[0] == at(0, 13)


def test_lead_time_crossing_midnight_moves_to_the_next_opening(db):
    store = store_with(every_day(time(10), time(22)))
    slots = pickup_slots(store, now=at(0, 21, 50), days=2)  # ready at 22:20, after closing
    assert slots[0] == (at(1, 10), at(1, 11))
    assert pickup_slots(store, now=at(0, 21, 50), days=1) == []


def test_overnight_hours_give_slots_after_midnight(db):
    # open Friday and Saturday 09:00-02:00, closed the rest of the week
    store = store_with([(4, time(9), time(2)), (5, time(9), time(2))])
    friday_late = at(4, 23, 50)  # ready at 00:20 Saturday: the next slot on the 09:00 grid is 01:00
    slots = pickup_slots(store, now=friday_late, days=2)
    assert slots[0] == (at(5, 1), at(5, 2))
    assert slots[1] == (at(5, 9), at(5, 10))
    # Saturday's own range runs into Sunday: slots starting Sunday are past the two days asked for
    assert starts(slots)[-1] == at(5, 23)
    assert pickup_slots(store, now=friday_late, days=1) == []  # nothing left that starts on Friday
    # Sunday after midnight: Saturday's overnight range is still open
    assert starts(pickup_slots(store, now=at(6, 0), days=1)) == [at(6, 1)]


def test_a_closed_day_has_no_slots(db):
    # the demo's "weekday" store: closed on Monday, a lunch break on the other days
    hours = []
    for day in range(1, 7):
        hours += [(day, time(9), time(12)), (day, time(13, 30), time(20))]
    store = store_with(hours)
    slots = pickup_slots(store, now=at(6, 19), days=3)  # Sunday 19:00: Sunday, Monday, Tuesday
    assert {start.date() for start in starts(slots)} == {at(8, 0).date()}  # only Tuesday
    assert starts(slots) == [at(8, 9), at(8, 10), at(8, 11)] + [at(8, 13, 30) + timedelta(hours=h) for h in range(6)]
    assert all(end <= at(8, 12) or start >= at(8, 13, 30) for start, end in slots)  # none over lunch


def test_a_round_the_clock_store_has_slots_all_day_and_night(db):
    store = store_with(every_day(time(0), time(0)))
    slots = pickup_slots(store, now=at(0, 10, 20), days=3)  # first: 10:50 rounded up to 11:00
    assert slots[0] == (at(0, 11), at(0, 12))
    assert (at(0, 23), at(1, 0)) in slots and (at(1, 0), at(1, 1)) in slots
    assert len(slots) == 13 + 24 + 24
    assert all(b[0] == a[1] for a, b in zip(slots, slots[1:], strict=False))  # no gap, no overlap


@pytest.mark.parametrize(
    "change", [{"status": Store.Status.PAUSED}, {"status": Store.Status.CLOSED}, {"is_archived": True},
               {"pickup_enabled": False}],
)
def test_a_store_not_taking_pickups_has_no_slots(db, change):
    store = store_with(every_day(time(0), time(0)), **change)
    assert pickup_slots(store, now=at(0, 10), days=3) == []


def test_a_store_without_hours_has_no_slots_and_a_naive_now_is_refused(db):
    store = store_with([])
    assert pickup_slots(store, now=at(0, 10)) == []
    with pytest.raises(ValueError):
        pickup_slots(store, now=datetime(2026, 3, 2, 10))


def test_slots_use_the_shanghai_clock_whatever_zone_now_is_in(db):
    from zoneinfo import ZoneInfo

    store = store_with(every_day(time(10), time(22)))
    utc_now = at(0, 9).astimezone(ZoneInfo("UTC"))  # 01:00 UTC
    assert pickup_slots(store, now=utc_now, days=1)[0] == (at(0, 10), at(0, 11))


# --- delivery distance -------------------------------------------------------------------------
def test_delivery_distance_uses_the_haversine_and_refuses_bad_coordinates(db):
    store = make_store(lat=31.2304, lng=121.4737)
    assert delivery_distance_km(store, 31.2304, 121.4737) == pytest.approx(0, abs=1e-9)
    # about 1.11 km per 0.01 degree of latitude
    assert delivery_distance_km(store, "31.2404", "121.4737") == pytest.approx(1.112, abs=0.01)
    assert 160 < delivery_distance_km(store, 30.2741, 120.1625) < 170  # to Hangzhou
    for lat, lng in (("abc", 121), (91, 121), (31, 181), (float("nan"), 121), (None, None), (31, float("inf"))):
        assert delivery_distance_km(store, lat, lng) is None
