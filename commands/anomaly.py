"""Anomalies (docs/anomalies.md): when a signal of one hour is far from the same hour of the week in the
weeks before. Pure functions: which windows an hour is compared with, the baseline, and the test.

A window is an hour (or any 60 minutes) `[start, end)` in aware UTC. Its baseline windows are the same
local time of the workspace's time zone 7, 14, 21 and 28 days earlier — the same local hour of the week,
whatever clock change lies between (so a Tuesday 14:00 in November is compared with Tuesdays 14:00 in
October, one hour apart in UTC). A window is "in the history" when it ends after the first customer
message kpibot stored: with fewer than MIN_HISTORY weekly windows in the history, the baseline is the same
local time on each of the previous 7 days (those in the history) instead; with fewer than MIN_HISTORY of
those, or fewer than MIN_HISTORY values, there is no baseline and nothing is judged.

With `m` the median of the baseline values and `MAD` the median of their distances to `m`, the scale is
`s = max(1.4826 x MAD, 0.1 x |m|, 1)` and a value `x` is anomalous when `|x - m| > 4 s` and it rests on
at least MIN_ITEMS items (a count is its own items: at least 20 messages; a median or a share: computed
from at least 20 replies or scored messages). Shares are in percent (0-100) so the floor of 1 is one
point; durations in seconds. An episode ends ("settled") once `|x - m| <= 2 s`: between 2 s and 4 s it is
still unusual, and a value hovering at the threshold does not fire and clear every minute.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKS = 4
DAYS = 7
MIN_HISTORY = 3
MIN_ITEMS = 20
FACTOR = 4.0
SETTLED = 2.0
MAD_SCALE = 1.4826  # a normal distribution's standard deviation is 1.4826 x its MAD
RELATIVE_FLOOR = 0.1
ABSOLUTE_FLOOR = 1.0
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Window = tuple[datetime, datetime]


def shifted(window: Window, days: int, tz: ZoneInfo) -> Window:
    """The window at the same local time of `tz`, `days` days earlier, as long as `window`. A local time
    a clock change skipped is read as before the change (fold 0), as Python reads it."""
    start, end = window
    local = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=days)
    moved = local.replace(tzinfo=tz).astimezone(UTC)
    return moved, moved + (end - start)


def baseline_windows(
    window: Window, tz: ZoneInfo, history_start: datetime | None
) -> tuple[list[Window], str]:
    """The windows `window` is compared with, and which ("weeks" or "days"): the same local hour of the
    week in the previous WEEKS weeks when at least MIN_HISTORY of them are in the history, else the same
    local hour of the previous DAYS days that are; ([], "none") with fewer than MIN_HISTORY of those."""
    if history_start is None:
        return [], "none"
    weeks = [w for k in range(1, WEEKS + 1) if (w := shifted(window, 7 * k, tz))[1] > history_start]
    if len(weeks) >= MIN_HISTORY:
        return weeks, "weeks"
    days = [w for k in range(1, DAYS + 1) if (w := shifted(window, k, tz))[1] > history_start]
    return (days, "days") if len(days) >= MIN_HISTORY else ([], "none")


@dataclass(frozen=True)
class Verdict:
    """A value judged against its baseline: `usual` (m), the `scale` (s), whether it is anomalous, and
    whether it is back within SETTLED x s of usual."""

    value: float
    usual: float
    scale: float
    items: int
    anomalous: bool
    settled: bool

    @property
    def ratio(self) -> float | None:
        """x / m, None when m is 0."""
        return self.value / self.usual if self.usual else None

    @property
    def distance(self) -> float:
        """x - m."""
        return self.value - self.usual


def judge(value: float | None, items: int, baseline: Sequence[float]) -> Verdict | None:
    """`value` (resting on `items` items; None: not computable) against the baseline values; None when it
    cannot be judged: no value, or fewer than MIN_HISTORY baseline values."""
    if value is None or len(baseline) < MIN_HISTORY:
        return None
    usual = statistics.median(baseline)
    mad = statistics.median(abs(v - usual) for v in baseline)
    scale = max(MAD_SCALE * mad, RELATIVE_FLOOR * abs(usual), ABSOLUTE_FLOOR)
    far = abs(value - usual)
    return Verdict(
        float(value),
        float(usual),
        float(scale),
        items,
        anomalous=far > FACTOR * scale and items >= MIN_ITEMS,
        settled=far <= SETTLED * scale,
    )


def hour_label(window: Window, tz: ZoneInfo) -> str:
    """ "Tue 14:00–15:00": the window's local weekday and times."""
    start, end = (moment.astimezone(tz) for moment in window)
    return f"{_WEEKDAYS[start.weekday()]} {start:%H:%M}–{end:%H:%M}"


def last_hour(now: datetime, tz: ZoneInfo) -> Window:
    """The last whole local hour of `tz` at `now` (an hour long, even across a clock change)."""
    local = now.astimezone(tz)
    end = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return end - timedelta(hours=1), end


def last_60_minutes(now: datetime) -> Window:
    """The 60 minutes before `now`, in whole minutes."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    return end - timedelta(hours=1), end
