"""Opening hours as pure functions: no database, no clock of their own (pass `at`).

A store's week is a list of ranges ``(weekday, opens, closes)`` with Monday = 0. A weekday with
no range is a closed day. ``closes <= opens`` is an overnight range: 22:00-02:00 on Friday keeps
the store open until 02:00 on Saturday; 00:00-00:00 is open all day.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _ranges(hours):
    for item in hours:
        if isinstance(item, tuple | list):
            yield int(item[0]), item[1], item[2]
        else:
            yield int(item.weekday), item.opens, item.closes


def is_open_at(hours, at: datetime, *, status="open", archived=False):
    """Whether a store with these hours and this status is open at the aware datetime `at`,
    read on the Asia/Shanghai wall clock."""
    if status != "open" or archived:
        return False
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    local = at.astimezone(SHANGHAI)
    today, now = local.weekday(), local.time()
    yesterday = (today - 1) % 7
    for weekday, opens, closes in _ranges(hours):
        overnight = closes <= opens
        if weekday == today:
            if overnight and now >= opens:
                return True
            if not overnight and opens <= now < closes:
                return True
        if weekday == yesterday and overnight and now < closes:
            return True
    return False


def week_table(hours):
    """[(weekday, [(opens, closes), ...]), ...] for Monday..Sunday; an empty list is a closed day."""
    table = {day: [] for day in range(7)}
    for weekday, opens, closes in _ranges(hours):
        table[weekday].append((opens, closes))
    return [(day, sorted(table[day])) for day in range(7)]


def open_intervals(hours, begin: datetime, end: datetime):
    """The store's open spans that meet [begin, end) as (opens, closes) aware Asia/Shanghai
    datetimes, in order, with spans that overlap or touch joined into one (a round-the-clock week
    is one span; Friday 22:00-02:00 and Saturday 02:00-... are one)."""
    if begin.tzinfo is None or end.tzinfo is None:
        raise ValueError("`begin` and `end` must be timezone-aware")
    begin, end = begin.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    ranges = list(_ranges(hours))
    spans = []
    day = begin.date() - timedelta(days=1)  # yesterday's overnight range may reach into `begin`
    while day <= end.date():
        for weekday, opens, closes in ranges:
            if weekday != day.weekday():
                continue
            start = datetime.combine(day, opens, tzinfo=SHANGHAI)
            stop = datetime.combine(day, closes, tzinfo=SHANGHAI)
            if closes <= opens:
                stop += timedelta(days=1)  # overnight; 00:00-00:00 is the whole day
            if stop > begin and start < end:
                spans.append((start, stop))
        day += timedelta(days=1)
    spans.sort()
    joined = []
    for start, stop in spans:
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], stop))
        else:
            joined.append((start, stop))
    return joined


WEEK_MINUTES = 7 * 24 * 60


def _week_span(weekday, opens, closes):
    """(start, end) in minutes from Monday 00:00; an overnight range ends the next day (past the
    week's end for Sunday, which `overlapping` wraps round)."""
    start = weekday * 1440 + opens.hour * 60 + opens.minute
    length = (closes.hour * 60 + closes.minute) - (opens.hour * 60 + opens.minute)
    if length <= 0:
        length += 1440  # overnight; 00:00-00:00 is the whole day
    return start, start + length


def overlapping(hours):
    """Pairs of ranges that are open at the same moment, on the weekly circle (Sunday's overnight
    range meets Monday morning). [] when the week is consistent."""
    spans = sorted((_week_span(*r), r) for r in _ranges(hours))
    clashes = []
    for i, ((start_a, end_a), a) in enumerate(spans):
        for (start_b, end_b), b in spans[i + 1:]:
            for shift in (0, WEEK_MINUTES, -WEEK_MINUTES):
                if start_a < end_b + shift and start_b + shift < end_a:
                    clashes.append((a, b))
                    break
    return clashes
