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

import functools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy.engine import Connection

from storage.kpi_cache import labelled, quarter_tallies, quarters
from storage.kpi_cache.compute import computer, quarter_computer, warm
from storage.kpi_cache.labelled import note_conversations
from storage.kpi_cache.measures import MEASURES, QUARTERED, RANKINGS, TALLIES
from storage.kpi_cache.sample import Sample, distinct_count
from storage.kpi_cache.settled import rows_over
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
__all__ += [
    "last_cached_day",
    "note",
    "note_conversations",
    "remembered",
    "sample",
    "shared_reads",
    "tally",
    "top",
    "warm",
]

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

    def cached(self, timed: bool = False, *, sliced: bool = False) -> bool:
        """Whether the cache may serve: every agent, no slice (with `sliced`, a slice of hours alone, see
        storage.kpi_cache.quarters, or of one team or topic, see storage.kpi_cache.labelled), and calendar
        time for a measure whose values are durations between two times (`timed`)."""
        if self.source != "auto" or self.agent is not None:
            return False
        if self.slice is not None and not (sliced and (self.hours_only or labelled.key("", self.slice))):
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
    """How many different ids a `distinct` measure holds over the scope (`sample.distinct_count`)."""
    return distinct_count(
        [unpacked(part.values, part.count) for part in _parts(conn, key, scope) if part.count]
    )


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
    cached = scope.cached(measure.span is not None, sliced=True)
    asked = ("split", scope.start, scope.end, scope.now)
    whole = remembered(asked, lambda: split(scope.start, scope.end, scope.now)) if cached else None
    if whole is None:
        return measure_parts(conn, measure, scope.start, scope.end, scope.channels, **read)
    slots, tables = whole
    if scope.hours_only:
        return _hours_parts(conn, key, scope, read, slots, tables)
    return _plain_parts(conn, key, scope, read, tables, slots, slots)


def _plain_parts(
    conn: Connection, key: str, scope: Scope, read: dict, ranges: list, slots: list, read_slots: list
) -> list[Part]:
    """`ranges` read from the tables and the cached rows of `slots`, read with those of `read_slots` (the
    slots every row of a breakdown reads, so that they share one read); for one team or topic, its rows
    (storage.kpi_cache.labelled)."""
    measure = MEASURES[key]
    label = labelled.key(key, scope.slice)
    parts = []
    for start, end in ranges:
        if label is None:
            parts += measure_parts(conn, measure, start, end, scope.channels, **read)
        else:  # one read for every team (topic) of a breakdown
            parts += labelled.range_parts(
                conn, label, start, end, scope.channels, scope.now, read["by_channel"]
            )
    ready = _cached(
        conn, key, label, read_slots, scope, values=measure.value is not None, by_channel=read["by_channel"]
    )
    for slot in slots:
        parts += _slot_parts(conn, measure, scope, read, slot, ready[slot])
    return parts


class _HoursPlan(NamedTuple):
    """How a scope sliced by hours alone is read: the hour slots the hours cover (taken whole), every hour
    slot (read together, the reads shared by a breakdown's rows), the ranges read from the tables with the
    hours' slice, the days, and the runs of their quarter cells the hours cover (None: none to take)."""

    whole: list
    hour_slots: list
    ranges: list[tuple[datetime, datetime]]
    days: list
    runs: quarters.Runs | None


def _hours_plan(scope: Scope, slots: list, tables: list[tuple[datetime, datetime]]) -> _HoursPlan:
    """The `_HoursPlan` of a scope sliced by hours alone over its `split` (slots, and ranges around them)."""
    hours = scope.slice.hours
    hour_slots = [slot for slot in slots if slot.hour is not None]
    days = [slot for slot in slots if slot.hour is None]  # consecutive days
    whole, cut_out = remembered(("plan", tuple(hour_slots), hours), lambda: quarters.plan(hour_slots, hours))
    runs = None
    if days:
        asked = ("cells", days[0], len(days), hours)
        runs = remembered(asked, lambda: quarters.cells(hours, days[0].day, len(days)))
        if runs is None:  # hours off the quarter hours: the days from the tables too
            cut_out = [*cut_out, *((day.start, day.end) for day in days)]
    ranges = [(start, end) for start, end in [*tables, *cut_out] if within(hours, start, end)]
    if runs is not None and not len(runs[0]):
        runs = None
    return _HoursPlan(whole, hour_slots, ranges, days, runs)


def _hours_parts(
    conn: Connection, key: str, scope: Scope, read: dict, slots: list, tables: list[tuple[datetime, datetime]]
) -> list[Part]:
    """`_parts` for a scope sliced by hours alone (a row of `by hour` or `by weekday`, a heatmap cell): the
    hour slots the hours cover taken whole, the days' quarter-hour rows laid end to end once per
    breakdown (`quarters.Stack`) and cut to the hours' quarters, the rest from the tables with the
    hours' slice. Every row of a breakdown reads the same slots: the reads are shared."""
    measure, by_channel = MEASURES[key], read["by_channel"]
    plan = _hours_plan(scope, slots, tables)
    days = plan.days
    parts = _plain_parts(conn, key, scope, read, plan.ranges, plan.whole, plan.hour_slots)
    if plan.runs is None:
        return parts
    by_quarter = current(
        conn,
        key + QUARTERED,
        days,
        scope.channels,
        values=True,
        by_channel=by_channel,
        compute=quarter_computer(key),
    )
    asked = ("stacks", key, days[0], len(days), scope.channels, by_channel, scope.now)
    stale, stacks = remembered(asked, lambda: _stacks(by_quarter, days, scope, by_channel))
    for slot in stale:
        parts += measure_parts(conn, measure, slot.start, slot.end, scope.channels, **read)
    return parts + [quarters.taken(stack, plan.runs, total=not measure.distinct) for stack in stacks]


def _slot_parts(
    conn: Connection, measure, scope: Scope, read: dict, slot, rows: dict[str, Part]
) -> list[Part]:
    """A cached slot's rows in the scope, or the slot read from the tables when the scope asks as of before
    its outcomes."""
    if _asked_before(rows, scope.now):
        return measure_parts(conn, measure, slot.start, slot.end, scope.channels, **read)
    return [row for channel, row in rows.items() if wanted(channel, scope.channels, read["by_channel"])]


def _stacks(
    by_quarter: dict, days: list, scope: Scope, by_channel: bool
) -> tuple[list, list[quarters.Stack]]:
    """The days asked as of before their outcomes (read from the tables), and the other days' quarter-hour
    rows laid end to end, one stack per channel in the scope."""
    taken = [None if _asked_before(by_quarter[slot], scope.now) else by_quarter[slot] for slot in days]
    stale = [slot for slot, rows in zip(days, taken, strict=True) if rows is None]
    channels = {c for rows in taken if rows for c in rows if wanted(c, scope.channels, by_channel)}
    return stale, [quarters.stacked(channel, taken) for channel in sorted(channels)]


def _asked_before(rows: dict[str, Part], now: datetime) -> bool:
    """Whether a slot's rows hold outcomes at or after `now` (the scope asks as of before them)."""
    latest = rows[EVERY].latest
    return latest is not None and latest >= now


def top(conn: Connection, key: str, scope: Scope) -> list[int]:
    """The ids of the first `limit` rows of the ranking over the scope, first first."""
    ranking = RANKINGS[key]
    label, slots, edges = _pieces(key, scope)
    rows = []
    for edge_start, edge_end in edges:
        if label is None:
            rows += ranking_rows(conn, ranking, edge_start, edge_end, scope.channels, ranking.id, scope.slice)
        else:  # one read for every team (topic) of a breakdown
            rows += labelled.range_top(conn, label, edge_start, edge_end, scope.channels)
    ready = _cached(conn, key, label, slots, scope)
    for by_channel in ready.values():
        for channel, part in by_channel.items():
            if wanted(channel, scope.channels, False):
                rows += _ranked(part.values)
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
    folds labels into a few groups of its own, without merging every label first. A cached row's values
    are shared with later readers: read them, never change them."""
    spec = TALLIES[key]
    if scope.hours_only and key + QUARTERED in TALLIES and scope.cached(sliced=True):
        yield from _hours_tally(conn, key, scope, by_channel)
        return
    label, slots, edges = _pieces(key, scope)
    for edge_start, edge_end in edges:
        if label is None:
            found = tally_counts(
                conn,
                spec,
                edge_start,
                edge_end,
                scope.channels,
                scope.agent,
                scope.slice,
                by_channel=by_channel,
            )
        else:  # one read for every team (topic) of a breakdown
            found = labelled.range_tally(conn, label, edge_start, edge_end, scope.channels, by_channel)
        yield from found.items() if by_channel else [(EVERY, found)]
    ready = _cached(conn, key, label, slots, scope, by_channel=by_channel)
    for by_slot in ready.values():
        for channel, part in by_slot.items():
            if wanted(channel, scope.channels, by_channel):
                yield channel, _counted(part.values)


def _hours_tally(conn: Connection, key: str, scope: Scope, by_channel: bool) -> Iterator[tuple[str, dict]]:
    """`tally_parts` for a scope sliced by hours alone, of a tally kept per quarter hour too
    (storage.kpi_cache.quarter_tallies): the hour slots the hours cover taken whole, the days' quartered
    rows laid end to end once per breakdown and cut to the hours' quarters, the rest from the tables."""
    spec = TALLIES[key]
    asked = ("split", scope.start, scope.end, scope.now)
    whole = remembered(asked, lambda: split(scope.start, scope.end, scope.now))
    plan = _hours_plan(scope, *(whole if whole is not None else ([], [(scope.start, scope.end)])))
    for start, end in plan.ranges:
        found = tally_counts(conn, spec, start, end, scope.channels, None, scope.slice, by_channel=by_channel)
        yield from found.items() if by_channel else [(EVERY, found)]
    ready = _cached(conn, key, None, plan.hour_slots, scope, by_channel=by_channel)
    for slot in plan.whole:
        for channel, part in ready[slot].items():
            if wanted(channel, scope.channels, by_channel):
                yield channel, _counted(part.values)
    if plan.runs is None:
        return
    days = plan.days
    by_quarter = _cached(conn, key + QUARTERED, None, days, scope, by_channel=by_channel)
    asked = ("tally stacks", key, days[0], len(days), scope.channels, by_channel)
    for stack in remembered(
        asked, lambda: _tally_stacks(spec, [by_quarter[day] for day in days], scope, by_channel)
    ):
        yield stack.channel, quarter_tallies.taken(stack, plan.runs)


def _tally_stacks(spec, days: list[dict[str, Part]], scope: Scope, by_channel: bool) -> list:
    """The days' quartered rows of a tally laid end to end, one stack per channel in the scope."""
    channels = {channel for rows in days for channel in rows if wanted(channel, scope.channels, by_channel)}
    width = 1 + len(spec.sums)
    return [quarter_tallies.stacked(channel, days, _counted, width) for channel in sorted(channels)]


def _pieces(key: str, scope: Scope) -> tuple[str | None, list, list[tuple[datetime, datetime]]]:
    """For a tally or ranking over the scope: the key of one team's or topic's rows (None: the plain rows),
    the cached slots, and the ranges around them read from the tables (all of it, when not cached)."""
    label = labelled.key(key, scope.slice) if scope.cached(sliced=True) else None
    asked = ("split", scope.start, scope.end, scope.now)
    whole = (
        remembered(asked, lambda: split(scope.start, scope.end, scope.now))
        if scope.cached() or label
        else None
    )
    slots, edges = whole if whole is not None else ([], [(scope.start, scope.end)])
    return label, slots, edges


def _cached(
    conn: Connection,
    key: str,
    label: str | None,
    slots: list,
    scope: Scope,
    *,
    values: bool = True,
    by_channel: bool = False,
) -> dict:
    """The current rows of `key` (a measure, tally or ranking), or of one team's or topic's (`label`), over
    `slots`: read with those of the breakdown's other teams or topics, the missing ones computed; kept in
    memory while none of their days changes (`settled.rows_over`)."""
    kept, compute = (key, computer(key)) if label is None else (label, labelled.computer(label))
    together = labelled.together(label)
    read = functools.partial(
        current,
        conn,
        kept,
        slots,
        scope.channels,
        values=values,
        by_channel=by_channel,
        compute=compute,
        together=together,
    )
    return rows_over(conn, (kept, tuple(slots), scope.channels, values, by_channel), slots, read)


# A cached row's ranking or tally, parsed once while recently read: a breakdown by topic over 90 days parses
# ~3,400 of them per answer, the same ones at every answer (keyed by the payload's bytes, whose hash is
# kept with them). Bounded in entries (a tally is a few labels, a ranking at most a slot's first rows: ~16 MB
# at most).
_PARSED = 16_384


@functools.lru_cache(maxsize=_PARSED)
def _ranked(payload: bytes) -> tuple[tuple[float, datetime, int], ...]:
    """A ranking row's (score, time, id), first first."""
    return tuple((score, datetime.fromisoformat(at), row_id) for score, at, row_id in json.loads(payload))


@functools.lru_cache(maxsize=_PARSED)
def _counted(payload: bytes) -> dict:
    """A tally row's {label: count or [count, *sums]}: shared by every reader, never to be changed."""
    return json.loads(payload)


def note(conn: Connection, times: Iterable[datetime], now: datetime) -> None:
    """Notes, in `conn`'s transaction, the hours among `times` that are over at `now` as changed (what the
    triggers do for `conversation` and `wait`), for tables written by ingestion alone (NOTED_BY_INGEST)."""
    note_hours(conn, hours_over(times, now))
