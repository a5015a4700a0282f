"""How the KPI cache's payloads travel and are kept on PostgreSQL (docs/performance.md, "KPI queries on
PostgreSQL, issue 21"): read in binary format (bytea as bytes, not hex text), stored compressed with lz4
where the server has it. The values are the same either way (test_cache.py compares them to the tables
on both databases).
"""

from __future__ import annotations

from datetime import date

import numpy
import pytest
from sqlalchemy import event, select, text

from storage.db import binary_rows
from storage.kpi_cache.slots import Slot
from storage.kpi_cache.store import Batch, stored
from storage.kpi_cache.tables import EVERY, Part, compact
from storage.models import KpiSlot

K = KpiSlot.__table__.c
DAY = date(2026, 11, 19)


def waits(n: int = 5000) -> Part:
    """A day's row of `n` whole-second values, sorted as the cache stores them (20 KB: kept out of line)."""
    values = numpy.sort(compact(numpy.arange(n, dtype=numpy.float64) * 7 % 3600))
    return Part(EVERY, n, float(values.sum()), values.tobytes())


def formats(engine) -> list[tuple[str, list[int]]]:
    """Records each statement's result column formats (psycopg: 0 text, 1 binary) as it runs."""
    seen: list[tuple[str, list[int]]] = []

    @event.listens_for(engine, "after_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        result = getattr(cursor, "pgresult", None)
        if result is not None:
            seen.append((statement, [result.fformat(i) for i in range(result.nfields)]))

    return seen


def test_binary_rows_give_the_rows_conn_execute_gives(engine):
    row = {"measure": "wait", "day": DAY, "hour": -1, "channel": EVERY, "seen": 3, "count": 5000}
    row |= {"total": waits().total, "payload": waits().values, "latest": None}
    with engine.begin() as conn:
        conn.execute(KpiSlot.__table__.insert(), [row])
    query = select(K.day, K.hour, K.seen, K.channel, K.count, K.total, K.payload, K.latest)
    with engine.connect() as conn:
        assert [tuple(r) for r in binary_rows(conn, query)] == [tuple(r) for r in conn.execute(query)]
        assert binary_rows(conn, query)[0].payload == waits().values


@pytest.mark.postgresql_only("psycopg's result formats")
def test_the_cache_reads_its_payloads_in_binary_format_and_other_statements_as_text(engine):
    batch = Batch()
    batch.add("wait", Slot(DAY), 0, {EVERY: waits()})
    with engine.connect() as conn:
        batch.store(conn)
    seen = formats(engine)
    with engine.connect() as conn:
        rows = stored(conn, "wait", [Slot(DAY)], (), values=True, by_channel=False)
        conn.execute(select(K.payload)).all()

    assert rows[Slot(DAY)][EVERY].values == waits().values
    reads = [columns for statement, columns in seen if "FROM kpi_slot" in statement]
    # the cache's rows without payloads (8 columns as text), their payloads (all 9 columns binary), then a
    # plain read
    assert reads == [[0] * 8, [1] * 9, [0]]


@pytest.mark.postgresql_only("TOAST compression")
def test_stored_payloads_are_compressed_with_lz4_when_the_server_offers_it(engine):
    with engine.connect() as conn:
        offered = conn.execute(
            text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar()
    if "lz4" not in (offered or []):
        pytest.skip("this PostgreSQL server was built without lz4")
    batch = Batch()
    batch.add("wait", Slot(DAY), 0, {EVERY: waits()})
    with engine.connect() as conn:
        batch.store(conn)
        method, size = conn.execute(
            text("SELECT pg_column_compression(payload), pg_column_size(payload) FROM kpi_slot")
        ).one()
        values = stored(conn, "wait", [Slot(DAY)], (), values=True, by_channel=False)[Slot(DAY)][EVERY]

    assert method == "lz4" and size < len(waits().values)
    assert values.values == waits().values


@pytest.mark.postgresql_only("the notes' advisory lock")
def test_the_newest_note_is_read_under_the_notes_lock_in_one_statement_and_the_lock_never_stays(engine):
    """`newest_note` tries NOTES_LOCK alone, reads the newest note of the days while it holds it and lets it
    go, in one round trip; while a transaction holds it shared (one noting a change) it reads nothing
    (None), and it never leaves the lock held, either way."""
    from storage.dialect import NOTES_LOCK
    from storage.kpi_cache.store import newest_note, note_hours

    with engine.begin() as conn:
        note_hours(conn, [(DAY, 3), (date(2026, 11, 20), 1)])
    held = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
    with engine.connect() as conn:
        newest_of_all = conn.execute(text("SELECT max(id) FROM kpi_change_note")).scalar_one()
        day_only = conn.execute(
            text("SELECT max(id) FROM kpi_change_note WHERE day = :day"), {"day": DAY}
        ).scalar_one()
        statements: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        assert newest_note(conn, DAY) == day_only < newest_of_all
        assert newest_note(conn, DAY, date(2026, 11, 20)) == newest_of_all
        assert newest_note(conn, date(2026, 11, 1)) == 0  # no note that day
        assert len(statements) == 3
        assert conn.execute(held).scalar_one() == 0
        with engine.connect() as writer:  # a transaction noting a change holds the lock shared
            writer.execute(text("SELECT pg_advisory_xact_lock_shared(:lock)"), {"lock": NOTES_LOCK})
            assert newest_note(conn, DAY) is None
            assert conn.execute(held).scalar_one() == 0
            writer.rollback()
        assert newest_note(conn, DAY) == day_only
        assert conn.execute(held).scalar_one() == 0
