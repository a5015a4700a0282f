"""Bulk import throughput: plain message events through the real ingestion core into a fresh database.

    python bench/ingest.py [--events 1000000] [--db /tmp/kpibot-bench-ingest.db] [--no-analysis]
                           [--workers N] [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Prints events/s for the whole run (JSON parsing, validation, raw insert, projections, commit; with
analysis, the inbound messages scored per second), the same for a re-import (every event a duplicate),
and the ratio to a bare load of the raw rows (the floor set by the database itself on this machine):
sqlite3 executemany on SQLite; psycopg executemany and COPY on PostgreSQL. Beside each import, the CPU
seconds of the importing process and of the text-analysis workers (`--workers`, default as `kpibot
import`: one per idle core), and the load average at start and end: the machine may be shared, and the
CPU split says what the import would do on idle cores. The default database is the SQLite file `--db`;
with `--database-url` of a PostgreSQL server the bench drops and recreates its own database
`kpibot_bench_ingest` there.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from bench.kpi_data import bench_database  # noqa: E402
from storage.analysis_pool import default_workers, import_pool  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.importer import import_items  # noqa: E402
from storage.ingest import Ingestor  # noqa: E402
from storage.settings import Settings  # noqa: E402

CHANNELS = ("facebook", "facebook", "facebook", "twitter", "twitter", "instagram", "viber")


def message_event(i: int, prefix: str = "") -> dict:
    """Message `i`: conversations of 5 messages alternating customer and agent (12 agents)."""
    conv, step = divmod(i, 5)
    at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(seconds=conv * 7 + step * 600)
    inbound = step % 2 == 0
    return {
        "id": f"{prefix}m{i}",
        "type": "message",
        "at": at.isoformat().replace("+00:00", "Z"),
        "conversation_id": f"{prefix}c{conv}",
        "channel": CHANNELS[conv % len(CHANNELS)],
        "direction": "inbound" if inbound else "outbound",
        "author": {"kind": "customer", "id": f"@user{conv % 5000}"}
        if inbound
        else {"kind": "agent", "id": f"U{conv % 12}", "name": "Agent"},
        "text": "Where is my parcel? It was due on Monday" if inbound else "Sorry, checking that for you now",
    }


def message_lines(n: int):
    """`n` NDJSON message events, positions from 1."""
    for i in range(n):
        yield i + 1, json.dumps(message_event(i))


def timed_import(
    engine, settings, n: int, *, analyse: bool = True, workers: int | None = None
) -> tuple[float, object]:
    ingestor = Ingestor(engine, settings, analyse_text=analyse)
    started = time.perf_counter()
    cpu = time.process_time()
    with import_pool(settings, analyse=analyse, workers=workers) as pool:
        result = import_items(ingestor, message_lines(n), pool=pool)
    elapsed = time.perf_counter() - started
    print(
        f"         CPU {time.process_time() - cpu:.1f} s in the importing process, "
        f"{pool.cpu_seconds:.1f} s in {pool.workers} analysis workers"
    )
    return elapsed, result


def load() -> str:
    """The load averages (1, 5, 15 minutes): the machine is shared, figures are read beside them."""
    return "load " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def floor_rate(path: str, n: int) -> float:
    """events/s of a bare sqlite3 executemany of raw rows (no parsing, no projections)."""
    Path(path).unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE raw (id INTEGER PRIMARY KEY, source TEXT, external_id TEXT, body TEXT, "
        "UNIQUE(source, external_id))"
    )
    rows = [("kpibot", f"m{i}", line) for i, line in message_lines(n)]
    started = time.perf_counter()
    for k in range(0, n, 5000):
        conn.executemany("INSERT INTO raw (source, external_id, body) VALUES (?, ?, ?)", rows[k : k + 5000])
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    Path(path).unlink(missing_ok=True)
    return n / elapsed


def postgres_floor_rates(url: str, n: int) -> dict[str, float]:
    """events/s of bare psycopg loads of raw rows into a scratch table (no parsing, no projections):
    executemany and COPY, in transactions of 5,000."""
    rows = [("kpibot", f"m{i}", line) for i, line in message_lines(n)]
    rates = {}
    with psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    ) as db:
        for how in ("executemany", "COPY"):
            db.execute("DROP TABLE IF EXISTS bench_floor_raw")
            db.execute(
                "CREATE TABLE bench_floor_raw (id bigserial PRIMARY KEY, source text, external_id text, "
                "body text, UNIQUE (source, external_id))"
            )
            db.commit()
            started = time.perf_counter()
            for k in range(0, n, 5000):
                with db.cursor() as cursor:
                    if how == "COPY":
                        with cursor.copy(
                            "COPY bench_floor_raw (source, external_id, body) FROM STDIN"
                        ) as copy:
                            for row in rows[k : k + 5000]:
                                copy.write_row(row)
                    else:
                        cursor.executemany(
                            "INSERT INTO bench_floor_raw (source, external_id, body) VALUES (%s, %s, %s)",
                            rows[k : k + 5000],
                        )
                db.commit()
            rates[how] = n / (time.perf_counter() - started)
        db.execute("DROP TABLE bench_floor_raw")
    return rates


def database_bytes(engine, path: str | None) -> int:
    """The size of the bench database on disk."""
    if path is not None:
        return os.path.getsize(path)
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--db", default="/tmp/kpibot-bench-ingest.db", help="the SQLite file (default database)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://…); the bench uses a database kpibot_bench_ingest",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="text-analysis worker processes (default: one per spare core; 0 analyses in-process)",
    )
    parser.add_argument(
        "--no-analysis",
        action="store_true",
        help="skip sentiment/topic scoring of inbound text (measures storage alone)",
    )
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith("sqlite"):
        path, url = None, bench_database(args.database_url, "kpibot_bench_ingest", fresh=True)
    else:
        url = args.database_url or f"sqlite:///{args.db}"
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    settings = Settings(database_url=url, pseudonym_key="bench")
    engine = make_engine(url)
    print(f"database: {engine.dialect.name} {'.'.join(map(str, engine.dialect.server_version_info))}")
    analyse = not args.no_analysis
    workers = (args.workers if args.workers is not None else default_workers()) if analyse else 0
    print(f"start: {load()}; {os.cpu_count()} cores, {workers} analysis workers")
    elapsed, result = timed_import(engine, settings, args.events, analyse=analyse, workers=workers)
    rate = args.events / elapsed
    mode = "with sentiment+topics on inbound text" if analyse else "without text analysis"
    print(
        f"import   {args.events:>9,} message events in {elapsed:6.1f} s = {rate:9,.0f} events/s "
        f"(stored {result.stored:,}, rejected {len(result.rejected)}; {mode})"
    )
    if analyse:  # 3 of every 5 generated messages are the customer's
        print(f"         inbound messages scored during import: {rate * 3 / 5:9,.0f} messages/s")
    elapsed_dup, dup = timed_import(engine, settings, args.events, analyse=analyse, workers=workers)
    print(
        f"re-import {args.events:>8,} duplicates      in {elapsed_dup:6.1f} s = "
        f"{args.events / elapsed_dup:9,.0f} events/s (duplicates {dup.duplicates:,})"
    )
    size = database_bytes(engine, path)
    floor_events = min(args.events, 200_000)
    if path is not None:
        floor = floor_rate(path + ".floor", floor_events)
        print(
            f"bare sqlite executemany floor: {floor:,.0f} rows/s; kpibot import = {rate / floor:.2f} x floor"
        )
    else:
        for how, floor in postgres_floor_rates(url, floor_events).items():
            print(
                f"bare psycopg {how} floor: {floor:,.0f} rows/s; kpibot import = {rate / floor:.2f} x floor"
            )
    print(f"database size {size / 1e6:,.0f} MB; end: {load()}")
    engine.dispose()


if __name__ == "__main__":
    main()
