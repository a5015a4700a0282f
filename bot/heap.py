"""The collector and a long-running bot: what `kpibot serve` has loaded by the time it listens (modules,
the app, the text analyser's lexicons: ~110,000 objects) is set aside from garbage collection.

CPython's full collection walks every tracked object; on this project's 2-core machine that was ~50 ms,
and it fell inside a question every few answers: `frt by hour 90d` at p50 41 ms had one answer in 30 at
99 ms, all of it the collection (docs/performance.md, "Pauses of the garbage collector"). Objects that
live as long as the process never become garbage, so `gc.freeze` moves them out of the collector's
sight; a full collection then walks only what questions create (~5 ms).
"""

from __future__ import annotations

import gc


def freeze_loaded() -> int:
    """Collects once, then sets every object alive aside from later collections (`gc.freeze`); returns
    how many were set aside."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
