"""How a question's time range is cut for the cache: whole UTC days and hours that are over (slots), read
ready-made, and the rest, read from the tables.

A slot is a whole UTC day, or one hour of the days a period starts or ends inside (today's included).
Only slots that ended an hour before the question's `now` are cached: a change to an hour is noted once
that hour is over (storage.kpi_cache.store), so by then every write made during it has been noted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from storage.days import midnight

GRACE = timedelta(hours=1)  # how long after an hour ends it may be cached (see cached_until)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The most days one question may cache: older parts of a range are read from the tables. Ingestion
# refuses implausible times, but a row written by hand (opened in year 1) must not make a backlog
# question fill 740,000 days.
MAX_CACHED_DAYS = 1000


class Slot(NamedTuple):
    """What a cached row covers: a whole UTC day, or one hour of it (`hour`). A tuple: a breakdown's rows
    look up and hash their period's slots thousands of times."""

    day: date
    hour: int | None = None

    @property
    def start(self) -> datetime:
        return _bounds(self.day, self.hour)[0]

    @property
    def end(self) -> datetime:
        return _bounds(self.day, self.hour)[1]


@lru_cache(maxsize=8192)
def _bounds(day: date, hour: int | None) -> tuple[datetime, datetime]:
    """A slot's start and end (asked thousands of times by a heatmap's or a breakdown's cells)."""
    start = midnight(day) + timedelta(hours=hour or 0)
    return start, start + (DAY if hour is None else HOUR)


def cached_until(now: datetime) -> datetime:
    """The end of the newest hour the cache may hold for a question asked at `now`: the last whole UTC hour
    that ended GRACE before it.

    A change to hour H is noted only once H is over (live traffic on the current hour notes nothing), so H
    is cached only when every transaction begun in it has ended — well within the hour of grace, which
    also absorbs clock differences between bot processes and the database server."""
    return floor(now - GRACE, HOUR)


def last_cached_day(now: datetime) -> date:
    """The newest whole day the cache may hold at `now` (see `cached_until`)."""
    return (floor(cached_until(now), DAY) - DAY).date()


def hours_over(times: Iterable[datetime], now: datetime) -> list[tuple[date, int]]:
    """The (day, hour) of each of `times` that is in an hour already over at `now`, each once, in order:
    what a change at those times notes."""
    current = floor(now, HOUR)
    # hours since the epoch: `timestamp` is 3–4× cheaper than `floor` for the thousands of times a batch
    # of ingestion notes (its float is exact to the microsecond until the year 2255)
    hours = {int(at.timestamp() // 3600) for at in times}
    starts = (EPOCH + count * HOUR for count in sorted(hours))
    return [(at.date(), at.hour) for at in starts if at < current]


def split(
    start: datetime, end: datetime, now: datetime
) -> tuple[list[Slot], list[tuple[datetime, datetime]]] | None:
    """The cached slots making up `[start, end)` asked at `now` — the whole UTC days, and the whole hours
    of the days it starts or ends inside, up to `cached_until(now)`, at most MAX_CACHED_DAYS back — and the
    ranges left before and after them (read from the tables: the last hour or two, the minutes before the
    first whole hour, anything older than the cached span); None when there is no slot."""
    stop = min(floor(end, HOUR), cached_until(now))
    first = max(ceil(start, HOUR), floor(stop, DAY) - MAX_CACHED_DAYS * DAY)
    if first >= stop:
        return None
    day_first, day_stop = ceil(first, DAY), floor(stop, DAY)
    if day_first < day_stop:
        slots = hours_between(first, day_first)
        slots += [Slot(day_first.date() + timedelta(days=n)) for n in range((day_stop - day_first).days)]
        slots += hours_between(day_stop, stop)
    else:
        slots = hours_between(first, stop)
    around = ((start, first), (stop, end))
    return slots, [(edge_start, edge_end) for edge_start, edge_end in around if edge_start < edge_end]


def hours_between(start: datetime, end: datetime) -> list[Slot]:
    """The hour slots from `start` to `end` (whole hours; none if `end` is not later)."""
    count = max(0, int((end - start) / HOUR))
    return [Slot(at.date(), at.hour) for at in (start + n * HOUR for n in range(count))]


def floor(moment: datetime, unit: timedelta) -> datetime:
    """`moment` (in UTC) rounded down to a whole `unit` (an hour, a day)."""
    moment = moment.astimezone(UTC)
    return moment - (moment - EPOCH) % unit


def ceil(moment: datetime, unit: timedelta) -> datetime:
    """`moment` (in UTC) rounded up to a whole `unit`."""
    rounded = floor(moment, unit)
    return rounded if rounded == moment else rounded + unit
