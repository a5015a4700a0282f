"""A slice of a question: one team's conversations, one topic's, or some hours of the period (the
breakdowns `by team`, `by topic`, `by hour` and `by weekday`; docs/metrics.md, "Breakdowns").

A slice narrows any measure, ranking or tally to the rows of its conversations, whatever table the rows
live in: a conversation by its own `team`; a message, clock or survey answer by its conversation's; a
topic by the conversation having a customer message tagged with it (a message by its own tags). Hours
keep the rows dated in one of the ranges. These are the conditions of a sliced question read from the
tables; the cache serves a slice of hours from its quarter-hour rows (storage.kpi_cache.quarters) and one
of a single team or topic from its rows per label (storage.kpi_cache.labelled), which `labelled.top_level`
labels as `about` matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, false, func, literal, or_
from sqlalchemy.sql import ColumnElement

from storage.models import Conversation, Message
from storage.planner import unindexed

C = Conversation.__table__.c
_TAGGED = Message.__table__.alias("tagged")
_TEAMED = Conversation.__table__.alias("teamed")
_T = _TAGGED.c


@dataclass(frozen=True)
class Slice:
    """Rows of conversations of `team`, of conversations about `topic`, dated in one of `hours` (each
    None: not narrowed that way)."""

    team: str | None = None
    topic: str | None = None
    hours: tuple[tuple[datetime, datetime], ...] | None = None


def in_ranges(column, ranges: tuple[tuple[datetime, datetime], ...]) -> ColumnElement[bool]:
    """SQL condition: `column` falls in one of the half-open `ranges`."""
    if not ranges:
        return false()
    return or_(*(and_(column >= start, column < end) for start, end in ranges))


def about(tags, topic: str) -> ColumnElement[bool]:
    """SQL condition: a message's stored topic labels ("delivery/late,refund") include top-level `topic`."""
    wrapped = literal(",") + tags + literal(",")
    pattern = _escaped(topic)
    return or_(
        wrapped.like(f"%,{pattern},%", escape="\\"),
        wrapped.like(f"%,{pattern}/%", escape="\\"),
    )


def dated(piece: Slice | None, at, start: datetime, end: datetime, terms=()) -> list[ColumnElement[bool]]:
    """The conditions keeping rows that match `terms` and are dated by `at` in `[start, end)`, and in the
    slice's hours if it has some: then one OR term per hour, cut to `[start, end)`, with `terms` repeated
    in each, so each range is read from an index on (terms…, at) on its own instead of the whole period
    being read and filtered."""
    if piece is None or piece.hours is None:
        return [*terms, at >= start, at < end]
    ranges = within(piece.hours, start, end)
    if not ranges:
        return [false()]
    return [or_(*(and_(*terms, at >= since, at < until) for since, until in ranges))]


def joined(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """`ranges` (in order, not overlapping) with those that touch joined into one."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in ranges:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def within(
    ranges: tuple[tuple[datetime, datetime], ...], start: datetime, end: datetime
) -> tuple[tuple[datetime, datetime], ...]:
    """`ranges` cut to `[start, end)` (those outside it left out)."""
    return tuple((max(s, start), min(e, end)) for s, e in ranges if s < end and e > start)


def slice_terms(piece: Slice | None, at, table) -> list[ColumnElement[bool]]:
    """The conditions narrowing rows of `table` to the slice's team and topic (none without one; its
    hours are `dated`'s)."""
    if piece is None or (piece.team is None and piece.topic is None):
        return []
    terms = []
    conversation = table.c.id if table is Conversation.__table__ else table.c.conversation_id
    if piece.team is not None:
        if table is Conversation.__table__:  # filtered, never the index read (`ix_conversation_team`, which
            # the planner would walk through every conversation of a large team)
            terms.append(unindexed(C.team) == piece.team)
        else:  # row by row (each its conversation by primary key): the period's index leads, even for a
            # team of most conversations, where `IN (its conversations)` walked them all for a minute's rows
            terms.append(exists().where(_TEAMED.c.id == conversation, _TEAMED.c.team == piece.team))
    if piece.topic is not None:
        if table is Message.__table__:
            terms.append(func.coalesce(table.c.topics, "") != "")
            terms.append(about(table.c.topics, piece.topic))
        else:
            tagged = exists().where(
                _T.conversation_id == conversation,
                _T.direction == "inbound",
                _T.topics.is_not(None),
                about(_T.topics, piece.topic),
            )
            terms.append(tagged)
    return terms


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
