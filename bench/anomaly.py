"""Anomaly alerts at scale: one `commands.anomaly_read.evaluate` (what the anomaly alert runs every minute,
and `kpibot alert anomalies --preview` prints) over every signal and channel, at 1,000,000 conversations.

    python bench/anomaly.py [--db /tmp/kpibot-bench-anomaly.db] [--kpi-db /tmp/kpibot-bench-kpi.db]
                            [--runs 20]

Reads a copy of the KPI benchmark's database (bench/kpi.py: 1,000,000 conversations over the 90 days
before NOW, four channels), made at `--db` from `--kpi-db` when missing (the KPI benchmark's own file is
never migrated or written) and brought to this kpibot's schema revision. The generated messages carry no
language, score or topic: those of the hours an evaluation reads (the hours judged and their baseline
hours) are given them here — English, a score drawn from -1..1, a topic label on 40 % — and those hours
noted as changed for the KPI cache, once.

Then times evaluations at two instants: NOW, an hour boundary (the rolling 60 minutes and the last hour
are whole slots), and NOW - 23 min (the rolling window cuts two hours, read partly from the tables). Each
prints the first, cold evaluation (it computes and stores the baseline hours' slots), then the median and
p95 of `--runs` more, and what was judged.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sqlalchemy import bindparam, select, update  # noqa: E402

from bench.kpi_data import CHANNELS, NOW  # noqa: E402
from commands.anomaly import baseline_windows, last_60_minutes, last_hour  # noqa: E402
from commands.anomaly_read import evaluate, history_start  # noqa: E402
from storage import kpi_cache  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import Message  # noqa: E402
from storage.schema import upgrade  # noqa: E402
from storage.settings import Settings  # noqa: E402

M = Message.__table__.c
LABELS = ("delivery/late", "delivery/tracking", "refund/status", "billing/charge", "account/login")
INSTANTS = {"on the hour": NOW, "23 min before": NOW - timedelta(minutes=23)}


def prepare(db: Path, kpi_db: Path) -> str:
    """The URL of the benchmark's copy at `db`, copied from `kpi_db` when missing, at the schema head."""
    if not db.exists():
        if not kpi_db.exists():
            sys.exit(f"{kpi_db} is missing: build it first with `python bench/kpi.py`")
        print(f"copying {kpi_db} to {db}…", flush=True)
        shutil.copyfile(kpi_db, db)
    url = f"sqlite:///{db}"
    engine = make_engine(url, create=False)
    upgrade(engine)
    engine.dispose()
    return url


def analyse_windows(url: str, settings: Settings) -> int:
    """Gives the customer messages of every hour an evaluation at INSTANTS reads a language, a score and
    (40 %) a topic, as ingestion would have; notes those hours for the KPI cache. Returns how many it
    changed (0 when done before)."""
    engine = make_engine(url)
    windows = []
    with engine.connect() as conn:
        start = history_start(conn)
    for now in INSTANTS.values():
        for window in (last_60_minutes(now), last_hour(now, settings.zone)):
            windows += [window, *baseline_windows(window, settings.zone, start)[0]]
    rng = np.random.default_rng(7)
    changed = 0
    with engine.begin() as conn:
        for begin, end in sorted(set(windows)):
            ids = (
                conn.execute(
                    select(M.id).where(
                        M.at >= begin,
                        M.at < end,
                        M.direction == "inbound",
                        M.author_kind == "customer",
                        M.lang.is_(None),
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                continue
            scores = rng.uniform(-1, 1, len(ids)).round(3)
            tagged = rng.random(len(ids)) < 0.4
            labels = rng.choice(LABELS, len(ids))
            rows = [
                {"row": row, "s": float(s), "t": str(label) if tag else None}
                for row, s, tag, label in zip(ids, scores, tagged, labels, strict=True)
            ]
            conn.execute(
                update(Message.__table__)
                .where(M.id == bindparam("row"))
                .values(lang="en", sentiment=bindparam("s"), topics=bindparam("t")),
                rows,
            )
            kpi_cache.note(conn, [begin, end - timedelta(seconds=1)], NOW + timedelta(days=1))
            changed += len(ids)
    engine.dispose()
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/kpibot-bench-anomaly.db"))
    parser.add_argument("--kpi-db", type=Path, default=Path("/tmp/kpibot-bench-kpi.db"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url = prepare(args.db, args.kpi_db)
    settings = Settings(database_url=url, channels=list(CHANNELS))
    changed = analyse_windows(url, settings)
    if changed:
        print(f"gave {changed:,} customer messages a language, a score and topics")
    engine = make_engine(url)
    for name, now in INSTANTS.items():
        with engine.connect() as conn:
            started = time.perf_counter()
            findings = evaluate(conn, settings, (), now)
            cold = time.perf_counter() - started
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                evaluate(conn, settings, (), now)
                times.append(time.perf_counter() - started)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        anomalous = sum(f.verdict.anomalous for f in findings)
        print(
            f"{name} ({now:%Y-%m-%d %H:%M} UTC): {len(findings)} signals judged over {len(CHANNELS)} "
            f"channels and all, {anomalous} anomalous · first {cold * 1000:.0f} ms · p50 "
            f"{statistics.median(times) * 1000:.0f} ms · p95 {p95 * 1000:.0f} ms ({args.runs} runs)"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
