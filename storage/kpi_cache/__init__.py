"""The KPI cache: every measure a KPI reads, over any question, with the same answer whether or not the
cache holds it.

A KPI asks for a measure over a `Scope` (a time range, channels, the instant asked, and optionally one
agent, business hours, or `source="tables"`) and gets a `Sample` of values, a count, a count of distinct
ids, counts per channel, a ranking's first rows or a tally — computed from the declaration in
`storage.kpi_cache.measures` either way. Where it can (every agent, calendar time, `source="auto"`), a
question reads the whole UTC days and hours that ended an hour before its `now` ready-made from the cache
(`slots`, `store`), and only the minutes around them from the tables (`tables`); anything missing or
stale is computed (`compute`) and stored for the next question. docs/architecture.md, "The KPI cache",
tells the whole story.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.engine import Connection

from storage.kpi_cache import quarters
from storage.kpi_cache.compute import computer, quarter_computer, warm
from storage.kpi_cache.measures import MEASURES, RANKINGS, TALLIES
from storage.kpi_cache.sample import Sample
from storage.kpi_cache.slicing import Slice, within
from storage.kpi_cache.slots import hours_over, last_cached_day, split
from storage.kpi_cache.store import current, note_hours, remembered, shared_reads, wanted
from storage.kpi_cache.tables import (
    EVERY,
    Duration,
    Part,
    add_to_tally,
    measure_parts,
    ranking_rows,
    tally_counts,
    unpacked,
)

__all__ = [
    "MEASURES",
    "NOTED_BY_INGEST",
    "Sample",
    "Scope",
    "Slice",
    "count",
    "counts_by_channel",
    "distinct",
]
__all__ += ["last_cached_day", "note", "remembered", "sample", "shared_reads", "tally", "top", "warm"]

# Messages and survey answers are only ever inserted, by ingestion, which notes their hours (`note`): a
# trigger on `message`, even one that does nothing, would slow every import (docs/performance.md).
NOTED_BY_INGEST = frozenset({"message", "survey"})
SOURCES = ("auto", "tables")


@dataclass(frozen=True)
class Scope:
    """What a question reads: rows dated in `[start, end)` on `channels` (() = all), as of `now` (the
    instant asked: outcomes after it do not count, and it decides which slots are over), credited to
    `agent` (None: everyone), durations counted by `duration` (business hours; None: calendar seconds).
    `source` "auto" reads the cache where it can; "tables" never does (tests compare the two)."""

    start: datetime
    end: datetime
    channels: tuple[str, ...]
    now: datetime
    agent: str | None = None
    duration: Duration | None = None
    source: str = "auto"
    slice: Slice | None = None  # one team's, topic's or some hours' rows (storage.kpi_cache.slicing)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {self.source!r}")

    def cached(self, timed: bool = False, *, hours: bool = False) -> bool:
        """Whether the cache may serve: every agent, no slice (with `hours`, a slice of hours alone: see
        storage.kpi_cache.quarters), and calendar time for a measure whose values are durations between
        two times (`timed`)."""
        if self.source != "auto" or self.agent is not None:
            return False
        if self.slice is not None and not (hours and self.hours_only):
            return False
        return not (timed and self.duration is not None)

    @property
    def hours_only(self) -> bool:
        """Whether the scope is sliced by hours alone (no team, no topic)."""
        piece = self.slice
        return piece is not None and piece.hours is not None and piece.team is None and piece.topic is None


def sample(conn: Connection, key: str, scope: Scope) -> Sample:
    """The measure's values over the scope (unsorted) and their exact sum."""
    parts = _parts(conn, key, scope)
    arrays = [unpacked(part.values, part.count) for part in parts]
    return Sample(np.concatenate(arrays) if arrays else np.empty(0), math.fsum(part.total for part in parts))


def count(conn: Connection, key: str, scope: Scope) -> int:
    """How many rows of the measure the scope holds (for a measure with an outcome time, those whose
    outcome came before the scope's `now`)."""
    return sum(part.count for part in _parts(conn, key, scope))


def distinct(conn: Connection, key: str, scope: Scope) -> int:
    """How many different ids a `distinct` measure holds over the scope. The slots' id arrays are marked
    in one bitmap (no sort, whatever the number of days), or, when they are few beside the largest id
    (a bitmap of a million ids to zero for a breakdown row's hundreds), sorted."""
    arrays = [unpacked(part.values, part.count) for part in _parts(conn, key, scope) if part.count]
    if not arrays:
        return 0
    largest = int(max(int(a.max()) for a in arrays))
    if sum(len(a) for a in arrays) * 64 < largest:
        return len(np.unique(np.concatenate(arrays)))
    seen = np.zeros(largest + 1, dtype=bool)
    for ids in arrays:
        seen[ids.astype(np.int64)] = True
    return int(np.count_nonzero(seen))


def counts_by_channel(conn: Connection, key: str, scope: Scope) -> dict[str, int]:
    """`count` per channel (channels with none left out)."""
    counts: dict[str, int] = defaultdict(int)
    for part in _parts(conn, key, scope, by_channel=True):
        if part.count:
            counts[part.channel] += part.count
    return dict(counts)


def _parts(conn: Connection, key: str, scope: Scope, by_channel: bool = False) -> list[Part]:
    """The measure over the scope, one part per range or slot (per channel with `by_channel`): the cached
    slots, and the tables for the rest (all of it when the cache cannot serve)."""
    measure = MEASURES[key]
    read = {"now": scope.now, "by_channel": by_channel, "agent": scope.agent, "duration": scope.duration}
    read["piece"] = scope.slice
    cached = scope.cached(measure.span is not None, hours=True)
    asked = ("split", scope.start, scope.end, scope.now)
    whole = remembered(asked, lambda: split(scope.start, scope.end, scope.now)) if cached else None
    if whole is None:
        return measure_parts(conn, measure, scope.start, scope.end, scope.channels, **read)
    slots, tables = whole
    every, days = slots, {}
    if scope.hours_only:  # whole hour slots as they are, days cut to the hours, the rest from the tables
        hours = scope.slice.hours
        asked = ("plan", every[0], every[-1], len(every), hours)  # the same for each measure of a row
        slots, days, cut_out = remembered(asked, lambda: quarters.plan(every, hours))
        tables = [(start, end) for start, end in tables + cut_out if within(hours, start, end)]
    parts = []
    for start, end in tables:
        parts += measure_parts(conn, measure, start, end, scope.channels, **read)
    # read for every slot of the range, not only this question's: a breakdown's rows share the reads
    values = measure.value is not None
    hour_slots = [slot for slot in every if slot.hour is not None] if scope.hours_only else every
    ready = current(
        conn, key, hour_slots, scope.channels, values=values, by_channel=by_channel, compute=computer(key)
    )
    by_quarter = current(
        conn,
        key + quarters.QUARTERED,
        [slot for slot in every if slot.hour is None] if scope.hours_only else [],
        scope.channels,
        values=True,
        by_channel=by_channel,
        compute=quarter_computer(key),
    )
    for slot in [*slots, *days]:
        rows = ready[slot] if slot in ready else by_quarter[slot]
        latest = rows[EVERY].latest
        if latest is not None and latest >= scope.now:  # asked as of before the slot's outcomes
            parts += measure_parts(conn, measure, slot.start, slot.end, scope.channels, **read)
            continue
        for channel, row in rows.items():
            if wanted(channel, scope.channels, by_channel):
                ids = measure.distinct  # summed for nothing
                parts.append(row if slot not in days else quarters.cut(row, days[slot], total=not ids))
    return parts


def top(conn: Connection, key: str, scope: Scope) -> list[int]:
    """The ids of the first `limit` rows of the ranking over the scope, first first."""
    ranking = RANKINGS[key]
    whole = split(scope.start, scope.end, scope.now) if scope.cached() else None
    slots, edges = whole if whole is not None else ([], [(scope.start, scope.end)])
    rows = []
    for edge_start, edge_end in edges:
        rows += ranking_rows(conn, ranking, edge_start, edge_end, scope.channels, ranking.id, scope.slice)
    ready = current(conn, key, slots, scope.channels, values=True, by_channel=False, compute=computer(key))
    for by_channel in ready.values():
        for channel, part in by_channel.items():
            if wanted(channel, scope.channels, False):
                rows += [(s, datetime.fromisoformat(at), row_id) for s, at, row_id in json.loads(part.values)]
    rows.sort(key=ranking.rank)
    return [row_id for _, _, row_id in rows[: ranking.limit]]


def tally(conn: Connection, key: str, scope: Scope, *, by_channel: bool = False) -> dict:
    """How many rows of the tally over the scope carry each label ({label: count}, or {label: [count,
    *sums]} for a tally with sums); with `by_channel`, that per channel ({channel: {label: …}})."""
    counts: dict = {}
    for channel, found in tally_parts(conn, key, scope, by_channel=by_channel):
        into = counts.setdefault(channel, {}) if by_channel else counts
        for label, value in found.items():
            add_to_tally(into, label, value)
    return counts


def tally_parts(
    conn: Connection, key: str, scope: Scope, *, by_channel: bool = False
) -> Iterator[tuple[str, dict]]:
    """The tally over the scope in the pieces it is read in — each cached slot's row, each range read from
    the tables — as (channel, {label: value}) (channel EVERY without `by_channel`): for a reader that
    folds labels into a few groups of its own, without merging every label first."""
    spec = TALLIES[key]
    whole = split(scope.start, scope.end, scope.now) if scope.cached() else None
    slots, edges = whole if whole is not None else ([], [(scope.start, scope.end)])
    for edge_start, edge_end in edges:
        found = tally_counts(
            conn, spec, edge_start, edge_end, scope.channels, scope.agent, scope.slice, by_channel=by_channel
        )
        yield from found.items() if by_channel else [(EVERY, found)]
    ready = current(
        conn, key, slots, scope.channels, values=True, by_channel=by_channel, compute=computer(key)
    )
    for by_slot in ready.values():
        for channel, part in by_slot.items():
            if wanted(channel, scope.channels, by_channel):
                yield channel, json.loads(part.values)


def note(conn: Connection, times: Iterable[datetime], now: datetime) -> None:
    """Notes, in `conn`'s transaction, the hours among `times` that are over at `now` as changed (what the
    triggers do for `conversation` and `wait`), for tables written by ingestion alone (NOTED_BY_INGEST)."""
    note_hours(conn, hours_over(times, now))
