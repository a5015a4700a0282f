"""The conversation export's rows (docs/export.md): one per conversation opened in a period, in id order,
each with what is counted per conversation in other tables: its customer waits, its latest CSAT and NPS
answers, the mean sentiment and the topics of its customer messages.

Streamed in constant memory, at any size: one query per table, each ordered by conversation id and read
a batch at a time (a server-side cursor on PostgreSQL), merged in lock-step as a merge join would. The
aggregate queries cover the conversations' id range only; rows of a conversation outside the period or
the channels are skipped by the merge (no IN list of ids, no temporary table). Each query walks an index
in id order (conversation's primary key, ix_sla_clock_conversation, ix_message_conversation); survey
answers, which have no index by conversation, are sorted once by the database.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Select, String, func, select, type_coerce
from sqlalchemy.engine import Connection, CursorResult

from storage.models import Conversation, Message, SlaClock, Survey
from storage.planner import on_channels, unindexed

C = Conversation.__table__.c
M = Message.__table__.c
K = SlaClock.__table__.c
V = Survey.__table__.c

BATCH = 2_000  # rows each query hands over per round trip
WAIT_KINDS = ("first", "next")  # sla_clock kinds that are a customer's wait for a human reply


@dataclass(frozen=True)
class ExportScope:
    """The conversations opened in `[start, end)` on `channels` (() = every channel): how many, and the
    range of their ids."""

    start: datetime
    end: datetime
    channels: tuple[str, ...]
    count: int
    first_id: int | None
    last_id: int | None


class ExportRow(NamedTuple):
    """One conversation as the export shows it. `resolved_at` (its last resolution) and
    `resolution_seconds` (opening to that resolution) are None while it is not resolved: never, or
    reopened since. `csat`/`nps`: its latest answer of each; `sentiment`: the mean score of its scored
    customer messages; `topics`: the distinct top-level topics of its customer messages, sorted."""

    id: int
    source: str
    external_id: str
    channel: str
    opened_at: datetime | None
    first_response_at: datetime | None
    frt_seconds: float | None
    waits: int
    resolved_at: datetime | None
    resolution_seconds: float | None
    agent: str | None
    team: str | None
    csat: float | None
    nps: float | None
    sentiment: float | None
    topics: tuple[str, ...]
    reopen_count: int
    link: str | None


def export_scope(
    conn: Connection, start: datetime, end: datetime, channels: Sequence[str] = ()
) -> ExportScope:
    """How many conversations opened in `[start, end)` on `channels`, and their lowest and highest ids
    (read from the opening-time indexes alone)."""
    where = [C.opened_at >= start, C.opened_at < end]
    if channels:  # ix_conversation_channel_opened holds both columns: the channel is a key here
        where.append(C.channel.in_(channels))
    count, first_id, last_id = conn.execute(
        select(func.count(), func.min(C.id), func.max(C.id)).where(*where)
    ).one()
    return ExportScope(start, end, tuple(channels), count, first_id, last_id)


def several_sources(conn: Connection) -> bool:
    """True when the database holds conversations from more than one source (an external id is unique
    only within its source); two lookups at the ends of the unique (source, external_id) index."""
    first = conn.execute(select(func.min(C.source))).scalar()
    last = conn.execute(select(func.max(C.source))).scalar()
    return first != last


def conversation_rows(
    conn: Connection, scope: ExportScope, *, limit: int | None = None
) -> Iterator[ExportRow]:
    """The export rows of the conversations of `scope`, by conversation id; the first `limit` only when
    given. Reads in batches: memory stays flat whatever the number of rows."""
    if not scope.count:
        return
    bounds = (scope.first_id, scope.last_id)
    results = [
        conn.execute(query.execution_options(stream_results=True, max_row_buffer=BATCH))
        for query in (_conversations(scope, limit), _waits(*bounds), _surveys(*bounds), _messages(*bounds))
    ]
    try:
        yield from _merged(*(_tuples(result) for result in results))
    finally:
        for result in results:
            result.close()


def _tuples(result: CursorResult) -> Iterator[tuple]:
    """The rows of `result` as the DBAPI cursor gives them (as `storage.db.raw_rows` reads them: no Row
    object per row, no type processing), BATCH at a time through the result's fetch strategy, which
    hands over first any row SQLAlchemy had already buffered (the first row of a server-side cursor)."""
    # read anew each time: a strategy that finds the cursor exhausted closes it and hands over to one
    # that returns nothing
    while batch := result.cursor_strategy.fetchmany(result, result.cursor, BATCH):
        yield from batch


def _conversations(scope: ExportScope, limit: int | None) -> Select:
    # The id range walks the primary key in order; opening time and channel are filters only here.
    query = (
        select(
            C.id,
            C.source,
            C.external_id,
            C.channel,
            _raw(C.opened_at),
            _raw(C.first_response_at),
            C.frt_seconds,
            C.resolved,
            _raw(C.last_resolved_at),
            C.full_resolution_seconds,
            C.agent,
            C.team,
            C.reopen_count,
            C.link,
        )
        .where(
            C.id.between(scope.first_id, scope.last_id),
            unindexed(C.opened_at) >= scope.start,
            unindexed(C.opened_at) < scope.end,
            on_channels(C.channel, scope.channels),
        )
        .order_by(C.id)
    )
    return query if limit is None else query.limit(limit)


def _raw(column):
    """A time column without its type's result processing (see `_utc`)."""
    return type_coerce(column, String)


def _waits(first_id: int, last_id: int) -> Select:
    """Per conversation: how many times its customer waited for a human reply."""
    return (
        select(K.conversation_id, func.count())
        .where(K.conversation_id.between(first_id, last_id), unindexed(K.kind).in_(WAIT_KINDS))
        .group_by(K.conversation_id)
        .order_by(K.conversation_id)
    )


def _surveys(first_id: int, last_id: int) -> Select:
    """Every CSAT and NPS answer, oldest first within each conversation (the last one read wins)."""
    return (
        select(V.conversation_id, V.kind, V.score)
        .where(V.conversation_id.between(first_id, last_id), unindexed(V.kind).in_(("csat", "nps")))
        .order_by(V.conversation_id, V.at, V.id)
    )


def _messages(first_id: int, last_id: int) -> Select:
    """Per conversation, over what its customer said (public inbound messages, as every sentiment and
    topic KPI reads them): the mean sentiment of those scored, and their topic labels joined by commas."""
    return (
        select(M.conversation_id, func.avg(M.sentiment), func.aggregate_strings(M.topics, ","))
        .where(
            M.conversation_id.between(first_id, last_id),
            unindexed(M.direction) == "inbound",
            unindexed(M.author_kind) == "customer",
            unindexed(M.private).is_(False),
        )
        .group_by(M.conversation_id)
        .order_by(M.conversation_id)
    )


_END = (sys.maxsize,)  # after every conversation id


def _merged(conversations, waits, surveys, messages) -> Iterator[ExportRow]:
    """The conversations' rows with the aggregates of the same id: each aggregate stream is read up to
    the conversation's id, skipping the ids of conversations not exported (a merge join)."""
    wait = next(waits, _END)
    survey = next(surveys, _END)
    said = next(messages, _END)
    for (
        cid, source, external_id, channel, opened, responded, frt, resolved, last_resolved, full_seconds,
        agent, team, reopens, link,
    ) in conversations:  # fmt: skip
        while wait[0] < cid:
            wait = next(waits, _END)
        while said[0] < cid:
            said = next(messages, _END)
        csat = nps = None
        while survey[0] <= cid:
            if survey[0] == cid:  # oldest first: the latest answer of each kind is kept
                if survey[1] == "csat":
                    csat = survey[2]
                else:
                    nps = survey[2]
            survey = next(surveys, _END)
        mine = said[0] == cid
        yield ExportRow(
            cid,
            source,
            external_id,
            channel,
            _utc(opened),
            _utc(responded),
            frt,
            wait[1] if wait[0] == cid else 0,
            _utc(last_resolved) if resolved else None,
            full_seconds if resolved else None,
            agent,
            team,
            csat,
            nps,
            said[1] if mine else None,
            _top_level(said[2]) if mine else (),
            reopens or 0,
            link,
        )


def _utc(value: str | datetime | None) -> datetime | None:
    """A time column read raw (SQLite: text; PostgreSQL: naive datetime) as aware UTC: what `UTCDateTime`
    does, without its per-value overhead, which was a quarter of the export's time."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC)


def _top_level(labels: str | None) -> tuple[str, ...]:
    """The distinct topics of comma-joined "topic/subtopic" labels (as message.topics stores them), sorted."""
    if not labels:
        return ()
    # the same few short combinations come back row after row; a long one is worked out each time
    return _known_top_level(labels) if len(labels) <= 256 else _distinct_topics(labels)


def _distinct_topics(labels: str) -> tuple[str, ...]:
    return tuple(sorted({label.partition("/")[0] for label in labels.split(",") if label}))


_known_top_level = functools.lru_cache(maxsize=1024)(_distinct_topics)
