"""Per-day agent activity for the `agents` team report, kept in `kpi_slot` (measure "agents") beside the
KPI measures, so a 90-day report reads 90 small rows per scope instead of millions of messages.

A day's row per channel (and over every channel) holds, per agent: their name, the human replies they
sent, the conversations they replied in (ids: "conversations" is a count of different conversations over
the whole period, which per-day counts do not add up to), their first responses (count, sum and slowest
of the seconds) and the resolutions credited to them (as owner: the assignee, else whoever answered
first). What dates each: the reply's time, the first response's, the last resolution's. What a period
holds beyond its whole cached hours comes from the tables, as for every cached measure
(`slots.split`); with business hours, all of it does (first responses are counted again in open time).

A row's blob is a 4-byte length, a JSON header (agent, name, replies, ids, first responses, their sum and
maximum, resolutions; and the id width) padded to 4 bytes, then the ids, agent after agent.
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from storage.db import raw_rows
from storage.kpi_cache.measures import HUMAN_REPLY, OWNER, C, M
from storage.kpi_cache.settled import settled
from storage.kpi_cache.slots import Slot, split
from storage.kpi_cache.store import Batch, current, one_by_one, wanted
from storage.kpi_cache.tables import EVERY, Duration, Part
from storage.planner import on_channels, unindexed

KEY = "agents"


@dataclass
class Activity:
    """One agent's activity over a range: what `agents` reports, with the ids of the conversations they
    replied in as arrays (one per part, possibly overlapping)."""

    name: str | None = None
    replies: int = 0
    ids: list[np.ndarray] = field(default_factory=list)
    answered: int = 0  # first responses with a time
    frt_total: float = 0.0
    frt_max: float | None = None
    resolutions: int = 0

    def add(self, other: Activity) -> None:
        if other.name is not None and (self.name is None or other.name > self.name):
            self.name = other.name  # the greatest name, as SQL max() over the replies gives
        self.replies += other.replies
        self.ids += other.ids
        self.answered += other.answered
        self.frt_total += other.frt_total
        if other.frt_max is not None and (self.frt_max is None or other.frt_max > self.frt_max):
            self.frt_max = other.frt_max
        self.resolutions += other.resolutions


def activity(
    conn: Connection,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    now: datetime,
    *,
    duration: Duration | None = None,
    cache: bool = True,
) -> dict[str, dict]:
    """Per agent active in `[start, end)` on `channels` (() = all): name, replies, conversations (replied
    in), frt_mean and frt_max (of the first responses they gave, counted by `duration` when given) and
    resolutions; from the cache's slots as of `now` where `cache` allows and business hours do not."""
    whole = split(start, end, now) if cache and duration is None else None
    slots, edges = whole if whole is not None else ([], [(start, end)])
    merged: dict[str, Activity] = defaultdict(Activity)
    for edge_start, edge_end in edges:
        for by_agent in _gather(conn, edge_start, edge_end, channels, duration).values():
            _merge(merged, by_agent)
    if slots:  # the cached slots merged, kept while none of them changes (a 90-day report: 90 rows' ids)
        asked = (KEY, tuple(slots), tuple(channels))
        read = partial(_cached, conn, slots, channels)
        _merge(merged, settled(conn, asked, slots[0].start, slots[-1].end, now, read, size=_bytes))
    for one in merged.values():  # one array per agent: a few numpy calls each, not a few per day
        one.ids = [np.concatenate(one.ids)] if len(one.ids) > 1 else one.ids
    arrays = [ids for one in merged.values() for ids in one.ids if ids.size]
    seen = np.zeros(max((int(ids.max()) for ids in arrays), default=-1) + 1, dtype=bool)
    return {agent: _report(one, seen) for agent, one in merged.items()}


def _cached(conn: Connection, slots: list[Slot], channels: Sequence[str]) -> dict[str, Activity]:
    """The activity per agent of the cached slots, each agent's ids in one array (shared once kept:
    merged into another, never changed)."""
    merged: dict[str, Activity] = defaultdict(Activity)
    computer = one_by_one(compute_day)
    cached = current(conn, KEY, slots, channels, values=True, by_channel=False, compute=computer)
    for by_channel in cached.values():
        for channel, part in by_channel.items():
            if wanted(channel, channels, False):
                _merge(merged, _unpack(part.values))
    for one in merged.values():
        one.ids = [np.concatenate(one.ids)] if len(one.ids) > 1 else one.ids
    return dict(merged)


def _bytes(by_agent: dict[str, Activity]) -> int:
    return sum(ids.nbytes for one in by_agent.values() for ids in one.ids)


def compute_day(conn: Connection, slot: Slot, batch: Batch) -> dict[str, Part]:
    """A slot's (a day's, or an hour's) activity per channel and over every channel, stored like a series'
    day."""
    seen = batch.newest_note(conn, slot.day)
    by_channel = _gather(conn, slot.start, slot.end, ())
    every: dict[str, Activity] = defaultdict(Activity)
    for by_agent in by_channel.values():
        _merge(every, by_agent)
    by_channel[EVERY] = every
    parts = {
        channel: Part(channel, sum(one.replies for one in by_agent.values()), 0.0, _pack(by_agent))
        for channel, by_agent in by_channel.items()
        if channel is not None  # rows without a channel count over every channel only
    }
    batch.add(KEY, slot, seen, parts)
    return parts


def _gather(
    conn: Connection,
    start: datetime,
    end: datetime,
    channels: Sequence[str],
    duration: Duration | None = None,
) -> dict[str | None, dict[str, Activity]]:
    """Activity per channel and agent in `[start, end)` on `channels` (() = all), from the tables; first
    responses counted by `duration` when given."""

    def on(column):
        return on_channels(column, channels)

    by_channel: dict[str | None, dict[str, Activity]] = defaultdict(lambda: defaultdict(Activity))
    replies = select(M.channel, M.author_id, func.max(M.author_name), M.conversation_id, func.count()).where(
        *HUMAN_REPLY, M.at >= start, M.at < end, M.author_id.is_not(None), on(M.channel)
    )
    sent: dict[tuple, int] = defaultdict(int)
    names: dict[tuple, str] = {}
    ids: dict[tuple, list[int]] = defaultdict(list)
    grouped = raw_rows(conn, replies.group_by(M.channel, M.author_id, M.conversation_id))  # thousands a day
    for channel, agent, name, conversation, n in grouped:
        key = (channel, agent)
        sent[key] += n
        ids[key].append(conversation)
        if name is not None and (key not in names or name > names[key]):
            names[key] = name
    for (channel, agent), conversations in ids.items():
        one = by_channel[channel][agent]
        one.add(Activity(names.get((channel, agent)), sent[channel, agent]))
        one.ids.append(np.asarray(conversations, dtype=np.int64))
    first = select(
        C.channel,
        C.first_responder,
        func.count(C.frt_seconds),
        func.sum(C.frt_seconds),
        func.max(C.frt_seconds),
    ).where(
        C.first_response_at >= start, C.first_response_at < end, C.first_responder.is_not(None), on(C.channel)
    )
    if duration is None:
        for channel, agent, answered, total, slowest in conn.execute(
            first.group_by(C.channel, C.first_responder)
        ):
            by_channel[channel][agent].add(
                Activity(answered=answered, frt_total=total or 0.0, frt_max=slowest)
            )
    else:
        answered = select(C.channel, C.first_responder, C.opened_at, C.first_response_at).where(
            first.whereclause, C.frt_seconds.is_not(None)
        )
        for channel, agent, opened, replied in conn.execute(answered):
            seconds = duration(opened, replied)
            by_channel[channel][agent].add(Activity(answered=1, frt_total=seconds, frt_max=seconds))
    owner = OWNER
    resolved = select(C.channel, owner, func.count()).where(
        C.last_resolved_at >= start,
        C.last_resolved_at < end,
        unindexed(C.resolved).is_(True),
        owner.is_not(None),
        on(C.channel),
    )
    for channel, agent, count in conn.execute(resolved.group_by(C.channel, owner)):
        by_channel[channel][agent].add(Activity(resolutions=count))
    return by_channel


def _merge(into: dict[str, Activity], by_agent: dict[str, Activity]) -> None:
    for agent, one in by_agent.items():
        into[agent].add(one)


def _report(one: Activity, seen: np.ndarray) -> dict:
    return {
        "name": one.name,
        "replies": one.replies,
        "conversations": _distinct(one.ids, seen),
        "frt_mean": one.frt_total / one.answered if one.answered else None,
        "frt_max": None if one.frt_max is None else float(one.frt_max),
        "resolutions": one.resolutions,
    }


def _distinct(arrays: list[np.ndarray], seen: np.ndarray) -> int:
    """How many different ids the arrays hold (an id may repeat: a conversation replied in on several
    days), marked in `seen` (all False, a place per id; left all False): no sort."""
    if not arrays:
        return 0
    ids = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    seen[ids] = True
    count = int(np.count_nonzero(seen))
    seen[ids] = False
    return count


def _pack(by_agent: dict[str, Activity]) -> bytes:
    ids = [
        np.unique(np.concatenate(one.ids)) if one.ids else np.empty(0, np.int64) for one in by_agent.values()
    ]
    flat = np.concatenate(ids) if ids else np.empty(0, np.int64)
    wide = bool(flat.size) and int(np.abs(flat).max()) >= 2**31
    rows = [
        [
            agent,
            one.name,
            one.replies,
            len(agent_ids),
            one.answered,
            one.frt_total,
            one.frt_max,
            one.resolutions,
        ]
        for (agent, one), agent_ids in zip(by_agent.items(), ids, strict=True)
    ]
    header = json.dumps({"rows": rows, "wide": wide}).encode()
    header += b" " * (-len(header) % 4)
    return struct.pack("<I", len(header)) + header + flat.astype("<i8" if wide else "<i4").tobytes()


def _unpack(blob: bytes) -> dict[str, Activity]:
    (size,) = struct.unpack_from("<I", blob)
    header = json.loads(blob[4 : 4 + size])
    flat = np.frombuffer(blob, dtype="<i8" if header["wide"] else "<i4", offset=4 + size)
    by_agent, at = {}, 0
    for agent, name, replies, n, answered, total, slowest, resolutions in header["rows"]:
        by_agent[agent] = Activity(name, replies, [flat[at : at + n]], answered, total, slowest, resolutions)
        at += n
    return by_agent
