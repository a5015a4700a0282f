"""Bulk import throughput: plain message events through the real ingestion core into a fresh database.

    python bench/ingest.py [--events 1000000] [--db /tmp/kpibot-bench-ingest.db] [--no-analysis]
                           [--workers N] [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Prints events/s for the whole run (JSON parsing, validation, raw insert, projections, commit; with
analysis, the inbound messages scored per second), the same for a re-import (every event a duplicate),
and the ratio to a bare load of the raw rows (the floor set by the database itself on this machine):
sqlite3 executemany on SQLite; psycopg executemany and COPY on PostgreSQL. On SQLite it then prints what
bounds one importing process (docs/performance.md, "The ceiling on this machine"): the write floor (the
rows the import stored, written again into a new database by SQL alone, per table) and validation alone
(`Ingestor.prepare`), with the rate one process could reach if nothing else cost anything. On a local
PostgreSQL server, the server's CPU seconds during each import. Beside each import, the CPU
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
from storage.importer import bulk_collection, import_items  # noqa: E402
from storage.ingest import Ingestor  # noqa: E402
from storage.rebuild import chunks  # noqa: E402
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
    server = server_cpu_seconds() if engine.dialect.name == "postgresql" else None
    started = time.perf_counter()
    cpu = time.process_time()
    with import_pool(settings, analyse=analyse, workers=workers) as pool:
        result = import_items(ingestor, message_lines(n), pool=pool)
    elapsed = time.perf_counter() - started
    spent = None if server is None else server_cpu_seconds()
    print(
        f"         CPU {time.process_time() - cpu:.1f} s in the importing process, "
        f"{pool.cpu_seconds:.1f} s in {pool.workers} analysis workers"
        + ("" if spent is None or server is None else f", {spent - server:.1f} s in the PostgreSQL server")
    )
    return elapsed, result


def server_cpu_seconds() -> float | None:
    """The CPU seconds used so far by this machine's `postgres` processes, those ended included (they
    count in their parent's children's time), or None when there are none here (a remote server, or no
    /proc): what the server spends on an import is the difference."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        found = True
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick if found else None


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


def prepare_seconds(engine, settings, n: int) -> float:
    """Seconds per event of validating and normalising the `n` events alone (`Ingestor.prepare`, no text
    analysis, nothing written): the Python half of an import, which one process does before storing."""
    ingestor = Ingestor(engine, settings, analyse_text=False)
    batches = list(chunks(message_lines(n), WRITE_FLOOR_EVENTS))
    with bulk_collection():
        started = time.perf_counter()
        for batch in batches:
            ingestor.prepare(batch)
        return (time.perf_counter() - started) / n


# What one transaction of the write floor holds: conversations of the import, ~5,000 events' worth.
WRITE_FLOOR_EVENTS = 5000


def write_floor_rate(source: str, target: str) -> tuple[float, dict[str, float]]:
    """events/s of writing the rows an import stored in `source` into a new database `target` with no
    Python per row: the same tables, indexes, triggers and PRAGMAs (kpibot's connection), one `INSERT …
    SELECT` per table per transaction of ~5,000 events. What the database itself costs for these rows on
    this machine, whatever the importer does; with the seconds per event of each table and the commit."""
    for suffix in ("", "-wal", "-shm"):
        Path(target + suffix).unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{target}")
    db = engine.raw_connection().driver_connection
    db.isolation_level = None
    db.execute("ATTACH DATABASE ? AS src", (source,))
    events = db.execute("SELECT count(*) FROM src.raw_event").fetchone()[0]
    conversations = db.execute("SELECT count(*), min(id), max(id) FROM src.conversation").fetchone()
    step = max(1, round(WRITE_FLOOR_EVENTS * conversations[0] / max(events, 1)))
    parts = {
        "raw_event": "id IN (SELECT raw_event_id FROM src.message WHERE conversation_id BETWEEN ? AND ?)",
        "conversation": "id BETWEEN ? AND ?",
        "message": "conversation_id BETWEEN ? AND ?",
        "sla_clock": "conversation_id BETWEEN ? AND ?",
    }
    seconds = dict.fromkeys([*parts, "commit"], 0.0)
    for low in range(conversations[1], conversations[2] + 1, step):
        db.execute("BEGIN")
        for table, where in parts.items():
            started = time.perf_counter()
            db.execute(
                f"INSERT INTO main.{table} SELECT * FROM src.{table} WHERE {where} ORDER BY id",
                (low, low + step - 1),
            )
            seconds[table] += time.perf_counter() - started
        started = time.perf_counter()
        db.execute("COMMIT")
        seconds["commit"] += time.perf_counter() - started
    db.close()
    engine.dispose()
    return events / sum(seconds.values()), {name: spent / events for name, spent in seconds.items()}


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
        writes, shares = write_floor_rate(path, path + ".writes")
        for suffix in ("", "-wal", "-shm"):
            Path(path + ".writes" + suffix).unlink(missing_ok=True)
        split = ", ".join(f"{name} {spent * 1e6:.1f}" for name, spent in shares.items())
        print(
            f"write floor (the imported rows inserted by SQL alone): {writes:,.0f} events/s = "
            f"{1e6 / writes:.1f} µs/event ({split}); kpibot import = {rate / writes:.2f} x floor"
        )
        prepare = prepare_seconds(engine, settings, floor_events)
        ceiling = 1 / (prepare + 1 / writes)
        print(
            f"validation alone (Ingestor.prepare, no analysis): {prepare * 1e6:.1f} µs/event; with the "
            f"write floor, one process could import at most {ceiling:,.0f} events/s; kpibot import = "
            f"{rate / ceiling:.2f} x that"
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
