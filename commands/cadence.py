"""Digest cadences: daily, weekly on a weekday, monthly on a day of the month; what a digest due on a local
date covers, and when it was last due.

A digest covers the last full calendar period before the local date it is due: a daily one the day
before, a weekly one the last Monday-to-Monday week (local midnights, so the week of a clock change lasts
167 or 169 hours), a monthly one the last calendar month. So a weekly digest due on Wednesday still
covers the week that ended on Sunday, and a monthly one due on the 1st covers the month just ended.

A monthly digest runs on a day from 1 to 28: every month has those days, so it comes every month (a
digest "on the 31st" would skip February, April, June, September and November).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands.periods import Period
from storage.days import midnight
from storage.models import Subscription
from storage.subscriptions import DIGEST_KINDS

CADENCES = ("daily", "weekly", "monthly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LAST_MONTH_DAY = 28
_ORDINALS = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}
_LOOKBACK = 62  # days: a monthly digest's last scheduled time is always within two months


@dataclass(frozen=True)
class Cadence:
    """How often a digest runs: `name` daily, weekly or monthly; `day` the weekday (0 = Monday) of a weekly
    one, the day of the month (1-28) of a monthly one."""

    name: str = "daily"
    day: int | None = None

    @classmethod
    def of(cls, subscription: Subscription) -> Cadence:
        """The cadence of a digest subscription, from its kind and day."""
        return cls(DIGEST_KINDS[subscription.kind], subscription.day)

    @property
    def unit(self) -> str:
        """The calendar unit a digest covers: day, week or month."""
        return {"daily": "day", "weekly": "week", "monthly": "month"}[self.name]

    def runs_on(self, day: date) -> bool:
        """True when the digest is due on local date `day`."""
        if self.name == "weekly":
            return day.weekday() == self.day
        if self.name == "monthly":
            return day.day == self.day
        return True

    def covered(self, due: date, tz: ZoneInfo) -> Period:
        """The full local day, week or month before local date `due` in `tz`: what the digest due then
        covers."""
        if self.name == "weekly":
            monday = due - timedelta(days=due.weekday())
            return Period(midnight(monday - timedelta(days=7), tz), midnight(monday, tz), tz, unit="week")
        if self.name == "monthly":
            first = due.replace(day=1)
            before = (first - timedelta(days=1)).replace(day=1)
            return Period(midnight(before, tz), midnight(first, tz), tz, unit="month")
        day = due - timedelta(days=1)
        return Period(midnight(day, tz), midnight(due, tz), tz, unit="day")

    def last_scheduled(self, clock: str, tz: ZoneInfo, now: datetime) -> datetime:
        """The most recent time at or before `now` (aware UTC) the digest was due at local `clock` (HH:MM)."""
        hour, minute = (int(part) for part in clock.split(":"))
        today = now.astimezone(tz).date()
        for back in range(_LOOKBACK + 1):
            day = today - timedelta(days=back)
            moment = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
            if self.runs_on(day) and moment <= now:
                return moment
        raise AssertionError(f"a {self.name} digest is due within {_LOOKBACK} days")

    def words(self) -> str:
        """When it runs, in words: "every day", "Mondays", "on the 1st of each month"."""
        if self.name == "weekly":
            return f"{_weekday_name(self.day)}s"
        if self.name == "monthly":
            return f"on the {self.day}{_ORDINALS.get(self.day, 'th')} of each month"
        return "every day"


def _weekday_name(day: int | None) -> str:
    return (date(2026, 11, 30) + timedelta(days=day or 0)).strftime("%A")  # 30 Nov 2026 is a Monday


def period_title(period: Period) -> str:
    """A digest's period as a title: "Thu 19 Nov 2026", "Week of 30 Nov – 6 Dec 2026", "November 2026"."""
    first = period.start.astimezone(period.tz).date()
    if period.unit == "month":
        return f"{first:%B %Y}"
    if period.unit != "week":
        return _day(first)
    last = period.end.astimezone(period.tz).date() - timedelta(days=1)
    if first.year != last.year:
        return f"Week of {_day(first)[4:]} – {_day(last)[4:]}"
    start = f"{first.day}" if first.month == last.month else f"{first.day} {first:%b}"
    return f"Week of {start} – {last.day} {last:%b %Y}"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"
