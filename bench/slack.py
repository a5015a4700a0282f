"""Slash-command latency of `kpibot serve` (HTTP mode) against the local Slack stand-in.

    python bench/slack.py [--db PATH] [--commands 1000] [--users 4] [--text "frt twitter" ...]

Starts `kpibot serve --port 0` as a subprocess on the SQLite database at --db (default: a small one
built here with the KPI benchmark's generator, bench/kpi_data.py) with SLACK_API_URL pointing at the
stand-in (tests/slack_standin.py). `--users` simulated people each send a signed slash command and
wait for its answer before asking again. Prints the ack latency (send -> HTTP 200) p50/p99 and the
answer latency (send -> the answer's POST to the response_url) p50/p95. Targets: ack p99 < 100 ms,
answer p95 < 300 ms.

Periods are explicit date ranges ending on the last day with data, so a database built days ago
is still asked about its busiest week.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402

from storage.db import make_engine  # noqa: E402
from storage.schema import upgrade  # noqa: E402
from tests.slack_standin import SlackStandIn, sign, slash_command_body, wait_for  # noqa: E402

SECRET = "bench-signing-secret"


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of `values` (numpy's linear interpolation), for the figures printed."""
    return float(numpy.quantile(values, q))


# {week} is the last 7 days with data, {month} the last 30: typical single-KPI questions.
TEXTS = (
    "frt twitter {week}",
    "frt {week}",
    "backlog",
    "csat {month}",
    "volume instagram {week}",
    "wait fb {week}",
)
# What also fills the bot's memories of answers (storage/kpi_cache: parsed payloads, values of periods that
# are over): repeat contacts, the team report, `by team` / `by topic` over a month and a quarter.
WIDE_TEXTS = (
    *TEXTS,
    "repeat {month}",
    "sla by topic {month}",
    "frt by team {quarter}",
    "reopens by topic {quarter}",
    "agents {quarter}",
    "scorecard {week}",
)


class AnswerClock:
    """A local response_url endpoint noting when each answer arrives (perf_counter), by path."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bodies: dict[str, bytes] = {}
        clock = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                clock.arrived[self.path], clock.bodies[self.path] = time.perf_counter(), body
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"


def texts_for(db_path: str, texts: list[str]) -> list[str]:
    """The command texts with {week}, {month} and {quarter} replaced by date ranges (7, 30 and 90 days)
    ending on the last day with data."""
    engine = make_engine(f"sqlite:///{db_path}", create=False)
    upgrade(engine)  # a database built by an earlier kpibot: `kpibot serve` would ask for this first
    with engine.connect() as conn:
        last = conn.exec_driver_sql("SELECT max(opened_at) FROM conversation").scalar()
    engine.dispose()
    if last is None:
        raise SystemExit(f"{db_path} has no conversations")
    end = date.fromisoformat(str(last)[:10])
    week, month = f"{end - timedelta(days=6)}..{end}", f"{end - timedelta(days=29)}..{end}"
    quarter = f"{end - timedelta(days=89)}..{end}"
    return [text.format(week=week, month=month, quarter=quarter) for text in texts]


def start_server(
    db_path: str, api_url: str, workdir: Path, answers_url: str
) -> tuple[subprocess.Popen, str, Path]:
    """Starts `kpibot serve --port 0`, allowed to answer at `answers_url` (the local response_url
    endpoint, as a real bot is allowed Slack's); returns the process, its base URL and its log file."""
    script = shutil.which("kpibot", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-c", "from bot.cli import main; main()"]
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "SLACK_RESPONSE_ORIGINS": answers_url,
    }
    log = workdir / "serve.log"
    with log.open("wb") as stream:
        process = subprocess.Popen(
            [*command, "serve", "--port", "0"], env=env, cwd=workdir, stdout=stream, stderr=subprocess.STDOUT
        )
    wait_for(lambda: "Uvicorn running" in log.read_text() or process.poll() is not None, timeout=60)
    started = re.search(r"Uvicorn running on (http://[\d.]+:\d+)", log.read_text())
    if not started:
        raise SystemExit(f"kpibot serve did not start:\n{log.read_text()}")
    return process, started.group(1), log


def run(base_url: str, answers: AnswerClock, texts: list[str], commands: int, users: int, tag: str):
    """Sends `commands` signed slash commands from `users` threads.

    Returns the ack and answer latencies (ms), the failures, and the answer latencies by command text.
    """
    acks: list[float] = []
    latencies: list[float] = []
    failures: list[str] = []
    by_text: dict[str, list[float]] = {}
    counter = iter(range(commands))
    lock = threading.Lock()

    def user() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                path = f"/{tag}/{n}"
                body = slash_command_body("/kpi", texts[n % len(texts)], response_url=answers.base_url + path)
                headers = {**sign(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"}
                sent = time.perf_counter()
                response = http.post("/slack/events", content=body, headers=headers)
                acked = time.perf_counter()
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}")
                    continue
                try:
                    wait_for(lambda path=path: path in answers.arrived, timeout=30, interval=0.001)
                except AssertionError:
                    failures.append(f"no answer to {texts[n % len(texts)]!r}")
                    continue
                if b"Sorry, something went wrong" in answers.bodies[path]:
                    failures.append(f"apology for {texts[n % len(texts)]!r}")
                with lock:
                    acks.append((acked - sent) * 1000)
                    latencies.append((answers.arrived[path] - sent) * 1000)
                    by_text.setdefault(texts[n % len(texts)], []).append(latencies[-1])

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acks, latencies, failures, by_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite database to serve (default: build a small one)")
    parser.add_argument("--conversations", type=int, default=20_000, help="size of the database built here")
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--users", type=int, default=4, help="people asking at the same time")
    parser.add_argument("--text", action="append", help="command text (repeatable; default: a KPI mix)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kpibot-bench-slack-"))
    db_path = args.db
    if db_path is None:
        from bench.kpi_data import build

        db_path = str(workdir / "kpibot.db")
        started = time.perf_counter()
        build(f"sqlite:///{db_path}", args.conversations)
        took = time.perf_counter() - started
        print(f"built {args.conversations:,} conversations at {db_path} in {took:.1f} s")
    texts = texts_for(db_path, args.text or list(TEXTS))
    answers = AnswerClock()
    with SlackStandIn() as slack:
        process, base_url, log = start_server(db_path, slack.api_url, workdir, answers.base_url)
        try:
            run(base_url, answers, texts, 10, 1, "warm-up")  # auth.test, caches, connections
            started = time.perf_counter()
            acks, latencies, failures, by_text = run(
                base_url, answers, texts, args.commands, args.users, "bench"
            )
            elapsed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    if not acks:  # every command failed: nothing to measure, say why
        print(f"no command was answered: {sorted(set(failures))[:5]}\n{log.read_text()[-3000:]}")
        raise SystemExit(1)
    acks.sort()
    latencies.sort()
    print(f"database: {db_path}; commands: {len(acks):,} from {args.users} users in {elapsed:.1f} s")
    print("texts: " + " | ".join(texts))
    print(f"ack latency     p50 {percentile(acks, 0.5):7.1f} ms   p99 {percentile(acks, 0.99):7.1f} ms")
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(f"answer latency  p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    for text, values in by_text.items():
        values.sort()
        print(f"  {text:<42} p50 {percentile(values, 0.5):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms")
    print(
        f"failures: {len(failures)} {sorted(set(failures))[:5]}; exit code of kpibot serve on SIGTERM: {code}"
    )
    if failures or code != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(1)
    shutil.rmtree(workdir)  # the database built here, if any, and the server log


if __name__ == "__main__":
    main()
