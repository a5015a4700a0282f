"""The collector and a long-running bot: what `kpibot serve` has loaded by the time it listens (modules,
the app, the text analyser's lexicons: ~110,000 objects) is set aside from garbage collection.

CPython's full collection walks every tracked object; on this project's 2-core machine that was ~50 ms,
and it fell inside a question every few answers: `frt by hour 90d` at p50 41 ms had one answer in 30 at
99 ms, all of it the collection (docs/performance.md, "Pauses of the garbage collector"). Objects that
live as long as the process never become garbage, so `gc.freeze` moves them out of the collector's
sight; a full collection then walks only what questions create (~5 ms).

glibc's allocator and a threaded server: each thread that allocates gets an arena of its own (up to 8 per
core), and memory freed in an arena stays in the process. A question's transient arrays (tens of MB at 1M
conversations), freed in whichever threads answered, kept `kpibot serve` near 250 MB after a few minutes
of mixed questions. `bound_arenas` caps the arenas at two before any thread starts, and `keep_released`
hands free pages back to the system every 30 s (`malloc_trim`); docs/performance.md, "`kpibot serve` at
scale", has the figures. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from functools import cache

ARENAS = 2  # glibc malloc arenas: the answering threads share them instead of one each
RELEASE_SECONDS = 30.0
_M_ARENA_MAX = -8  # mallopt's parameter, from glibc's malloc.h


def freeze_loaded() -> int:
    """Collects once, then sets every object alive aside from later collections (`gc.freeze`); returns
    how many were set aside."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has `malloc_trim`), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim, libc.mallopt  # noqa: B018 (only glibc has both)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def bound_arenas(count: int = ARENAS) -> bool:
    """Caps glibc's malloc arenas at `count` (call it before threads start); whether it was applied."""
    libc = _glibc()
    return libc is not None and libc.mallopt(_M_ARENA_MAX, count) == 1


def release_freed() -> bool:
    """Hands the allocator's free pages back to the system (`malloc_trim(0)`); whether any were."""
    libc = _glibc()
    return libc is not None and libc.malloc_trim(0) == 1


def keep_released(every: float = RELEASE_SECONDS) -> threading.Event:
    """Calls `release_freed` every `every` seconds in a daemon thread, until the returned event is set."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            release_freed()

    threading.Thread(target=run, name="kpibot-release-freed", daemon=True).start()
    return stop
