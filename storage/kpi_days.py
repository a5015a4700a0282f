"""Series kept per UTC day (`kpi_day`), so a KPI over 90 days reads 90 sorted arrays, or 90 counts,
instead of a million rows.

A series is one duration column dated by one timestamp — first response times by when the reply was
sent, waits by when they ended, and so on — or, without a column, a count of rows: conversations by when
they opened, customer messages and human replies by when they were sent; sentiment scores are a series
too (`SERIES`). A query for
`[start, end)` takes the whole UTC days inside it from `kpi_day` and the partial days at either end from
the projection tables, so any time zone, `Nh` period or "as of" instant gives exactly what the tables
alone would.

Only closed days are kept: days that ended (UTC) more than an hour ago. A day missing from `kpi_day`,
or changed since it was computed, is computed from the tables by the query that needs it and stored for
the next one (a failed store — the database busy — only costs the next query the same work). Changes are
noted in `kpi_day_stale` by triggers on `conversation` and `wait` (migration 0003), so every write path —
ingestion, rebuild, replay, a bulk load, hand-written SQL — is covered without the writers knowing about
this cache; messages and survey answers, which only ingestion writes, are noted by it (`note`). A row is
current while no note of its day is newer than its `seen`.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import NamedTuple

import numpy as np
from sqlalchemy import case, delete, func, insert, literal, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from storage.dialect import short_wait, unindexed
from storage.models import Conversation, KpiDay, KpiDayStale, Message, Survey, Wait
from storage.sentiment import NEGATIVE_BELOW, POSITIVE_ABOVE

C = Conversation.__table__.c
M = Message.__table__.c
V = Survey.__table__.c
W = Wait.__table__.c
K = KpiDay.__table__.c
S = KpiDayStale.__table__.c
EVERY = ""  # the channel of a day's row over every channel
# Messages and survey answers are only ever inserted, by ingestion, which notes their days (`note`): a
# trigger on `message`, even one that does nothing, slowed imports by 7-13 % on SQLite.
NOTED_BY_INGEST = frozenset({"message", "survey"})
GRACE = timedelta(hours=1)  # how long after a day ends it may be cached (see last_cached_day)
WARM_DAYS = 100  # what `warm` keeps ready: the longest usual question (90 days) and its edges
_log = logging.getLogger("kpibot.kpi_days")
# The triggers' note (migration 0003): unless the day already has a note no kpi_day row has seen.
_NOTE = text(
    "INSERT INTO kpi_day_stale (day) SELECT :day WHERE NOT EXISTS (SELECT 1 FROM kpi_day_stale s"
    " WHERE s.day = :day AND s.id > coalesce((SELECT max(k.seen) FROM kpi_day k WHERE k.day = :day), 0))"
)


@dataclass(frozen=True)
class Series:
    """The timestamp dating each row, its channel, the duration column (None: rows are only counted),
    which rows belong to the series, and for an outcome known only later (a reply, a resolution) the
    time it happened (`as_of`): a row counts "as of now" when that time is before now."""

    at: object
    channel: object
    value: object = None
    where: tuple = ()
    as_of: object = None
    distinct: bool = False  # values are ids, kept once per day: see `distinct`


_CUSTOMER_SAID = (M.direction == "inbound", M.author_kind == "customer", M.private.is_(False))
_HUMAN_REPLY = (M.direction == "outbound", M.author_kind == "agent", M.private.is_(False))
_RESOLVED = (unindexed(C.resolved).is_(True),)
_RESOLUTION = (*_RESOLVED, C.full_resolution_seconds.is_not(None))
SERIES = {
    # durations
    "frt": Series(C.first_response_at, C.channel, C.frt_seconds, (C.frt_seconds.is_not(None),)),
    "wait": Series(W.end_at, W.channel, W.seconds, (W.seconds.is_not(None),)),
    "first_resolution": Series(C.last_resolved_at, C.channel, C.first_resolution_seconds, _RESOLUTION),
    "full_resolution": Series(C.last_resolved_at, C.channel, C.full_resolution_seconds, _RESOLUTION),
    "handle": Series(C.first_response_at, C.channel, C.handle_seconds, (C.handle_seconds.is_not(None),)),
    "sentiment": Series(M.at, M.channel, M.sentiment, (*_CUSTOMER_SAID, M.sentiment.is_not(None))),
    "reply_handle": Series(M.at, M.channel, M.handle_seconds, (*_HUMAN_REPLY, M.handle_seconds.is_not(None))),
    "csat": Series(V.at, V.channel, V.score, (V.kind == "csat",)),
    "nps": Series(V.at, V.channel, V.score, (V.kind == "nps",)),
    "ces": Series(V.at, V.channel, V.score, (V.kind == "ces",)),
    # conversations given a human reply (ids, to count each once over a period)
    "handled": Series(
        M.at, M.channel, M.conversation_id, (*_HUMAN_REPLY, M.conversation_id.is_not(None)), distinct=True
    ),
    # counts
    "opened": Series(C.opened_at, C.channel),
    "replied": Series(
        C.opened_at, C.channel, where=(C.first_response_at.is_not(None),), as_of=C.first_response_at
    ),
    "resolved_since": Series(
        C.opened_at,
        C.channel,
        where=(*_RESOLVED, C.first_resolved_at.is_not(None)),
        as_of=C.first_resolved_at,
    ),
    "escalated": Series(
        C.opened_at,
        C.channel,
        where=(C.escalated_to.is_not(None), C.escalated_at.is_not(None)),
        as_of=C.escalated_at,
    ),
    "resolved": Series(C.last_resolved_at, C.channel, where=_RESOLVED),
    "transferred": Series(C.last_resolved_at, C.channel, where=(*_RESOLVED, C.transfer_count > 0)),
    "inbound": Series(M.at, M.channel, where=(M.direction == "inbound", M.private.is_(False))),
    "human_replies": Series(M.at, M.channel, where=_HUMAN_REPLY),
    "unscored": Series(
        M.at, M.channel, where=(*_CUSTOMER_SAID, M.sentiment.is_(None), M.lang.is_not(None), M.lang != "und")
    ),
}


@dataclass(frozen=True)
class Top:
    """The `limit` rows of a day ranked first by `score` (ascending or not), then the latest first: their
    (score, time, id), kept per day so a period's first rows are the first of its days' first rows."""

    at: object
    channel: object
    score: object
    ascending: bool
    where: tuple
    limit: int = 12  # the voice's candidates: 3 quotes x 4, as the table query takes

    def rank(self, row: tuple[float, datetime, int]) -> tuple:
        score, at, row_id = row
        return (score if self.ascending else -score, -at.timestamp(), -row_id)


_STRONG = (*_CUSTOMER_SAID, M.sentiment.is_not(None))
TOPS = {  # the candidates of the voice quotes: the most negative and the most positive customer messages
    "most_negative": Top(M.at, M.channel, M.sentiment, True, (*_STRONG, M.sentiment < NEGATIVE_BELOW)),
    "most_positive": Top(M.at, M.channel, M.sentiment, False, (*_STRONG, M.sentiment > POSITIVE_ABOVE)),
}


@dataclass(frozen=True)
class Tally:
    """How many rows of a day carry each value of `label` (a template id, say): sums over days."""

    at: object
    channel: object
    label: object
    where: tuple


TALLIES = {
    "quick_replies": Tally(M.at, M.channel, M.quick_reply, (*_HUMAN_REPLY, M.quick_reply.is_not(None)))
}


@dataclass
class Sample:
    """The values of a series over a period (unsorted) and their exact sum."""

    values: np.ndarray
    total: float

    @property
    def count(self) -> int:
        return len(self.values)

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentiles(self, *qs: float) -> list[float | None]:
        """The q-quantiles, interpolated as `commands.stats.percentile` does; only the needed ranks are
        selected (np.partition), the values are never fully sorted."""
        n = self.count
        if not n:
            return [None for _ in qs]
        ranks = [q * (n - 1) for q in qs]
        needed = sorted({r for rank in ranks for r in (math.floor(rank), min(math.floor(rank) + 1, n - 1))})
        chosen = np.partition(self.values, needed)
        out = []
        for rank in ranks:
            below = math.floor(rank)
            low, high = float(chosen[below]), float(chosen[min(below + 1, n - 1)])
            out.append(low + (high - low) * (rank - below))
        return out

    def summary(self) -> dict[str, float | int | None]:
        """Mean, median, p90 and count, as `commands.stats.summary` gives them."""
        median, p90 = self.percentiles(0.5, 0.9)
        return {"mean": self.mean(), "median": median, "p90": p90, "count": self.count}

    def at_most(self, limit: float) -> int:
        """How many values are <= `limit`."""
        return int(np.count_nonzero(self.values <= limit))

    def below(self, limit: float) -> int:
        """How many values are < `limit`."""
        return int(np.count_nonzero(self.values < limit))


def last_cached_day(wall_clock: datetime | None = None) -> date:
    """The newest day `kpi_day` may hold: the last UTC day that ended more than `GRACE` ago.

    The triggers note a change to a day only once that day is over (live traffic on today's rows notes
    nothing): a write made on day D to D's rows is not noted, so D is cached only when every transaction
    begun on D has ended — well within the hour of grace, which also absorbs clock differences between
    bot processes and the database server."""
    return ((wall_clock or datetime.now(UTC)).astimezone(UTC) - GRACE).date() - timedelta(days=1)


def sample(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> Sample | None:
    """The series' values dated in `[start, end)` on `channels` (() = all), or None when the range holds
    no whole cached day (the caller's own query is as fast then)."""
    parts = _parts(conn, key, start, end, channels)
    if parts is None:
        return None
    arrays = [_unpacked(part.values, part.count) for part in parts]
    return Sample(np.concatenate(arrays) if arrays else np.empty(0), math.fsum(part.total for part in parts))


def count(
    conn: Connection,
    key: str,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    now: datetime | None = None,
) -> int | None:
    """How many rows of the series are dated in `[start, end)` on `channels` (() = all) — for a series
    with an `as_of` column, those whose `as_of` is before `now` — or None when the range holds no whole
    cached day."""
    parts = _parts(conn, key, start, end, channels, now)
    return None if parts is None else sum(part.count for part in parts)


def distinct(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> int | None:
    """How many different ids a `distinct` series holds over `[start, end)` on `channels` (() = all), or
    None when the range holds no whole cached day. The days' id arrays are marked in one bitmap: no
    sort, whatever the number of days."""
    parts = _parts(conn, key, start, end, channels)
    if parts is None:
        return None
    arrays = [_unpacked(part.values, part.count) for part in parts if part.count]
    if not arrays:
        return 0
    seen = np.zeros(int(max(int(a.max()) for a in arrays)) + 1, dtype=bool)
    for ids in arrays:
        seen[ids.astype(np.int64)] = True
    return int(np.count_nonzero(seen))


def counts_by_channel(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> dict[str, int] | None:
    """`count` per channel (channels with none left out), or None when the range holds no cached day."""
    parts = _parts(conn, key, start, end, channels, by_channel=True)
    if parts is None:
        return None
    counts: dict[str, int] = defaultdict(int)
    for part in parts:
        if part.count:
            counts[part.channel] += part.count
    return dict(counts)


class Part(NamedTuple):
    """Rows of a series on one channel (EVERY: the whole scope) over a day or part of one."""

    channel: str
    count: int
    total: float  # the exact sum of the values (0 for a count series)
    values: bytes  # see _compact; empty for a count series
    latest: datetime | None = None  # the newest `as_of` among the rows counted, for series with one


def _parts(
    conn: Connection,
    key: str,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    now: datetime | None = None,
    by_channel: bool = False,
) -> list[Part] | None:
    """The series over the partial days at either end, read from the tables, and over each whole cached
    day; None when there is no whole cached day. One part per range for the scope, or per channel."""
    days = _whole_days(start, end, last_cached_day())
    if not days:
        return None
    series = SERIES[key]
    parts = []
    for edge_start, edge_end in ((start, _midnight(days[0])), (_midnight(days[-1] + timedelta(days=1)), end)):
        if edge_start < edge_end:
            parts += _edge(conn, series, edge_start, edge_end, channels, now, by_channel)
    stored = _stored(conn, key, days[0], days[-1], channels, series.value is not None, by_channel)
    for day in days:
        rows = stored.get(day) or _compute_day(conn, key, series, day)
        latest = rows[EVERY].latest
        if now is not None and latest is not None and latest >= now:  # asked as of before the day's outcomes
            parts += _edge(
                conn, series, _midnight(day), _midnight(day + timedelta(days=1)), channels, now, by_channel
            )
            continue
        parts += [row for channel, row in rows.items() if _wanted(channel, channels, by_channel)]
    return parts


def top(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> list[int] | None:
    """The ids of the first `limit` rows of TOPS[key] dated in `[start, end)` on `channels` (() = all),
    first first, or None when the range holds no whole cached day."""
    days = _whole_days(start, end, last_cached_day())
    if not days:
        return None
    spec = TOPS[key]
    rows = []
    for edge_start, edge_end in ((start, _midnight(days[0])), (_midnight(days[-1] + timedelta(days=1)), end)):
        if edge_start < edge_end:
            rows += _top_rows(conn, spec, edge_start, edge_end, channels)
    stored = _stored(conn, key, days[0], days[-1], channels, True, False)
    for day in days:
        for channel, part in (stored.get(day) or _compute_top_day(conn, key, spec, day)).items():
            if _wanted(channel, channels, False):
                rows += [
                    (score, datetime.fromisoformat(at), row_id)
                    for score, at, row_id in json.loads(part.values)
                ]
    rows.sort(key=spec.rank)
    return [row_id for _, _, row_id in rows[: spec.limit]]


def _top_rows(
    conn: Connection, spec: Top, start: datetime, end: datetime, channels: Sequence[str]
) -> list[tuple[float, datetime, int]]:
    """The first `limit` rows of `spec` dated in `[start, end)`, from the table."""
    where = [spec.at >= start, spec.at < end, *spec.where]
    if channels:
        where.append(unindexed(spec.channel).in_(channels))
    ranking = (spec.score.asc() if spec.ascending else spec.score.desc(), spec.at.desc(), M.id.desc())
    ranked = select(spec.score, spec.at, M.id).where(*where).order_by(*ranking).limit(spec.limit)
    return [tuple(row) for row in conn.execute(ranked)]


def _compute_top_day(conn: Connection, key: str, spec: Top, day: date) -> dict[str, Part]:
    """A day's first rows of `spec` per channel and over every channel, stored like a series' day."""
    seen = conn.execute(select(func.coalesce(func.max(S.id), 0)).where(S.day == day)).scalar_one()
    where = [spec.at >= _midnight(day), spec.at < _midnight(day + timedelta(days=1)), *spec.where]
    by_channel: dict[str, list[tuple[float, datetime, int]]] = defaultdict(list)
    for channel, score, at, row_id in conn.execute(
        select(spec.channel, spec.score, spec.at, M.id).where(*where)
    ):
        by_channel[channel].append((score, at, row_id))
    by_channel[EVERY] = [row for rows in list(by_channel.values()) for row in rows]
    parts = {}
    for channel, rows in by_channel.items():
        first = sorted(rows, key=spec.rank)[: spec.limit]
        packed = json.dumps([[score, at.isoformat(), row_id] for score, at, row_id in first]).encode()
        parts[channel] = Part(channel, len(rows), 0.0, packed)
    _store(conn, key, day, seen, parts)
    return parts


def tally(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> Counter | None:
    """How many rows of TALLIES[key] dated in `[start, end)` on `channels` (() = all) carry each label, or
    None when the range holds no whole cached day."""
    days = _whole_days(start, end, last_cached_day())
    if not days:
        return None
    spec = TALLIES[key]
    counts: Counter = Counter()
    for edge_start, edge_end in ((start, _midnight(days[0])), (_midnight(days[-1] + timedelta(days=1)), end)):
        if edge_start < edge_end:
            where = [spec.at >= edge_start, spec.at < edge_end, *spec.where]
            if channels:
                where.append(unindexed(spec.channel).in_(channels))
            grouped = select(spec.label, func.count()).where(*where).group_by(spec.label)
            counts.update({label: n for label, n in conn.execute(grouped)})
    stored = _stored(conn, key, days[0], days[-1], channels, True, False)
    for day in days:
        for channel, part in (stored.get(day) or _compute_tally_day(conn, key, spec, day)).items():
            if _wanted(channel, channels, False):
                counts.update(json.loads(part.values))
    return counts


def _compute_tally_day(conn: Connection, key: str, spec: Tally, day: date) -> dict[str, Part]:
    """A day's counts per label of `spec`, per channel and over every channel, stored like a series' day."""
    seen = conn.execute(select(func.coalesce(func.max(S.id), 0)).where(S.day == day)).scalar_one()
    where = [spec.at >= _midnight(day), spec.at < _midnight(day + timedelta(days=1)), *spec.where]
    grouped = select(spec.channel, spec.label, func.count()).where(*where).group_by(spec.channel, spec.label)
    by_channel: dict[str, Counter] = defaultdict(Counter)
    for channel, label, n in conn.execute(grouped):
        by_channel[channel][label] += n
        by_channel[EVERY][label] += n
    by_channel.setdefault(EVERY, Counter())
    parts = {
        channel: Part(channel, counts.total(), 0.0, json.dumps(counts).encode())
        for channel, counts in by_channel.items()
        if channel is not None
    }
    _store(conn, key, day, seen, parts)
    return parts


def _wanted(channel: str, channels: Sequence[str], by_channel: bool) -> bool:
    """Whether a day's row of `channel` belongs in the answer: the every-channel row for all channels,
    else the rows of the asked channels (of every channel, for all channels by channel)."""
    if channels:
        return channel in channels
    return channel != EVERY if by_channel else channel == EVERY


def note(conn: Connection, times: Iterable[datetime]) -> None:
    """Notes, in `conn`'s transaction, the finished days among `times` as changed (what the triggers do
    for `conversation` and `wait`), for tables written by ingestion alone (NOTED_BY_INGEST)."""
    today = datetime.now(UTC).date()
    for day in sorted({at.astimezone(UTC).date() for at in times}):
        if day < today:
            conn.execute(_NOTE, {"day": day})


def warm(engine: Engine, days: int = WARM_DAYS, wall_clock: datetime | None = None) -> int:
    """Computes and stores, for every series, the days among the last `days` cached days that are missing
    or changed, so no question has to (run hourly by the bot's scheduler, and after a bulk import).
    Returns how many series-days it computed."""
    last = last_cached_day(wall_clock)
    first = last - timedelta(days=days - 1)
    computed = 0
    with engine.connect() as conn:
        oldest = [conn.execute(select(func.min(column))).scalar() for column in (C.opened_at, V.at)]
        if all(at is None for at in oldest):
            return 0  # nothing stored yet
        first = max(first, min(at for at in oldest if at is not None).date())  # no work before the data
        days = (last - first).days + 1
        computers = [(key, partial(_compute_day, key=key, series=series)) for key, series in SERIES.items()]
        computers += [(key, partial(_compute_top_day, key=key, spec=spec)) for key, spec in TOPS.items()]
        computers += [(key, partial(_compute_tally_day, key=key, spec=spec)) for key, spec in TALLIES.items()]
        for key, compute_day in computers:
            current = _stored(conn, key, first, last, (), values=False, by_channel=False)
            for day in (first + timedelta(days=n) for n in range(days)):
                if day not in current:
                    compute_day(conn, day=day)
                    computed += 1
            conn.rollback()  # a fresh snapshot per series; SQLite can checkpoint in between
    return computed


def _whole_days(start: datetime, end: datetime, last: date) -> list[date]:
    """The UTC days lying wholly in `[start, end)`, up to `last`."""
    first = start.astimezone(UTC).date()
    if _midnight(first) < start:
        first += timedelta(days=1)
    stop = min(end.astimezone(UTC).date(), last + timedelta(days=1))  # exclusive
    return [first + timedelta(days=n) for n in range((stop - first).days)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _edge(
    conn: Connection,
    series: Series,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    now: datetime | None,
    by_channel: bool,
) -> list[Part]:
    """The series dated in `[start, end)` from the projection table (raw DBAPI rows: fast): one part for
    the scope, or one per channel."""
    where = [series.at >= start, series.at < end, *series.where]
    if series.as_of is not None and now is not None:
        where.append(series.as_of < now)
    if channels:
        channel = unindexed(series.channel)
        where.append(channel == channels[0] if len(channels) == 1 else channel.in_(channels))
    if series.value is None:
        if by_channel:
            counted = conn.execute(
                select(series.channel, func.count()).where(*where).group_by(series.channel)
            )
            return [Part(channel, n, 0.0, b"") for channel, n in counted]
        return [Part(EVERY, conn.execute(select(func.count()).where(*where)).scalar_one(), 0.0, b"")]
    result = conn.execute(select(series.value).where(*where))
    try:
        values = [value for (value,) in result.cursor.fetchall()]
    finally:
        result.close()
    return [
        Part(EVERY, len(values), math.fsum(values), _compact(np.asarray(values, dtype=np.float64)).tobytes())
    ]


def _stored(
    conn: Connection,
    key: str,
    first: date,
    last: date,
    channels: Sequence[str],
    values: bool,
    by_channel: bool,
) -> dict[date, dict[str, Part]]:
    """The current rows of days `first`..`last` in scope, by day then channel (with their values if
    `values`); a day appears only if its every-channel row (the proof the day was computed) is current."""
    newest = dict(
        conn.execute(select(S.day, func.max(S.id)).where(S.day >= first, S.day <= last).group_by(S.day)).all()
    )
    blob = K.sorted_values if values else literal(b"")
    if channels:  # the every-channel row only proves the day was computed: its values are not read
        scope = [K.channel.in_([EVERY, *channels])]
        blob = case((K.channel == EVERY, b""), else_=blob)
    elif by_channel:
        scope = []
    else:
        scope = [K.channel == EVERY]
    rows = conn.execute(
        select(K.day, K.seen, K.channel, K.count, K.total, blob, K.latest).where(
            K.series == key, K.day >= first, K.day <= last, *scope
        )
    ).all()
    by_day: dict[date, dict[str, Part]] = defaultdict(dict)
    for day, seen, *row in rows:
        day = _as_date(day)
        if seen >= newest.get(day, 0):
            by_day[day][row[0]] = Part(*row)
    return {day: rows for day, rows in by_day.items() if EVERY in rows}


def _compute_day(conn: Connection, key: str, series: Series, day: date) -> dict[str, Part]:
    """One day of the series from the projection table, by channel and over every channel, stored for
    the next query when the database lets us write now. Rows without a channel count in EVERY only."""
    seen = conn.execute(select(func.coalesce(func.max(S.id), 0)).where(S.day == day)).scalar_one()
    start, end = _midnight(day), _midnight(day + timedelta(days=1))
    where = [series.at >= start, series.at < end, *series.where]
    if series.value is None:
        latest = func.max(series.as_of) if series.as_of is not None else literal(None)
        counted = conn.execute(
            select(series.channel, func.count(), latest).where(*where).group_by(series.channel)
        )
        rows = {channel: Part(channel, n, 0.0, b"", last) for channel, n, last in counted}
        newest = max((row.latest for row in rows.values() if row.latest is not None), default=None)
        rows[EVERY] = Part(EVERY, sum(row.count for row in rows.values()), 0.0, b"", newest)
    else:
        result = conn.execute(select(series.channel, series.value).where(*where))
        try:
            by_channel: dict[str | None, list[float]] = defaultdict(list)
            for channel, value in result.cursor.fetchall():
                by_channel[channel].append(value)
        finally:
            result.close()
        by_channel[EVERY] = [value for values in list(by_channel.values()) for value in values]
        rows = {}
        for channel, values in by_channel.items():
            ordered = np.sort(_compact(np.asarray(values, dtype=np.float64)))
            if series.distinct:  # the count is then of different ids (what `_unpacked` reads the blob by)
                ordered = np.unique(ordered)
            rows[channel] = Part(channel, len(ordered), math.fsum(values), ordered.tobytes())
    rows = {channel: row for channel, row in rows.items() if channel is not None}
    _store(conn, key, day, seen, rows)
    return rows


def _store(conn: Connection, key: str, day: date, seen: int, rows: dict[str, Part]) -> None:
    """Replaces the day's rows of the series in a transaction of its own; gives up at once when the
    database is busy (the caller has its values already)."""
    try:
        with conn.engine.connect() as writer, short_wait(writer), writer.begin():
            writer.execute(delete(KpiDay.__table__).where(K.series == key, K.day == day))
            writer.execute(
                insert(KpiDay.__table__),
                [
                    {
                        "series": key,
                        "day": day,
                        "channel": row.channel,
                        "seen": seen,
                        "count": row.count,
                        "total": row.total,
                        "sorted_values": row.values,
                        "latest": row.latest,
                    }
                    for row in rows.values()
                ],
            )
            # older notes of the day are spent; the newest stays, as other series' rows compare to it
            writer.execute(delete(KpiDayStale.__table__).where(S.day == day, S.id < seen))
    except DBAPIError as exc:
        _log.info("kpi_day %s %s not stored (%s); computed again next time", key, day, exc.__class__.__name__)


def _compact(values: np.ndarray) -> np.ndarray:
    """Whole seconds (timestamps to the second, as most sources send) as little-endian int32, half the
    bytes to store, read and select; anything else as float64. Both are exact."""
    if values.size and np.all(values == np.rint(values)) and np.all(np.abs(values) < 2**31):
        return values.astype("<i4")
    return values.astype("<f8")


def _unpacked(blob: bytes, count: int) -> np.ndarray:
    """A stored day's values: int32 when the blob holds 4 bytes per value, float64 when 8."""
    return np.frombuffer(blob, dtype="<i4" if len(blob) == 4 * count else "<f8")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
