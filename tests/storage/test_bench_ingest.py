"""bench/ingest.py's measures of what bounds an import: the write floor (the rows an import stored, written
again into a new database by SQL alone, no Python per row), validation alone, and the CPU a local
PostgreSQL server spends (docs/performance.md, "The ceiling on this machine")."""

from __future__ import annotations

import sqlite3

import pytest

from bench.ingest import message_lines, prepare_seconds, server_cpu_seconds, write_floor_rate
from storage.db import make_engine
from storage.importer import import_items
from storage.ingest import Ingestor

TABLES = ("raw_event", "conversation", "message", "sla_clock")


def _rows(path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


@pytest.mark.sqlite_only("the write floor copies between SQLite files")
def test_the_write_floor_writes_every_imported_row_again(tmp_path, settings, monkeypatch):
    monkeypatch.setattr("bench.ingest.WRITE_FLOOR_EVENTS", 10)  # two conversations a transaction
    source, target = tmp_path / "imported.db", tmp_path / "again.db"
    url = f"sqlite:///{source}"
    engine = make_engine(url)
    ingestor = Ingestor(engine, settings.model_copy(update={"database_url": url}), analyse_text=False)
    result = import_items(ingestor, message_lines(23), batch=10)  # 5 conversations, the last of 3 messages
    engine.dispose()
    assert result.stored == 23

    rate, seconds = write_floor_rate(str(source), str(target))

    for table in TABLES:
        assert _rows(target, table) == _rows(source, table) != []
    assert len(_rows(target, "message")) == 23 and len(_rows(target, "conversation")) == 5
    assert rate > 0 and set(seconds) == {*TABLES, "commit"}
    assert all(spent >= 0 for spent in seconds.values())


def test_the_validation_alone_is_timed_per_event(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)

    spent = prepare_seconds(engine, settings.model_copy(update={"database_url": url}), 50)

    with engine.connect() as conn:  # nothing written
        assert conn.exec_driver_sql("SELECT count(*) FROM raw_event").scalar_one() == 0
    engine.dispose()
    assert 0 < spent < 0.01  # per event: well under 10 ms each


@pytest.mark.postgresql_only("the server's processes run on this machine in the tests")
def test_the_servers_cpu_time_grows_with_its_work(engine):
    before = server_cpu_seconds()
    with engine.connect() as conn:  # about a second of the server's CPU
        conn.exec_driver_sql("SELECT sum(sqrt(n)) FROM generate_series(1, 5000000) AS n").scalar_one()
    after = server_cpu_seconds()

    assert before is not None and after is not None
    assert after - before >= 0.2
