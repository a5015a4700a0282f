"""Digest cadences: the full local week or month a digest covers, and when it was last due (Europe/Paris:
UTC+1 in winter, UTC+2 in summer; clocks go back on Sun 2026-10-25)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from commands.cadence import Cadence

PARIS = ZoneInfo("Europe/Paris")
WEEKLY_MONDAY = Cadence("weekly", 0)
MONTHLY_FIRST = Cadence("monthly", 1)


def hours(period) -> float:
    return (period.end - period.start).total_seconds() / 3600


def test_a_weekly_digest_due_on_monday_covers_monday_to_monday_of_the_week_before():
    period = WEEKLY_MONDAY.covered(date(2026, 12, 7), PARIS)
    # Mon 30 Nov 00:00 CET = 29 Nov 23:00 UTC, Mon 7 Dec 00:00 CET = 6 Dec 23:00 UTC
    assert (period.start, period.end) == (
        datetime(2026, 11, 29, 23, tzinfo=UTC),
        datetime(2026, 12, 6, 23, tzinfo=UTC),
    )
    assert period.unit == "week" and hours(period) == 168
    # its previous period is the week before, 23 - 30 Nov
    assert period.previous().start == datetime(2026, 11, 22, 23, tzinfo=UTC)


def test_a_weekly_digest_due_midweek_still_covers_the_last_full_week():
    assert Cadence("weekly", 2).covered(date(2026, 12, 9), PARIS) == WEEKLY_MONDAY.covered(
        date(2026, 12, 7), PARIS
    )


def test_the_week_of_the_autumn_clock_change_lasts_169_hours():
    period = WEEKLY_MONDAY.covered(date(2026, 10, 26), PARIS)
    # Mon 19 Oct 00:00 CEST = 18 Oct 22:00 UTC; Mon 26 Oct 00:00 CET = 25 Oct 23:00 UTC
    assert (period.start, period.end) == (
        datetime(2026, 10, 18, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
    )
    assert hours(period) == 169


def test_a_monthly_digest_due_on_1_december_covers_november():
    period = MONTHLY_FIRST.covered(date(2026, 12, 1), PARIS)
    # 1 Nov 00:00 CET = 31 Oct 23:00 UTC; 1 Dec 00:00 CET = 30 Nov 23:00 UTC: 30 days of 24 h
    assert (period.start, period.end) == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 11, 30, 23, tzinfo=UTC),
    )
    assert (period.unit, period.label, hours(period)) == ("month", "November 2026", 720)
    # October has 31 days and the extra hour of the clock change: 745 h
    assert hours(period.previous()) == 745
    # due on the 15th, it still covers the month before
    assert Cadence("monthly", 15).covered(date(2026, 12, 15), PARIS) == period


def test_a_monthly_digest_due_in_january_covers_december_of_the_year_before():
    period = MONTHLY_FIRST.covered(date(2027, 1, 1), PARIS)
    assert period.label == "December 2026"


@pytest.mark.parametrize(
    ("cadence", "now", "due"),
    [
        # Sunday noon: the last Monday 09:00 Paris was 30 Nov (08:00 UTC)
        (WEEKLY_MONDAY, datetime(2026, 12, 6, 12, tzinfo=UTC), datetime(2026, 11, 30, 8, tzinfo=UTC)),
        (WEEKLY_MONDAY, datetime(2026, 12, 7, 7, 59, tzinfo=UTC), datetime(2026, 11, 30, 8, tzinfo=UTC)),
        (WEEKLY_MONDAY, datetime(2026, 12, 7, 8, 0, tzinfo=UTC), datetime(2026, 12, 7, 8, tzinfo=UTC)),
        # the Monday after the clock change: 09:00 CET is 08:00 UTC; the one before, 09:00 CEST = 07:00 UTC
        (WEEKLY_MONDAY, datetime(2026, 10, 26, 7, 30, tzinfo=UTC), datetime(2026, 10, 19, 7, tzinfo=UTC)),
        (MONTHLY_FIRST, datetime(2026, 12, 15, tzinfo=UTC), datetime(2026, 12, 1, 8, tzinfo=UTC)),
        (Cadence("monthly", 28), datetime(2027, 3, 10, tzinfo=UTC), datetime(2027, 2, 28, 8, tzinfo=UTC)),
        (Cadence(), datetime(2026, 12, 7, 7, tzinfo=UTC), datetime(2026, 12, 6, 8, tzinfo=UTC)),
    ],
)
def test_the_last_scheduled_time_is_the_latest_due_at_or_before_now(cadence, now, due):
    assert cadence.last_scheduled("09:00", PARIS, now) == due


def test_cadences_in_words():
    assert [Cadence("weekly", n).words() for n in (0, 4, 6)] == ["Mondays", "Fridays", "Sundays"]
    assert [Cadence("monthly", n).words() for n in (1, 2, 3, 11, 22, 28)] == [
        "on the 1st of each month",
        "on the 2nd of each month",
        "on the 3rd of each month",
        "on the 11th of each month",
        "on the 22nd of each month",
        "on the 28th of each month",
    ]
    assert Cadence().words() == "every day"
