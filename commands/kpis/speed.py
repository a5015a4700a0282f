"""Speed and efficiency KPIs (docs/metrics.md): `frt`, `bands`, `wait`, `art`, `aht`.

Event-time rule: a conversation counts in the period of the event measured — FRT and bands by when
the first human reply was sent, a wait by when the reply ending it was sent, resolution time by when
the conversation was last resolved, handle time by when the conversation was first answered (all its
handle seconds count there, so a conversation is handled once rather than split over periods).
Nothing after `query.now` counts, so asking "as of" a past moment sees what was known then.

Each reads its measure from storage.kpi_cache (the per-day cache, or the tables with business hours or
for one agent: the same declaration either way). Only "still waiting" is read here, from the tables.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION, SECONDS
from commands.kpis.spec import KpiSpec
from commands.query import Query
from storage import kpi_cache
from storage.db import raw_rows
from storage.kpi_cache import labelled
from storage.kpi_cache.labels import time_text
from storage.kpi_cache.slicing import within
from storage.models import Conversation
from storage.planner import unindexed

C = Conversation.__table__.c
# (values key, limit in seconds); a first response exactly at the limit is within it
BANDS = (("within_15m", 900), ("within_1h", 3600), ("within_4h", 14400), ("within_24h", 86400))
BY = ("channel", "day", "agent", "team", "topic", "hour", "weekday")


def frt(conn: Connection, query: Query) -> dict[str, Any]:
    """First response time: mean, median, p90 and count of seconds from the customer's first message to
    the first human reply, over replies sent in the period; plus the conversations opened in the period
    still waiting for one at `now` (`still_waiting`) and the oldest one's age in seconds."""
    q = query.until_now()
    stats = kpi_cache.sample(conn, "frt", q.scope()).summary()
    return {**stats, **_still_waiting(conn, q)}


def bands(conn: Connection, query: Query) -> dict[str, Any]:
    """Shares (0-1) of the first responses sent in the period that came within 15 min, 1 h, 4 h and 24 h,
    and their count."""
    responses = kpi_cache.sample(conn, "frt", query.until_now().scope())
    count = responses.count
    shares = {key: responses.at_most(limit) / count if count else None for key, limit in BANDS}
    return {**shares, "count": count}


def wait(conn: Connection, query: Query) -> dict[str, Any]:
    """Reply wait: mean, median, p90 and count of customer waits (the first one included) ended by a
    human reply sent in the period, in seconds."""
    return kpi_cache.sample(conn, "wait", query.until_now().scope()).summary()


def art(conn: Connection, query: Query) -> dict[str, Any]:
    """Resolution time over conversations last resolved in the period and not reopened since: first
    resolution (first resolved - opened) and full resolution (last resolved - opened), mean and median
    seconds, and the count of conversations."""
    scope = query.until_now().scope()
    first = kpi_cache.sample(conn, "first_resolution", scope).summary()
    full = kpi_cache.sample(conn, "full_resolution", scope).summary()
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
    handled = kpi_cache.sample(conn, "handle", query.until_now().scope())
    return {"mean": handled.mean(), "count": handled.count}


def _still_waiting(conn: Connection, q: Query) -> dict[str, Any]:
    """Conversations opened in the period, not answered by a human by `now` and not closed before it:
    their count and the oldest one's age at `now` (seconds, open time only with business hours)."""
    if q.hours is not None:  # a row of `by hour` / `by weekday`
        return _still_waiting_in_hours(conn, q)
    unanswered = or_(unindexed(C.first_response_at).is_(None), unindexed(C.first_response_at) >= q.now)
    # whose the conversation is (the owner rule of every team figure), its team and topic
    common = [q.in_channels(C.channel), unanswered, *q.conversation_terms()]
    # Open now: the index on (resolved, opened_at, channel) holds exactly these candidates.
    still_open = [q.in_period_with(C.opened_at, C.resolved.is_(False)), *common]
    # Closed now but only after `now` (asked "as of" a past moment): found by when it was resolved.
    closed_later = [
        unindexed(C.resolved).is_(True),
        C.last_resolved_at >= q.now,
        unindexed(C.first_resolved_at) >= q.now,
        q.in_period(unindexed(C.opened_at)),
        *common,
    ]
    # Counted apart: those never answered, from the cache ("unanswered", by day, read ready-made), and those
    # answered only after `now` (a past moment asked; for today's questions next to none), from the tables.
    # Those are found by when they were answered (`unindexed` keeps SQLite on that index: on the opening
    # one it would walk every open conversation of the period). The oldest is the first entry of the
    # index in opening order (min alone: the planner stops there).
    answered_later = [C.first_response_at >= q.now, unindexed(C.resolved).is_(False)]
    answered_later += [q.in_period(unindexed(C.opened_at)), q.in_channels(C.channel), *q.conversation_terms()]
    count = kpi_cache.count(conn, "unanswered", q.scope())
    if (by := q.label) is not None:  # a row of `by team` / `by topic`: both read once for all the rows
        asked = ("answered or closed later", by, q.start, q.end, q.channels, q.now)
        later = kpi_cache.remembered(asked, lambda: _later_by_label(conn, q, by))
        answered, (n, first) = later.get(q.labelled_as, (0, (0, None)))
    else:
        answered = conn.execute(select(func.count()).where(*answered_later)).scalar_one()
        n, first = conn.execute(select(func.count(), func.min(C.opened_at)).where(*closed_later)).one()
    count += answered
    # those two are the ones still open: none, and the index walk for the oldest is not needed (on a
    # channel without any it went through every open conversation of the period: 15 ms at 90 days)
    oldest = conn.execute(select(func.min(C.opened_at)).where(*still_open)).scalar() if count else None
    count += n
    if first is not None and (oldest is None or first < oldest):
        oldest = first
    return {"still_waiting": count, "oldest_waiting": _age(q, oldest)}


def _later_by_label(
    conn: Connection, q: Query, by: str
) -> dict[str, tuple[int, tuple[int, datetime | None]]]:
    """`_still_waiting`'s conversations answered only after `now`, and those closed only after it (their
    count and first opening), per team or topic (`by`): each read once, labelled, for every row of a
    breakdown (asked about now, next to none; on PostgreSQL two statements per row cost ~1.5 ms)."""
    label = labelled.label_of(Conversation.__table__, by)
    unanswered = or_(unindexed(C.first_response_at).is_(None), unindexed(C.first_response_at) >= q.now)
    in_period = [q.in_period(unindexed(C.opened_at)), q.in_channels(C.channel)]
    answered = select(label, func.count()).where(
        C.first_response_at >= q.now, unindexed(C.resolved).is_(False), *in_period
    )
    closed = select(label, func.count(), func.min(C.opened_at)).where(
        unindexed(C.resolved).is_(True),
        C.last_resolved_at >= q.now,
        unindexed(C.first_resolved_at) >= q.now,
        unanswered,
        *in_period,
    )
    found: dict[str, list] = defaultdict(lambda: [0, 0, None])
    for found_as, n in conn.execute(answered.group_by(label)):
        for name in labelled.names(by, found_as):
            found[name][0] += n
    for found_as, n, first in conn.execute(closed.group_by(label)):
        for name in labelled.names(by, found_as):
            into = found[name]
            into[1] += n
            into[2] = first if into[2] is None or (first is not None and first < into[2]) else into[2]
    return {name: (answered, (closed, first)) for name, (answered, closed, first) in found.items()}


def _still_waiting_in_hours(conn: Connection, q: Query) -> dict[str, Any]:
    """`_still_waiting` for a row of a breakdown by hour or weekday: the never answered counted by the
    cache (the row's hours of its quarter-hour days), the others (answered or closed only after `now`:
    few) and each row's oldest read once for all the rows (`_Waiting`)."""
    asked = ("still waiting", q.start, q.end, q.channels, q.now, q.agent, q.team, q.topic)
    waiting: _Waiting = kpi_cache.remembered(asked, lambda: _Waiting(conn, q))
    bounds = _bounds(within(q.hours or (), q.start, q.end))
    later = waiting.later_in(bounds)
    count = kpi_cache.count(conn, "unanswered", q.scope()) + len(later)
    oldest = min(filter(None, (waiting.oldest_open_in(bounds), *later[:1])), default=None)
    since = None if oldest is None else oldest.astype(datetime).replace(tzinfo=UTC)
    return {"still_waiting": count, "oldest_waiting": _age(q, since)}


FIRST_READ = 1024  # how many open conversations `_Waiting` reads first
GROWTH = 4  # then each read GROWTH times as many as the one before


class _Waiting:
    """The conversations of a period still waiting at `now`, for the rows of a breakdown by hour or
    weekday: those answered or closed only after `now` (few; all read at once), and those open now in
    opening order, read in growing chunks, each after the one before, until each row found its oldest (at
    90 days, 70,000 open ones; a row of `by hour` finds its oldest in the first day, one of `by weekday`
    within the first week)."""

    def __init__(self, conn: Connection, q: Query) -> None:
        self._conn = conn
        unanswered = or_(unindexed(C.first_response_at).is_(None), unindexed(C.first_response_at) >= q.now)
        common = [q.in_channels(C.channel), *q.conversation_terms()]
        in_period = (unindexed(C.opened_at) >= q.start, unindexed(C.opened_at) < q.end)
        answered_later = select(time_text(C.opened_at)).where(
            C.first_response_at >= q.now, unindexed(C.resolved).is_(False), *in_period, *common
        )
        closed_later = select(time_text(C.opened_at)).where(
            unindexed(C.resolved).is_(True),
            C.last_resolved_at >= q.now,
            unindexed(C.first_resolved_at) >= q.now,
            unanswered,
            *in_period,
            *common,
        )
        self._later = _times(conn, answered_later, closed_later)
        period = (C.opened_at >= q.start, C.opened_at < q.end)
        self._open_query = select(time_text(C.opened_at))
        self._open_query = self._open_query.where(C.resolved.is_(False), *period, unanswered, *common)
        self._open_query = self._open_query.order_by(C.opened_at)
        self._open, self._limit, self._all = np.empty(0, dtype="datetime64[us]"), 0, False

    def later_in(self, bounds: np.ndarray) -> np.ndarray:
        """When those answered or closed only after `now` opened, in the ranges of `bounds`, oldest
        first."""
        return _in(self._later, bounds)

    def oldest_open_in(self, bounds: np.ndarray) -> np.datetime64 | None:
        """When the oldest of those open now and not answered by `now` opened, in the ranges of
        `bounds`."""
        while True:
            found = _in(self._open, bounds)
            if len(found) or self._all:
                return found[0] if len(found) else None
            # the next ones, opened after the last time read (others opened at that instant change no
            # row's oldest), GROWTH times as many as the read before
            self._limit = max(FIRST_READ, self._limit * GROWTH)
            query = self._open_query
            if len(self._open):
                query = query.where(C.opened_at > self._open[-1].astype(datetime).replace(tzinfo=UTC))
            more = _times(self._conn, query.limit(self._limit))
            self._open = np.concatenate([self._open, more])
            self._all = len(more) < self._limit


def _times(conn: Connection, *statements) -> np.ndarray:
    """The one time column of `statements`' rows (`time_text`), in order (datetime64, UTC)."""
    found = [at for statement in statements for (at,) in raw_rows(conn, statement)]
    return np.sort(np.array(found, dtype="datetime64[us]"))


def _bounds(ranges: tuple[tuple[datetime, datetime], ...]) -> np.ndarray:
    """`ranges` as one array of their starts and ends (datetime64, UTC)."""
    return np.array(
        [_utc64(moment) for moment in itertools.chain.from_iterable(ranges)], dtype="datetime64[us]"
    )


def _in(times: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The `times` (in order) that fall in the ranges of `bounds` (`_bounds`: in order, not overlapping),
    in order."""
    if not len(times) or not len(bounds):
        return times[:0]
    cuts = np.searchsorted(times, bounds).reshape(-1, 2)
    pieces = [times[first:stop] for first, stop in cuts.tolist() if stop > first]
    return np.concatenate(pieces) if pieces else times[:0]


def _utc64(moment: datetime) -> np.datetime64:
    return np.datetime64((moment - _EPOCH) // _MICROSECOND, "us")


_EPOCH, _MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)


def _age(q: Query, since: datetime | None) -> float | None:
    return None if since is None else q.duration(since, q.now)


_STATS = {"mean": SECONDS, "median": SECONDS, "p90": SECONDS, "count": COUNT}
SPECS = (
    KpiSpec(
        "frt",
        "First response time",
        frt,
        {**_STATS, "still_waiting": COUNT, "oldest_waiting": SECONDS},
        "mean",
        "lower",
        "no first responses in this period",
        BY,
        synonyms=("first-response", "first-response-time", "response-time"),
    ),
    KpiSpec(
        "bands",
        "Response-time bands",
        bands,
        {**{key: FRACTION for key, _ in BANDS}, "count": COUNT},
        "within_1h",
        "higher",
        "no first responses in this period",
        BY,
    ),
    KpiSpec(
        "wait",
        "Average reply wait",
        wait,
        _STATS,
        "mean",
        "lower",
        "no waits ended by a reply in this period",
        BY,
    ),
    KpiSpec(
        "art",
        "Average resolution time",
        art,
        {
            "first_mean": SECONDS,
            "first_median": SECONDS,
            "full_mean": SECONDS,
            "full_median": SECONDS,
            "count": COUNT,
        },
        "first_mean",
        "lower",
        "no conversations resolved in this period",
        BY,
        synonyms=("resolution-time",),
    ),
    KpiSpec(
        "aht",
        "Average handle time",
        aht,
        {"mean": SECONDS, "count": COUNT},
        "mean",
        "lower",
        "no handle-time data in this period",
        BY,
        synonyms=("handle-time",),
    ),
)
