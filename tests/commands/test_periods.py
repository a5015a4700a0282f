from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.errors import UsageError
from commands.periods import Period, is_period_word, resolve_period

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 2026-11-18, 11:30 in Paris (UTC+1 in November).
NOW = datetime(2026, 11, 18, 10, 30, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("word", "start", "label"),
    [
        ("7d", utc(2026, 11, 11, 10, 30), "last 7 days"),
        ("30d", utc(2026, 10, 19, 10, 30), "last 30 days"),
        ("90d", utc(2026, 8, 20, 10, 30), "last 90 days"),
        ("1d", utc(2026, 11, 17, 10, 30), "last 24 hours"),
        ("12h", utc(2026, 11, 17, 22, 30), "last 12 hours"),
        ("1h", utc(2026, 11, 18, 9, 30), "last hour"),
    ],
)
def test_rolling_periods_end_now_and_last_n_times_24_hours(word, start, label):
    period = resolve_period(word, NOW, PARIS)
    assert (period.start, period.end, period.label) == (start, NOW, label)


def test_rolling_days_previous_is_the_same_length_just_before():
    # 7d = [11-11 10:30, 11-18 10:30) -> previous [11-04 10:30, 11-11 10:30)
    previous = resolve_period("7d", NOW, PARIS).previous()
    assert (previous.start, previous.end) == (utc(2026, 11, 4, 10, 30), utc(2026, 11, 11, 10, 30))
    assert previous.days == 7.0
    assert previous.label == "2026-11-04 11:30 – 2026-11-11 11:30"  # Paris wall clock


def test_rolling_week_across_spring_forward_is_exactly_168_hours():
    now = utc(2026, 3, 30, 10)
    period = resolve_period("7d", now, PARIS)
    assert period.start == utc(2026, 3, 23, 10)
    assert period.days == 7.0


def test_today_runs_from_local_midnight_to_now_and_compares_with_all_of_yesterday():
    # Paris midnight 2026-11-18 = 2026-11-17 23:00 UTC
    period = resolve_period("today", NOW, PARIS)
    assert (period.start, period.end, period.label) == (utc(2026, 11, 17, 23), NOW, "today")
    assert period.days == pytest.approx(11.5 / 24)
    previous = period.previous()
    assert (previous.start, previous.end) == (utc(2026, 11, 16, 23), utc(2026, 11, 17, 23))
    assert previous.label == "2026-11-17"


def test_yesterday_is_local_midnight_to_local_midnight():
    period = resolve_period("yesterday", NOW, PARIS)
    assert (period.start, period.end, period.label) == (
        utc(2026, 11, 16, 23),
        utc(2026, 11, 17, 23),
        "yesterday",
    )
    previous = period.previous()
    assert (previous.start, previous.end) == (utc(2026, 11, 15, 23), utc(2026, 11, 16, 23))


@pytest.mark.parametrize(
    ("tz", "now", "start", "end", "hours"),
    [
        # Paris springs forward on 2026-03-29: 00:00+01 (23:00Z) to 00:00+02 (22:00Z) = 23 h
        (PARIS, utc(2026, 3, 30, 8), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 23),
        # Paris falls back on 2026-10-25: 00:00+02 (22:00Z) to 00:00+01 (23:00Z) = 25 h
        (PARIS, utc(2026, 10, 26, 8), utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 25),
        # New York falls back on 2026-11-01: 00:00-04 (04:00Z) to 00:00-05 (05:00Z) = 25 h
        (NEW_YORK, utc(2026, 11, 2, 15), utc(2026, 11, 1, 4), utc(2026, 11, 2, 5), 25),
    ],
)
def test_yesterday_on_a_clock_change_day_lasts_23_or_25_hours(tz, now, start, end, hours):
    period = resolve_period("yesterday", now, tz)
    assert (period.start, period.end) == (start, end)
    assert period.days * 24 == pytest.approx(hours)


def test_this_week_starts_monday_local_midnight_and_compares_with_the_whole_last_week():
    # Monday 2026-11-16 00:00 Paris = 2026-11-15 23:00 UTC
    period = resolve_period("this-week", NOW, PARIS)
    assert (period.start, period.end, period.label) == (utc(2026, 11, 15, 23), NOW, "this week")
    previous = period.previous()
    assert (previous.start, previous.end) == (utc(2026, 11, 8, 23), utc(2026, 11, 15, 23))
    assert previous.label == "2026-11-09 – 2026-11-15"


def test_last_week_is_monday_to_monday_before_this_week():
    period = resolve_period("last-week", NOW, PARIS)
    assert (period.start, period.end, period.label) == (
        utc(2026, 11, 8, 23),
        utc(2026, 11, 15, 23),
        "last week",
    )
    previous = period.previous()
    assert (previous.start, previous.end) == (utc(2026, 11, 1, 23), utc(2026, 11, 8, 23))


def test_this_month_compares_with_the_whole_previous_calendar_month():
    # November 1st 00:00 Paris = 10-31 23:00 UTC; October 1st 00:00 (+02) = 09-30 22:00 UTC
    period = resolve_period("this-month", NOW, PARIS)
    assert (period.start, period.end, period.label) == (utc(2026, 10, 31, 23), NOW, "this month")
    previous = period.previous()
    assert (previous.start, previous.end, previous.label) == (
        utc(2026, 9, 30, 22),
        utc(2026, 10, 31, 23),
        "October 2026",
    )
    assert previous.days == pytest.approx(31 + 1 / 24)  # October has the 25-hour fall-back day


def test_last_month_in_january_is_december_of_the_previous_year():
    period = resolve_period("last-month", datetime(2026, 1, 10, 12, tzinfo=UTC), PARIS)
    assert (period.start, period.end, period.label) == (
        utc(2025, 11, 30, 23),
        utc(2025, 12, 31, 23),
        "last month",
    )
    assert period.previous().label == "November 2025"


def test_date_range_includes_both_dates_in_full():
    # 2026-11-01 00:00 Paris (10-31 23:00Z) .. 2026-11-16 00:00 Paris (11-15 23:00Z): 15 days
    period = resolve_period("2026-11-01..2026-11-15", NOW, PARIS)
    assert (period.start, period.end) == (utc(2026, 10, 31, 23), utc(2026, 11, 15, 23))
    assert period.days == 15.0
    assert period.label == "2026-11-01 – 2026-11-15"


def test_date_range_previous_is_as_many_calendar_days_before():
    # 15 local days before Nov 1: Oct 17..31, which contains the 25-hour Oct 25
    previous = resolve_period("2026-11-01..2026-11-15", NOW, PARIS).previous()
    assert (previous.start, previous.end) == (utc(2026, 10, 16, 22), utc(2026, 10, 31, 23))
    assert previous.label == "2026-10-17 – 2026-10-31"


def test_a_single_date_is_that_local_day():
    period = resolve_period("2026-11-01", NOW, PARIS)
    assert (period.start, period.end, period.label) == (
        utc(2026, 10, 31, 23),
        utc(2026, 11, 1, 23),
        "2026-11-01",
    )


def test_period_words_are_case_insensitive():
    assert resolve_period("LAST-Week", NOW, PARIS) == resolve_period("last-week", NOW, PARIS)


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("0d", "`0d` is an empty period"),
        ("0h", "`0h` is an empty period"),
        ("5000d", "`5000d` is too long"),
        ("2026-11-15..2026-11-01", "`2026-11-15..2026-11-01` ends before it starts"),
        ("2026-13-01..2026-13-02", "`2026-13-01` is not a date"),
        ("2026-02-30", "`2026-02-30` is not a date"),
        ("2026-12-01..2026-12-31", "is in the future"),
        ("1969-12-01..1969-12-31", "is before 1970"),
        ("fortnight", "`fortnight` is not a period"),
    ],
)
def test_invalid_periods_raise_usage_errors_that_say_why(word, message):
    with pytest.raises(UsageError) as caught:
        resolve_period(word, NOW, PARIS)
    assert message in caught.value.message


@pytest.mark.parametrize(
    "word", ["7d", "24h", "today", "Last-Week", "2026-11-01..2026-11-15", "2026-11-01", "0d"]
)
def test_is_period_word_recognises_period_shapes(word):
    assert is_period_word(word)


@pytest.mark.parametrize("word", ["twitter", "d7", "7w", "lastweek", "2026-11-01..", "frt"])
def test_is_period_word_rejects_other_words(word):
    assert not is_period_word(word)


def test_period_is_stored_in_utc_and_compares_by_range_only():
    start = datetime(2026, 11, 1, tzinfo=PARIS)
    period = Period(start, start + timedelta(days=2), PARIS, name="two days")
    assert period.start.tzinfo is UTC
    assert period == Period(utc(2026, 10, 31, 23), utc(2026, 11, 2, 23))
    assert period.previous() == Period(utc(2026, 10, 29, 23), utc(2026, 10, 31, 23))


def test_period_rejects_naive_datetimes_and_reversed_ranges():
    with pytest.raises(ValueError, match="timezone-aware"):
        Period(datetime(2026, 11, 1), datetime(2026, 11, 2))
    with pytest.raises(ValueError, match="before it starts"):
        Period(utc(2026, 11, 2), utc(2026, 11, 1))


def test_resolve_period_rejects_a_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_period("7d", datetime(2026, 11, 18, 10, 30), PARIS)
