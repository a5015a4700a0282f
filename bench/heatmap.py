"""The hour x weekday heatmap at scale: `compute_heatmap` for volume and frt, all channels and twitter, over
30 and 90 days, in the workspace time zone, and drawing its PNG.

    python bench/heatmap.py [--db /tmp/kpibot-bench-kpi.db] [--runs 20] [--periods 30d,90d]
                            [--tz Europe/Paris] [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Reads bench/kpi.py's database (1,000,000 conversations over the 90 days before bench/kpi_data.py's NOW,
about 5 million messages). An existing SQLite file is reused as it is, whatever its schema revision: the
heatmap reads only message (at, channel, direction, private) and conversation (first_response_at, channel,
frt_seconds), there since the first revision; a missing one is built as bench/kpi.py builds it (minutes).
Prints p50/p95 milliseconds per case (the whole answer: parse the words, read the ranges, take medians).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine  # noqa: E402

from bench.kpi import prepare, timed  # noqa: E402
from bench.kpi_data import NOW  # noqa: E402
from bot.heap import freeze_loaded  # noqa: E402
from commands.heatmap import compute_heatmap, parse_heatmap  # noqa: E402
from commands.heatmap_chart import render_heatmap_png  # noqa: E402
from storage.settings import Settings  # noqa: E402


def answer(conn, words: str, settings: Settings):
    """The whole heatmap answer for `words`, as of the data's last instant."""
    return compute_heatmap(conn, parse_heatmap(words, settings, NOW), settings, NOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="/tmp/kpibot-bench-kpi.db", help="the SQLite file (default database)")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server's bench database (bench/kpi.py builds it)"
    )
    parser.add_argument("--conversations", type=int, default=1_000_000, help="to build a missing database")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--periods", default="30d,90d")
    parser.add_argument("--tz", default="Europe/Paris", help="the workspace time zone (default Europe/Paris)")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{args.db}"
    if args.database_url is None and Path(args.db).exists():
        print(f"reusing {args.db}")
    else:
        prepare(url, args.conversations)
    settings = Settings(database_url=url, tz=args.tz)
    engine = create_engine(url)
    periods = args.periods.split(",")
    print(f"\ncompute_heatmap, ms p50 / p95 (runs), as of {NOW:%Y-%m-%d %H:%M} UTC, local hours of {args.tz}")
    print(
        f"{'heatmap':<10}"
        + "".join(f"{scope + ' ' + period:>26}" for period in periods for scope in ("all", "twitter"))
    )
    first: list[str] = []
    freeze_loaded()  # as `kpibot serve` does before it listens (bot/heap.py)
    with engine.connect() as conn:
        for metric in ("volume", "frt"):
            cells = []
            for period in periods:
                for scope in ("all", "twitter"):
                    words = f"heatmap {metric} {'' if scope == 'all' else scope} {period}"
                    started = time.perf_counter()
                    answer(conn, words, settings)  # fills what the KPI cache lacks, as the warm-up would
                    first.append(f"{words.split(maxsplit=1)[1]}: {time.perf_counter() - started:.2f} s")
                    p50, p95, n = timed(partial(answer, conn, words, settings), args.runs)
                    cells.append(f"{p50:7.1f} / {p95:7.1f} ({n:2d})")
            print(f"{metric:<10}" + "".join(f"{cell:>26}" for cell in cells), flush=True)
        heatmap = answer(conn, f"heatmap frt {periods[-1]}", settings)
    print("first call of each (untimed above):", "; ".join(first))
    print(f"\n{periods[-1]} frt: {heatmap.total:,} first responses; busiest cell {heatmap.busiest().label}")
    started = time.perf_counter()
    png = render_heatmap_png(heatmap)
    print(f"PNG: {len(png):,} bytes drawn in {(time.perf_counter() - started) * 1000:.0f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
