"""What `kpibot serve` has loaded when it starts listening is set aside from garbage collection
(bot/heap.py): a full collection during a question then walks only what questions create."""

from __future__ import annotations

import gc

import bot.server
from bot.heap import freeze_loaded


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
