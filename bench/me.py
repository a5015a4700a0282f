"""`/kpi me` latency at scale: one agent's report on bench/kpi.py's database (1M conversations, 40 agents).

    python bench/me.py [--conversations 1000000] [--db /tmp/kpibot-bench-kpi.db] [--runs 20]
                       [--periods 7d,90d] [--agent U001] [--minutes-past 30]
                       [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Builds the database as bench/kpi.py does (bench/kpi_data.py) unless the file holds that many
conversations already (then it is reused as it is, whatever revision built it), then times what
`/kpi me` does as of the data's last instant, over all channels and twitter: matching the asker
(`resolve_agent`, by their own id), `build_me` and the Block Kit message; and its parts — the period's
figures for every agent, the agent's previous period, the waiting list — and matching an unknown user.
Prints p50/p95 milliseconds and the first run's (the KPI cache's team-report slots are computed then if
missing). `--minutes-past` and `--database-url` as for bench/kpi.py (asked mid-hour; PostgreSQL's database
`kpibot_bench_kpi`, built there when missing).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kpi import bench_settings, prepare, reuse_or_prepare, timed  # noqa: E402
from bench.kpi_data import NOW, bench_database  # noqa: E402
from bot.heap import freeze_loaded  # noqa: E402
from commands.me import build_me, resolve_agent  # noqa: E402
from commands.me_figures import figures, waiting_on  # noqa: E402
from commands.periods import resolve_period  # noqa: E402
from commands.query import Query  # noqa: E402
from commands.render_me import me_message  # noqa: E402
from storage.db import make_engine  # noqa: E402


def answer(conn, settings, user: str, period, channels, now):
    """What the Slack listener does between the ack and the post."""
    agent = resolve_agent(conn, settings, user)
    return me_message(build_me(conn, settings, agent, now, period, channels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/kpibot-bench-kpi.db")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--periods", default="7d,90d")
    parser.add_argument("--agent", default="U001")
    parser.add_argument("--minutes-past", type=int, default=0, help="ask that many minutes after the hour")
    parser.add_argument("--database-url", help="a PostgreSQL server, as for bench/kpi.py")
    args = parser.parse_args()
    if args.database_url:
        url = bench_database(args.database_url, "kpibot_bench_kpi", fresh=False)
        settings = bench_settings(url)
        prepare(url, args.conversations, settings)
    else:
        url = f"sqlite:///{args.db}"
        settings = bench_settings(url)
        reuse_or_prepare(args.db, args.conversations, settings)
    engine = make_engine(url, create=False)
    now = NOW + timedelta(minutes=args.minutes_past)
    print(f"\n/kpi me for {args.agent}, ms p50 / p95 (runs) first, as of {now:%Y-%m-%d %H:%M} UTC")
    freeze_loaded()  # as `kpibot serve` does before it listens (bot/heap.py)
    with engine.connect() as conn:
        for word in args.periods.split(","):
            period = resolve_period(word, now, settings.zone)
            before = period.previous()
            for channels in ((), ("twitter",)):
                query = Query(period.start, period.end, channels, now, settings)
                cases = {
                    "answer": partial(answer, conn, settings, args.agent, period, channels, now),
                    "figures, every agent": partial(figures, conn, query),
                    "previous, the agent": partial(
                        figures, conn, replace(query, start=before.start, end=before.end, agent=args.agent)
                    ),
                    "waiting list": partial(waiting_on, conn, args.agent, now, channels),
                    "unknown user": partial(resolve_agent, conn, settings, "U0NOBODY"),
                }
                for name, case in cases.items():
                    first, _, _ = timed(case, 1)
                    p50, p95, n = timed(case, args.runs)
                    scope = ",".join(channels) or "all"
                    print(f"{word:>4} {scope:<8} {name:<22} {p50:8.1f} / {p95:8.1f} ({n:2d}) {first:8.0f}")
    engine.dispose()


if __name__ == "__main__":
    main()
