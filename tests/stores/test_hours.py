from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from stores.hours import is_open_at, week_table

SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
# 2026-11-23 is a Monday
MON, TUE, WED, FRI, SAT, SUN = 0, 1, 2, 4, 5, 6


def at(day, hh, mm=0, tz=SH):
    return datetime(2026, 11, 23 + day, hh, mm, tzinfo=tz)


def test_open_inside_a_simple_range_and_closed_at_its_end():
    hours = [(MON, time(9), time(21))]
    assert is_open_at(hours, at(MON, 9))
    assert is_open_at(hours, at(MON, 20, 59))
    assert not is_open_at(hours, at(MON, 21))
    assert not is_open_at(hours, at(MON, 8, 59))


def test_several_ranges_a_day_lunch_break_is_closed():
    hours = [(TUE, time(9), time(12)), (TUE, time(13, 30), time(20))]
    assert is_open_at(hours, at(TUE, 11))
    assert not is_open_at(hours, at(TUE, 12, 30))
    assert is_open_at(hours, at(TUE, 14))


def test_a_day_without_ranges_is_closed():
    hours = [(d, time(9), time(21)) for d in range(1, 7)]  # closed on Monday
    assert not is_open_at(hours, at(MON, 12))
    assert is_open_at(hours, at(TUE, 12))


def test_overnight_range_runs_into_the_next_morning():
    hours = [(FRI, time(22), time(2))]
    assert is_open_at(hours, at(FRI, 23))
    assert is_open_at(hours, at(SAT, 1, 59))
    assert not is_open_at(hours, at(SAT, 2))
    assert not is_open_at(hours, at(FRI, 21))


def test_overnight_sunday_wraps_to_monday():
    hours = [(SUN, time(20), time(3))]
    assert is_open_at(hours, datetime(2026, 11, 30, 2, tzinfo=SH))  # Monday 02:00


def test_midnight_to_midnight_is_open_all_day():
    hours = [(WED, time(0), time(0))]
    assert is_open_at(hours, at(WED, 0))
    assert is_open_at(hours, at(WED, 23, 59))


def test_read_on_the_shanghai_clock_whatever_the_input_zone():
    hours = [(MON, time(9), time(10))]
    # 01:30 UTC is 09:30 in Shanghai
    assert is_open_at(hours, datetime(2026, 11, 23, 1, 30, tzinfo=UTC))
    assert not is_open_at(hours, datetime(2026, 11, 23, 9, 30, tzinfo=UTC))


def test_paused_closed_or_archived_store_is_never_open():
    hours = [(MON, time(0), time(0))]
    assert not is_open_at(hours, at(MON, 12), status="paused")
    assert not is_open_at(hours, at(MON, 12), status="closed")
    assert not is_open_at(hours, at(MON, 12), archived=True)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        is_open_at([], datetime(2026, 1, 1, 12))


def test_week_table_lists_closed_days_empty():
    table = week_table([(TUE, time(13), time(20)), (TUE, time(9), time(12))])
    assert table[MON] == (MON, [])
    assert table[TUE][1] == [(time(9), time(12)), (time(13), time(20))]


# --- overlapping ranges -------------------------------------------------------------------------
def test_a_lunch_break_week_has_no_overlap():
    from stores.hours import overlapping

    week = [(d, time(9), time(12)) for d in range(7)] + [(d, time(13), time(21)) for d in range(7)]
    assert overlapping(week) == []


def test_ranges_that_touch_do_not_overlap_but_ranges_that_cross_do():
    from stores.hours import overlapping

    assert overlapping([(MON, time(9), time(12)), (MON, time(12), time(18))]) == []
    assert overlapping([(MON, time(9), time(13)), (MON, time(12), time(18))]) == [
        ((MON, time(9), time(13)), (MON, time(12), time(18)))
    ]


def test_an_overnight_range_overlaps_the_next_morning_and_sunday_meets_monday():
    from stores.hours import overlapping

    assert overlapping([(FRI, time(22), time(3)), (SAT, time(2), time(10))])
    assert overlapping([(SUN, time(22), time(2)), (MON, time(1), time(9))])
    assert overlapping([(SUN, time(22), time(2)), (MON, time(2), time(9))]) == []
    assert overlapping([(TUE, time(0), time(0)), (TUE, time(9), time(10))])  # all day covers everything


def test_the_admin_refuses_overlapping_hours_and_saves_nothing(db):
    from django.forms import inlineformset_factory

    from stores.admin import StoreHoursFormSet
    from stores.models import Store, StoreHours

    from .conftest import make_store

    store = make_store(hours=False)
    FormSet = inlineformset_factory(
        Store, StoreHours, formset=StoreHoursFormSet, fields=["weekday", "opens", "closes"], extra=2
    )
    data = {
        "hours-TOTAL_FORMS": "2", "hours-INITIAL_FORMS": "0",
        "hours-0-weekday": str(FRI), "hours-0-opens": "22:00", "hours-0-closes": "03:00",
        "hours-1-weekday": str(SAT), "hours-1-opens": "02:00", "hours-1-closes": "10:00",
    }
    formset = FormSet(data, instance=store, prefix="hours")
    assert not formset.is_valid()
    assert "营业时间重叠" in str(formset.non_form_errors())
    data["hours-1-opens"] = "03:00"
    formset = FormSet(data, instance=store, prefix="hours")
    assert formset.is_valid(), formset.non_form_errors()
    formset.save()
    assert StoreHours.objects.filter(store=store).count() == 2
