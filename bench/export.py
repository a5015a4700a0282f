"""The conversation export at scale: `kpibot export conversations all 90d` of a 1,000,000-conversation
database, to CSV and XLSX, timed and measured in a child process of its own.

    python bench/export.py [--conversations 1000000] [--db /tmp/kpibot-bench-export.db]
                           [--kpi-db /tmp/kpibot-bench-kpi.db] [--formats csv,xlsx] [--tz Europe/Paris]
                           [--limit N] [--profile]
                           [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

The database is bench/kpi_data.py's (conversations over the 90 days before its NOW, their messages,
waits and surveys), plus what that build leaves empty and an export reads: a sentiment score on every
customer message, topics on three in four of them, and a link on every conversation. It is reused when
`--db` holds such a build at this kpibot's schema; else copied from the KPI benchmark's database
(`--kpi-db`, bench/kpi.py) when that holds a finished build of the same size, else built (minutes).
On PostgreSQL (`--database-url` of a server) the bench uses its own database `kpibot_bench_export`
there, built (COPY, then VACUUM ANALYZE) unless it holds such a build already.

Each export runs in a fresh child process (`commands.export.export_conversations`, as the CLI calls it,
to a file in the temporary folder, removed afterwards) that reports its wall and CPU time and its peak
resident memory (VmHWM): rows/s and MB are that one export's, interpreter included. On PostgreSQL the
CPU time is the Python process's alone: the server reads and sorts in its own processes.
`--profile` prints the child's cProfile top functions instead of timing alone.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from bench.kpi_data import NOW, bench_database, build, is_complete  # noqa: E402

DATABASE = "kpibot_bench_export"  # the bench's own database on a PostgreSQL server
SCORED = "bench-export-scored"  # app_secret row saying the export's extra columns are filled
LINKS = "https://support.example.com/app/conversations/"
TOPICS = ("'delivery/late'", "'delivery/status,refund/request'", "'account/login'", "NULL")


def prepare(url: str, conversations: int, kpi_db: Path) -> None:
    """A finished build of `conversations` at `url`, with sentiment, topics and links filled."""
    if _complete(url, conversations) and _scored(url):
        print(f"reusing {_safe(url)} ({conversations:,} conversations)")
        return
    started = time.perf_counter()
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if _complete(f"sqlite:///{kpi_db}", conversations):
            with sqlite3.connect(kpi_db) as source, sqlite3.connect(path) as target:
                source.backup(target)
            print(f"copied {kpi_db} in {time.perf_counter() - started:.0f} s")
            started = None
    else:
        bench_database(url, make_url(url).database, fresh=True)
    if started is not None:
        build(url, conversations)
        print(f"built {_safe(url)}: {conversations:,} conversations in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as conn:
        # Scores in [-1, 1] and topics spread over the ids by a fixed hash: the same database every build.
        conn.execute(
            text(
                "UPDATE message SET sentiment = ((id * 2654435761) % 2001 - 1000) / 1000.0, "
                f"topics = CASE id % 4 WHEN 0 THEN {TOPICS[0]} WHEN 1 THEN {TOPICS[1]} "
                f"WHEN 2 THEN {TOPICS[2]} ELSE {TOPICS[3]} END WHERE direction = 'inbound'"
            )
        )
        conn.execute(text(f"UPDATE conversation SET link = '{LINKS}' || external_id"))
        conn.execute(text("INSERT INTO app_secret (name, value) VALUES (:name, '1')"), {"name": SCORED})
    if engine.dialect.name == "postgresql":  # the statistics and visibility map autovacuum would leave
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    print(f"scored messages and linked conversations in {time.perf_counter() - started:.0f} s")


def _complete(url: str, conversations: int) -> bool:
    try:
        return is_complete(url, conversations)
    except Exception:  # noqa: BLE001 - a missing database, or one being built, is not one to reuse
        return False


def _scored(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM app_secret WHERE name = :name"), {"name": SCORED})
            return found.first() is not None
    finally:
        engine.dispose()


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def child(url: str, kind: str, tz: str, limit: int | None, profile: bool) -> None:
    """One export in this process; prints its figures as one JSON line."""
    from commands.export import export_conversations, parse_export
    from storage.db import make_engine
    from storage.settings import Settings

    settings = Settings(database_url=url, tz=tz)
    request = parse_export("all 90d", settings, NOW, usage="")
    engine = make_engine(settings.database_url, create=False)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"export.{kind}"
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        with engine.connect() as conn:
            result = export_conversations(conn, request, settings, out, limit=limit)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)
        size = out.stat().st_size
    peak = _peak_rss_mb()
    print(json.dumps({"rows": result.rows, "wall": wall, "cpu": cpu, "peak_mb": peak, "bytes": size}))


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, not getrusage's ru_maxrss, which Linux carries
    over exec from the parent (the bench, large after a build)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: the best this system offers

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/kpibot-bench-export.db"))
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://…); the bench uses its own database "
        "kpibot_bench_export there",
    )
    parser.add_argument("--kpi-db", type=Path, default=Path("/tmp/kpibot-bench-kpi.db"))
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument(
        "--tz", default="Europe/Paris", help="the workspace time zone the times are written in"
    )
    parser.add_argument("--limit", type=int, help="export the first N conversations only")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    if args.database_url:
        url = make_url(args.database_url).set(database=DATABASE).render_as_string(hide_password=False)
    if args.child:
        child(url, args.child, args.tz, args.limit, args.profile)
        return
    prepare(url, args.conversations, args.kpi_db)
    print(f"export of all {args.conversations:,} conversations (90 days), times in {args.tz}")
    for kind in args.formats.split(","):
        command = [sys.executable, __file__, "--child", kind, "--db", str(args.db), "--tz", args.tz]
        command += ["--database-url", args.database_url] if args.database_url else []
        command += ["--limit", str(args.limit)] if args.limit else []
        command += ["--profile"] if args.profile else []
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        if args.profile:
            print(done.stderr)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{kind:5} {figures['rows']:>9,} rows in {figures['wall']:5.1f} s "
            f"({figures['rows'] / figures['wall']:>7,.0f} rows/s; CPU {figures['cpu']:.1f} s, "
            f"{figures['rows'] / figures['cpu']:,.0f} rows/s) · peak memory {figures['peak_mb']:.0f} MB · "
            f"file {figures['bytes'] / 1e6:,.0f} MB"
        )


if __name__ == "__main__":
    main()
