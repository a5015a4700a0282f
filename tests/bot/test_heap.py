"""What `kpibot serve` has loaded when it starts listening is set aside from garbage collection
(bot/heap.py): a full collection during a question then walks only what questions create. Its allocator
shares two arenas between threads, and memory freed between live blocks goes back to the system."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import pytest

import bot.server
from bot import heap
from bot.heap import freeze_loaded
from tests.slack_standin import wait_for


def test_freezing_sets_every_object_alive_aside_and_a_full_collection_no_longer_walks_them():
    gc.unfreeze()
    walked_before = len(gc.get_objects())
    try:
        frozen = freeze_loaded()
        assert frozen == gc.get_freeze_count()
        assert frozen >= walked_before // 2  # the modules, the test session's objects, …
        assert len(gc.get_objects()) < walked_before // 10  # what a collection still walks
    finally:
        gc.unfreeze()


def test_serve_freezes_what_it_loaded_before_it_listens(settings, engine, monkeypatch):
    order: list[str] = []
    monkeypatch.setattr(bot.server, "freeze_loaded", lambda: order.append("freeze") or 0)
    monkeypatch.setattr(bot.server._Server, "run", lambda self: order.append("listen"))

    bot.server.serve(settings, host="127.0.0.1", port=0, engine=engine)  # the test's engine: disposed after

    assert order == ["freeze", "listen"]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists() or heap._glibc() is None, reason="glibc on Linux")
def test_freed_memory_left_between_live_blocks_goes_back_to_the_system():
    """What a question leaves behind: ~120 MB of 1 KB blocks (glibc's, not Python's small-object arenas),
    every 64th kept alive, so no heap can shrink from its top; `release_freed` hands the free pages in
    between back."""
    blocks = [bytes(1024) + bytes([n % 256]) for n in range(120_000)]
    kept = blocks[::64]
    del blocks
    gc.collect()
    before = _rss_mb()
    assert heap.release_freed()
    after = _rss_mb()
    assert before - after > 60, (before, after)
    assert len(kept) == 1875  # still alive, still readable
    assert kept[-1][-1] == (119_936 % 256)


def test_keep_released_releases_every_period_until_stopped(monkeypatch):
    calls: list[float] = []
    monkeypatch.setattr(heap, "release_freed", lambda: calls.append(time.monotonic()) or True)
    stop = heap.keep_released(every=0.01)
    wait_for(lambda: len(calls) >= 3, timeout=5)
    stop.set()
    time.sleep(0.05)
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at


def test_serve_bounds_the_arenas_first_and_releases_freed_memory_while_it_listens(
    settings, engine, monkeypatch
):
    order: list[str] = []
    stop = threading.Event()
    monkeypatch.setattr(bot.server, "bound_arenas", lambda: order.append("arenas") or True)
    real_app = bot.server.create_http_app
    monkeypatch.setattr(
        bot.server, "create_http_app", lambda *a, **k: order.append("app") or real_app(*a, **k)
    )
    monkeypatch.setattr(bot.server, "keep_released", lambda: order.append("release") or stop)
    monkeypatch.setattr(bot.server._Server, "run", lambda self: order.append("listen"))

    bot.server.serve(settings, host="127.0.0.1", port=0, engine=engine)

    assert order[:2] == ["arenas", "app"] and order[-2:] == ["release", "listen"]
    assert stop.is_set()  # stopped with the server
