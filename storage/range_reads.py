"""A measure's values read over many labelled time ranges at once: which values fall in each.

The frt heatmap (commands.heatmap) cuts a period into the local hours of the workspace and needs each
hour's first-response times (a median does not add up over hours, so the KPI cache's per-day slots cannot
serve it). Grouping every row by an expression of its timestamp makes SQLite sort millions of index
entries; here the ranges go to the database as one small VALUES table and each is read as its own slice of
the time index (the rows joined to their range), which costs what one plain read over the period costs.
The measure's declaration (storage.kpi_cache.measures) says which rows count, so a heatmap's total is the
KPI's figure. (The volume heatmap, counts that do add up, reads the cache's per-quarter-hour tally.)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import Integer, and_, column, select, values
from sqlalchemy.engine import Connection

from storage.db import raw_rows
from storage.kpi_cache.measures import Measure
from storage.models.types import UTCDateTime
from storage.planner import on_channels

# Ranges per statement: three bound parameters each stays far below SQLite's and PostgreSQL's limits.
CHUNK = 1000
Range = tuple[int, datetime, datetime]  # (label, start, end): rows dated in [start, end) carry the label


def values_in_ranges(
    conn: Connection, measure: Measure, ranges: Sequence[Range], channels: Sequence[str]
) -> dict[int, np.ndarray]:
    """The measure's values (float64, unordered) of the rows on `channels` (() = all) dated in each range,
    gathered per label (labels without rows are left out). The ranges must not overlap."""
    _plain(measure)
    if measure.value is None:
        raise ValueError("this measure only counts rows: use counts_in_ranges")
    labels, found = [], []
    for table in _tables(ranges):
        joined = (
            select(table.c.label, measure.value)
            .select_from(table)
            .join(measure.at.table, and_(measure.at >= table.c.start, measure.at < table.c.end))
            .where(*_where(measure, channels))
        )
        rows = raw_rows(conn, joined)
        pairs = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=2 * len(rows))
        labels.append(pairs[0::2].astype(np.int64))
        found.append(pairs[1::2])
    if not found:
        return {}
    label, value = np.concatenate(labels), np.concatenate(found)
    order = np.argsort(label, kind="stable")
    label, value = label[order], value[order]
    cuts = np.flatnonzero(np.diff(label)) + 1
    parts = zip(np.split(label, cuts), np.split(value, cuts), strict=True)
    return {int(part[0]): part_values for part, part_values in parts if len(part)}


def _tables(ranges: Sequence[Range]):
    for first in range(0, len(ranges), CHUNK):
        chunk = [tuple(one) for one in ranges[first : first + CHUNK]]
        # a CTE, as SQLite names a VALUES table's columns only there
        yield (
            values(column("label", Integer), column("start", UTCDateTime), column("end", UTCDateTime))
            .data(chunk)
            .cte("ranges")
        )


def _where(measure: Measure, channels: Sequence[str]) -> tuple:
    return (*measure.where, on_channels(measure.channel, channels))


def _plain(measure: Measure) -> None:
    # An outcome known only later (`as_of`) would need the instant asked; no range read needs one yet.
    if measure.as_of is not None:
        raise ValueError("measures with an outcome time (as_of) are not read over ranges")
