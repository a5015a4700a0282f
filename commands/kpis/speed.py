"""Speed and efficiency KPIs of METRICS.md: `frt`, `bands`, `wait`, `art`, `aht`.

Event-time rule: a conversation counts in the period of the event measured — FRT and bands by when
the first human reply was sent, a wait by when the reply ending it was sent, resolution time by when
the conversation was last resolved, handle time by when the conversation was first answered (all its
handle seconds count there, so a conversation is handled once rather than split over periods).
Nothing after `query.now` counts, so asking "as of" a past moment sees what was known then.

Speed at a million conversations: calendar durations over whole UTC days come from the per-day cache of
`storage.kpi_days` (sorted values per day and channel); the rest are the stored seconds columns, read from the
covering indexes `ix_conversation_response` and `ix_wait_end`, and fetched straight from the DBAPI
cursor (SQLAlchemy rows cost three times as much); sorting in Python beat SQLite's ORDER BY. PostgreSQL
computes mean, median and p90 itself (`percentile_cont`, the same interpolation as `commands.stats`), so
only one row comes back. With business hours (`query.clock`) durations are recomputed from the
timestamps, a table read per row, and summarised in Python on either database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from commands.kpis.spec import KpiSpec
from commands.query import Query
from commands.stats import summary
from storage import kpi_days
from storage.dialect import has_percentiles
from storage.models import Conversation, Wait
from storage.planner import unindexed

C = Conversation.__table__.c
W = Wait.__table__.c
# (values key, limit in seconds); a first response exactly at the limit is within it
BANDS = (("within_15m", 900), ("within_1h", 3600), ("within_4h", 14400), ("within_24h", 86400))
BY = ("channel", "day", "agent")


def frt(conn: Connection, query: Query) -> dict[str, Any]:
    """First response time: mean, median, p90 and count of seconds from the customer's first message to
    the first human reply, over replies sent in the period; plus the conversations opened in the period
    still waiting for one at `now` (`still_waiting`) and the oldest one's age in seconds."""
    q = query.until_now()
    cached = _cached(conn, q, "frt")
    if cached is not None:
        stats = cached.summary()
    else:
        stats = _summary(conn, q, C.frt_seconds, (C.opened_at, C.first_response_at), _responded(q))
    return {**stats, **_still_waiting(conn, q)}


def bands(conn: Connection, query: Query) -> dict[str, Any]:
    """Shares (0-1) of the first responses sent in the period that came within 15 min, 1 h, 4 h and 24 h,
    and their count."""
    q = query.until_now()
    cached = _cached(conn, q, "frt")
    if cached is not None:
        count = cached.count
        inside = [cached.at_most(limit) for _, limit in BANDS]
    elif q.clock is None:
        within = [func.count().filter(C.frt_seconds <= limit) for _, limit in BANDS]
        count, *inside = conn.execute(select(func.count(C.frt_seconds), *within).where(*_responded(q))).one()
    else:
        values = _durations(conn, q, C.frt_seconds, (C.opened_at, C.first_response_at), _responded(q))
        count = len(values)
        inside = [sum(1 for v in values if v <= limit) for _, limit in BANDS]
    shares = {key: (n / count if count else None) for (key, _), n in zip(BANDS, inside, strict=True)}
    return {**shares, "count": count}


def wait(conn: Connection, query: Query) -> dict[str, Any]:
    """Reply wait: mean, median, p90 and count of customer waits (the first one included) ended by a
    human reply sent in the period, in seconds."""
    q = query.until_now()
    cached = _cached(conn, q, "wait")
    if cached is not None:
        return cached.summary()
    where = [q.in_period(W.end_at), q.in_channels(W.channel), W.seconds.is_not(None)]
    if q.agent is not None:
        where.append(W.agent == q.agent)
    return _summary(conn, q, W.seconds, (W.start_at, W.end_at), where)


def art(conn: Connection, query: Query) -> dict[str, Any]:
    """Resolution time over conversations last resolved in the period and not reopened since: first
    resolution (first resolved - opened) and full resolution (last resolved - opened), mean and median
    seconds, and the count of conversations."""
    q = query.until_now()
    where = [
        q.in_period(C.last_resolved_at),
        q.in_channels(C.channel),
        unindexed(C.resolved).is_(True),
        C.full_resolution_seconds.is_not(None),
    ]
    if q.agent is not None:
        where.append(_handler() == q.agent)
    cached = _cached(conn, q, "first_resolution")
    if cached is not None:
        first, full = cached.summary(), _cached(conn, q, "full_resolution").summary()
    elif q.clock is None and has_percentiles(conn):
        first, full = _summaries_in_database(
            conn, (C.first_resolution_seconds, C.full_resolution_seconds), where
        )
    else:
        if q.clock is None:
            pairs = _rows(conn, select(C.first_resolution_seconds, C.full_resolution_seconds).where(*where))
        else:
            rows = conn.execute(select(C.opened_at, C.first_resolved_at, C.last_resolved_at).where(*where))
            pairs = [(q.duration(opened, first), q.duration(opened, last)) for opened, first, last in rows]
        first = summary(pair[0] for pair in pairs)
        full = summary(pair[1] for pair in pairs)
    return {
        "first_mean": first["mean"],
        "first_median": first["median"],
        "full_mean": full["mean"],
        "full_median": full["median"],
        "count": full["count"],
    }


def aht(conn: Connection, query: Query) -> dict[str, Any]:
    """Handle time: mean agent work seconds per conversation first answered in the period, over the
    conversations whose events carried `handle_seconds`, and their count. Work seconds are what the
    inbox tool measured, so business hours do not change them."""
    q = query.until_now()
    where = [
        q.in_period(C.first_response_at),
        q.in_channels(C.channel),
        C.handle_seconds.is_not(None),
    ]
    if q.agent is not None:
        where.append(_handler() == q.agent)
    cached = _cached(conn, q, "handle")
    if cached is not None:
        return {"mean": cached.mean(), "count": cached.count}
    count, mean = conn.execute(
        select(func.count(C.handle_seconds), func.avg(C.handle_seconds)).where(*where)
    ).one()
    return {"mean": float(mean) if count else None, "count": count}


def _responded(q: Query) -> list:
    """Conditions: the first human reply was sent in the period (by the asked agent, for `by agent`)."""
    where = [
        q.in_period(C.first_response_at),
        q.in_channels(C.channel),
        C.frt_seconds.is_not(None),
    ]
    if q.agent is not None:
        where.append(C.first_responder == q.agent)
    return where


def _cached(conn: Connection, q: Query, series: str) -> kpi_days.Sample | None:
    """The series over the period from the per-day cache, for calendar durations of every agent; None
    when the question needs the tables (business hours, one agent) or the period has no cached day."""
    if q.clock is not None or q.agent is not None:
        return None
    return kpi_days.sample(conn, series, q.start, q.end, q.channels)


def _handler():
    """Who a conversation's handling is credited to: its assignee, else whoever answered it first."""
    return func.coalesce(C.agent, C.first_responder)


def _rows(conn: Connection, statement) -> list[tuple]:
    """All rows of `statement` as plain tuples from the DBAPI cursor (no per-row Row objects)."""
    result = conn.execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _summary(conn: Connection, q: Query, seconds, span: tuple, where: list) -> dict[str, Any]:
    """Mean, median, p90 and count of the matching durations (see `_durations`)."""
    if q.clock is None and has_percentiles(conn):
        return _summaries_in_database(conn, (seconds,), where)[0]
    return summary(_durations(conn, q, seconds, span, where))


def _summaries_in_database(conn: Connection, columns: tuple, where: list) -> list[dict[str, Any]]:
    """`commands.stats.summary` of each column over the matching rows, computed by the database."""
    parts = []
    for column in columns:
        median, p90 = (func.percentile_cont(p).within_group(column) for p in (0.5, 0.9))
        parts += [func.avg(column), median, p90, func.count(column)]
    row = conn.execute(select(*parts).where(*where)).one()
    out = []
    for start in range(0, len(parts), 4):
        mean, median, p90, count = row[start : start + 4]
        stats = {"mean": mean, "median": median, "p90": p90}
        out.append({**{k: None if v is None else float(v) for k, v in stats.items()}, "count": count})
    return out


def _durations(conn: Connection, q: Query, seconds, span: tuple, where: list) -> list[float]:
    """Durations of the matching rows: the stored seconds, or business-hours seconds over `span`."""
    if q.clock is None:
        return [value for (value,) in _rows(conn, select(seconds).where(*where))]
    return [q.duration(start, end) for start, end in conn.execute(select(*span).where(*where))]


def _still_waiting(conn: Connection, q: Query) -> dict[str, Any]:
    """Conversations opened in the period, not answered by a human by `now` and not closed before it:
    their count and the oldest one's age at `now` (seconds, open time only with business hours)."""
    unanswered = or_(unindexed(C.first_response_at).is_(None), unindexed(C.first_response_at) >= q.now)
    common = [q.in_channels(C.channel), unanswered]
    if q.agent is not None:
        common.append(C.agent == q.agent)
    # Open now: the index on (resolved, opened_at, channel) holds exactly these candidates.
    still_open = [C.resolved.is_(False), q.in_period(C.opened_at), *common]
    # Closed now but only after `now` (asked "as of" a past moment): found by when it was resolved.
    closed_later = [
        unindexed(C.resolved).is_(True),
        C.last_resolved_at >= q.now,
        unindexed(C.first_resolved_at) >= q.now,
        unindexed(C.opened_at) >= q.start,
        unindexed(C.opened_at) < q.end,
        *common,
    ]
    count, oldest = 0, None
    for where in (still_open, closed_later):
        n, first = conn.execute(select(func.count(), func.min(C.opened_at)).where(*where)).one()
        count += n
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    return {"still_waiting": count, "oldest_waiting": _age(q, oldest)}


def _age(q: Query, since: datetime | None) -> float | None:
    return None if since is None else q.duration(since, q.now)


SPECS = (
    KpiSpec("frt", frt, "mean", "seconds", "lower", "no first responses in this period", BY),
    KpiSpec("bands", bands, "within_1h", "fraction", "higher", "no first responses in this period", BY),
    KpiSpec("wait", wait, "mean", "seconds", "lower", "no waits ended by a reply in this period", BY),
    KpiSpec("art", art, "first_mean", "seconds", "lower", "no conversations resolved in this period", BY),
    KpiSpec("aht", aht, "mean", "seconds", "lower", "no handle-time data in this period", BY),
)
