"""Who opened a conversation when, kept per slot in `kpi_slot` (measure "contacts"), for the repeat-contact
KPI (commands/kpis/recontact.py): it matches each customer's conversations to their next one within 72
hours, over a period and the 72 hours after it, which from the tables is a read of every conversation
opened then (~94,000 at 7 days on a million).

A slot's row (over every channel only: a customer's next contact counts on any channel) holds, for each
conversation opened in it with a customer: a 64-bit hash of the customer handle, one of the handle with the
channel, the opening time (microseconds since the epoch) and the channel, as a code into the row's list
of channel names. Which of the two hashes is the customer's key is decided when asked: the handle alone
if `customer` events name that customer (then they are one customer on every channel), else the handle
on its channel — a customer event arriving later changes that without touching the cached rows. The
conversation triggers watch `customer` (migration 0014), `channel` and `opened_at`, so a row is current
by the same change notes as every other.

A row's blob: a 4-byte length, the JSON list of channel names padded to 8 bytes, then the handles' hashes,
the handle-and-channel hashes and the times (int64 each), then the channel codes (uint16). The
conversations are in customer order — by the handle-and-channel hash, then by time (from migration 0015;
it deletes the rows kept before) — so the days of a period, one after another, are sorted runs that
`recontact.repeat` puts in customer order with one stable sort (`by_customer`).
"""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from storage.db import raw_rows
from storage.kpi_cache.measures import C
from storage.kpi_cache.slots import Slot, split
from storage.kpi_cache.store import Batch, current, one_by_one
from storage.kpi_cache.tables import EVERY, Part
from storage.models import CustomerChange

KEY = "contacts"
_CC = CustomerChange.__table__.c


class Contacts(NamedTuple):
    """Conversations opened with a customer: the handle's hash, the handle-and-channel hash, when
    (microseconds since the epoch) and the channel (a code into `channels`)."""

    handle: np.ndarray
    alone: np.ndarray
    at: np.ndarray
    channel: np.ndarray
    channels: list[str]


def opened(conn: Connection, start: datetime, end: datetime, now: datetime) -> Contacts:
    """The conversations with a customer opened in `[start, end)`: the whole slots over at `now` from the
    cache, the rest from the tables."""
    whole = split(start, end, now)
    slots, edges = whole if whole is not None else ([], [(start, end)])
    found = [(edge_start, _read(conn, edge_start, edge_end)) for edge_start, edge_end in edges]
    ready = current(conn, KEY, slots, (), values=True, by_channel=False, compute=one_by_one(compute_day))
    found += [(slot.start, _unpacked(ready[slot][EVERY].values)) for slot in slots]
    found.sort(key=lambda piece: piece[0])  # in time order: each piece in customer order (`by_customer`)
    return _joined([piece for _, piece in found])


def known(conn: Connection) -> tuple[tuple, np.ndarray]:
    """The hashes of the handles `customer` events name, sorted (for np.isin), with the table's stamp (its
    newest id and its size: rows are added, or removed by retention). Hashed again only when the stamp
    changed; until then kept on the engine, as a CRM may name hundreds of thousands of customers."""
    stamp = tuple(
        conn.execute(select(func.max(_CC.id), func.count()).select_from(CustomerChange.__table__)).one()
    )
    kept = getattr(conn.engine, "_kpibot_known_customers", None)
    if kept is not None and kept[0] == stamp:
        return kept
    names = raw_rows(conn, select(_CC.customer).distinct())
    hashes = np.unique(np.array([_hash(name) for (name,) in names], dtype=np.int64))
    conn.engine._kpibot_known_customers = (stamp, hashes)
    return stamp, hashes


def compute_day(conn: Connection, slot: Slot, batch: Batch) -> dict[str, Part]:
    """A slot's row, kept in `batch`."""
    seen = batch.newest_note(conn, slot.day)
    found = _read(conn, slot.start, slot.end)
    row = {EVERY: Part(EVERY, len(found.at), 0.0, _packed(found))}
    batch.add(KEY, slot, seen, row)
    return row


def _read(conn: Connection, start: datetime, end: datetime) -> Contacts:
    """The conversations with a customer opened in `[start, end)`, from the tables."""
    statement = select(C.customer, C.channel, C.opened_at).where(
        C.opened_at >= start, C.opened_at < end, C.customer.is_not(None)
    )
    rows = raw_rows(conn, statement)
    channels = sorted({channel or "" for _, channel, _ in rows})
    code = {name: n for n, name in enumerate(channels)}
    handle = np.array([_hash(who) for who, _, _ in rows], dtype=np.int64)
    alone = np.array([_hash(f"{who}\x00{channel or ''}") for who, channel, _ in rows], dtype=np.int64)
    at = microseconds([at for _, _, at in rows])
    order = np.lexsort((at, alone))  # in customer order (see the module's docstring)
    codes = np.array([code[channel or ""] for _, channel, _ in rows], dtype=np.uint16)
    return Contacts(handle[order], alone[order], at[order], codes[order], channels)


def _hash(text: str) -> int:
    """A stable 64-bit hash (Python's own `hash` of a string changes with every process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


def microseconds(times: list) -> np.ndarray:
    """Times as int64 microseconds since the epoch: SQLite's raw text ("2026-11-20 09:00:00.000000") or
    PostgreSQL's naive UTC datetimes."""
    if not times:
        return np.empty(0, dtype=np.int64)
    return np.asarray(times, dtype="datetime64[us]").astype(np.int64)


def _packed(found: Contacts) -> bytes:
    header = json.dumps(found.channels).encode()
    header += b" " * (-(len(header) + 4) % 8)
    arrays = (found.handle.astype("<i8"), found.alone.astype("<i8"), found.at.astype("<i8"))
    return (
        struct.pack("<I", len(header))
        + header
        + b"".join(a.tobytes() for a in arrays)
        + found.channel.tobytes()
    )


def _unpacked(blob: bytes) -> Contacts:
    (size,) = struct.unpack_from("<I", blob)
    channels = json.loads(blob[4 : 4 + size])
    body = memoryview(blob)[4 + size :]
    n = len(body) // 26  # 3 x 8 bytes and 2 bytes per conversation
    handle, alone, at = (np.frombuffer(body, dtype="<i8", count=n, offset=k * 8 * n) for k in range(3))
    return Contacts(handle, alone, at, np.frombuffer(body, dtype="<u2", offset=24 * n), channels)


def _joined(found: list[Contacts]) -> Contacts:
    """The parts as one, their channel codes into one list of names."""
    channels = sorted({name for part in found for name in part.channels})
    code = {name: n for n, name in enumerate(channels)}
    recoded = [
        np.array([code[name] for name in part.channels], dtype=np.uint16)[part.channel] for part in found
    ]
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return Contacts(empty, empty, empty, np.empty(0, dtype=np.uint16), [])
    return Contacts(
        np.concatenate([part.handle for part in found]),
        np.concatenate([part.alone for part in found]),
        np.concatenate([part.at for part in found]),
        np.concatenate(recoded),
        channels,
    )


def by_customer(key: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The order putting conversations by customer `key`, then by time `at`: what np.lexsort((at, key))
    gives. The days' rows are each in customer order and come one day after another, so a stable sort by
    the key alone (merging those runs: ~30 ms for a million against ~90) keeps each customer's
    conversations in time order; that is checked, and anything else (a customer that `customer` events
    name, keyed by the handle alone; a range read from the tables) is sorted by both."""
    order = np.argsort(key, kind="stable")
    keys, times = key[order], at[order]
    if np.any((keys[1:] == keys[:-1]) & (times[1:] < times[:-1])):
        return np.lexsort((at, key))
    return order
