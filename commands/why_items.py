"""The items behind a mean KPI, as `/kpi why` splits them (commands.why; docs/metrics.md, "why").

A mean duration (frt, wait, art) is the mean of its items' seconds; a rate (reply-rate, resolution-rate,
csat) the mean of 0/1 items. Each item is read here with what the split groups it by: its channel, the
agent credited with it, when its customer arrived (business hours or off hours), and its conversation's
topic. The rows are those of the KPI's own measure declaration (storage.kpi_cache.measures), so the mean
of the items is the KPI's figure exactly; tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.engine import Connection

from commands.kpis.outcome import SATISFIED
from commands.query import Query
from storage.business_hours import BusinessClock
from storage.db import raw_rows
from storage.kpi_cache.measures import CUSTOMER_SAID, HUMAN_REPLY, MEASURES, OWNER, C, K, M, V
from storage.kpi_cache.slicing import dated
from storage.planner import on_channels

UNASSIGNED = "unassigned"
UNTAGGED = "untagged"
OFF_HOURS, BUSINESS_HOURS = "off hours", "business hours"
# Without configured business hours, "business hours" are Monday to Friday, 09:00-18:00 local time.
DEFAULT_OPEN = (0, 5, 9, 18)  # first weekday, weekday after the last, opening hour, closing hour


@dataclass(frozen=True)
class Explained:
    """How one KPI's items are read: the measure whose rows they are, the KPI values they make (`headline`
    the mean, `count` how many), each item's value (None: the measure's own; else built for `now`), the
    agent it is credited to, when its customer arrived, its conversation, and the conversation table's
    join where the measure's rows live elsewhere."""

    measure: str
    headline: str
    count: str
    agent: ColumnElement
    arrival: ColumnElement
    conversation: ColumnElement
    value: Callable[[datetime], ColumnElement] | None = None
    outer: bool = False  # the rows are surveys: join their conversation (if any) for owner and arrival


def _answered(now: datetime) -> ColumnElement:
    return case((and_(C.first_response_at.is_not(None), C.first_response_at < now), 1), else_=0)


def _resolved(now: datetime) -> ColumnElement:
    done = and_(C.resolved.is_(True), C.first_resolved_at.is_not(None), C.first_resolved_at < now)
    return case((done, 1), else_=0)


def _satisfied(_now: datetime) -> ColumnElement:
    return case((V.score >= SATISFIED, 1), else_=0)


WHY: dict[str, Explained] = {
    "frt": Explained("frt", "mean", "count", C.first_responder, C.opened_at, C.id),
    "wait": Explained("wait", "mean", "count", K.agent, K.start_at, K.conversation_id),
    "art": Explained("first_resolution", "first_mean", "count", OWNER, C.opened_at, C.id),
    "reply-rate": Explained("opened", "rate", "opened", OWNER, C.opened_at, C.id, _answered),
    "resolution-rate": Explained("opened", "rate", "opened", OWNER, C.opened_at, C.id, _resolved),
    "csat": Explained(
        "csat",
        "score",
        "responses",
        OWNER,
        func.coalesce(C.opened_at, V.at),
        V.conversation_id,
        _satisfied,
        outer=True,
    ),
}


@dataclass(frozen=True)
class Items:
    """One period's items, one array entry each: value, channel, agent, off hours (arrived outside
    business hours), topic."""

    value: np.ndarray
    channel: np.ndarray
    agent: np.ndarray
    off_hours: np.ndarray
    topic: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


def read_items(conn: Connection, key: str, query: Query) -> Items:
    """The items of KPI `key` counted for `query`'s period (up to its `now`) on its channels."""
    how, q = WHY[key], query.until_now()
    measure = MEASURES[how.measure]
    value = how.value(q.now) if how.value is not None else measure.value
    where = dated(None, measure.at, q.start, q.end, measure.where)
    where.append(on_channels(measure.channel, q.channels))
    if measure.as_of is not None:
        where.append(measure.as_of < q.now)
    statement = select(how.conversation, measure.channel, how.agent, how.arrival, value).where(*where)
    if how.outer:
        statement = statement.select_from(_with_conversation(how, measure))
    rows = raw_rows(conn, statement)
    ids = [row[0] for row in rows]
    topics = _topics(conn, how, measure, where) if rows else {}
    arrival = _epochs([row[3] for row in rows])
    return Items(
        value=np.fromiter((row[4] for row in rows), dtype=np.float64, count=len(rows)),
        channel=np.array([row[1] or "" for row in rows], dtype=object),
        agent=np.array([row[2] or UNASSIGNED for row in rows], dtype=object),
        off_hours=_off_hours(arrival, query),
        topic=np.array([topics.get(i, UNTAGGED) for i in ids], dtype=object),
    )


def agent_hours(conn: Connection, query: Query) -> dict[str, int]:
    """Active agent-hours per channel in the period: the different (agent, UTC hour) pairs in which an
    agent sent a human reply on that channel."""
    q = query.until_now()
    hour = (
        func.date_trunc("hour", M.at)
        if conn.dialect.name == "postgresql"
        else func.substr(M.at, 1, 13)  # SQLite keeps times as ISO text
    )
    pairs = (
        select(M.channel, M.author_id, hour.label("hour"))
        .where(*HUMAN_REPLY, q.in_period(M.at), q.in_channels(M.channel), M.author_id.is_not(None))
        .distinct()
        .subquery()
    )
    counted = select(pairs.c.channel, func.count()).group_by(pairs.c.channel)
    return {channel or "": n for channel, n in raw_rows(conn, counted)}


def _topics(conn: Connection, how: Explained, measure, where: list) -> dict:
    """Each item's conversation's topic: the top-level topic of its earliest customer message that has
    one (conversations without any are left out)."""
    conversations = select(how.conversation).where(*where)
    if how.outer:
        conversations = conversations.select_from(_with_conversation(how, measure))
    first = (
        select(M.conversation_id, func.min(M.id))
        .where(
            M.conversation_id.in_(conversations.scalar_subquery()),
            *CUSTOMER_SAID,
            M.topics.is_not(None),
            M.topics != "",
        )
        .group_by(M.conversation_id)
        .subquery()
    )
    labels = select(M.conversation_id, M.topics).where(M.id.in_(select(first.c[1])))
    return {conversation: tags.split(",")[0].split("/")[0] for conversation, tags in raw_rows(conn, labels)}


def _with_conversation(how: Explained, measure):
    """The measure's table joined to its rows' conversations, kept when they have none (a survey)."""
    return measure.at.table.outerjoin(C.id.table, how.conversation == C.id)


def _epochs(times: Sequence) -> np.ndarray:
    """Seconds since 1970 of times as the cursor gave them: ISO text (SQLite) or aware datetimes."""
    if not times:
        return np.zeros(0)
    if isinstance(times[0], str):
        return np.array(times, dtype="datetime64[us]").astype(np.int64) / 1e6
    return np.fromiter((t.timestamp() for t in times), dtype=np.float64, count=len(times))


def _off_hours(arrival: np.ndarray, query: Query) -> np.ndarray:
    """Whether each arrival was outside business hours (the configured ones, else DEFAULT_OPEN in the
    workspace time zone), judged per minute."""
    minutes = np.floor(arrival / 60).astype(np.int64)
    unique, where = np.unique(minutes, return_inverse=True)
    is_open = _opening(query)
    known = np.fromiter((not is_open(int(m) * 60) for m in unique), dtype=bool, count=len(unique))
    return known[where] if len(minutes) else np.zeros(0, dtype=bool)


def _opening(query: Query) -> Callable[[int], bool]:
    """Whether the workspace is open at a second since 1970."""
    settings = query.settings
    try:
        clock = BusinessClock.from_settings(settings)
    except ValueError:  # misconfigured hours: said where they are used for durations; the default here
        clock = None
    if clock is not None:

        def open_at(second: int) -> bool:
            start = datetime.fromtimestamp(second, UTC)
            return clock.open_seconds(start, start + timedelta(minutes=1)) > 0

        return open_at
    first, after, opens, closes = DEFAULT_OPEN
    zone = settings.zone

    def default_open(second: int) -> bool:
        local = datetime.fromtimestamp(second, zone)
        return first <= local.weekday() < after and opens <= local.hour < closes

    return default_open
