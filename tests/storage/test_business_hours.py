import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.business_hours import BusinessClock
from storage.settings import BusinessHours, Settings

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS_9_TO_6 = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": [],
    "sun": [],
}


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def clock(hours=None, timezone="Europe/Paris", holidays=(), default_tz="UTC") -> BusinessClock:
    config = BusinessHours(
        timezone=timezone, hours=WEEKDAYS_9_TO_6 if hours is None else hours, holidays=list(holidays)
    )
    return BusinessClock(config, default_tz)


def test_friday_evening_to_monday_morning_counts_only_the_open_hours():
    # Fri 2026-11-13 17:00 -> 18:00 (1 h), weekend closed, Mon 09:00 -> 10:00 (1 h) = 7200 s
    assert clock().open_seconds(paris(2026, 11, 13, 17), paris(2026, 11, 16, 10)) == 7200


def test_message_sent_after_closing_and_answered_before_opening_waited_zero_business_seconds():
    # Tue 20:00 -> Wed 08:00: closed all night
    assert clock().open_seconds(paris(2026, 11, 17, 20), paris(2026, 11, 18, 8)) == 0


def test_a_holiday_is_closed_all_day():
    # Thu 12-24 17:30 -> 18:00 (30 min), Fri 12-25 holiday, weekend, Mon 12-28 09:00 -> 09:30 (30 min)
    holiday_clock = clock(holidays=[date(2026, 12, 25)])
    assert holiday_clock.open_seconds(paris(2026, 12, 24, 17, 30), paris(2026, 12, 28, 9, 30)) == 3600
    # Without the holiday, Friday adds its 9 h: 3600 + 32400
    assert clock().open_seconds(paris(2026, 12, 24, 17, 30), paris(2026, 12, 28, 9, 30)) == 36000


def test_utc_inputs_are_read_in_the_business_time_zone():
    # 08:30Z and 10:00Z on Mon 2026-11-16 are 09:30 and 11:00 in Paris: 1.5 h open
    start, end = datetime(2026, 11, 16, 8, 30, tzinfo=UTC), datetime(2026, 11, 16, 10, tzinfo=UTC)
    assert clock().open_seconds(start, end) == 5400


def test_several_ranges_a_day_skip_the_lunch_break():
    # 11:00 -> 12:00 (1 h) + 13:00 -> 14:00 (1 h), 12:00-13:00 closed
    lunch = clock(hours={"monday": ["13:00-17:00", "9:00-12:00"]})
    assert lunch.open_seconds(paris(2026, 11, 16, 11), paris(2026, 11, 16, 14)) == 7200


def test_four_whole_weeks_count_45_hours_each():
    # Mon 2026-11-02 00:00 -> Mon 2026-11-30 00:00: 4 x 5 days x 9 h = 180 h = 648000 s
    assert clock().open_seconds(paris(2026, 11, 2), paris(2026, 11, 30)) == 648000


def test_waits_far_apart_in_time_use_the_right_days():
    # The per-day table is first built around 2026, then has to reach back to 2020.
    business = clock()
    assert business.open_seconds(paris(2026, 11, 2), paris(2026, 11, 9)) == 45 * 3600
    # Mon 2020-03-02 .. Mon 2020-03-09: one week, 45 h; then 2030 forward, also one week
    assert business.open_seconds(paris(2020, 3, 2), paris(2020, 3, 9)) == 45 * 3600
    assert business.open_seconds(paris(2030, 3, 4), paris(2030, 3, 11)) == 45 * 3600


def test_an_all_day_schedule_counts_23_and_25_hour_days_on_clock_changes():
    always = clock(hours={day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert always.open_seconds(paris(2026, 3, 29), paris(2026, 3, 30)) == 23 * 3600
    assert always.open_seconds(paris(2026, 10, 25), paris(2026, 10, 26)) == 25 * 3600


def test_a_range_across_the_spring_forward_gap_counts_only_real_time():
    # Sun 2026-03-29 01:00 CET (00:00Z) -> 04:00 CEST (02:00Z): the clock skips 02:00-03:00, so 2 h
    night = clock(hours={"sun": ["01:00-04:00"]})
    assert night.open_seconds(paris(2026, 3, 29), paris(2026, 3, 30)) == 7200


def test_business_time_zone_falls_back_to_the_workspace_zone():
    # Mon 2026-11-16 09:00-18:00 in New York is 14:00Z-23:00Z; 13:00Z -> 15:00Z overlaps 1 h
    new_york = clock(timezone=None, default_tz="America/New_York")
    start, end = datetime(2026, 11, 16, 13, tzinfo=UTC), datetime(2026, 11, 16, 15, tzinfo=UTC)
    assert new_york.open_seconds(start, end) == 3600


def test_a_reversed_or_empty_interval_has_no_open_time():
    assert clock().open_seconds(paris(2026, 11, 16, 12), paris(2026, 11, 16, 10)) == 0
    assert clock().open_seconds(paris(2026, 11, 16, 12), paris(2026, 11, 16, 12)) == 0


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        clock().open_seconds(datetime(2026, 11, 16, 9), datetime(2026, 11, 16, 10))


def test_open_seconds_agrees_with_minute_by_minute_counting_across_clock_changes_and_holidays():
    hours = {
        "mon": ["08:00-12:00", "13:00-19:30"],
        "wed": ["00:00-24:00"],
        "sat": ["10:00-14:00"],
        "sun": ["01:00-04:00"],
    }
    holidays = [date(2026, 3, 25), date(2026, 10, 28)]
    business = clock(hours=hours, holidays=holidays)
    compiled = {0: [(480, 720), (780, 1170)], 2: [(0, 1440)], 5: [(600, 840)], 6: [(60, 240)]}

    def open_minutes(start: datetime, minutes: int) -> int:
        count = 0
        for step in range(minutes):
            local = (start + timedelta(minutes=step)).astimezone(PARIS)
            if local.date() in holidays:
                continue
            minute = local.hour * 60 + local.minute
            count += any(opens <= minute < closes for opens, closes in compiled.get(local.weekday(), []))
        return count

    rng = random.Random(7)
    for base in (datetime(2026, 3, 22, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)):
        for _ in range(12):
            start = base + timedelta(minutes=rng.randrange(0, 10 * 1440))
            minutes = rng.randrange(1, 3 * 1440)
            expected = open_minutes(start, minutes) * 60
            assert business.open_seconds(start, start + timedelta(minutes=minutes)) == expected


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": ["9-18"]}, 'should look like "09:00-18:00"'),
        ({"mon": ["18:00-09:00"]}, "closes before it opens"),
        ({"mon": ["09:00-25:00"]}, "not a valid time of day"),
        ({"mon": ["09:60-18:00"]}, "not a valid time of day"),
        ({"funday": ["09:00-18:00"]}, "unknown day 'funday'"),
        ({"mon": ["09:00-18:00"], "monday": ["10:00-11:00"]}, "mon is given twice"),
        ({"mon": ["09:00-13:00", "12:00-18:00"]}, "overlap"),
        ({"mon": [], "sat": []}, "no open time"),
    ],
)
def test_invalid_opening_hours_are_refused_with_a_clear_message(hours, message):
    with pytest.raises(ValueError) as caught:
        clock(hours=hours)
    assert message in str(caught.value)


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        clock(timezone="Mars/Olympus")


def test_from_settings_gives_no_clock_without_business_hours(monkeypatch):
    monkeypatch.delenv("KPIBOT_CONFIG", raising=False)
    assert BusinessClock.from_settings(Settings(_env_file=None, tz="Europe/Paris")) is None
    configured = Settings(
        _env_file=None, tz="Europe/Paris", business_hours=BusinessHours(hours=WEEKDAYS_9_TO_6)
    )
    business = BusinessClock.from_settings(configured)
    # The workspace zone applies: Mon 09:00 -> 10:00 Paris is one open hour
    assert business.open_seconds(paris(2026, 11, 16, 9), paris(2026, 11, 16, 10)) == 3600
