"""`/kpi why` latency at scale: each explained KPI on bench/kpi.py's database (1M conversations).

    python bench/why.py [--conversations 1000000] [--db /tmp/kpibot-bench-kpi.db] [--runs 20]
                        [--periods 7d,90d] [--metrics frt,wait,art,csat,reply-rate,resolution-rate]

Builds the database as bench/kpi.py does (bench/kpi_data.py) unless the file holds that many
conversations already (then it is reused as it is), then times what the Slack listener does between the
ack and the post — `explain` and the Block Kit message — as of the data's last instant, over all channels
and over twitter. Prints p50 / p95 milliseconds, and the first run's: the KPI cache's `why:` tallies of
the days read are computed then if missing (after a bulk load, or the first question after an upgrade),
and stored. The parts are timed too for the first metric: the split sums of one period, the load, the
conversations weighing most.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kpi import bench_settings, reuse_or_prepare, timed  # noqa: E402
from bench.kpi_data import NOW  # noqa: E402
from commands.drill import conversations_behind  # noqa: E402
from commands.parse import parse_command  # noqa: E402
from commands.query import Query  # noqa: E402
from commands.render_why import why_message  # noqa: E402
from commands.why import agent_load, explain  # noqa: E402
from commands.why_items import WHY, read_sums  # noqa: E402
from storage.db import make_engine  # noqa: E402


def answer(conn, settings, request):
    return why_message(explain(conn, request, settings, NOW))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/kpibot-bench-kpi.db")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--periods", default="7d,90d")
    parser.add_argument("--metrics", default=",".join(WHY))
    args = parser.parse_args()
    settings = bench_settings(f"sqlite:///{args.db}")
    reuse_or_prepare(args.db, args.conversations, settings)
    engine = make_engine(settings.database_url, create=False)
    metrics = args.metrics.split(",")
    print(f"\n/kpi why, ms p50 / p95 (runs) first, as of {NOW:%Y-%m-%d %H:%M} UTC")
    with engine.connect() as conn:
        for word in args.periods.split(","):
            for channels in ((), ("twitter",)):
                scope = ",".join(channels) or "all"
                for metric in metrics:
                    request = parse_command(f"why {metric} {scope} {word}", settings, NOW)
                    case = partial(answer, conn, settings, request)
                    first, _, _ = timed(case, 1)
                    p50, p95, n = timed(case, args.runs)
                    print(f"{word:>4} {scope:<8} {metric:<16} {p50:8.1f} / {p95:8.1f} ({n:2d}) {first:8.0f}")
                period = request.period
                query = Query(period.start, period.end, channels, NOW, settings)
                parts = {
                    f"  sums of one period ({metrics[0]})": partial(read_sums, conn, metrics[0], query),
                    "  load, both periods": partial(agent_load, conn, query, query),
                    "  weighing most (3)": partial(conversations_behind, conn, request, settings, NOW, 3),
                }
                for name, part in parts.items():
                    p50, p95, n = timed(part, args.runs)
                    print(f"{word:>4} {scope:<8} {name:<34} {p50:8.1f} / {p95:8.1f} ({n:2d})")
    engine.dispose()


if __name__ == "__main__":
    main()
