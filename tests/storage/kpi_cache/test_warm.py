"""The cache warm-up (`storage.kpi_cache.warm`) goes newest first in slices: stopped between two, it keeps
what it did and the next run does only the rest; a question asked while it is half done gets the answer
the tables give.

The data is test_cache's week of conversations (the 13th to the 20th of November 2026); the warm-up runs
as of 02:00 UTC on the 21st, so its slices are the 21st's 00:00 hour, then the 20th, the 19th, … the 13th.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from storage import kpi_cache
from storage.kpi_cache import compute as cache_compute
from storage.kpi_cache.measures import QUARTERED_TALLIES
from tests.storage.conftest import feed
from tests.storage.kpi_cache.test_cache import ask, cached_days, week_of_conversations, without_cache

WARM_AT = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
SLICES = 1 + 8  # the hour, then 8 days
# every measure, ranking and tally; the agents' activity, the contacts, first responses and CSAT per owner
KINDS = len(kpi_cache.MEASURES) + len(cache_compute.RANKINGS) + len(cache_compute.TALLIES) + 4


class StopAfter:
    """A `stop` for `warm` that says stop once `slices` slices are done (asked before each slice)."""

    def __init__(self, slices: int) -> None:
        self.slices, self.asked = slices, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked > self.slices


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(cache_compute, "WARM_PAUSE", 0.0)


def test_warm_does_the_newest_days_first_and_resumes_where_it_stopped(engine, ingestor):
    feed(ingestor, week_of_conversations())

    first = kpi_cache.warm(engine, WARM_AT, stop=StopAfter(3))
    # the hour (no quarter-hour rows for it), the 20th and the 19th
    assert first == 3 * KINDS - len(QUARTERED_TALLIES)
    assert cached_days(engine, "transferred") == ["2026-11-19", "2026-11-20"]
    assert cached_days(engine, "transferred@0") == ["2026-11-21"]

    rest = kpi_cache.warm(engine, WARM_AT)
    assert rest == (SLICES - 3) * KINDS  # nothing done twice
    assert cached_days(engine, "transferred") == [f"2026-11-{day}" for day in range(13, 21)]
    assert kpi_cache.warm(engine, WARM_AT) == 0


def test_a_question_asked_while_the_warm_up_is_half_done_gets_the_tables_answer(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    expected = {kpi: without_cache(engine, settings, kpi) for kpi in ("frt", "volume", "wait")}
    halfway, asked = threading.Event(), threading.Event()

    def stop() -> bool:  # pauses the warm-up after 4 slices (the hour, the 20th to the 18th)
        stop.slices += 1
        if stop.slices == 5:
            halfway.set()
            asked.wait(timeout=30)
        return False

    stop.slices = 0
    warming = threading.Thread(target=lambda: kpi_cache.warm(engine, WARM_AT, stop=stop))
    warming.start()
    try:
        assert halfway.wait(timeout=30)
        assert cached_days(engine, "frt") == ["2026-11-18", "2026-11-19", "2026-11-20"]
        answers = {kpi: ask(engine, settings, kpi) for kpi in expected}  # the 14th to the 17th computed here
    finally:
        asked.set()
        warming.join(timeout=60)

    for kpi, answer in answers.items():
        assert answer == pytest.approx(expected[kpi])
        assert ask(engine, settings, kpi) == pytest.approx(expected[kpi])  # once warm, too


def test_warm_fills_the_quarter_hour_rows_a_cache_kept_without_them(engine, ingestor):
    # A cache filled before days were kept per quarter hour too has the plain rows only: the warm-up adds
    # the quarter-hour ones (days only), and then has nothing left to do. So with a cache filled before
    # the `languages` tally was kept per quarter hour.
    feed(ingestor, week_of_conversations())
    kpi_cache.warm(engine, WARM_AT)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM kpi_slot WHERE measure LIKE '%@q'"))

    quartered = len(kpi_cache.MEASURES) + len(QUARTERED_TALLIES)  # measures' and tallies'
    assert kpi_cache.warm(engine, WARM_AT) == (SLICES - 1) * quartered
    with engine.connect() as conn:
        found = conn.execute(text("SELECT day, hour FROM kpi_slot WHERE measure = 'frt@q' AND channel = ''"))
        days = sorted((str(day)[:10], hour) for day, hour in found)
    assert days == [(f"2026-11-{day}", -1) for day in range(13, 21)]  # whole days, no hour rows
    assert kpi_cache.warm(engine, WARM_AT) == 0
