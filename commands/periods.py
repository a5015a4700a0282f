"""Report periods: the words people type (`7d`, `last-week`, `2026-11-01..2026-11-15`) as time ranges.

A period is half-open, `[start, end)`, stored in UTC but cut in the workspace time zone: "yesterday"
is local midnight to local midnight, so it lasts 23 or 25 hours on the days clocks change.

Decisions:
- `Nd` and `Nh` are rolling windows ending now, exactly N x 24 h or N h long ("last 7 days" at
  10:30 starts at 10:30 seven days ago, in UTC terms, even across a clock change). Their previous
  period is the same length just before.
- `today`, `this-week`, `this-month` run from the local start of the day/week (Monday)/month up to
  now. Their previous period is the whole previous calendar day/week/month, as for `yesterday`,
  `last-week`, `last-month`.
- `A..B` covers both dates in full (local midnight of A to local midnight after B); a bare `A` is
  the one day. Its previous period is the same number of calendar days just before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from commands.errors import UsageError
from storage.days import midnight

DEFAULT_PERIOD = "7d"
NAMED_PERIODS = (
    "today",
    "yesterday",
    "7d",
    "30d",
    "90d",
    "this-week",
    "last-week",
    "this-month",
    "last-month",
)
MAX_DAYS = 3660  # ten years: far beyond any retention, and safe from datetime overflow

_ROLLING = re.compile(r"(\d{1,7})([dh])")
_DATES = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Period:
    """A half-open time range `[start, end)` in UTC, with the time zone it was cut in.

    `unit` ("day", "week", "month" or None) says whether it follows the calendar, which decides
    what its previous period is. `name` is what people call it ("last 7 days"), when it has one.
    """

    start: datetime
    end: datetime
    tz: ZoneInfo = field(default=ZoneInfo("UTC"), compare=False)
    name: str | None = field(default=None, compare=False)
    unit: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a Period needs timezone-aware datetimes")
        if self.end < self.start:
            raise ValueError(f"a Period cannot end ({self.end}) before it starts ({self.start})")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    @property
    def days(self) -> float:
        """Length of the period in days (24 h each), fractional for partial days."""
        return (self.end - self.start).total_seconds() / 86400

    @property
    def label(self) -> str:
        """How to name the period to a person: "last 7 days", "yesterday", "2026-11-01 – 2026-11-15"."""
        return self.name or _range_label(self.start, self.end, self.tz)

    def previous(self) -> Period:
        """The period to compare with: the previous calendar day(s)/week/month, or the same length before."""
        first = self.start.astimezone(self.tz).date()
        if self.unit == "day":
            last = self.end.astimezone(self.tz).date()
            span = max(1, (last - first).days)  # "today" ends mid-day, yet compares with one whole day
            return Period(midnight(first - timedelta(days=span), self.tz), self.start, self.tz, unit="day")
        if self.unit == "week":
            return Period(midnight(first - timedelta(days=7), self.tz), self.start, self.tz, unit="week")
        if self.unit == "month":
            prior = _add_months(first.replace(day=1), -1)
            return Period(midnight(prior, self.tz), self.start, self.tz, unit="month")
        length = self.end - self.start
        return Period(self.start - length, self.start, self.tz)


def is_period_word(word: str) -> bool:
    """True when the word has the shape of a period (it may still be invalid, like `0d`)."""
    word = word.strip().lower()
    return word in NAMED_PERIODS or bool(_ROLLING.fullmatch(word) or _DATES.fullmatch(word))


def resolve_period(word: str, now: datetime, tz: ZoneInfo) -> Period:
    """The time range a period word means at `now` in the workspace time zone `tz`.

    Raises UsageError for words that are not periods or describe an impossible range.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    word = word.strip().lower()
    today = now.astimezone(tz).date()
    if word == "today":
        return Period(midnight(today, tz), now, tz, "today", "day")
    if word == "yesterday":
        return Period(midnight(today - timedelta(days=1), tz), midnight(today, tz), tz, "yesterday", "day")
    if word in ("this-week", "last-week"):
        monday = today - timedelta(days=today.weekday())
        if word == "this-week":
            return Period(midnight(monday, tz), now, tz, "this week", "week")
        previous_monday = monday - timedelta(days=7)
        return Period(midnight(previous_monday, tz), midnight(monday, tz), tz, "last week", "week")
    if word in ("this-month", "last-month"):
        first = today.replace(day=1)
        if word == "this-month":
            return Period(midnight(first, tz), now, tz, "this month", "month")
        return Period(midnight(_add_months(first, -1), tz), midnight(first, tz), tz, "last month", "month")
    if rolling := _ROLLING.fullmatch(word):
        return _rolling(word, int(rolling.group(1)), rolling.group(2), now, tz)
    if dates := _DATES.fullmatch(word):
        return _date_range(word, dates.group(1), dates.group(2) or dates.group(1), now, tz)
    raise UsageError(
        f"`{word}` is not a period: try `today`, `yesterday`, `7d`, `24h`, `last-week`, "
        "`this-month` or `2026-11-01..2026-11-15`"
    )


def _rolling(word: str, count: int, unit: str, now: datetime, tz: ZoneInfo) -> Period:
    if count == 0:
        raise UsageError(f"`{word}` is an empty period: use at least `1{unit}`")
    limit = MAX_DAYS if unit == "d" else MAX_DAYS * 24
    if count > limit:
        raise UsageError(f"`{word}` is too long: the longest period is `{limit}{unit}` (ten years)")
    if unit == "d":
        length, name = timedelta(days=count), ("last 24 hours" if count == 1 else f"last {count} days")
    else:
        length, name = timedelta(hours=count), ("last hour" if count == 1 else f"last {count} hours")
    return Period(now - length, now, tz, name)


def _date_range(word: str, first_text: str, last_text: str, now: datetime, tz: ZoneInfo) -> Period:
    first, last = _parse_date(word, first_text), _parse_date(word, last_text)
    if last < first:
        raise UsageError(f"`{word}` ends before it starts: put the earlier date first")
    if (last - first).days + 1 > MAX_DAYS:
        raise UsageError(f"`{word}` is too long: the longest period is {MAX_DAYS} days (ten years)")
    start = midnight(first, tz)
    if start > now:
        raise UsageError(f"`{word}` is in the future: there is no data for it yet")
    return Period(start, midnight(last + timedelta(days=1), tz), tz, unit="day")


def _parse_date(word: str, text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"`{word}`: `{text}` is not a date (use YYYY-MM-DD, like 2026-11-01)") from None
    if value.year < 1970:
        raise UsageError(f"`{word}`: `{text}` is before 1970")
    return value


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _range_label(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if local_start.time() == local_end.time() == datetime.min.time() and local_end > local_start:
        first, last = local_start.date(), local_end.date() - timedelta(days=1)
        if first.day == 1 and last == _add_months(first, 1) - timedelta(days=1):
            return f"{_MONTHS[first.month - 1]} {first.year}"
        return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
    return f"{local_start:%Y-%m-%d %H:%M} – {local_end:%Y-%m-%d %H:%M}"
