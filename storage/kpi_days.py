"""The per-day KPI cache: a KPI over 90 days reads 90 days' sorted arrays or counts (`kpi_day`) instead of
a million rows, and gives exactly what the tables alone give.

What is kept is defined in `storage.kpi_series` (and `storage.kpi_agents` for the team report), how it is
stored in `storage.kpi_day_store`. A question for `[start, end)` takes the whole UTC days inside it, and
the whole hours of the days it starts or ends inside, from `kpi_day`, and the rest (the last hour or two
before now, the minutes before the first whole hour) from the projection tables, so any time zone, `Nh`
period or "as of" instant gives what the tables give.

Only hours that are over are kept: hours that ended (UTC) more than an hour ago, today's too. A day or
hour missing from `kpi_day`, or changed since it was computed, is computed from the tables by the query
that needs it and stored for the next one (a failed store — the database busy — only costs the next
query the same work). Changes are noted per hour in `kpi_day_stale` by triggers on `conversation` and
`wait` (migrations 0003 to 0005), so every write path — ingestion, rebuild, replay, a bulk load,
hand-written SQL — is covered without the writers knowing about this cache; messages and survey answers,
which only ingestion writes (and `kpibot rescore` re-scores), are noted by them (`note`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial

import numpy as np
from sqlalchemy import func, literal, select
from sqlalchemy.engine import Connection, Engine

from storage import kpi_agents
from storage.kpi_day_store import (
    EVERY,
    HOUR,
    Batch,
    Part,
    Slot,
    cached_until,
    compact,
    current,
    hours_between,
    hours_over,
    last_cached_day,
    midnight,
    note_hour,
    one_by_one,
    split,
    stored,
    unpacked,
    wanted,
)
from storage.kpi_series import SERIES, TALLIES, TOPS, C, M, Sample, Series, Tally, Top, V
from storage.planner import unindexed

__all__ = ["EVERY", "SERIES", "TALLIES", "TOPS", "Sample", "count", "counts_by_channel", "distinct"]
__all__ += ["last_cached_day", "note", "sample", "tally", "top", "warm"]

# Messages and survey answers are only ever inserted, by ingestion, which notes their days (`note`): a
# trigger on `message`, even one that does nothing, slowed imports by 7-13 % on SQLite.
NOTED_BY_INGEST = frozenset({"message", "survey"})
WARM_DAYS = 100  # what `warm` keeps ready: the longest usual question (90 days) and its edges


def sample(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> Sample | None:
    """The series' values dated in `[start, end)` on `channels` (() = all), or None when the range holds
    no whole cached day (the caller's own query is as fast then)."""
    parts = _parts(conn, key, start, end, channels)
    if parts is None:
        return None
    arrays = [unpacked(part.values, part.count) for part in parts]
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
    arrays = [unpacked(part.values, part.count) for part in parts if part.count]
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
    whole = split(start, end)
    if whole is None:
        return None
    slots, edges = whole
    series = SERIES[key]
    parts = []
    for edge_start, edge_end in edges:
        parts += _edge(conn, series, edge_start, edge_end, channels, now, by_channel)
    computer = partial(_compute_runs, key=key, series=series)
    values = series.value is not None
    ready = current(conn, key, slots, channels, values=values, by_channel=by_channel, compute=computer)
    for slot in slots:
        rows = ready[slot]
        latest = rows[EVERY].latest
        if now is not None and latest is not None and latest >= now:  # asked as of before the slot's outcomes
            parts += _edge(conn, series, slot.start, slot.end, channels, now, by_channel)
            continue
        parts += [row for channel, row in rows.items() if wanted(channel, channels, by_channel)]
    return parts


def top(
    conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]
) -> list[int] | None:
    """The ids of the first `limit` rows of TOPS[key] dated in `[start, end)` on `channels` (() = all),
    first first, or None when the range holds no whole cached day."""
    whole = split(start, end)
    if whole is None:
        return None
    slots, edges = whole
    spec = TOPS[key]
    rows = []
    for edge_start, edge_end in edges:
        rows += _top_rows(conn, spec, edge_start, edge_end, channels)
    computer = one_by_one(partial(_compute_top_day, key=key, spec=spec))
    cached = current(conn, key, slots, channels, values=True, by_channel=False, compute=computer)
    for by_channel in cached.values():
        for channel, part in by_channel.items():
            if wanted(channel, channels, False):
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


def _compute_top_day(conn: Connection, slot: Slot, batch: Batch, key: str, spec: Top) -> dict[str, Part]:
    """A slot's first rows of `spec` per channel and over every channel, stored like a series' day."""
    seen = batch.newest_note(conn, slot.day)
    where = [spec.at >= slot.start, spec.at < slot.end, *spec.where]
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
    batch.add(slot.series(key), slot.day, seen, parts)
    return parts


def tally(conn: Connection, key: str, start: datetime, end: datetime, channels: Sequence[str]) -> dict | None:
    """How many rows of TALLIES[key] dated in `[start, end)` on `channels` (() = all) carry each label
    ({label: count}, or {label: [count, *sums]} for a tally with sums), or None when the range holds no
    whole cached day."""
    whole = split(start, end)
    if whole is None:
        return None
    slots, edges = whole
    spec = TALLIES[key]
    counts: dict = {}
    for edge_start, edge_end in edges:
        grouped = select(spec.label, *_aggregates(spec)).where(
            *_tally_where(spec, edge_start, edge_end, channels)
        )
        for label, *values in conn.execute(grouped.group_by(spec.label)):
            _add(counts, label, _stored(values, spec))
    computer = one_by_one(partial(_compute_tally_day, key=key, spec=spec))
    cached = current(conn, key, slots, channels, values=True, by_channel=False, compute=computer)
    for by_channel in cached.values():
        for channel, part in by_channel.items():
            if wanted(channel, channels, False):
                for label, value in json.loads(part.values).items():
                    _add(counts, label, value)
    return counts


def _compute_tally_day(conn: Connection, slot: Slot, batch: Batch, key: str, spec: Tally) -> dict[str, Part]:
    """A slot's counts per label of `spec`, per channel and over every channel, stored like a series' day."""
    seen = batch.newest_note(conn, slot.day)
    where = _tally_where(spec, slot.start, slot.end, ())
    grouped = select(spec.channel, spec.label, *_aggregates(spec)).where(*where)
    by_channel: dict[str | None, dict] = defaultdict(dict)
    for channel, label, *values in conn.execute(grouped.group_by(spec.channel, spec.label)):
        _add(by_channel[channel], label, _stored(values, spec))
        _add(by_channel[EVERY], label, _stored(values, spec))
    by_channel.setdefault(EVERY, {})
    parts = {
        channel: Part(
            channel, sum(_count(value) for value in counts.values()), 0.0, json.dumps(counts).encode()
        )
        for channel, counts in by_channel.items()
        if channel is not None
    }
    batch.add(slot.series(key), slot.day, seen, parts)
    return parts


def _tally_where(spec: Tally, start: datetime, end: datetime, channels: Sequence[str]) -> list:
    where = [spec.at >= start, spec.at < end, *spec.where]
    if channels:
        where.append(unindexed(spec.channel).in_(channels))
    return where


def _aggregates(spec: Tally) -> list:
    return [func.count(), *spec.sums]


def _stored(values: list, spec: Tally) -> int | list:
    """A label's count, or [count, *sums] (a sum over no value as 0)."""
    count, *sums = values
    return [count, *(value or 0 for value in sums)] if spec.sums else count


def _add(counts: dict, label: str, value: int | list) -> None:
    if label not in counts:
        counts[label] = list(value) if isinstance(value, list) else value
    elif isinstance(value, list):
        counts[label] = [mine + theirs for mine, theirs in zip(counts[label], value, strict=True)]
    else:
        counts[label] += value


def _count(value: int | list) -> int:
    return value[0] if isinstance(value, list) else value


def note(conn: Connection, times: Iterable[datetime]) -> None:
    """Notes, in `conn`'s transaction, the hours among `times` that are over as changed (what the
    triggers do for `conversation` and `wait`), for tables written by ingestion alone (NOTED_BY_INGEST)."""
    for day, hour in hours_over(times):
        note_hour(conn, day, hour)


def warm(engine: Engine, days: int = WARM_DAYS, wall_clock: datetime | None = None) -> int:
    """Computes and stores, for every series, the days among the last `days` cached days, and the hours
    over since the last of them (today's), that are missing or changed, so no question has to (run hourly
    by the bot's scheduler, and after a bulk import). Returns how many series-days and hours it computed."""
    last = last_cached_day(wall_clock)
    hours = hours_between(midnight(last + timedelta(days=1)), cached_until(wall_clock))
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
        computers.append((kpi_agents.KEY, kpi_agents.compute_day))
        for key, compute_day in computers:
            slots = [Slot(first + timedelta(days=n)) for n in range(days)] + hours
            ready = stored(conn, key, slots, (), values=False, by_channel=False)
            batch = Batch()
            for slot in slots:
                if slot not in ready:
                    compute_day(conn, slot=slot, batch=batch)
                    computed += 1
            batch.store(conn)
            conn.rollback()  # a fresh snapshot per series; SQLite can checkpoint in between
    return computed


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
        Part(EVERY, len(values), math.fsum(values), compact(np.asarray(values, dtype=np.float64)).tobytes())
    ]


def _compute_day(conn: Connection, slot: Slot, batch: Batch, key: str, series: Series) -> dict[str, Part]:
    """One slot (a day, or an hour) of the series from the projection table, by channel and over every
    channel, kept in `batch` to be stored. Rows without a channel count in EVERY only."""
    return _compute_run(conn, key, series, [slot], batch)[slot]


def _compute_runs(
    conn: Connection, missing: list[Slot], batch: Batch, key: str, series: Series
) -> dict[Slot, dict[str, Part]]:
    """The missing slots of the series, each day alone and consecutive hours at once (`_runs`)."""
    computed: dict[Slot, dict[str, Part]] = {}
    for run in _runs(missing):
        computed.update(_compute_run(conn, key, series, run, batch))
    return computed


def _compute_run(
    conn: Connection, key: str, series: Series, run: list[Slot], batch: Batch
) -> dict[Slot, dict[str, Part]]:
    """Slots of the series from the projection table: one slot, or consecutive hours read at once and
    split by hour (a cold question's partial days are dozens of hours)."""
    seen = {slot: batch.newest_note(conn, slot.day) for slot in run}
    start, end = run[0].start, run[-1].end
    where = [series.at >= start, series.at < end, *series.where]
    if len(run) == 1:
        if series.value is None:
            latest = func.max(series.as_of) if series.as_of is not None else literal(None)
            counted = conn.execute(
                select(series.channel, func.count(), latest).where(*where).group_by(series.channel)
            ).all()
            by_slot = {run[0]: _count_parts(counted)}
        else:
            result = conn.execute(select(series.channel, series.value).where(*where))
            try:
                by_channel: dict[str | None, list[float]] = defaultdict(list)
                for channel, value in result.cursor.fetchall():
                    by_channel[channel].append(value)
            finally:
                result.close()
            by_slot = {run[0]: _value_parts(series, by_channel)}
    else:
        extra = series.value if series.value is not None else series.as_of
        if extra is None:
            extra = literal(None)
        hours: dict[int, dict] = defaultdict(lambda: defaultdict(list))
        for channel, at, value in conn.execute(select(series.channel, series.at, extra).where(*where)):
            hours[int((at - start) / HOUR)][channel].append(value)
        by_slot = {}
        for n, slot in enumerate(run):
            by_channel = hours.get(n, {})
            if series.value is None:
                counted = [
                    (channel, len(times), max((t for t in times if t is not None), default=None))
                    for channel, times in by_channel.items()
                ]
                by_slot[slot] = _count_parts(counted)
            else:
                by_slot[slot] = _value_parts(series, dict(by_channel))
    for slot, rows in by_slot.items():
        batch.add(slot.series(key), slot.day, seen[slot], rows)
    return by_slot


def _count_parts(counted: Iterable[tuple]) -> dict[str, Part]:
    """A slot's rows of a count series from (channel, count, newest as_of) per channel."""
    rows = {channel: Part(channel, n, 0.0, b"", last) for channel, n, last in counted}
    newest = max((row.latest for row in rows.values() if row.latest is not None), default=None)
    rows[EVERY] = Part(EVERY, sum(row.count for row in rows.values()), 0.0, b"", newest)
    return {channel: row for channel, row in rows.items() if channel is not None}


def _value_parts(series: Series, by_channel: dict[str | None, list[float]]) -> dict[str, Part]:
    """A slot's rows of a value series from its values per channel, sorted (ids: once each)."""
    by_channel[EVERY] = [value for values in list(by_channel.values()) for value in values]
    rows = {}
    for channel, values in by_channel.items():
        ordered = np.sort(compact(np.asarray(values, dtype=np.float64)))
        if series.distinct:  # the count is then of different ids (what `_unpacked` reads the blob by)
            ordered = np.unique(ordered)
        rows[channel] = Part(channel, len(ordered), math.fsum(values), ordered.tobytes())
    return {channel: row for channel, row in rows.items() if channel is not None}


def _runs(slots: list[Slot]) -> list[list[Slot]]:
    """`slots` as runs to compute at once: each day alone, consecutive hours together."""
    runs: list[list[Slot]] = []
    for slot in sorted(slots, key=lambda one: (one.start, one.hour is None)):
        last = runs[-1][-1] if runs else None
        if slot.hour is not None and last is not None and last.hour is not None and last.end == slot.start:
            runs[-1].append(slot)
        else:
            runs.append([slot])
    return runs
