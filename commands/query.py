"""What a KPI function is asked: a time range, channels, the evaluation instant and the settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.sql import ColumnElement

from storage.business_hours import BusinessClock
from storage.kpi_cache import Scope
from storage.planner import on_channels
from storage.settings import Settings


@dataclass(frozen=True)
class Query:
    """One KPI question over `[start, end)` (aware UTC).

    `channels` () means every channel. `now` is the instant the question is asked (backlog and
    "still waiting" are measured then; it is also the end of a rolling period). `clock` is set when
    durations must count business hours only. `agent` restricts to one agent (for `by agent`). `source`
    "auto" reads the KPI cache where it can, "tables" never (see storage.kpi_cache).
    """

    start: datetime
    end: datetime
    channels: tuple[str, ...]
    now: datetime
    settings: Settings
    clock: BusinessClock | None = None
    agent: str | None = None
    source: str = "auto"

    def scope(self) -> Scope:
        """What the KPI cache is asked for this question."""
        duration = self.clock.open_seconds if self.clock is not None else None
        return Scope(self.start, self.end, self.channels, self.now, self.agent, duration, self.source)

    def in_channels(self, column) -> ColumnElement[bool]:
        """SQL condition: `column` is one of the asked channels (always true for all channels)."""
        return on_channels(column, self.channels)

    def in_period(self, column) -> ColumnElement[bool]:
        """SQL condition: `column` falls in `[start, end)`."""
        return (column >= self.start) & (column < self.end)

    def duration(self, start: datetime, end: datetime) -> float:
        """Seconds from `start` to `end`, counting only open time when business hours are asked for."""
        if self.clock is not None:
            return self.clock.open_seconds(start, end)
        return (end - start).total_seconds()

    @property
    def days(self) -> float:
        """Length of the period in days, counting only up to `now` (a range reaching into the future)."""
        end = min(self.end, self.now)
        return max((end - self.start).total_seconds(), 0.0) / 86400.0

    def until_now(self) -> Query:
        """The same question with its range cut at `now`: what happened later was not known then."""
        if self.end <= self.now:
            return self
        return replace(self, end=max(self.start, self.now))

    def with_range(self, start: datetime, end: datetime) -> Query:
        """The same question over another time range."""
        return replace(self, start=start, end=end)
