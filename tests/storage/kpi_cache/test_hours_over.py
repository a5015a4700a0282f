"""`slots.hours_over`: the hours a change at some times notes for the KPI cache — each hour once, in
order, only those over at `now`, whatever the times' zones (hours are UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from storage.kpi_cache.slots import HOUR, floor, hours_over

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_each_hour_over_once_in_order_the_running_one_left_out():
    ten = datetime(2026, 12, 6, 10, tzinfo=UTC)
    times = [
        ten - TICK,  # the last microsecond of 09:00–10:00
        ten - 3 * HOUR,
        ten - HOUR,  # 09:00 exactly
        ten,  # the running hour: not over
        ten + 20 * HOUR,  # ahead of now
        datetime(2026, 12, 6, 9, 59, tzinfo=timezone(timedelta(hours=-5))),  # 14:59 UTC: ahead
        datetime(2026, 12, 6, 12, 15, tzinfo=timezone(timedelta(hours=5, minutes=45))),  # 06:30 UTC
    ]

    assert hours_over(times, NOW) == [
        (datetime(2026, 12, 6).date(), 6),
        (datetime(2026, 12, 6).date(), 7),
        (datetime(2026, 12, 6).date(), 9),
    ]


def test_times_before_1970_fall_in_their_own_hour():
    assert hours_over([datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)], NOW) == [
        (datetime(1969, 12, 31).date(), 23)
    ]


moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
offsets = st.integers(min_value=-14 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))


@given(st.lists(st.tuples(moments, offsets), max_size=30), moments)
def test_the_same_hours_as_rounding_each_time_down(times, now):
    given_times = [at.astimezone(zone) for at, zone in times]
    expected = sorted({floor(at, HOUR) for at in given_times})

    assert hours_over(given_times, now) == [(at.date(), at.hour) for at in expected if at < floor(now, HOUR)]
