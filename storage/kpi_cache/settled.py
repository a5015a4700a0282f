"""Values over a range of time that is over, kept in a process's memory while nothing in that range
changes: the previous period of a question that reads every row of its days, which no cached slot
can add up (`repeat`: the customers of 90 days matched to their next contact, ~40 ms a period).

A value is kept with the newest change note of its days (storage.kpi_cache.store) when computed. Every
change to a row dated in an hour that is over is noted with a newer id, and a day's newest note never
goes away (ids only grow), so while the newest note over the range is the same, no row of it changed and
the value stands. Only ranges over before the current hour are kept: a change to an hour still running is
not noted. On PostgreSQL nothing is kept while a transaction that noted a change is still open (its note
may be older than the newest seen: `store.newest_note`). Least recently used values go first beyond
LIMIT values or BUDGET bytes (told by the caller for large values); one memory per engine (per database),
shared by the threads answering questions.

`rows_over` keeps, the same way and in a memory of its own (ROWS_LIMIT, ROWS_BUDGET), a measure's cached
rows over a question's slots (storage.kpi_cache.store.current): a breakdown by topic over 90 days reads
and checks ~3,400 of them at every answer otherwise.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Connection

from storage.kpi_cache.slots import Slot
from storage.kpi_cache.store import Rows, newest_note, remembered

LIMIT = 64  # values kept per process (a question's previous period each)
BUDGET = 32 * 1024 * 1024  # bytes of values whose size is told (`repeat`: 90 days at 1M conversations: 18 MB)
ROWS_LIMIT = 1024  # `rows_over`: a measure's rows over a question's slots (one team's, one topic's…)
# their payloads' bytes (shared with the payloads in memory while both hold them): a 90-day scorecard
# reads 22 MB of them (its period and the one before); below that each of its answers pushed out the
# rows of the one before (read in the same order) and none was ever kept
ROWS_BUDGET = 32 * 1024 * 1024
T = TypeVar("T")
_MISSING = object()


def settled(
    conn: Connection,
    key: Hashable,
    start: datetime,
    end: datetime,
    now: datetime,
    compute: Callable[[], T],
    *,
    size: Callable[[T], int] | None = None,
) -> T:
    """`compute()`, the value over `[start, end)` named `key` (which says everything else it depends on),
    or what it gave before if `end` is before `now`'s hour and no row of the range changed since. `size`
    tells the bytes a large value holds (counted against BUDGET; one over it is not kept). A kept value is
    shared: read it, never change it."""
    if end > hour_of(now):
        return compute()
    return _kept(conn, _memory(conn.engine, "values", LIMIT, BUDGET), key, start, end, compute, size)


def rows_over(conn: Connection, key: Hashable, slots: Sequence[Slot], read: Callable[[], Rows]) -> dict:
    """A measure's rows over `slots` (in order; `key` says whose and how read) as `read()` gives them
    (`store.current`), or what it gave before if no row of the slots' days changed since. Slots are over
    by definition (cached an hour after they end). Rows a busy database did not store are not kept: the
    next question computes and stores them. Shared: read them, never change them."""
    if not slots:
        return read()
    memory = _memory(conn.engine, "rows", ROWS_LIMIT, ROWS_BUDGET)
    stamp = _stamp(conn, slots[0].start, slots[-1].end)
    if (found := memory.get(key, stamp)) is not _MISSING:
        return found
    rows = read()
    if stamp is not None and rows.stored:
        memory.put(key, stamp, rows, _rows_bytes(rows))
    return rows


def _rows_bytes(rows: dict) -> int:
    """What `rows_over`'s value holds: its payloads' bytes, and ~200 bytes a row besides."""
    return sum(len(part.values) + 200 for by_channel in rows.values() for part in by_channel.values())


def _kept(
    conn: Connection,
    memory: _Memory,
    key: Hashable,
    start: datetime,
    end: datetime,
    compute: Callable[[], T],
    size: Callable[[T], int] | None,
) -> T:
    stamp = _stamp(conn, start, end)
    if (found := memory.get(key, stamp)) is not _MISSING:
        return found
    value = compute()
    if stamp is not None:
        memory.put(key, stamp, value, size(value) if size is not None else 0)
    return value


def _stamp(conn: Connection, start: datetime, end: datetime) -> int | None:
    """The newest change note over the UTC days of `[start, end)`, read once a question (None: none may be
    trusted now, `store.newest_note`)."""
    first, last = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return remembered(("newest note", first, last), lambda: newest_note(conn, first, last))


def hour_of(now: datetime) -> datetime:
    """The start of `now`'s UTC hour: the change notes' hours are UTC hours (a zone 30 minutes off UTC would
    otherwise put a running hour's minutes in a range taken as over)."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class _Memory:
    def __init__(self, limit: int, budget: int) -> None:
        self.values: OrderedDict[Hashable, tuple[int, object, int]] = OrderedDict()
        self.size = 0
        self.limit, self.budget = limit, budget
        self.lock = threading.Lock()

    def get(self, key: Hashable, stamp: int | None) -> object:
        """The value kept for `key` with `stamp`, or _MISSING (always for no stamp)."""
        if stamp is None:
            return _MISSING
        with self.lock:
            kept = self.values.get(key)
            if kept is None or kept[0] != stamp:
                return _MISSING
            self.values.move_to_end(key)
            return kept[1]

    def put(self, key: Hashable, stamp: int, value: object, size: int) -> None:
        if size > self.budget:
            return
        with self.lock:
            old = self.values.pop(key, None)
            self.size += size - (old[2] if old is not None else 0)
            self.values[key] = (stamp, value, size)
            while len(self.values) > self.limit or self.size > self.budget:
                _, (_, _, dropped) = self.values.popitem(last=False)
                self.size -= dropped


def _memory(engine, name: str, limit: int, budget: int) -> _Memory:
    """The engine's memory `name`, bounded by `limit` values and `budget` bytes (as set now: tests lower
    them)."""
    memories = getattr(engine, "_kpibot_settled", None)
    if memories is None:
        memories = engine._kpibot_settled = {}
    memory = memories.get(name)
    if memory is None:
        memory = memories[name] = _Memory(limit, budget)
    memory.limit, memory.budget = limit, budget
    return memory
