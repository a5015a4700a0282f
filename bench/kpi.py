"""KPI query latency at scale: the scorecard and every KPI on a large SQLite database, and DuckDB beside it.

    python bench/kpi.py [--conversations 1000000] [--db /tmp/kpibot-bench-kpi.db] [--runs 20]
                        [--kpis frt,wait]

Builds the database once (bench/kpi_data.py; reused when it already holds that many conversations),
then times `commands.engine.compute` — the whole answer: the period, its previous period, benchmark
and notes — for all channels and for twitter, over 7 and 90 days, as of the data's last instant.
Prints p50/p95 milliseconds per case (runs stop early once a case has used its time budget), then
the same FRT and volume figures computed by DuckDB from the same rows, as a reference ratio.
The database gets the indexes of storage/models.py and no planner statistics (the queries are written
so SQLite picks the time-range index without them; see docs/performance.md).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from datetime import timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kpi_data import NOW, build  # noqa: E402
from commands.engine import compute  # noqa: E402
from commands.errors import UsageError  # noqa: E402
from commands.kpis import KPIS  # noqa: E402
from commands.kpis.speed import frt  # noqa: E402
from commands.parse import parse_command  # noqa: E402
from commands.query import Query  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.settings import Settings  # noqa: E402

SCOPES = (("all", "7d"), ("twitter", "7d"), ("all", "90d"), ("twitter", "90d"))
BUDGET_SECONDS = 8.0
DUCK_FRT = (
    "SELECT avg(frt_seconds), quantile_cont(frt_seconds, 0.5), quantile_cont(frt_seconds, 0.9), count(*) "
    "FROM conversation WHERE first_response_at >= $1 AND first_response_at < $2{where}"
)
DUCK_VOLUME = (
    "SELECT (SELECT count(*) FROM conversation WHERE opened_at >= $1 AND opened_at < $2{where}), "
    "count(*) FILTER (direction = 'inbound'), count(*) FILTER (direction = 'outbound') "
    "FROM message WHERE sent_at >= $1 AND sent_at < $2{where}"
)


def prepare(path: str, conversations: int) -> None:
    """Builds the database unless `path` holds `conversations` conversations already."""
    if Path(path).exists():
        with sqlite3.connect(path) as db:
            held = db.execute("SELECT count(*) FROM conversation").fetchone()[0]
        if held == conversations:
            print(f"reusing {path} ({held:,} conversations)")
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
    if not Path(path).exists():
        started = time.perf_counter()
        build(path, conversations)
        print(f"built {path} with {conversations:,} conversations in {time.perf_counter() - started:.0f} s")
    with sqlite3.connect(path) as db:
        counts = {
            t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("message", "wait", "survey")
        }
    print(", ".join(f"{n:,} {t}s" for t, n in counts.items()), f"- {Path(path).stat().st_size / 1e9:.1f} GB")


def timed(fn, runs: int) -> tuple[float, float, int]:
    """p50 and p95 milliseconds of `fn()` over up to `runs` runs (at least 3, within the time budget)."""
    times: list[float] = []
    spent = 0.0
    while len(times) < runs and (len(times) < 3 or spent < BUDGET_SECONDS):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        spent += times[-1] / 1000
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(times)


def time_kpis(engine, settings: Settings, keys: list[str], runs: int) -> None:
    print(f"\nengine.compute, ms p50 / p95 (runs), as of {NOW:%Y-%m-%d %H:%M} UTC")
    print(f"{'kpi':<16}" + "".join(f"{scope + ' ' + period:>24}" for scope, period in SCOPES))
    with engine.connect() as conn:
        for key in keys:
            cells = []
            for scope, period in SCOPES:
                words = f"{'' if key == 'scorecard' else key} {'' if scope == 'all' else scope} {period}"
                request = parse_command(words, settings, NOW)
                try:
                    p50, p95, n = timed(lambda request=request: compute(conn, request, settings, NOW), runs)
                except UsageError as exc:  # e.g. a KPI that needs configuration the bench has not
                    cells.append(str(exc)[:22])
                    continue
                cells.append(f"{p50:8.1f} / {p95:8.1f} ({n:2d})")
            print(f"{key:<16}" + "".join(f"{cell:>24}" for cell in cells), flush=True)


def compare_duckdb(path: str, engine, settings: Settings, runs: int) -> None:
    """FRT statistics and volume counts of one period, SQLite (our code) against DuckDB (same rows)."""
    import duckdb
    import numpy as np

    db = sqlite3.connect(path)
    conv = db.execute(
        "SELECT first_response_at, opened_at, channel, frt_seconds FROM conversation"
    ).fetchall()
    msgs = db.execute("SELECT at, channel, direction FROM message").fetchall()
    duck = duckdb.connect()
    as_time = lambda column: np.array([v or "NaT" for v in column], dtype="datetime64[us]")  # noqa: E731
    responded, opened, channel, seconds = zip(*conv, strict=True)
    duck.register(
        "c",
        {
            "first_response_at": as_time(responded),
            "opened_at": as_time(opened),
            "channel": np.array(channel),
            "frt_seconds": np.array(seconds, dtype=float),
        },
    )
    at, mchannel, direction = zip(*msgs, strict=True)
    duck.register(
        "m", {"sent_at": as_time(at), "channel": np.array(mchannel), "direction": np.array(direction)}
    )
    duck.execute("CREATE TABLE conversation AS SELECT * FROM c; CREATE TABLE message AS SELECT * FROM m")
    print("\none period, ms p50: our SQLite query vs DuckDB on the same rows")
    with engine.connect() as conn:
        for scope, period in SCOPES:
            start = NOW - timedelta(days=int(period[:-1]))
            query = Query(start, NOW, () if scope == "all" else (scope,), NOW, settings)
            params = [start.replace(tzinfo=None), NOW.replace(tzinfo=None)]
            where = "" if scope == "all" else f" AND channel = '{scope}'"
            cases = [("frt", partial(frt, conn, query), DUCK_FRT.format(where=where))]
            if "volume" in KPIS:
                cases.append(
                    ("volume", partial(KPIS["volume"].compute, conn, query), DUCK_VOLUME.format(where=where))
                )
            for name, ours, sql in cases:
                sqlite_ms = timed(ours, runs)[0]
                duck_ms = timed(partial(_fetch, duck, sql, params), runs)[0]
                print(
                    f"{name:<7} {scope:>8} {period:>4}: SQLite {sqlite_ms:8.1f}  DuckDB {duck_ms:6.1f}  "
                    f"ratio {sqlite_ms / duck_ms:5.1f}x"
                )


def _fetch(duck, sql: str, params: list) -> list:
    return duck.execute(sql, params).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/kpibot-bench-kpi.db")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kpis", help="comma-separated KPI keys (default: scorecard and every KPI)")
    parser.add_argument("--no-duckdb", action="store_true")
    args = parser.parse_args()
    prepare(args.db, args.conversations)
    settings = Settings(database_url=f"sqlite:///{args.db}")
    engine = make_engine(settings.database_url, create=False)
    keys = args.kpis.split(",") if args.kpis else ["scorecard", *KPIS]
    time_kpis(engine, settings, keys, args.runs)
    if not args.no_duckdb:
        compare_duckdb(args.db, engine, settings, args.runs)
    engine.dispose()


if __name__ == "__main__":
    main()
