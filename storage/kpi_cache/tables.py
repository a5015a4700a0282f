"""A measure, ranking or tally read straight from the projection tables over any range: what a slot is
computed from, what the minutes around a question's cached slots are read from, and the whole answer when
the cache cannot serve (one agent, business hours, or `source="tables"`). One reading of one declaration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from storage.db import raw_rows
from storage.kpi_cache.measures import Measure, Ranking, Tally
from storage.kpi_cache.slicing import Slice, dated, slice_terms
from storage.planner import on_channels

# Seconds between two times, counting only business hours (storage.business_hours.BusinessClock).
Duration = Callable[[datetime, datetime], float]
EVERY = ""  # the part over every channel (the cache's row name for it too)


class Part(NamedTuple):
    """A measure's rows on one channel (EVERY: the whole scope) over a slot or a range."""

    channel: str
    count: int
    total: float  # the exact sum of the values (0 for a count)
    values: bytes  # see `compact`; empty for a count
    latest: datetime | None = None  # the newest `as_of` among the rows counted, for measures with one


def measure_parts(
    conn: Connection,
    measure: Measure,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    *,
    now: datetime | None = None,
    by_channel: bool = False,
    agent: str | None = None,
    duration: Duration | None = None,
    piece: Slice | None = None,
) -> list[Part]:
    """The measure's rows dated in `[start, end)` on `channels` (() = all), those whose `as_of` is before
    `now` when it has one, credited to `agent` when given, with durations counted by `duration` when given
    (calendar seconds otherwise): one part for the scope, or one per channel (counts only)."""
    where = [*dated(piece, measure.at, start, end, measure.where), on_channels(measure.channel, channels)]
    where += slice_terms(piece, measure.at, measure.at.table)
    if measure.as_of is not None and now is not None:
        where.append(measure.as_of < now)
    if agent is not None:
        where.append(_owner(measure) == agent)
    if measure.value is None:
        if by_channel:
            counted = _read(conn, measure, agent, [measure.channel, func.count()], where, (measure.channel,))
            return [Part(channel, n, 0.0, b"") for channel, n in counted]
        (n,) = _read(conn, measure, agent, [func.count()], where)[0]
        return [Part(EVERY, n, 0.0, b"")]
    if duration is not None and measure.span is not None:
        spans = _read(conn, measure, agent, measure.span, where, raw=False)  # times as datetimes
        values = [duration(since, until) for since, until in spans]
    else:
        values = [value for (value,) in _read(conn, measure, agent, [measure.value], where)]
    return [
        Part(EVERY, len(values), math.fsum(values), compact(np.asarray(values, dtype=np.float64)).tobytes())
    ]


def ranking_rows(
    conn: Connection,
    ranking: Ranking,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    ids,
    piece: Slice | None = None,
) -> list[tuple[float, datetime, int]]:
    """The first `limit` (score, time, id) of `ranking` dated in `[start, end)` on `channels` (in the
    slice), first first; `ids` is the id column of the ranked table."""
    where = [*dated(piece, ranking.at, start, end, ranking.where), on_channels(ranking.channel, channels)]
    where += slice_terms(piece, ranking.at, ranking.at.table)
    order = (
        ranking.score.asc() if ranking.ascending else ranking.score.desc(),
        ranking.at.desc(),
        ids.desc(),
    )
    ranked = select(ranking.score, ranking.at, ids).where(*where).order_by(*order).limit(ranking.limit)
    return [tuple(row) for row in conn.execute(ranked)]


def tally_counts(
    conn: Connection,
    tally: Tally,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    agent: str | None = None,
    piece: Slice | None = None,
    *,
    by_channel: bool = False,
) -> dict:
    """How many rows of `tally` dated in `[start, end)` on `channels` (credited to `agent`, when given; in
    the slice) carry each label: {label: count}, or {label: [count, *sums]} for a tally with sums; with
    `by_channel`, that per channel: {channel: {label: …}} (rows without a channel under EVERY)."""
    where = [*dated(piece, tally.at, start, end, tally.where), on_channels(tally.channel, channels)]
    where += slice_terms(piece, tally.at, tally.at.table)
    keys = (tally.channel, tally.label) if by_channel else (tally.label,)
    grouped = select(*keys, func.count(), *tally.sums)
    if agent is not None:
        if tally.owner is None:
            raise ValueError("this tally is not credited to agents")
        where.append(tally.owner == agent)
        if tally.join is not None:
            table, on = tally.join
            grouped = grouped.select_from(tally.at.table.join(table, on))
    rows = conn.execute(grouped.where(*where).group_by(*keys))
    if not by_channel:
        return {label: tally_value(values, tally) for label, *values in rows}
    counts: dict[str, dict] = {}
    for channel, label, *values in rows:
        counts.setdefault(channel or EVERY, {})[label] = tally_value(values, tally)
    return counts


def tally_value(values: Sequence, tally: Tally) -> int | list:
    """A label's count, or [count, *sums] (a sum over no value as 0)."""
    count, *sums = values
    return [count, *(value or 0 for value in sums)] if tally.sums else count


def add_to_tally(counts: dict, label: str, value: int | list) -> None:
    """Adds a label's count (or [count, *sums]) to `counts`."""
    if label not in counts:
        counts[label] = list(value) if isinstance(value, list) else value
    elif isinstance(value, list):
        counts[label] = [mine + theirs for mine, theirs in zip(counts[label], value, strict=True)]
    else:
        counts[label] += value


def compact(values: np.ndarray) -> np.ndarray:
    """Whole seconds (timestamps to the second, as most sources send) as little-endian int32, half the
    bytes to store, read and select; anything else as float64. Both are exact."""
    if values.size and np.all(values == np.rint(values)) and np.all(np.abs(values) < 2**31):
        return values.astype("<i4")
    return values.astype("<f8")


def exact_sum(values: np.ndarray) -> float:
    """The exact sum of `values`: whole seconds summed as int64 (an array's worth in a millisecond),
    anything else by math.fsum (exact, but a Python float at a time: ~30 ms for a million values)."""
    if values.dtype.kind in "iu":
        return float(values.sum(dtype=np.int64))
    whole = compact(values)
    return float(whole.sum(dtype=np.int64)) if whole.dtype.kind == "i" else math.fsum(values)


def unpacked(blob: bytes, count: int) -> np.ndarray:
    """A part's values: int32 when the blob holds 4 bytes per value, float64 when 8."""
    return np.frombuffer(blob, dtype="<i4" if len(blob) == 4 * count else "<f8")


def _owner(measure: Measure):
    if measure.owner is None:
        raise ValueError("this measure is not credited to agents")
    return measure.owner


def _read(
    conn: Connection,
    measure: Measure,
    agent: str | None,
    columns,
    where: list,
    group: tuple = (),
    *,
    raw: bool = True,
) -> list[tuple]:
    """The rows of `columns` (grouped by `group`): with `raw`, plain tuples from the DBAPI cursor, no
    per-row Row objects (thousands of values a slot; numbers only: SQLite's times come back as text)."""
    statement: Select = select(*columns).where(*where)
    if agent is not None and measure.join is not None:
        table, on = measure.join
        statement = statement.select_from(measure.at.table.join(table, on))
    if group:
        statement = statement.group_by(*group)
    return raw_rows(conn, statement) if raw else [tuple(row) for row in conn.execute(statement)]
