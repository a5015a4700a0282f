"""The KPI cache warm-up at start on a cold 1M-conversation database, and questions asked meanwhile.

    python bench/warm_start.py --db COPY.db [--every 2] [--texts "frt twitter 7d" "scorecard 7d"]

On a COPY of the bench database (bench/kpi.py; the cache is emptied here: never pass the original),
as `kpibot serve` would at start as of the data's last instant (bench/kpi_data.NOW):
1. the questions asked one after another on the cold cache, nothing else running (each computes its own
   days), then again with those days cached — the latencies without a warm-up running;
2. the cache emptied again, `storage.kpi_cache.warm` in a thread, as the scheduler runs it, while the
   same questions are asked in turn every --every seconds: each one's latency and when it was asked;
3. the warm-up's own time and slots. Prints the figures, and the machine's load average beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kpi import bench_settings  # noqa: E402
from bench.kpi_data import NOW  # noqa: E402
from commands.engine import compute  # noqa: E402
from commands.parse import parse_command  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.kpi_cache import warm  # noqa: E402

TEXTS = ("frt twitter 7d", "scorecard 7d", "volume 30d", "csat 90d")


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def empty_cache(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM kpi_slot")


def ask(engine, settings, text: str) -> float:
    """Milliseconds to answer `text` as of NOW, on a connection of its own (as a slash command is)."""
    request = parse_command(text, settings, NOW)
    started = time.perf_counter()
    with engine.connect() as conn:
        compute(conn, request, settings, NOW)
    return (time.perf_counter() - started) * 1000


def during_warm_up(engine, settings, texts: list[str], every: float, warm_up=warm):
    """Runs `warm_up(engine, NOW)` in a thread while asking `texts` in turn every `every` seconds; returns
    the warm-up's seconds and slots, and (seconds since it began, text, latency ms) per question."""
    done: list = []
    began = time.perf_counter()
    thread = threading.Thread(target=lambda: done.append((warm_up(engine, NOW), time.perf_counter())))
    thread.start()
    asked, n = [], 0
    while thread.is_alive():
        text = texts[n % len(texts)]
        at = time.perf_counter() - began
        asked.append((at, text, ask(engine, settings, text)))
        n += 1
        time.sleep(max(0.0, began + n * every - time.perf_counter()))
    thread.join()
    slots, ended = done[0]
    return ended - began, slots, asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a COPY of the 1M-conversation SQLite database")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between questions during warm-up")
    parser.add_argument("--texts", nargs="+", default=list(TEXTS))
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    engine, settings = make_engine(url, create=False), bench_settings(url)

    empty_cache(engine)
    print(f"without a warm-up running, as of {NOW:%Y-%m-%d %H:%M} UTC (load {load_average()}):")
    for text in args.texts:
        cold = ask(engine, settings, text)
        cached = statistics.median(ask(engine, settings, text) for _ in range(3))
        print(f"  {text:<18} cold cache {cold:8.0f} ms   its days cached {cached:6.0f} ms")

    empty_cache(engine)
    seconds, slots, asked = during_warm_up(engine, settings, args.texts, args.every)
    print(f"warm-up from a cold cache: {slots} slots in {seconds:.1f} s (load {load_average()})")
    print("questions during it (s after it began: latency):")
    for at, text, ms in asked:
        print(f"  {at:6.1f} s  {text:<18} {ms:8.0f} ms")
    by_text = {text: [ms for _, t, ms in asked if t == text] for text in args.texts}
    for text, values in by_text.items():
        if values:
            print(f"  {text:<18} median {statistics.median(values):8.0f} ms, max {max(values):8.0f} ms")


if __name__ == "__main__":
    main()
