"""A measure's whole days kept per UTC quarter hour, so a question about some hours of a period — the
breakdowns `by hour` and `by weekday`, the frt heatmap — is read from the cache too.

Those questions ask a measure over the ranges of the period that were one local hour or weekday (a
`Slice` of `hours`). A day's plain row cannot be cut by hour, so beside it the cache keeps, under the
measure's key with QUARTERED appended ("frt@q"), the day's rows with their rows grouped by the UTC quarter
hour they are dated in: a payload of 96 counts (one per quarter of the day, little-endian uint32), then
the values in quarter order (`compact`, as a plain row's; none for a count measure). Every time zone's
offset is a multiple of 15 minutes, so each local hour is whole quarters of UTC days, and a day cut to the
asked hours is a few runs of its values. An hour slot (a day the period starts or ends in) is taken whole
when the hours cover it, left out when they miss it; anything else — an hour cut by them (a zone at
+05:45), a day not on quarters — is read from the tables. The rows are computed on first use, current
by the same change notes as the day's plain row (storage.kpi_cache.store), and shared by the rows of one
breakdown (`store.shared_reads`), which all read the same days.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from storage.db import raw_rows
from storage.kpi_cache.labels import quarter_of_day
from storage.kpi_cache.measures import Measure
from storage.kpi_cache.slots import Slot
from storage.kpi_cache.store import remembered
from storage.kpi_cache.tables import EVERY, Part, compact

QUARTERED = "@q"  # appended to a measure's key: its days per quarter hour
QUARTERS = 96
QUARTER = timedelta(minutes=15)
HEADER = QUARTERS * 4  # bytes of the 96 counts
Runs = tuple[tuple[int, int], ...]  # quarters [first, stop) of a day


class Plan(NamedTuple):
    """How the slots of a question about some hours are read: hour slots taken whole, day slots cut to
    runs of quarters, and ranges read from the tables (with the hours' slice)."""

    whole: list[Slot]
    days: dict[Slot, Runs]
    tables: list[tuple[datetime, datetime]]


class Quartered(NamedTuple):
    """A quarter-hour row decoded: where each quarter's values start and end, and the values."""

    starts: np.ndarray
    ends: np.ndarray
    values: np.ndarray | None  # None for a count measure


def plan(slots: list[Slot], hours: tuple[tuple[datetime, datetime], ...]) -> Plan:
    """The slots of a question cut to `hours` (ranges in order, not overlapping; see `Plan`)."""
    whole, days, tables = [], {}, []
    ends = [end for _, end in hours]
    for slot in slots:
        start, end = slot.start, slot.end
        first = bisect_right(ends, start)  # the first range ending after the slot starts
        inside = []
        for since, until in hours[first:]:
            if since >= end:
                break
            inside.append((max(since, start), min(until, end)))
        if not inside:
            continue
        if slot.hour is not None:
            if sum((until - since for since, until in inside), timedelta()) == end - start:
                whole.append(slot)
            else:
                tables.append((start, end))
            continue
        runs = _runs(start, inside)
        if runs is None:
            tables.append((start, end))
        else:
            days[slot] = runs
    return Plan(whole, days, tables)


def _runs(midnight: datetime, inside: list[tuple[datetime, datetime]]) -> Runs | None:
    """The quarters of the day starting at `midnight` that `inside` (ranges within it) covers, as runs;
    None when a range does not start and end on a quarter hour."""
    runs = []
    for start, end in inside:
        first, rest = divmod(start - midnight, QUARTER)
        stop, rest_end = divmod(end - midnight, QUARTER)
        if rest or rest_end:
            return None
        runs.append((first, stop))
    return tuple(runs)


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


def decoded(part: Part) -> Quartered:
    """A quarter-hour row's counts and values, decoded once per breakdown (`store.remembered`)."""
    counts = np.frombuffer(part.values[:HEADER], dtype="<u4").astype(np.int64)
    ends = np.cumsum(counts)
    body = part.values[HEADER:]  # empty for a count measure, or a day without values
    values = np.frombuffer(body, dtype="<i4" if len(body) == 4 * part.count else "<f8") if body else None
    return Quartered(ends - counts, ends, values)


def cut(part: Part, runs: Runs, *, total: bool = True) -> Part:
    """`part` (a day's quarter-hour row) cut to the quarters of `runs`: a plain part of those rows, with
    the exact sum of its values unless `total` is False (ids: 0)."""
    rows = remembered(("decoded", id(part)), lambda: decoded(part))  # parts outlive the shared reads
    if rows.values is None:
        count = sum(int(rows.ends[stop - 1] - rows.starts[first]) for first, stop in runs if stop > first)
        return Part(part.channel, count, 0.0, b"", part.latest)
    pieces = [rows.values[rows.starts[first] : rows.ends[stop - 1]] for first, stop in runs if stop > first]
    values = np.concatenate(pieces) if len(pieces) != 1 else pieces[0]
    whole_seconds = values.dtype == np.dtype("<i4")  # summed exactly in int64; floats by fsum
    summed = 0.0
    if total:
        summed = float(values.sum(dtype=np.int64)) if whole_seconds else math.fsum(values)
    return Part(part.channel, len(values), summed, values.tobytes(), part.latest)
