"""The conversations behind each KPI (commands.drill), read with the KPI's own declarations.

Every list filters its rows with the measure the KPI itself reads (storage.kpi_cache.measures: which rows
count, the time that places them in the period, their channel, an outcome's time), so a list never
disagrees with its number. A ranked list first picks the ids of its `limit` rows from the measure's
index (the ids, ranked there, before any other column is read) and then reads those rows only.

Each function takes the question cut at its `now` (`Query.until_now`) and returns `Found` rows, worst
first; `commands.drill` turns them into the list users see.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.engine import Connection

from commands.query import Query
from storage import kpi_cache
from storage.kpi_cache.measures import MEASURES, OWNER, Measure
from storage.models import Conversation, Message, SlaClock, Survey
from storage.planner import unindexed

C = Conversation.__table__.c
K = SlaClock.__table__.c
M = Message.__table__.c
V = Survey.__table__.c
_CONVERSATION = (C.id, C.external_id, C.channel, C.opened_at, OWNER.label("agent"), C.link)
_TOPIC_SCAN = 50  # customer messages read per conversation listed, to find those of the top topic


@dataclass(frozen=True)
class Found:
    """One conversation of a list: its row id, external id, channel, when it opened, owner, link, the
    figure that ranks it (None when its age does) and a short note ("still waiting")."""

    id: int
    conversation_id: str
    channel: str
    opened_at: datetime | None
    agent: str | None
    link: str | None
    figure: Any = None
    note: str | None = None


def first_responses(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The slowest first responses sent in the period and the conversations opened in it still waiting
    for one (the FRT so far: `now` - opened), merged: the longest waits for a first reply first."""
    answered = _longest(conn, "frt", q, C.id, limit)
    waiting = [
        _with(row, figure=(q.now - row.opened_at).total_seconds(), note="still waiting")
        for row in _waiting(conn, q, limit)
    ]
    return sorted([*answered, *waiting], key=lambda row: (-row.figure, row.id))[:limit]


def waits(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The longest customer waits ended by a human reply in the period, one per conversation."""
    return _longest(conn, "wait", q, K.id, limit, K.conversation_id)


def resolutions(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations last resolved in the period (and not reopened since) that took longest from
    opening to that last resolution."""
    return _longest(conn, "full_resolution", q, C.id, limit)


def reopened(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations reopened in the period, the latest reopening first; the figure is how long after
    its resolution the conversation was reopened."""
    order = (K.start_at.desc(), K.id.desc())
    return _ranked(conn, MEASURES["reopenings"], q, order, K.id, limit, K.reopen_gap, K.conversation_id)


def scores(kind: str, worst_first: str):
    """The survey answers of `kind` given in the period, the worst first (`worst_first` "lowest" or
    "highest" score), the latest first among equals; answers tied to no conversation are not listed."""

    def answers(conn: Connection, q: Query, limit: int) -> list[Found]:
        score = V.score.asc() if worst_first == "lowest" else V.score.desc()
        order = (score, V.at.desc(), V.id.desc())
        tied = V.conversation_id.is_not(None)
        return _ranked(conn, MEASURES[kind], q, order, V.id, limit, V.score, V.conversation_id, tied)

    return answers


def oldest_open(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The oldest conversations open at the period's end (or now): those open now, and those resolved only
    after that instant (the backlog of a past moment), as the backlog KPI counts them."""
    instant, channel = q.end, q.in_channels(C.channel)
    still_open = [C.resolved.is_(False), C.opened_at <= instant, channel]
    closed_later = [
        unindexed(C.resolved).is_(True),
        C.last_resolved_at >= instant,
        unindexed(C.first_resolved_at) >= instant,
        unindexed(C.opened_at) <= instant,
        channel,
    ]
    return _oldest(conn, [(still_open, C.opened_at), (closed_later, unindexed(C.opened_at))], limit)


def unanswered(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations opened in the period that no human had answered by `now`, oldest first."""
    where = [q.in_period(C.opened_at), q.in_channels(C.channel), _no_reply(q)]
    return _oldest(conn, [(where, C.opened_at)], limit)


def unresolved(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations opened in the period not resolved as of `now`, oldest first."""
    open_now = or_(unindexed(C.resolved).is_(False), unindexed(C.first_resolved_at) >= q.now)
    where = [q.in_period(C.opened_at), q.in_channels(C.channel), open_now]
    return _oldest(conn, [(where, C.opened_at)], limit)


def escalated(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations opened in the period and moved to another channel by `now`, oldest first; the
    note names where to."""
    if not kpi_cache.count(conn, "escalated", q.scope()):  # the KPI's count: nothing to look for
        return []
    rows = _ranked(conn, MEASURES["escalated"], q, (C.opened_at, C.id), C.id, limit, C.escalated_to)
    return [_with(row, figure=None, note=f"to {row.figure}") for row in rows]


def transferred(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations resolved in the period that changed agent or team first, in order of that
    resolution; the figure is how many times they changed hands."""
    measure = MEASURES["transferred"]
    return _ranked(conn, measure, q, (C.last_resolved_at, C.id), C.id, limit, C.transfer_count)


def negative(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations of the period's most negative customer messages (the voice's candidates, ranked
    in the KPI cache), the most negative first; the figure is the message's score."""
    ids = kpi_cache.top(conn, "most_negative", q.scope())
    if not ids:
        return []
    said = select(M.conversation_id, M.sentiment).where(M.id.in_(ids))
    messages = conn.execute(said.order_by(M.sentiment, M.at.desc(), M.id.desc())).all()
    return _in_order(conn, [(row.conversation_id, row.sentiment, None) for row in messages], limit)


def top_topic(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations where customers wrote about the period's top topic (the one most messages
    carry, as `topics` ranks them), the latest message first; the note names the topic."""
    per_topic: Counter = Counter()
    for labels, (messages, *_sums) in kpi_cache.tally(conn, "topics", q.scope()).items():
        for topic in {label.partition("/")[0] for label in labels.split(",")}:
            per_topic[topic] += messages
    if not per_topic:
        return []
    topic = min(per_topic.items(), key=lambda item: (-item[1], item[0]))[0]
    measure = MEASURES["read"]
    said = [*measure.where, q.in_period(M.at), q.in_channels(M.channel), M.topics.is_not(None)]
    latest = select(M.conversation_id, M.topics).where(*said).order_by(M.at.desc(), M.id.desc())
    rows = conn.execute(latest.limit(limit * _TOPIC_SCAN)).all()
    about = [
        (row.conversation_id, None, topic)
        for row in rows
        if topic in {label.partition("/")[0] for label in row.topics.split(",")}
    ]
    return _in_order(conn, about, limit)


def _longest(conn: Connection, key: str, q: Query, row_id, limit: int, conversation=C.id) -> list[Found]:
    """The conversations of the measure `key`'s longest values (a duration) in the period, longest first
    (then the latest): the KPI cache keeps each slot's thirty longest (`longest_*` rankings), so a
    period's are among its slots' (docs/performance.md, "Drill-down")."""
    measure = MEASURES[key]
    ids = kpi_cache.top(conn, _LONGEST[key], q.scope())[: limit if conversation is C.id else 3 * limit]
    if not ids:
        return []
    chosen = select(row_id.label("row"), conversation.label("conversation"), measure.value.label("figure"))
    found = {row.row: (row.conversation, row.figure) for row in conn.execute(chosen.where(row_id.in_(ids)))}
    return _in_order(conn, [(*found[i], None) for i in ids if i in found], limit)


_LONGEST = {"frt": "longest_frt", "wait": "longest_wait", "full_resolution": "longest_resolution"}


def _ranked(
    conn: Connection,
    measure: Measure,
    q: Query,
    order: tuple,
    row_id,
    limit: int,
    figure,
    conversation=C.id,
    *where,
) -> list[Found]:
    """The conversations of the measure's first rows in `order` (also matching `where`), one per
    conversation, at most `limit`, each with `figure` (a column of the measure's table). Several rows may
    be one conversation's (waits, reopenings): three times `limit` rows are ranked for those."""
    rows = limit if conversation is C.id else 3 * limit
    ids = conn.execute(_ranked_ids(measure, q, order, row_id, rows, where)).scalars().all()
    if not ids:
        return []
    chosen = select(row_id.label("row"), conversation.label("conversation"), figure.label("figure"))
    found = {row.row: (row.conversation, row.figure) for row in conn.execute(chosen.where(row_id.in_(ids)))}
    return _in_order(conn, [(*found[i], None) for i in ids if i in found], limit)


def _ranked_ids(measure: Measure, q: Query, order: tuple, row_id, limit: int, where: tuple = ()) -> Select:
    """The ids of the measure's first `limit` rows in the period and channels, in `order`; a row with an
    outcome time counts once that time is before `now`."""
    where = [*measure.where, q.in_period(measure.at), q.in_channels(measure.channel), *where]
    if measure.as_of is not None:
        where.append(measure.as_of < q.now)
    return select(row_id).where(*where).order_by(*order).limit(limit)


def _in_order(conn: Connection, ranked: list[tuple[int, Any, str | None]], limit: int) -> list[Found]:
    """(conversation row id, figure, note) in rank order as Found rows, each conversation once (its first
    rank), at most `limit`."""
    seen: dict[int, tuple[Any, str | None]] = {}
    for conversation, figure, note in ranked:
        if conversation is not None and conversation not in seen:
            seen[conversation] = (figure, note)
    wanted = list(seen)[:limit]
    if not wanted:
        return []
    rows = {row.id: row for row in conn.execute(select(*_CONVERSATION).where(C.id.in_(wanted)))}
    return [_found(rows[i], *seen[i]) for i in wanted if i in rows]


def _oldest(conn: Connection, halves: list[tuple[list, Any]], limit: int) -> list[Found]:
    """The first `limit` conversations matching any of `halves` — (conditions, the time they are ordered
    by), each its own query — by that time, then id. A half found through another index orders by an
    `unindexed` time: with the LIMIT bound, SQLite would rather walk the time's own index from its start
    than sort the few rows its range holds."""
    rows = []
    for where, at in halves:
        ordered = select(*_CONVERSATION, at.label("at")).where(*where).order_by(at, C.id).limit(limit)
        rows += conn.execute(ordered)
    rows.sort(key=lambda row: (row.at, row.id))
    return [_found(row) for row in rows[:limit]]


def _waiting(conn: Connection, q: Query, limit: int) -> list[Found]:
    """The conversations opened in the period still waiting for a first human reply at `now`, oldest
    first: open now, or closed only after `now` (as the FRT answer's "still waiting" counts them)."""
    common = [q.in_channels(C.channel), _no_reply(q)]
    still_open = [C.resolved.is_(False), q.in_period(C.opened_at), *common]
    closed_later = [
        unindexed(C.resolved).is_(True),
        C.last_resolved_at >= q.now,
        unindexed(C.first_resolved_at) >= q.now,
        unindexed(C.opened_at) >= q.start,
        unindexed(C.opened_at) < q.end,
        *common,
    ]
    return _oldest(conn, [(still_open, C.opened_at), (closed_later, unindexed(C.opened_at))], limit)


def _no_reply(q: Query):
    """SQL condition: no human reply by `now`."""
    return or_(unindexed(C.first_response_at).is_(None), unindexed(C.first_response_at) >= q.now)


def _found(row, figure: Any = None, note: str | None = None) -> Found:
    return Found(row.id, row.external_id, row.channel, row.opened_at, row.agent, row.link, figure, note)


def _with(row: Found, **changes: Any) -> Found:
    return Found(**{**row.__dict__, **changes})
