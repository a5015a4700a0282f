"""The payloads a process keeps in memory (storage/kpi_cache/payloads.py): a question asked again reads
no payload from the database, a row computed again after a change is read again, a row gone between the
two reads is never answered without, and the memory keeps to its budget, least recently used first."""

from __future__ import annotations

from datetime import date

import numpy
import pytest
from sqlalchemy import event, text

from storage.kpi_cache import store
from storage.kpi_cache.payloads import Payloads, payloads
from storage.kpi_cache.slots import Slot
from storage.kpi_cache.store import Batch, stored
from storage.kpi_cache.tables import EVERY, Part, compact

DAYS = [date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)]


def row(first: int, n: int = 50) -> Part:
    values = compact(numpy.arange(first, first + n, dtype=numpy.float64))
    return Part(EVERY, n, float(values.sum(dtype=numpy.int64)), values.tobytes())


def keep(engine, measure: str, day: date, part: Part, seen: int = 0) -> None:
    batch = Batch()
    batch.add(measure, Slot(day), seen, {EVERY: part})
    with engine.connect() as conn:
        batch.store(conn)


def payload_reads(engine) -> list[str]:
    """Records each statement that reads kpi_slot's payload column."""
    seen: list[str] = []

    @event.listens_for(engine, "after_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        if "kpi_slot.payload" in statement:
            seen.append(statement)

    return seen


def read(engine, measure: str = "wait") -> dict:
    with engine.connect() as conn:
        return stored(conn, measure, [Slot(day) for day in DAYS], (), values=True, by_channel=False)


def test_a_question_asked_again_takes_the_payloads_from_memory(engine):
    for n, day in enumerate(DAYS):
        keep(engine, "wait", day, row(100 * n))
    reads = payload_reads(engine)

    first, again = read(engine), read(engine)

    assert len(reads) == 1  # the first read fetched the three payloads in one statement, the second none
    assert [again[Slot(day)][EVERY] for day in DAYS] == [first[Slot(day)][EVERY] for day in DAYS]
    assert again[Slot(DAYS[2])][EVERY].values == row(200).values
    assert len(payloads(engine)) == 3


def test_a_row_computed_again_after_a_change_is_read_again(engine):
    for day in DAYS:
        keep(engine, "wait", day, row(0))
    read(engine)
    with engine.begin() as conn:  # a change to the middle day, noted as the triggers and ingestion do
        store.note_hours(conn, [(DAYS[1], 10)])
        seen = conn.execute(text("SELECT max(id) FROM kpi_change_note")).scalar_one()

    assert Slot(DAYS[1]) not in read(engine)  # stale: computed again by the question

    keep(engine, "wait", DAYS[1], row(7000), seen=seen)
    reads = payload_reads(engine)
    again = read(engine)

    assert again[Slot(DAYS[1])][EVERY].values == row(7000).values
    assert again[Slot(DAYS[0])][EVERY].values == row(0).values
    assert len(reads) == 1  # only the new row's payload was fetched


def test_a_row_gone_between_the_two_reads_leaves_its_slot_out(engine, monkeypatch):
    for n, day in enumerate(DAYS):
        keep(engine, "wait", day, row(100 * n))
    fetch = store.binary_rows

    def racing(conn, statement):  # another process drops the first day's rows in between
        conn.execute(text("DELETE FROM kpi_slot WHERE day = :day"), {"day": DAYS[0]})
        return fetch(conn, statement)

    monkeypatch.setattr(store, "binary_rows", racing)
    found = read(engine)

    assert sorted(found) == [Slot(DAYS[1]), Slot(DAYS[2])]  # computed again by the question, not empty
    assert found[Slot(DAYS[2])][EVERY].values == row(200).values


def test_the_memory_keeps_to_its_budget_least_recently_used_first():
    memory = Payloads(budget=100)
    memory.put(("wait", DAYS[0], -1, EVERY, 1), b"a" * 40)
    memory.put(("wait", DAYS[1], -1, EVERY, 1), b"b" * 40)
    assert memory.get(("wait", DAYS[0], -1, EVERY, 1)) == b"a" * 40  # now the most recently used

    memory.put(("wait", DAYS[2], -1, EVERY, 1), b"c" * 40)

    assert memory.get(("wait", DAYS[1], -1, EVERY, 1)) is None
    assert memory.get(("wait", DAYS[0], -1, EVERY, 1)) == b"a" * 40
    assert memory.size == 80 and len(memory) == 2
    memory.put(("wait", DAYS[2], -1, EVERY, 2), b"d" * 500)  # larger than the budget: not kept
    assert memory.size == 80


@pytest.mark.parametrize("seen", [0, 5])
def test_a_name_is_its_measure_day_hour_channel_and_seen_note(engine, seen):
    keep(engine, "wait", DAYS[0], row(0), seen=seen)
    read(engine)
    assert payloads(engine).get(("wait", DAYS[0], -1, EVERY, seen)) == row(0).values
