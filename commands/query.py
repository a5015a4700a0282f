"""What a KPI function is asked: a time range, channels, the evaluation instant and the settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, false, or_
from sqlalchemy.sql import ColumnElement

from storage.business_hours import BusinessClock
from storage.kpi_cache import Scope, Slice, labelled
from storage.kpi_cache.measures import OWNER
from storage.kpi_cache.slicing import in_ranges, slice_terms, within
from storage.models import Conversation
from storage.planner import on_channels, unindexed
from storage.settings import Settings


@dataclass(frozen=True)
class Query:
    """One KPI question over `[start, end)` (aware UTC).

    `channels` () means every channel. `now` is the instant the question is asked (backlog and
    "still waiting" are measured then; it is also the end of a rolling period). `clock` is set when
    durations must count business hours only. `agent` restricts to one agent (for `by agent`), `team` to
    the conversations of one team (`by team`), `topic` to the conversations a customer message of that
    topic was in (`by topic`), `hours` to these ranges of the period (`by hour`, `by weekday`: the local
    hours of one hour of the day or one weekday). `source` "auto" reads the KPI cache where it can,
    "tables" never (see storage.kpi_cache).
    """

    start: datetime
    end: datetime
    channels: tuple[str, ...]
    now: datetime
    settings: Settings
    clock: BusinessClock | None = None
    agent: str | None = None
    source: str = "auto"
    team: str | None = None
    topic: str | None = None
    hours: tuple[tuple[datetime, datetime], ...] | None = None

    def scope(self) -> Scope:
        """What the KPI cache is asked for this question."""
        duration = self.clock.open_seconds if self.clock is not None else None
        return Scope(
            self.start,
            self.end,
            self.channels,
            self.now,
            self.agent,
            duration,
            self.source,
            Slice(self.team, self.topic, self.hours) if self.sliced else None,
        )

    @property
    def sliced(self) -> bool:
        """Whether the question keeps only one team's, one topic's or some hours' rows."""
        return self.team is not None or self.topic is not None or self.hours is not None

    @property
    def label(self) -> str | None:
        """labelled.TEAM or labelled.TOPIC for a question about one team or one topic alone, every agent's,
        from the cache where it serves (a row of `by team` / `by topic`: what the tables give is read once
        for all the rows, labelled), else None."""
        if self.source != "auto" or self.agent is not None or self.hours is not None:
            return None
        if (self.team is None) == (self.topic is None):
            return None
        return labelled.TEAM if self.team is not None else labelled.TOPIC

    @property
    def labelled_as(self) -> str | None:
        """The team or topic of a question `label` names."""
        return self.team if self.label == labelled.TEAM else self.topic

    def conversation_terms(self) -> list[ColumnElement[bool]]:
        """SQL conditions on `conversation` rows for the asked agent (the owner rule), team and topic: what
        a KPI reading conversations itself (not through the cache) narrows them by."""
        terms = [self.agent == OWNER] if self.agent is not None else []
        return terms + slice_terms(Slice(self.team, self.topic), None, Conversation.__table__)

    def in_channels(self, column) -> ColumnElement[bool]:
        """SQL condition: `column` is one of the asked channels (always true for all channels)."""
        return on_channels(column, self.channels)

    def in_period(self, column) -> ColumnElement[bool]:
        """SQL condition: `column` falls in `[start, end)` (and in one of `hours` when given)."""
        period = (column >= self.start) & (column < self.end)
        if self.hours is None:
            return period
        # the period drives the query through its index; the hours only filter what it reads
        return period & in_ranges(unindexed(column), within(self.hours, self.start, self.end))

    def duration(self, start: datetime, end: datetime) -> float:
        """Seconds from `start` to `end`, counting only open time when business hours are asked for."""
        if self.clock is not None:
            return self.clock.open_seconds(start, end)
        return (end - start).total_seconds()

    def in_period_with(self, column, *terms) -> ColumnElement[bool]:
        """SQL condition: `terms` hold and `column` falls in the period (in one of `hours`, when given, as one
        OR term per range with `terms` repeated, so each is read from an index on (terms…, column) alone)."""
        if self.hours is None:
            return and_(*terms, self.in_period(column))
        ranges = within(self.hours, self.start, self.end)
        return (
            or_(*(and_(*terms, column >= start, column < end) for start, end in ranges))
            if ranges
            else false()
        )

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
