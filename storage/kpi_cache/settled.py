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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Connection

from storage.kpi_cache.store import newest_note, remembered

LIMIT = 64  # values kept per process (a question's previous period each)
BUDGET = 32 * 1024 * 1024  # bytes of values whose size is told (`repeat`: 90 days at 1M conversations: 18 MB)
T = TypeVar("T")


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
    first, last = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
    stamp = remembered(
        ("newest note", first, last), lambda: newest_note(conn, first, last)
    )  # once a question
    memory = _memory(conn.engine)
    if stamp is not None:
        with memory.lock:
            kept = memory.values.get(key)
            if kept is not None and kept[0] == stamp:
                memory.values.move_to_end(key)
                return kept[1]
    value = compute()
    if stamp is not None:
        memory.put(key, stamp, value, size(value) if size is not None else 0)
    return value


def hour_of(now: datetime) -> datetime:
    """The start of `now`'s UTC hour: the change notes' hours are UTC hours (a zone 30 minutes off UTC would
    otherwise put a running hour's minutes in a range taken as over)."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class _Memory:
    def __init__(self) -> None:
        self.values: OrderedDict[Hashable, tuple[int, object, int]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def put(self, key: Hashable, stamp: int, value: object, size: int) -> None:
        if size > BUDGET:
            return
        with self.lock:
            old = self.values.pop(key, None)
            self.size += size - (old[2] if old is not None else 0)
            self.values[key] = (stamp, value, size)
            while len(self.values) > LIMIT or self.size > BUDGET:
                _, (_, _, dropped) = self.values.popitem(last=False)
                self.size -= dropped


def _memory(engine) -> _Memory:
    memory = getattr(engine, "_kpibot_settled", None)
    if memory is None:
        memory = engine._kpibot_settled = _Memory()
    return memory
