"""Business-hours arithmetic: how much of a wait fell inside the team's opening hours.

Opening hours are wall-clock times in the business-hours time zone, so a 09:00-18:00 day is 9 h
long all year, and a range crossing a clock change (01:00-04:00 on the spring-forward night) counts
only the time that really passed. Holidays are closed all day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.settings import BusinessHours, Settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_INDEX = {name: index for index, name in enumerate(WEEKDAYS)} | {
    name: index
    for index, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_CACHE_MARGIN_DAYS = 366  # grow the per-day table a year at a time so it is rebuilt rarely


class BusinessClock:
    """Counts open time between two instants, for one workspace's opening hours.

    Per-day open seconds are kept as a running total over a table of local dates, so a wait of
    any length costs two partial days plus one subtraction.
    """

    def __init__(self, hours: BusinessHours, default_tz: str | ZoneInfo = "UTC") -> None:
        """Check and compile the opening hours; raises ValueError naming what is wrong in the config."""
        self.tz = _zone(hours.timezone or default_tz)
        self.holidays = frozenset(hours.holidays)
        self._weekly: tuple[tuple[tuple[int, int], ...], ...] = _compile_week(hours.hours)
        if not any(self._weekly):
            raise ValueError(
                'business hours have no open time: give at least one range, e.g. mon: ["09:00-18:00"]'
            )
        self._first_ordinal = 0
        self._totals: list[float] = []  # _totals[i]: open seconds on the days before _first_ordinal + i
        self._days: dict[date, tuple[tuple[float, float], ...]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessClock | None:
        """The workspace's business clock, or None when no business hours are configured."""
        if settings.business_hours is None:
            return None
        return cls(settings.business_hours, settings.tz)

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds between `start` and `end` during which the business was open (0 if end <= start)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("open_seconds needs timezone-aware datetimes")
        if end <= start:
            return 0.0
        first, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        lo, hi = start.timestamp(), end.timestamp()
        if first == last:
            return self._overlap(first, lo, hi)
        whole_days = self._open_between(first.toordinal() + 1, last.toordinal())
        return self._overlap(first, lo, hi) + whole_days + self._overlap(last, lo, hi)

    def deadline(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of open time after `start` (a target counted in business hours): a wait
        that starts while closed starts counting at the next opening. Looks up to ten years ahead."""
        if start.tzinfo is None:
            raise ValueError("deadline needs a timezone-aware datetime")
        left, lo = seconds, start.timestamp()
        day = start.astimezone(self.tz).date()
        for _ in range(3660):
            for opens, closes in self._intervals(day):
                begin = max(opens, lo)
                if closes > begin:
                    if closes - begin >= left:
                        return datetime.fromtimestamp(begin + left, tz=start.tzinfo)
                    left -= closes - begin
            day = date.fromordinal(day.toordinal() + 1)
        raise ValueError("business hours: no deadline within ten years")

    def _overlap(self, day: date, lo: float, hi: float) -> float:
        total = 0.0
        for opens, closes in self._intervals(day):
            total += max(0.0, min(closes, hi) - max(opens, lo))
        return total

    def _intervals(self, day: date) -> tuple[tuple[float, float], ...]:
        """Open ranges of one local date as UTC timestamps."""
        cached = self._days.get(day)
        if cached is None:
            midnight = datetime(day.year, day.month, day.day)
            ranges = () if day in self.holidays else self._weekly[day.weekday()]
            cached = tuple(
                (self._instant(midnight, opens), self._instant(midnight, closes)) for opens, closes in ranges
            )
            self._days[day] = cached
        return cached

    def _instant(self, midnight: datetime, minutes: int) -> float:
        # Wall-clock arithmetic on the naive local time; zoneinfo then picks the UTC offset in force.
        return (midnight + timedelta(minutes=minutes)).replace(tzinfo=self.tz).timestamp()

    def _open_between(self, first_ordinal: int, stop_ordinal: int) -> float:
        """Open seconds on the whole local days with ordinals in [first_ordinal, stop_ordinal)."""
        if stop_ordinal <= first_ordinal:
            return 0.0
        base = self._first_ordinal
        if not self._totals or first_ordinal < base or stop_ordinal >= base + len(self._totals):
            self._rebuild_totals(first_ordinal, stop_ordinal)
            base = self._first_ordinal
        return self._totals[stop_ordinal - base] - self._totals[first_ordinal - base]

    def _rebuild_totals(self, first_ordinal: int, stop_ordinal: int) -> None:
        begin, stop = first_ordinal - _CACHE_MARGIN_DAYS, stop_ordinal + _CACHE_MARGIN_DAYS
        if self._totals:
            begin = min(begin, self._first_ordinal)
            stop = max(stop, self._first_ordinal + len(self._totals) - 1)
        totals, running = [0.0], 0.0
        for ordinal in range(begin, stop):
            running += sum(closes - opens for opens, closes in self._intervals(date.fromordinal(ordinal)))
            totals.append(running)
        self._first_ordinal, self._totals = begin, totals


def _zone(name: str | ZoneInfo) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"business hours: unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from exc


def _compile_week(hours: dict[str, list[str]]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per weekday (Monday first), the sorted open ranges in minutes after local midnight."""
    week: list[tuple[tuple[int, int], ...] | None] = [None] * 7
    for key, ranges in hours.items():
        index = _DAY_INDEX.get(key.strip().lower())
        if index is None:
            raise ValueError(f"business hours: unknown day {key!r} (use mon, tue, wed, thu, fri, sat, sun)")
        if week[index] is not None:
            raise ValueError(f"business hours: {WEEKDAYS[index]} is given twice")
        week[index] = _compile_day(key, ranges)
    return tuple(day or () for day in week)


def _compile_day(key: str, ranges: Sequence[str]) -> tuple[tuple[int, int], ...]:
    spans = sorted(_parse_range(key, text) for text in ranges)
    for (_, previous_close), (opens, _) in zip(spans, spans[1:], strict=False):
        if opens < previous_close:
            raise ValueError(f"business hours: ranges for {key!r} overlap ({ranges})")
    return tuple(spans)


def _parse_range(key: str, text: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(text.replace(" ", ""))
    if not match:
        raise ValueError(f'business hours: {key} range {text!r} should look like "09:00-18:00"')
    open_h, open_m, close_h, close_m = (int(group) for group in match.groups())
    opens, closes = open_h * 60 + open_m, close_h * 60 + close_m
    if open_h > 23 or open_m > 59 or close_m > 59 or closes > 24 * 60:
        raise ValueError(f"business hours: {key} range {text!r} is not a valid time of day (00:00 to 24:00)")
    if closes <= opens:
        raise ValueError(
            f"business hours: {key} range {text!r} closes before it opens "
            "(split ranges that cross midnight into two days)"
        )
    return opens, closes
