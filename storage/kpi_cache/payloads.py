"""The payloads of cached rows a process read lately, kept in its memory so a question over 90 days does
not fetch megabytes of values from the database each time it is asked.

A row's payload is named by what it is about and the newest change note it had seen: (measure, day,
hour, channel, seen). Note ids only grow (storage.models.cache) and a day's newest note never goes
away, so a row computed again after a change has a larger `seen`, and one computed again without a
change holds the same values: a name never stands for two payloads. Whether a row is current is still
decided by the database's notes (`store.stored`); this only spares the bytes. Least recently used
payloads go first once BUDGET bytes are kept; one memory per engine (per database), shared by the
threads answering questions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy.engine import Engine

BUDGET = 64 * 1024 * 1024  # bytes of payloads one process keeps (90 days of every measure: ~40 MB)
Name = tuple[str, object, int, str, int]  # measure, day, hour, channel, seen


class Payloads:
    """A least-recently-used memory of payloads by name, at most `budget` bytes."""

    def __init__(self, budget: int = BUDGET) -> None:
        self.budget = budget
        self.size = 0
        self._kept: OrderedDict[Name, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: Name) -> bytes | None:
        with self._lock:
            payload = self._kept.get(name)
            if payload is not None:
                self._kept.move_to_end(name)
            return payload

    def put(self, name: Name, payload: bytes) -> None:
        if len(payload) > self.budget:
            return
        with self._lock:
            old = self._kept.pop(name, None)
            self.size += len(payload) - (0 if old is None else len(old))
            self._kept[name] = payload
            while self.size > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self.size -= len(dropped)

    def __len__(self) -> int:
        return len(self._kept)


def payloads(engine: Engine) -> Payloads:
    """The engine's memory of payloads (made on first use)."""
    memory = getattr(engine, "_kpibot_payloads", None)
    if memory is None:
        memory = engine._kpibot_payloads = Payloads()
    return memory
