"""How quickly the `kpibot` command answers: start-up, and one KPI on the demo database.

    python bench/startup.py [--runs 7] [--db /tmp/kpibot-bench-startup.db]

Runs the installed `kpibot` as a user would (a new process each time) and prints the median wall time of
`kpibot --help`, `kpibot --version` and `kpibot kpi frt twitter 30d` on a demo database (built once with
`kpibot demo --db`), beside a bare `python -c pass` as the machine's yardstick, with each as a ratio of
it. Then the heaviest imports of the KPI answer (`python -X importtime`), and which of the libraries a
KPI answer must not load (TextBlob, NLTK, Matplotlib, Alembic, Bolt, APScheduler) it loaded.
Goals (issue 16): `--help` ≤ 0.3 s and the KPI answer ≤ 0.5 s; figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("textblob", "nltk", "matplotlib", "alembic", "slack_bolt", "apscheduler")


def kpibot() -> list[str]:
    script = shutil.which("kpibot", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "bot.cli"]


def wall(command: list[str], runs: int) -> float:
    """Median seconds of `runs` runs of `command` (output discarded; a failure stops the bench)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heaviest_imports(command: list[str], top: int = 8) -> tuple[list[tuple[int, str]], list[str]]:
    """The `top` imports by cumulative milliseconds, and the HEAVY libraries the command loaded."""
    code = "import sys; from bot.cli import main; sys.argv = ['kpibot', *sys.argv[1:]]; main()"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    rows, loaded = [], set()
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        module = name.strip()
        rows.append((int(cumulative) // 1000, module))
        if module.split(".")[0] in HEAVY:
            loaded.add(module.split(".")[0])
    top_level = sorted((row for row in rows if "." not in row[1]), reverse=True)[:top]
    return top_level, sorted(loaded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", default="/tmp/kpibot-bench-startup.db")
    args = parser.parse_args()
    if not Path(args.db).exists():
        print(f"building the demo database {args.db} …", flush=True)
        subprocess.run([*kpibot(), "demo", "--db", args.db], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    question = ["kpi", "frt", "twitter", "30d", "--db", args.db]
    baseline = wall([sys.executable, "-c", "pass"], args.runs)
    print(f"python -c pass: {baseline:.3f} s (median of {args.runs})")
    for label, words, goal in (
        ("kpibot --help", ["--help"], 0.3),
        ("kpibot --version", ["--version"], 0.3),
        ("kpibot kpi frt twitter 30d", question, 0.5),
    ):
        seconds = wall([*kpibot(), *words], args.runs)
        verdict = "within" if seconds <= goal else "over"
        print(f"{label:<28} {seconds:.3f} s  ({seconds / baseline:.1f}× python -c pass; {verdict} {goal} s)")
    top, loaded = heaviest_imports(question)
    print("heaviest imports of the KPI answer (cumulative ms):")
    for millis, module in top:
        print(f"  {millis:>5}  {module}")
    print(f"libraries a KPI answer must not load, loaded: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
