"""KPI query latency at scale: the scorecard and every KPI on a large database, and DuckDB beside it.

    python bench/kpi.py [--conversations 1000000] [--db /tmp/kpibot-bench-kpi.db] [--runs 20]
                        [--kpis frt,wait,"sla bh"] [--periods 7d,90d] [--sla-business-hours]
                        [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Builds the database once (bench/kpi_data.py; reused when it already holds that many conversations at
this kpibot's schema, its clocks stamped under the bench's service-level policies), then times
`commands.engine.compute` — the whole answer: the period, its previous period, benchmark and notes —
for all channels and for twitter, over 7 and 90 days (or `--periods`), as of the data's last instant.
A KPI key may carry modifiers: "sla bh" asks `sla bh …`. The bench configures business hours
(Mon-Fri 09:00-18:00 UTC), so `bh` can be asked; `--sla-business-hours` counts every channel's
service-level targets (the benchmarks') in business hours, as `/kpi sla set … bh` would, instead of
calendar time.
Prints p50/p95 milliseconds per case (runs stop early once a case has used its time budget), then
(SQLite only) the same FRT and volume figures computed by DuckDB from the same rows, as a reference ratio.

SQLite (the default: the file `--db`): the indexes of storage/models.py and no planner statistics (the
queries are written so SQLite picks the time-range index without them; see docs/performance.md).
PostgreSQL (`--database-url` of a server; the bench uses its own database `kpibot_bench_kpi` there,
dropped and rebuilt when it does not hold a finished build of that size): the same indexes, then
VACUUM ANALYZE as autovacuum would have done. `--no-prepare` times the same queries without psycopg's
server-side prepared statements (see docs/performance.md, PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, inspect, text  # noqa: E402

from bench.kpi_data import NOW, bench_database, build, is_complete  # noqa: E402
from bot.heap import freeze_loaded  # noqa: E402
from commands.engine import compute  # noqa: E402
from commands.errors import UsageError  # noqa: E402
from commands.kpis import KPIS  # noqa: E402
from commands.kpis.speed import frt  # noqa: E402
from commands.parse import parse_command  # noqa: E402
from commands.query import Query  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.service_levels import policies  # noqa: E402
from storage.settings import BusinessHours, Settings, SlaTargets  # noqa: E402

PERIODS = ("7d", "90d")
SCOPES = tuple((scope, period) for period in PERIODS for scope in ("all", "twitter"))
BUSINESS_HOURS = BusinessHours(hours={day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")})
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


def prepare(url: str, conversations: int, settings: Settings | None = None) -> None:
    """Builds the database at `url` unless it holds a finished build of `conversations` already, its
    service-level clocks stamped under `settings` (the bench's)."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else None
    if (path is None or Path(path).exists()) and is_complete(url, conversations, settings):
        print(f"reusing {_safe(url)} ({conversations:,} conversations)")
    else:
        if path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        else:
            bench_database(url, _name(url), fresh=True)
        started = time.perf_counter()
        build(url, conversations, settings=settings)
        print(f"built {_safe(url)}: {conversations:,} conversations in {time.perf_counter() - started:.0f} s")
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("message", "sla_clock", "survey")
        }
        size = (
            Path(path).stat().st_size
            if path
            else conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )
    engine.dispose()
    print(
        ", ".join(f"{n:,} {t.replace('sla_clock', 'clock')}s" for t, n in counts.items()),
        f"- {size / 1e9:.1f} GB",
    )


def reuse_or_prepare(path: str, conversations: int, settings: Settings) -> None:
    """The SQLite bench database at `path`: reused as it is when it holds `conversations` already, even
    built at another schema revision (one bench never rebuilds it under another), else built."""
    url = f"sqlite:///{path}"
    if Path(path).exists() and _holds(url, conversations):
        print(f"reusing {path} ({conversations:,} conversations)")
    else:
        prepare(url, conversations, settings)


def _holds(url: str, conversations: int) -> bool:
    """Whether the database holds that many conversations (a finished build: rows come in one load)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("sla_clock"):
                return False
            return conn.execute(text("SELECT count(*) FROM conversation")).scalar_one() == conversations
    finally:
        engine.dispose()


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1].split("?")[0]


def _safe(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


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


def time_kpis(
    engine, settings: Settings, keys: list[str], runs: int, scopes=SCOPES, now: datetime = NOW
) -> None:
    """Times every case after a first, untimed call, shown as `first` (the per-day cache starts empty, as
    after a bulk load: the first call computes and stores the whole days it reads), asked at `now`."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM kpi_slot")
    # As a bot would answer at NOW: the hours cached are those over an hour before NOW (the question's
    # `now` decides, not the wall clock); the last hour or two are read from the tables.
    print(f"\nengine.compute, ms p50 / p95 (runs) first, as of {now:%Y-%m-%d %H:%M} UTC")
    print(f"{'kpi':<16}" + "".join(f"{scope + ' ' + period:>32}" for scope, period in scopes))
    with engine.connect() as conn:
        for key in keys:
            cells = []
            for scope, period in scopes:
                words = f"{'' if key == 'scorecard' else key} {'' if scope == 'all' else scope} {period}"
                request = parse_command(words, settings, now)
                answer = partial(compute, conn, request, settings, now)
                try:
                    started = time.perf_counter()
                    answer()
                    first = (time.perf_counter() - started) * 1000
                except UsageError as exc:  # e.g. a KPI that needs configuration the bench has not
                    cells.append(str(exc)[:30])
                    continue
                p50, p95, n = timed(answer, runs)
                cells.append(f"{p50:7.1f} / {p95:7.1f} ({n:2d}) {first:6.0f}")
            print(f"{key:<16}" + "".join(f"{cell:>32}" for cell in cells), flush=True)


def bench_settings(url: str, *, sla_business_hours: bool = False) -> Settings:
    """The bench's settings: business hours configured (so `bh` can be asked); with `sla_business_hours`,
    each channel's service-level targets (those the benchmarks give it) counted in business hours."""
    settings = Settings(database_url=url, business_hours=BUSINESS_HOURS)
    if not sla_business_hours:
        return settings
    known = policies(None, settings)
    sla = {}
    for channel in settings.channels:
        policy = known.of(channel)
        sla[channel] = SlaTargets(
            first=policy.first, next=policy.next, resolve=policy.resolve, business_hours=True
        )
    return settings.model_copy(update={"sla": sla})


def compare_duckdb(path: str, engine, settings: Settings, runs: int) -> None:
    """FRT statistics and volume counts of one period, SQLite (our code) against DuckDB (same rows)."""
    import sqlite3

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
    parser.add_argument("--db", default="/tmp/kpibot-bench-kpi.db", help="the SQLite file (default database)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://…); the bench uses its own database kpibot_bench_kpi",
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--kpis",
        help='comma-separated KPI keys, modifiers allowed ("sla bh") (default: scorecard and every KPI)',
    )
    parser.add_argument(
        "--periods", default=",".join(PERIODS), help="comma-separated periods (default 7d,90d)"
    )
    parser.add_argument(
        "--sla-business-hours",
        action="store_true",
        help="every channel's service-level targets (the benchmarks') counted in business hours",
    )
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument(
        "--minutes-past",
        type=int,
        default=0,
        help="ask that many minutes after the data's last hour (default 0: on the hour), as a question asked "
        "mid-hour is: its minutes read from the tables, and the running period never a settled one",
    )
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="PostgreSQL: never prepare statements server-side (psycopg prepare_threshold=None), a what-if: "
        "from a statement's 6th run psycopg prepares it and the server may switch to a generic plan",
    )
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith("sqlite"):
        url = bench_database(args.database_url, "kpibot_bench_kpi", fresh=False)
    else:
        url = args.database_url or f"sqlite:///{args.db}"
    settings = bench_settings(url, sla_business_hours=args.sla_business_hours)
    prepare(url, args.conversations, settings)
    if args.no_prepare and not url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"prepare_threshold": None})
    else:
        engine = make_engine(settings.database_url, create=False)
    with engine.connect():  # the server version is known once connected
        version = ".".join(map(str, engine.dialect.server_version_info))
    print(f"database: {engine.dialect.name} {version}")
    keys = args.kpis.split(",") if args.kpis else ["scorecard", *KPIS]
    periods = args.periods.split(",")
    scopes = tuple((scope, period) for period in periods for scope in ("all", "twitter"))
    freeze_loaded()  # as `kpibot serve` does before it listens (bot/heap.py)
    time_kpis(engine, settings, keys, args.runs, scopes, NOW + timedelta(minutes=args.minutes_past))
    if not args.no_duckdb and engine.dialect.name == "sqlite":
        compare_duckdb(url.removeprefix("sqlite:///"), engine, settings, args.runs)
    engine.dispose()


if __name__ == "__main__":
    main()
