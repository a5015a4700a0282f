"""A measure's values per agent it credits, for `/kpi me` (commands/me_figures.py): every active agent's
first responses (count, mean, median) and CSAT answers, beside which an agent's own are shown.

The plain rows of the cache keep a day's values per channel, not per agent. For the measures in OWNED,
the cache also keeps each day's values grouped by owner (keys "frt@owner", "csat@owner"), per channel
and over every channel: a 4-byte length, the JSON list of owners padded to 4 bytes, one uint32 count per
owner, then the values owner after owner (`compact`, as a plain row's). A first response's owner is its
conversation's first responder, a column the conversation triggers watch (migration 0004); a change of a
conversation's owner notes the hours of its CSAT answers (0014): so the rows are current by the same
change notes as every other. The hours of the days a period starts or ends inside, and any question the
cache does not serve (business hours, `source="tables"`), are read from the tables.
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection

from storage.db import raw_rows
from storage.kpi_cache.measures import MEASURES, OWNER, C, Measure, V
from storage.kpi_cache.settled import settled
from storage.kpi_cache.slots import Slot, split
from storage.kpi_cache.store import Batch, current, one_by_one, wanted
from storage.kpi_cache.tables import EVERY, Part, compact, unpacked
from storage.models import Conversation
from storage.planner import on_channels

SUFFIX = "@owner"
# The measures kept per owner (each without an outcome time, `as_of`): first responses, credited to the
# first responder; CSAT answers, credited like a resolution to their conversation's owner (the assignee,
# else whoever answered first), whose change notes the answers' hours (migration 0014).
OWNED = {
    "frt": MEASURES["frt"],
    "csat": replace(MEASURES["csat"], owner=OWNER, join=(Conversation.__table__, V.conversation_id == C.id)),
}


def values_by_owner(conn: Connection, key: str, scope, *, agent: str | None = None) -> dict[str, np.ndarray]:
    """The measure's values over `scope` (a `kpi_cache.Scope` for every agent) per agent it credits, or
    only `agent`'s: from the cache's days where it serves, the tables for the rest."""
    measure = OWNED[key]
    whole = split(scope.start, scope.end, scope.now) if scope.cached(measure.span is not None) else None
    slots, edges = whole if whole is not None else ([], [(scope.start, scope.end)])
    found: dict[str, list[np.ndarray]] = defaultdict(list)
    for start, end in edges:  # the minutes before the first whole hour, the last hour or two
        for owner, values in read(conn, measure, start, end, scope.channels, scope.now, agent).items():
            found[owner].append(values)
    if slots:  # the cached slots' values per owner, kept while none of them changes
        asked = (key + SUFFIX, tuple(slots), tuple(scope.channels), agent)
        cached = partial(_cached, conn, key, slots, scope.channels, agent)
        kept = settled(conn, asked, slots[0].start, slots[-1].end, scope.now, cached, size=_bytes)
        for owner, values in kept.items():
            found[owner].append(values)
    # whole seconds stay int32 (summed exactly as integers: kpi_cache.tables.exact_sum)
    return {owner: np.concatenate(parts) if len(parts) > 1 else parts[0] for owner, parts in found.items()}


def _cached(
    conn: Connection, key: str, slots: list[Slot], channels: Sequence[str], agent: str | None
) -> dict[str, np.ndarray]:
    """The values per owner (only `agent`'s when given) of the cached slots, one array each (shared once
    kept: never changed)."""
    compute = one_by_one(lambda conn, slot, batch: compute_day(conn, slot, batch, key))
    ready = current(conn, key + SUFFIX, slots, channels, values=True, by_channel=False, compute=compute)
    found: dict[str, list[np.ndarray]] = defaultdict(list)
    for rows in ready.values():
        for channel, part in rows.items():
            if wanted(channel, channels, False):
                for owner, values in _unpacked(part).items():
                    if agent in (None, owner):
                        found[owner].append(values)
    return {owner: np.concatenate(parts) for owner, parts in found.items()}


def _bytes(by_owner: dict[str, np.ndarray]) -> int:
    return sum(values.nbytes for values in by_owner.values())


def read(
    conn: Connection,
    measure: Measure,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    now: datetime,
    agent: str | None = None,
) -> dict[str, np.ndarray]:
    """The measure's values dated in `[start, end)` on `channels` per agent it credits (only `agent`'s
    when given), from the tables, compiled from its declaration like every cache read."""
    where = [
        measure.at >= start,
        measure.at < end,
        *measure.where,
        on_channels(measure.channel, channels),
        measure.owner.is_not(None),
    ]
    if measure.as_of is not None:
        where.append(measure.as_of < now)
    if agent is not None:
        where.append(measure.owner == agent)
    statement = select(measure.owner, measure.value).where(*where)
    if measure.join is not None:
        statement = statement.select_from(measure.at.table.join(*measure.join))
    values: dict[str, list[float]] = defaultdict(list)
    for owner, value in raw_rows(conn, statement):
        values[owner].append(value)
    return {owner: compact(np.asarray(found, dtype=np.float64)) for owner, found in values.items()}


def compute_day(conn: Connection, slot: Slot, batch: Batch, key: str) -> dict[str, Part]:
    """A day's rows of the measure per owner, per channel and over every channel, kept in `batch`."""
    measure = OWNED[key]
    seen = batch.newest_note(conn, slot.day)
    where = [measure.at >= slot.start, measure.at < slot.end, *measure.where, measure.owner.is_not(None)]
    by_channel: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    statement = select(measure.channel, measure.owner, measure.value).where(*where)
    if measure.join is not None:
        statement = statement.select_from(measure.at.table.join(*measure.join))
    for channel, owner, value in raw_rows(conn, statement):
        by_channel[EVERY][owner].append(value)
        if channel is not None:
            by_channel[channel][owner].append(value)
    by_channel.setdefault(EVERY, defaultdict(list))
    rows = {channel: _packed(channel, owners) for channel, owners in by_channel.items()}
    batch.add(key + SUFFIX, slot, seen, rows)
    return rows


def _packed(channel: str, owners: dict[str, list[float]]) -> Part:
    names = sorted(owners)
    header = json.dumps(names).encode()
    header += b" " * (-(len(header) + 4) % 4)
    counts = np.array([len(owners[name]) for name in names], dtype="<u4")
    values = [value for name in names for value in owners[name]]
    body = compact(np.asarray(values, dtype=np.float64)).tobytes()
    blob = struct.pack("<I", len(header)) + header + counts.tobytes() + body
    return Part(channel, len(values), float(sum(values)), blob)


def _unpacked(part: Part) -> dict[str, np.ndarray]:
    """A row's values per owner."""
    blob = part.values
    (size,) = struct.unpack_from("<I", blob)
    names = json.loads(blob[4 : 4 + size])
    counts = np.frombuffer(blob, dtype="<u4", count=len(names), offset=4 + size)
    values = unpacked(blob[4 + size + 4 * len(names) :], part.count)
    ends = np.cumsum(counts)
    bounds = zip(names, counts.tolist(), ends.tolist(), strict=True)
    return {name: values[end - n : end] for name, n, end in bounds}
