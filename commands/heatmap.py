"""`/kpi heatmap [metric] [channel…] [period]`: when the work arrives, as an hour-of-day x weekday grid in
the workspace time zone (docs/metrics.md#heatmap).

Two metrics, read from the same declarations as the KPIs (storage.kpi_cache.measures), so a heatmap's
total is the KPI's figure over the same period:
- `volume` (the default): inbound customer messages, as the volume KPI counts them, by when they arrived,
  read from the KPI cache's count of them per UTC quarter hour (`inbound_quarters`), each quarter placed
  in its local hour;
- `frt`: the median first response time of the first responses sent in each hour (the event-time rule
  of the frt KPI: a conversation counts where its first human reply happened), with their number.

Every timestamp is placed by its own local hour: the period is cut where the local hour changes (each
local hour of a day where clocks go back is its own range; the skipped hour of a spring change has none),
and for `frt` each cell's ranges are read from the KPI cache's days per UTC quarter hour
(storage.kpi_cache.quarters).
Around an offset change the cut is looked for on UTC quarter hours, which every zone's offset has been a
multiple of since 1979 (Asia/Kolkata +5:30, Asia/Kathmandu +5:45 included). The default period is 30
days: a week shows each weekday once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.engine import Connection

from commands.errors import UsageError
from commands.parse import parse_command
from commands.periods import Period, is_period_word
from storage import kpi_cache
from storage.settings import Settings

WORD = "heatmap"
METRICS = {"volume": "inbound messages", "frt": "median first response"}
DEFAULT_METRIC = "volume"
DEFAULT_PERIOD = "30d"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_QUARTER = timedelta(minutes=15)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class HeatmapRequest:
    """One heatmap question: the metric (volume or frt), channels (() = all), the period, where shown."""

    metric: str
    channels: tuple[str, ...]
    period: Period
    period_word: str
    public: bool = False


@dataclass(frozen=True)
class Cell:
    """One hour of one weekday: its count (messages, or first responses) and the value drawn (the count,
    or the median first response in seconds; None without any)."""

    weekday: int  # 0 = Monday
    hour: int
    count: int
    value: float | None

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {hour_span(self.hour)}"


@dataclass(frozen=True)
class Heatmap:
    """The grid of one metric over a period: `counts[weekday][hour]` and `values[weekday][hour]` (7 x 24,
    Monday first, local hours of `tz`)."""

    metric: str
    channels: tuple[str, ...]
    period: Period
    tz: str
    counts: tuple[tuple[int, ...], ...]
    values: tuple[tuple[float | None, ...], ...]
    by_weekday: tuple[int, ...] = field(init=False)
    by_hour: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_weekday", tuple(sum(row) for row in self.counts))
        object.__setattr__(self, "by_hour", tuple(sum(row[h] for row in self.counts) for h in range(24)))

    @property
    def total(self) -> int:
        """Messages (volume) or first responses (frt) over the whole grid."""
        return sum(self.by_weekday)

    def counted(self, n: int) -> str:
        """`n` of what the grid counts, in words: `1 message`, `412 messages`, `3 first responses`."""
        unit = "message" if self.metric == "volume" else "first response"
        return f"{n:,} {unit}" + ("" if n == 1 else "s")

    def cells(self) -> list[Cell]:
        """Every cell, Monday 00:00 first."""
        return [Cell(d, h, self.counts[d][h], self.values[d][h]) for d in range(7) for h in range(24)]

    def busiest(self) -> Cell | None:
        """The cell with the most messages (or first responses); the earliest in the week on a tie."""
        return max(self.cells(), key=lambda cell: cell.count) if self.total else None

    def slowest(self) -> Cell | None:
        """For frt: the cell with the longest median first response (None for volume or without any)."""
        timed = [cell for cell in self.cells() if cell.value is not None]
        return max(timed, key=lambda cell: cell.value) if self.metric == "frt" and timed else None

    def to_json(self) -> dict[str, Any]:
        """The heatmap as data: 7 x 24 lists (Monday first; frt medians in seconds, null where empty)."""
        return {
            "metric": self.metric,
            "shows": METRICS[self.metric],
            "period": {
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "channels": list(self.channels),
            "tz": self.tz,
            "weekdays": list(WEEKDAYS),
            "hours": list(range(24)),
            "grid": [list(row) for row in self.values],
            "counts": [list(row) for row in self.counts],
            "by_weekday": list(self.by_weekday),
            "by_hour": list(self.by_hour),
            "total": self.total,
        }


def is_heatmap(text: str) -> bool:
    """True when a command's first word asks for the heatmap."""
    words = text.split()
    return bool(words) and words[0].lower() == WORD


def parse_heatmap(text: str, settings: Settings, now: datetime) -> HeatmapRequest | None:
    """The heatmap a command line asks for (the words after `heatmap`, read by the /kpi grammar), None
    when it asks for help. Raises UsageError for another metric, a breakdown or `bh`."""
    words = text.split()
    if words and words[0].lower() == WORD:
        words = words[1:]
    typed = " ".join(words)
    if not any(is_period_word(word) for word in re.split(r"[\s,]+", typed) if word):
        typed = f"{typed} {DEFAULT_PERIOD}"
    request = parse_command(typed, settings, now, default_metric=DEFAULT_METRIC)
    if request.metric == "help":
        return None
    if request.metric not in METRICS:
        raise UsageError(
            f"a heatmap shows `volume` (inbound messages) or `frt` (median first response), "
            f"not `{request.metric}`",
            [f"{WORD} {metric}" for metric in METRICS],
        )
    if request.by is not None:
        raise UsageError(f"a heatmap has no breakdown: ask without `by {request.by}`")
    if request.business_hours:
        raise UsageError("a heatmap shows every hour: ask without `bh`")
    return HeatmapRequest(
        request.metric, request.channels, request.period, request.period_word, request.public
    )


def compute_heatmap(conn: Connection, request: HeatmapRequest, settings: Settings, now: datetime) -> Heatmap:
    """The request's grid: each local hour of the period up to `now`, counted (or its first responses'
    median taken) in its weekday and hour."""
    tz = settings.zone
    end = min(request.period.end, now)
    counts = np.zeros((7, 24), dtype=np.int64)
    values: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    if request.metric == "volume":
        scope = kpi_cache.Scope(request.period.start, end, request.channels, now)
        for _, quarters in kpi_cache.tally_parts(conn, "inbound_quarters", scope):
            for quarter, n in quarters.items():
                counts[quarter_cell(quarter, tz)] += n
        values = [[int(n) for n in row] for row in counts]
    else:
        hours: dict[int, list[tuple[datetime, datetime]]] = {}
        for cell, since, until in local_hours(request.period.start, end, tz):
            hours.setdefault(cell, []).append((since, until))
        with kpi_cache.shared_reads():  # each cell cuts the same cached days to its hours
            for cell, ranges in hours.items():
                piece = kpi_cache.Slice(hours=tuple(ranges))
                scope = kpi_cache.Scope(request.period.start, end, request.channels, now, slice=piece)
                found = kpi_cache.sample(conn, "frt", scope)
                weekday, hour = divmod(cell, 24)
                counts[weekday, hour] = found.count
                values[weekday][hour] = found.percentiles(0.5)[0]
    return Heatmap(
        request.metric,
        request.channels,
        request.period,
        settings.tz,
        tuple(tuple(int(n) for n in row) for row in counts),
        tuple(tuple(row) for row in values),
    )


@lru_cache(maxsize=50_000)
def quarter_cell(quarter: str, tz: ZoneInfo) -> tuple[int, int]:
    """(weekday, local hour) in `tz` of a UTC quarter hour labelled "YYYY-MM-DD HH:MM" (the whole quarter
    lies in one local hour: every offset is a multiple of 15 minutes)."""
    local = datetime.fromisoformat(quarter).replace(tzinfo=UTC).astimezone(tz)
    return local.weekday(), local.hour


def local_hours(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[int, datetime, datetime]]:
    """`[start, end)` cut where the local hour in `tz` changes: (cell, from, to) with cell = weekday x 24
    + local hour, the ranges one after another. A local day of 24 hours on one offset (nearly all of
    them) is cut in one step; the others hour by hour."""
    ranges: list[tuple[int, datetime, datetime]] = []
    moment = start.astimezone(UTC)
    while moment < end:
        local = moment.astimezone(tz)
        if not (local.hour or local.minute or local.second or local.microsecond):
            day = _plain_day(moment, local, tz)
            if day is not None:
                cell = local.weekday() * 24
                ranges += [
                    (cell + h, since, min(since + _HOUR, end)) for h, since in enumerate(day) if since < end
                ]
                moment = day[-1] + _HOUR
                continue
        cell = local.weekday() * 24 + local.hour
        following = min(_hour_end(moment, local, tz), end)
        if ranges and ranges[-1][0] == cell:  # the same local hour goes on (or is lived again: same cell)
            ranges[-1] = (cell, ranges[-1][1], following)
        else:
            ranges.append((cell, moment, following))
        moment = following
    return ranges


def _plain_day(midnight_utc: datetime, local: datetime, tz: ZoneInfo) -> list[datetime] | None:
    """The starts (UTC) of the 24 hours of the local day starting at `midnight_utc` when the offset stays
    the same at its start and its end; None when the clock changes that day."""
    last = midnight_utc + 23 * _HOUR
    if (last + _HOUR - timedelta(microseconds=1)).astimezone(tz).utcoffset() != local.utcoffset():
        return None
    return [midnight_utc + h * _HOUR for h in range(24)]


def hour_span(hour: int) -> str:
    """An hour of the day as the span it covers: `10:00–11:00`."""
    return f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"


def _hour_end(moment: datetime, local: datetime, tz: ZoneInfo) -> datetime:
    """Where `moment`'s local hour ends (UTC), or its next UTC quarter hour when the offset changes first."""
    into = timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
    end = moment - into + timedelta(hours=1)
    if (end - timedelta(microseconds=1)).astimezone(tz).utcoffset() == local.utcoffset():
        return end
    return _next_quarter(moment)


def _next_quarter(moment: datetime) -> datetime:
    floored = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floored + _QUARTER
