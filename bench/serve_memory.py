"""Memory of `kpibot serve` under a steady mixed load: its RSS every few seconds for as long as asked.

    python bench/serve_memory.py --db COPY.db [--minutes 60] [--events-per-second 20]
                                 [--command-every 5] [--sample-every 10] [--wide]

Starts `kpibot serve --port 0` (tests/bot/running_bot.kpibot_serve) on the SQLite database at --db — it
writes to it (webhook events, the KPI cache, the job store): pass a copy of the 1M-conversation database
(bench/kpi.py), never the original. Then, for --minutes, one thread posts signed webhook events (one per
request, --events-per-second, new conversations and replies timed now, as bench/webhook.py signs them) and
another a signed `/kpi` slash command every --command-every seconds (bench/slack.py's mix of questions,
periods ending on the last day with data), waiting for each answer. The serve process's resident set
(psutil if installed, else /proc/PID/status) is sampled every --sample-every seconds and printed as it
goes; at the end, the curve's start, peak and end, the events sent and the answers' latency. Goal: RSS ≤
250 MB at 1M conversations after an hour.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import message_event  # noqa: E402
from bench.slack import SECRET as SLACK_SECRET  # noqa: E402
from bench.slack import TEXTS, WIDE_TEXTS, AnswerClock, percentile, texts_for  # noqa: E402
from bench.webhook import SECRET as WEBHOOK_SECRET  # noqa: E402
from bench.webhook import signed_headers  # noqa: E402
from tests.bot.running_bot import kpibot_serve, served_url  # noqa: E402
from tests.slack_standin import SlackStandIn, sign, slash_command_body, wait_for  # noqa: E402


def rss_mb(pid: int) -> float:
    """The resident set of process `pid` in MB (psutil's figure when installed, else /proc's VmRSS)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no RSS for process {pid}")


def load_average() -> str:
    """The machine's 1-minute load average, printed beside each sample (2 shared cores)."""
    return Path("/proc/loadavg").read_text().split()[0]


class Load:
    """The two client threads and what they counted; `stop` ends them."""

    def __init__(self, base_url: str, answers: AnswerClock, texts: list[str], rate: float, every: float):
        self.base_url, self.answers, self.texts, self.rate, self.every = base_url, answers, texts, rate, every
        self.stop = threading.Event()
        self.events = self.event_failures = self.command_failures = 0
        self.latencies: list[float] = []

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.webhooks), threading.Thread(target=self.commands)]
        for thread in threads:
            thread.start()
        return threads

    def webhooks(self) -> None:
        """Signed events, one per request, `rate` per second, timed now (the stdlib client: cheap)."""
        port = int(self.base_url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started, n, prefix = time.monotonic(), 0, f"mem{int(time.time())}-"  # new ids on each run
        while not self.stop.is_set():
            event = message_event(n, prefix)
            event["at"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            body = json.dumps(event).encode()
            try:
                connection.request("POST", "/events", body=body, headers=signed_headers(body))
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200 or json.loads(answer)["rejected"]:
                    self.event_failures += 1
            except (OSError, http.client.HTTPException):
                self.event_failures += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            n += 1
            self.events = n
            self.stop.wait(max(0.0, started + n / self.rate - time.monotonic()))
        connection.close()

    def commands(self) -> None:
        """A signed `/kpi` question every `every` seconds, waiting for its answer each time."""
        n = 0
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            while not self.stop.wait(self.every):
                path, text = f"/memory/{n}", self.texts[n % len(self.texts)]
                body = slash_command_body("/kpi", text, response_url=self.answers.base_url + path)
                headers = {**sign(body, SLACK_SECRET), "Content-Type": "application/x-www-form-urlencoded"}
                sent = time.perf_counter()
                try:
                    if client.post("/slack/events", content=body, headers=headers).status_code != 200:
                        raise AssertionError("not acknowledged")
                    wait_for(lambda path=path: path in self.answers.arrived, timeout=60, interval=0.005)
                    self.latencies.append((self.answers.arrived[path] - sent) * 1000)
                except (AssertionError, httpx.HTTPError):
                    self.command_failures += 1
                n += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a COPY of the SQLite database to serve (it is written)")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--events-per-second", type=float, default=20)
    parser.add_argument("--command-every", type=float, default=5, help="seconds between slash commands")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument(
        "--wide",
        action="store_true",
        help="ask bench/slack.py's wider mix (repeat, agents, by team / by topic over a quarter) as well",
    )
    args = parser.parse_args()
    texts = texts_for(args.db, list(WIDE_TEXTS if args.wide else TEXTS))
    answers = AnswerClock()
    workdir = Path(tempfile.mkdtemp(prefix="kpibot-bench-memory-"))
    with SlackStandIn() as slack:
        env = {
            "DATABASE_URL": f"sqlite:///{args.db}",
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_API_URL": slack.api_url,
            "SLACK_RESPONSE_ORIGINS": answers.base_url,
            "KPIBOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "KPIBOT_PSEUDONYM_KEY": "bench-key",
        }
        process, log = kpibot_serve(workdir, env)
        samples: list[tuple[float, float]] = []
        try:
            base_url = served_url(process, log)
            began = time.monotonic()
            samples.append((0.0, rss_mb(process.pid)))
            print(f"serve pid {process.pid} at {base_url}, log {log}; started, RSS {samples[0][1]:.0f} MB")
            load = Load(base_url, answers, texts, args.events_per_second, args.command_every)
            threads = load.start()
            while time.monotonic() - began < args.minutes * 60 and process.poll() is None:
                time.sleep(args.sample_every)
                samples.append((time.monotonic() - began, rss_mb(process.pid)))
                print(
                    f"{samples[-1][0] / 60:6.1f} min  RSS {samples[-1][1]:6.1f} MB  events {load.events:,}"
                    f"  answers {len(load.latencies)}  failures {load.event_failures}/{load.command_failures}"
                    f"  load {load_average()}",
                    flush=True,
                )
            load.stop.set()
            for thread in threads:
                thread.join()
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=120)
    (_, start), (_, end) = samples[0], samples[-1]
    peak_at, peak = max(samples, key=lambda sample: sample[1])
    ran = samples[-1][0] / 60
    print(f"database {args.db}; ran {ran:.1f} min; {load.events:,} events, {len(load.latencies)} answers")
    print(f"RSS start {start:.0f} MB, peak {peak:.0f} MB (at {peak_at / 60:.1f} min), end {end:.0f} MB")
    if load.latencies:
        p50, p95 = percentile(load.latencies, 0.5), percentile(load.latencies, 0.95)
        print(f"answer latency p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    print(f"failures: events {load.event_failures}, commands {load.command_failures}; exit code {code}")
    if load.event_failures or load.command_failures or code != 0:
        print(log.read_text()[-3000:])
        raise SystemExit(1)
    shutil.rmtree(workdir)  # the server's log


if __name__ == "__main__":
    main()
