"""`import_items` runs with the garbage collector triggered less often, and gives its settings back."""

from __future__ import annotations

import gc

import pytest

from storage.importer import BULK_GC_THRESHOLD, import_items
from storage.ingest import IngestResult, Prepared


class Recording:
    """An ingestor that records the collector's thresholds it stored under (and fails when told to)."""

    analyser = None  # no text analysis: no worker pool

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[tuple[int, int, int]] = []
        self.fail = fail

    def prepare(self, part, *, source, pool):
        return Prepared(source, [], [], 0, len(part))

    def store(self, prepared):
        self.seen.append(gc.get_threshold())
        if self.fail:
            raise RuntimeError("the database went away")
        return IngestResult(stored=prepared.size)


def test_an_import_runs_with_a_higher_collection_threshold_and_restores_the_old_one():
    before = gc.get_threshold()
    ingestor = Recording()

    result = import_items(ingestor, ((n, "{}") for n in range(1, 6)), batch=2)

    assert result.stored == 5
    assert ingestor.seen == [(BULK_GC_THRESHOLD, 20, 100)] * 3  # batches of 2, 2 and 1
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_when_an_import_stops_on_an_error():
    before = gc.get_threshold()

    with pytest.raises(RuntimeError, match="went away"):
        import_items(Recording(fail=True), [(1, "{}")])

    assert gc.get_threshold() == before
