"""What a KPI function is asked: a time range, channels, the evaluation instant and the settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import true
from sqlalchemy.sql import ColumnElement

from commands.business_hours import BusinessClock
from storage.planner import unindexed
from storage.settings import Settings


@dataclass(frozen=True)
class Query:
    """One KPI question over `[start, end)` (aware UTC).

    `channels` () means every channel. `now` is the instant the question is asked (backlog and
    "still waiting" are measured then; it is also the end of a rolling period). `clock` is set when
    durations must count business hours only. `agent` restricts to one agent (for `by agent`).
    """

    start: datetime
    end: datetime
    channels: tuple[str, ...]
    now: datetime
    settings: Settings
    clock: BusinessClock | None = None
    agent: str | None = None

    def in_channels(self, column) -> ColumnElement[bool]:
        """SQL condition: `column` is one of the asked channels (always true for all channels).

        A filter only: every KPI query is driven by its time range, whose indexes carry the channel.
        """
        if not self.channels:
            return true()
        column = unindexed(column)
        if len(self.channels) == 1:
            return column == self.channels[0]
        return column.in_(self.channels)

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
