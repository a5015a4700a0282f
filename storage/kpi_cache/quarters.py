"""A measure's whole days kept per UTC quarter hour, so a question about some hours of a period — the
breakdowns `by hour` and `by weekday`, the frt heatmap — is read from the cache too.

Those questions ask a measure over the ranges of the period that were one local hour or weekday (a
`Slice` of `hours`). A day's plain row cannot be cut by hour, so beside it the cache keeps, under the
measure's key with QUARTERED appended ("frt@q"), the day's rows with their rows grouped by the UTC quarter
hour they are dated in: a payload of 96 counts (one per quarter of the day, little-endian uint32), then
the values in quarter order (`compact`, as a plain row's; none for a count measure). Every time zone's
offset is a multiple of 15 minutes, so each local hour is whole quarters of UTC days. The period's days
are laid end to end once per breakdown (`Stack`, shared by its rows through `store.remembered`), and a
row takes the runs of quarters its hours cover (`cells`, `taken`) in a few array operations, however
many days. An hour slot (a day the period starts or ends in) is taken whole when the hours cover it,
left out when they miss it; anything else — an hour cut by them, hours off the quarter hours — is read
from the tables. The rows are computed on first use, current by the same change notes as the day's plain
row (storage.kpi_cache.store).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from storage.days import midnight
from storage.db import raw_rows
from storage.kpi_cache.labels import quarter_of_day
from storage.kpi_cache.measures import Measure
from storage.kpi_cache.slicing import within
from storage.kpi_cache.slots import DAY, Slot
from storage.kpi_cache.tables import EVERY, Part, compact, exact_sum

QUARTERS = 96
QUARTER = timedelta(minutes=15)
HEADER = QUARTERS * 4  # bytes of the 96 counts
MICROSECOND = timedelta(microseconds=1)
Runs = tuple[np.ndarray, np.ndarray]  # runs of cells: where each starts, where each stops


class Plan(NamedTuple):
    """How the hour slots of a question about some hours are read: taken whole, or read from the tables
    (with the hours' slice) when the hours cut them."""

    whole: list[Slot]
    tables: list[tuple[datetime, datetime]]


class Stack(NamedTuple):
    """One channel's quarter-hour rows of consecutive days laid end to end, built once per breakdown
    (`store.remembered`): cell d × 96 + q is quarter q of the d-th day, `offsets[cell]` where its values
    start (`offsets[-1]`: how many there are), `values` None for a count measure."""

    channel: str
    offsets: np.ndarray
    values: np.ndarray | None
    latest: datetime | None


def plan(slots: list[Slot], hours: tuple[tuple[datetime, datetime], ...]) -> Plan:
    """The hour slots of a question cut to `hours` (ranges in order, not overlapping): those the hours
    cover taken whole, those they cut read from the tables, those they miss left out."""
    whole, tables = [], []
    ends = [end for _, end in hours]
    for slot in slots:
        start, end = slot.start, slot.end
        first = bisect_right(ends, start)  # the first range ending after the slot starts
        inside = timedelta()
        for since, until in hours[first:]:
            if since >= end:
                break
            inside += min(until, end) - max(since, start)
        if inside == end - start:
            whole.append(slot)
        elif inside:
            tables.append((start, end))
    return Plan(whole, tables)


def cells(hours: tuple[tuple[datetime, datetime], ...], first: date, days: int) -> Runs | None:
    """The quarter cells of the `days` days from `first` (cell d × 96 + q, see `Stack`) that `hours`
    cover, as runs [start, stop); None when one of the hours does not start and end on a quarter hour
    (every time zone's offset today is a multiple of 15 minutes)."""
    origin = midnight(first)
    ranges = within(hours, origin, origin + days * DAY)
    bounds = [(moment - origin) // MICROSECOND for pair in ranges for moment in pair]
    found, rest = np.divmod(np.array(bounds, dtype=np.int64), QUARTER // MICROSECOND)
    if rest.any():
        return None
    return found[0::2], found[1::2]


def stacked(channel: str, days: list[dict[str, Part] | None]) -> Stack:
    """The channel's quarter-hour rows of `days` (in order; None: a day not taken) as one `Stack`."""
    counts = np.zeros(len(days) * QUARTERS, dtype=np.int64)
    pieces, latest = [], None
    for n, rows in enumerate(days):
        part = None if rows is None else rows.get(channel)
        if part is None or not part.count:
            continue
        quarter_counts, values = decoded(part)
        counts[n * QUARTERS : (n + 1) * QUARTERS] = quarter_counts
        if values is not None:
            pieces.append(values)
        if part.latest is not None and (latest is None or part.latest > latest):
            latest = part.latest
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    values = (np.concatenate(pieces) if len(pieces) > 1 else pieces[0]) if pieces else None
    return Stack(channel, offsets, values, latest)


def taken(stack: Stack, runs: Runs, *, total: bool = True) -> Part:
    """The rows of `stack` in the cells of `runs` as a plain part, with the exact sum of their values
    unless `total` is False (ids: 0)."""
    starts, stops = stack.offsets[runs[0]], stack.offsets[runs[1]]
    if stack.values is None:  # a count measure, or no values at all
        return Part(stack.channel, int((stops - starts).sum()), 0.0, b"", stack.latest)
    # each run's rows in order, a slice each: a row of `by hour` over 90 days is 90 runs of ~700 rows,
    # four times faster so than through an index of every row (0.04 against 0.15 ms)
    values = stack.values
    pieces = [values[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
    return _part(stack, np.concatenate(pieces) if pieces else values[:0], total)


def _part(stack: Stack, values: np.ndarray, total: bool) -> Part:
    summed = exact_sum(values) if total else 0.0
    return Part(stack.channel, len(values), summed, values.tobytes(), stack.latest)


def read_day(conn: Connection, slot: Slot, measure: Measure) -> tuple[dict[str | None, np.ndarray], dict]:
    """A day's rows of the measure per channel (None: rows without one) as an array of (quarter of the
    day, value) — (quarter, count) for a count measure — and the newest outcome time per channel for a
    measure with one: what both the day's plain row and its quarter-hour row are made of."""
    where = [measure.at >= slot.start, measure.at < slot.end, *measure.where]
    quarter = quarter_of_day(measure.at)
    if measure.value is None:
        statement = (
            select(measure.channel, quarter, func.count()).where(*where).group_by(measure.channel, quarter)
        )
    else:
        statement = select(measure.channel, quarter, measure.value).where(*where)
    grouped: dict[str | None, list] = defaultdict(list)
    for channel, *row in raw_rows(conn, statement):
        grouped[channel].append(row)
    newest: dict = {}
    if measure.as_of is not None:  # the newest outcome time per channel (as datetimes: no raw rows)
        latest = select(measure.channel, func.max(measure.as_of)).where(*where).group_by(measure.channel)
        newest = {channel: at for channel, at in conn.execute(latest)}
    by_channel = {c: np.asarray(rows, dtype=np.float64).reshape(len(rows), 2) for c, rows in grouped.items()}
    return by_channel, newest


def packed_rows(by_channel: dict[str | None, np.ndarray], measure: Measure, newest: dict) -> dict[str, Part]:
    """A day's quarter-hour rows, per channel and over every channel (EVERY), from `read_day`."""
    every = np.concatenate(list(by_channel.values())) if by_channel else np.empty((0, 2))
    latest = max((at for at in newest.values() if at is not None), default=None)
    rows = {EVERY: _packed(EVERY, every, measure, latest)}
    for channel, found in by_channel.items():
        if channel is not None:
            rows[channel] = _packed(channel, found, measure, newest.get(channel))
    return rows


def _packed(channel: str, found: np.ndarray, measure: Measure, latest: datetime | None) -> Part:
    """A channel's quarter-hour row from its (quarter, value) or (quarter, count) rows."""
    quarters = found[:, 0].astype(np.int64)
    if measure.value is None:
        counts = np.bincount(quarters, weights=found[:, 1], minlength=QUARTERS).astype("<u4")
        return Part(channel, int(found[:, 1].sum()), 0.0, counts.tobytes(), latest)
    values = found[:, 1]
    total = math.fsum(values)
    order = np.lexsort((values, quarters))
    quarters, values = quarters[order], values[order]
    if measure.distinct:  # ids once per quarter (a cut may still join quarters: distinct() counts them)
        keep = np.ones(len(values), dtype=bool)
        keep[1:] = (quarters[1:] != quarters[:-1]) | (values[1:] != values[:-1])
        quarters, values = quarters[keep], values[keep]
    counts = np.bincount(quarters, minlength=QUARTERS).astype("<u4")
    return Part(channel, len(values), total, counts.tobytes() + compact(values).tobytes(), latest)


def decoded(part: Part) -> tuple[np.ndarray, np.ndarray | None]:
    """A quarter-hour row's 96 counts and its values (None for a count measure, or a day without any)."""
    counts = np.frombuffer(part.values[:HEADER], dtype="<u4")
    body = part.values[HEADER:]
    values = np.frombuffer(body, dtype="<i4" if len(body) == 4 * part.count else "<f8") if body else None
    return counts, values
