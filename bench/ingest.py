"""Bulk import throughput: plain message events through the real ingestion core into a SQLite file.

    python bench/ingest.py [--events 1000000] [--db /tmp/kpibot-bench-ingest.db]

Prints events/s for the whole run (JSON parsing, validation, raw insert, projections, commit), the
same for a re-import (every event a duplicate), and the ratio to a bare executemany of the raw rows
(the floor set by SQLite itself on this machine).
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

from storage.db import make_engine  # noqa: E402
from storage.importer import import_items  # noqa: E402
from storage.ingest import Ingestor  # noqa: E402
from storage.settings import Settings  # noqa: E402

CHANNELS = ("facebook", "facebook", "facebook", "twitter", "twitter", "instagram", "viber")


def message_lines(n: int):
    """`n` NDJSON message events: conversations of 5 messages alternating customer and agent."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for i in range(n):
        conv, step = divmod(i, 5)
        at = start + timedelta(seconds=conv * 7 + step * 600)
        inbound = step % 2 == 0
        event = {
            "id": f"m{i}",
            "type": "message",
            "at": at.isoformat().replace("+00:00", "Z"),
            "conversation_id": f"c{conv}",
            "channel": CHANNELS[conv % len(CHANNELS)],
            "direction": "inbound" if inbound else "outbound",
            "author": {"kind": "customer", "id": f"@user{conv % 5000}"}
            if inbound
            else {"kind": "agent", "id": f"U{conv % 12}", "name": "Agent"},
            "text": "Where is my parcel? It was due on Monday"
            if inbound
            else "Sorry, checking that for you now",
        }
        yield i + 1, json.dumps(event)


def timed_import(engine, settings, n: int, *, analyse: bool = True) -> tuple[float, object]:
    ingestor = Ingestor(engine, settings, analyse_text=analyse)
    started = time.perf_counter()
    result = import_items(ingestor, message_lines(n))
    return time.perf_counter() - started, result


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
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/kpibot-bench-ingest.db")
    parser.add_argument(
        "--no-analysis",
        action="store_true",
        help="skip sentiment/topic scoring of inbound text (measures storage alone)",
    )
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(args.db + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{args.db}"
    settings = Settings(database_url=url, pseudonym_key="bench")
    engine = make_engine(url)
    analyse = not args.no_analysis
    elapsed, result = timed_import(engine, settings, args.events, analyse=analyse)
    rate = args.events / elapsed
    mode = "with sentiment+topics on inbound text" if analyse else "without text analysis"
    print(
        f"import   {args.events:>9,} message events in {elapsed:6.1f} s = {rate:9,.0f} events/s "
        f"(stored {result.stored:,}, rejected {len(result.rejected)}; {mode})"
    )
    if analyse:  # 3 of every 5 generated messages are the customer's
        print(f"         inbound messages scored during import: {rate * 3 / 5:9,.0f} messages/s")
    elapsed_dup, dup = timed_import(engine, settings, args.events, analyse=analyse)
    print(
        f"re-import {args.events:>8,} duplicates      in {elapsed_dup:6.1f} s = "
        f"{args.events / elapsed_dup:9,.0f} events/s (duplicates {dup.duplicates:,})"
    )
    floor = floor_rate(args.db + ".floor", min(args.events, 200_000))
    print(f"bare sqlite executemany floor: {floor:,.0f} rows/s; kpibot import = {rate / floor:.2f} x floor")
    print(f"database size {os.path.getsize(args.db) / 1e6:,.0f} MB")
    engine.dispose()


if __name__ == "__main__":
    main()
