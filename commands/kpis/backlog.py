"""The `backlog` KPI (docs/metrics.md#backlog): open conversations at an instant, how many waited past
their channel's threshold, the oldest and the ten oldest.

A snapshot, not a period count: for the previous period it is the backlog at that period's end. A
conversation open now counts as open since it opened, a resolved one as closed from its first resolution;
a reopen is not dated, so an old snapshot may miss a conversation closed then reopened. Ages are calendar
time: the threshold is a wall-clock promise to the customer. `by agent` credits a conversation to its
owner (the assignee, else whoever answered it first).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, SECONDS, TEXT
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from storage import kpi_cache
from storage.days import midnight
from storage.db import raw_rows
from storage.models import Conversation
from storage.planner import unindexed
from storage.service_levels import policies

C = Conversation.__table__.c
LISTED = 10


def backlog(
    conn: Connection, query: Query, limits: tuple[float, dict[str, float]] | None = None
) -> dict[str, Any]:
    """Open conversations at the end of the period (or `now`, if sooner): how many, how many are older
    than their channel's backlog threshold (`limits` as `thresholds` gives them, which is the default),
    the oldest's age in seconds, and the 10 oldest."""
    q = query.until_now()
    instant = q.end
    scope = [q.in_channels(C.channel), *q.conversation_terms()]
    # Two index-friendly halves. Open now: counted by the cache's "open" measure (`_open_now`), else
    # ix_conversation_open; plain counts and its first entry for the oldest, no per-row expressions.
    # Resolved only after the instant (the backlog of a past moment): ix_conversation_resolved alone,
    # `unindexed` opened_at and resolved keeping SQLite off the indexes that would walk every
    # conversation ever opened; those were open then, so few, and are read once.
    still_open = [C.resolved.is_(False), C.opened_at <= instant, *scope]
    first_opened = conn.execute(select(func.min(C.opened_at))).scalar()  # the first index entry
    # An instant nearer the first conversation than now (the previous 90 days of a young workspace) has
    # fewer conversations opened before it than resolved after it: those are walked instead (1M
    # conversations, the snapshot 90 days back: ~100 ms the other way on SQLite).
    early = first_opened is not None and instant - first_opened < q.now - instant
    closed_later = [
        unindexed(C.resolved).is_(True),
        (unindexed(C.last_resolved_at) if early else C.last_resolved_at) >= instant,
        C.first_resolved_at >= instant,
        (C.opened_at if early else unindexed(C.opened_at)) <= instant,
        *scope,
    ]
    open_now = _open_now(conn, q, instant, first_opened)
    limits = limits or thresholds(conn, q)
    late = _over_threshold(conn, q, instant, still_open, open_now, limits) if open_now else 0
    listed = select(C.external_id, C.channel, C.opened_at, C.id)
    rows = []
    if open_now:  # as many as the cache counts, at most LISTED: the walk in opening order stops at the last
        # (a topic with none open walked every open conversation: 1.3 s at 1M conversations, 148,000 open)
        ordered = listed.where(*still_open).order_by(C.opened_at, C.id)
        rows = conn.execute(ordered.limit(min(LISTED, open_now))).all()
    oldest_open = rows[0].opened_at if rows else None  # the first in opening order (one walk, not two)
    then_open = []  # raw (opened_at, id, late) rows: thousands for a week-old snapshot, not parsed
    if first_opened is not None and first_opened <= instant:  # else nothing was open then: no scan
        then_open = raw_rows(conn, select(C.opened_at, C.id, _late(instant, limits)).where(*closed_later))
    late += sum(flag for _, _, flag in then_open)
    then_open.sort(key=lambda r: (r[0], r[1]))  # times as stored (ISO text on SQLite) sort as instants
    oldest_then = None
    if then_open:
        oldest = conn.execute(listed.where(C.id.in_([r[1] for r in then_open[:LISTED]]))).all()
        oldest_then = min(r.opened_at for r in oldest)
        rows += oldest
    count = open_now + len(then_open)
    oldest_at = min((t for t in (oldest_open, oldest_then) if t is not None), default=None)
    rows = sorted(rows, key=lambda r: (r.opened_at, r.id))[:LISTED]
    default, special = limits
    threshold = special.get(q.channels[0], default) if len(q.channels) == 1 else default
    return {
        "over_threshold": late,
        "open": count,
        "oldest_age": None if oldest_at is None else _age(oldest_at, instant),
        "threshold": threshold,
        "oldest": [
            {"conversation_id": r.external_id, "channel": r.channel, "age": _age(r.opened_at, instant)}
            for r in rows
        ],
    }


def _open_now(conn: Connection, q: Query, instant: datetime, first_opened: datetime | None) -> int:
    """How many conversations open now had opened by `instant`: the "open" measure (each day's
    conversations still open) from the first conversation's day to the instant."""
    if first_opened is None or first_opened > instant:
        return 0
    since = replace(q, start=midnight(first_opened.date()), end=instant + timedelta(microseconds=1))
    return kpi_cache.count(conn, "open", since.scope())


def thresholds(conn: Connection, q: Query) -> tuple[float, dict[str, float]]:
    """The backlog threshold of every channel: its resolution target (storage.service_levels, counted
    here in calendar age), as (the default's, {channel: seconds} where a channel's differs)."""
    known = policies(conn, q.settings)
    default = known.resolve_threshold()
    special = {ch: known.resolve_threshold(ch) for ch in q.settings.channels}
    return default, {ch: seconds for ch, seconds in special.items() if seconds != default}


def _late(instant: datetime, limits: tuple[float, dict[str, float]]):
    """SQL 1 for a conversation opened longer before `instant` than its channel's backlog threshold."""
    cut = partial(literal, type_=C.opened_at.type)
    default, thresholds_ = limits
    special = [(C.channel == ch, cut(instant - timedelta(seconds=s))) for ch, s in thresholds_.items()]
    cutoff = cut(instant - timedelta(seconds=default))
    return case((C.opened_at < (case(*special, else_=cutoff) if special else cutoff), 1), else_=0)


def _over_threshold(
    conn: Connection,
    q: Query,
    instant: datetime,
    where: list,
    matching: int,
    limits: tuple[float, dict[str, float]],
) -> int:
    """How many of the `matching` conversations that match `where` opened longer before `instant` than
    their channel's backlog threshold: `matching` less those opened within it, counted per channel with
    its own threshold and once for the others (recent ones are few: a short index range each)."""
    limit, special = limits
    special = {ch: s for ch, s in special.items() if not q.channels or ch in q.channels}
    channel = unindexed(C.channel)
    default = [C.opened_at >= instant - timedelta(seconds=limit)]
    recent = [([channel == ch, C.opened_at >= instant - timedelta(seconds=s)]) for ch, s in special.items()]
    recent.append(default + ([channel.not_in(list(special))] if special else []))
    counted = select(func.count()).select_from(Conversation.__table__)
    return matching - sum(conn.execute(counted.where(*where, *extra)).scalar_one() for extra in recent)


def _age(since: datetime, instant: datetime) -> float:
    return (instant - since).total_seconds()


SPECS = (
    KpiSpec(
        "backlog",
        "Ticket backlog",
        backlog,
        {
            "over_threshold": COUNT,
            "open": COUNT,
            "oldest_age": SECONDS,
            "threshold": SECONDS,
            "oldest": rows(conversation_id=TEXT, channel=TEXT, age=SECONDS),
        },
        "over_threshold",
        "lower",
        "no open conversations",
        ("channel", "day", "agent", "team", "topic"),
    ),
)
