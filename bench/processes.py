"""Several `kpibot serve` processes on one PostgreSQL database, under a webhook load spread over them.

    python bench/processes.py [--processes 4] [--rate 2000] [--seconds 60] [--batch 50] [--retried 0.05]
                              [--database-url postgresql+psycopg://kpibot:kpibot@127.0.0.1:54329/postgres]

On a fresh database `kpibot_bench_processes` of the server (bench/kpi_data.bench_database), with a daily
digest subscription due during the run, starts --processes `kpibot serve --port 0`
(tests/bot/running_bot.kpibot_serve) pointed at the Slack stand-in (tests/slack_standin.py), then posts
signed webhook events for --seconds at --rate events/s in all, in requests of --batch events (the k-th
request to the k-th process, round robin), paced open loop by client threads. A --retried share of the
requests is delivered a second time to the next process once the first answered (a retry after a lost
answer); a 503 (too many waiting) is retried after a pause. Afterwards it checks nothing was lost or
doubled — the processes' own counts (stored, duplicates) and the database's (raw events, messages,
conversations) against what was sent — and that the digest was posted exactly once, and prints the rate
reached, the request latency, and the CPU seconds spent by the serve processes, PostgreSQL and the
client per 1,000 events (where the time goes on this machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.ingest import message_event  # noqa: E402
from bench.kpi_data import bench_database  # noqa: E402
from bench.webhook import SECRET as WEBHOOK_SECRET  # noqa: E402
from bench.webhook import signed_headers  # noqa: E402
from storage.db import make_engine, session  # noqa: E402
from storage.models import Conversation, Message, RawEvent, Subscription  # noqa: E402
from storage.subscriptions import add_subscription  # noqa: E402
from tests.bot.running_bot import SECRET as SLACK_SECRET  # noqa: E402
from tests.bot.running_bot import kpibot_serve, served_url  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402

SERVER = "postgresql+psycopg://kpibot:kpibot@127.0.0.1:54329/postgres"
DIGEST_CHANNEL = "CDIGEST"
TICKS = os.sysconf("SC_CLK_TCK")


def serve_env(database_url: str, slack: SlackStandIn) -> dict[str, str]:
    """The environment of each serve process: the database, the stand-in, the webhook secret."""
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_RESPONSE_ORIGINS": slack.base_url,
        "KPIBOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KPIBOT_PSEUDONYM_KEY": "bench-key",
        "KPIBOT_LEADER_RETRY_SECONDS": "1",
    }


def start_processes(directory: Path, env: dict[str, str], count: int) -> list[tuple]:
    """`count` serve processes; returns (process, log, port) each, once all listen."""
    started = [kpibot_serve(directory, env, name=f"serve{n}") for n in range(count)]
    return [(p, log, int(served_url(p, log).rsplit(":", 1)[1])) for p, log in started]


def stop_processes(servers: list[tuple]) -> list[int]:
    """SIGTERM to every serve process; their exit codes."""
    for process, *_ in servers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    return [process.wait(timeout=120) for process, *_ in servers]


def add_digest(database_url: str, at: datetime) -> Subscription:
    """A daily digest to DIGEST_CHANNEL at `at`'s minute, UTC."""
    engine = make_engine(database_url)
    with session(engine) as db:
        subscription = add_subscription(
            db,
            Subscription(
                kind="digest",
                slack_channel=DIGEST_CHANNEL,
                time=f"{at:%H:%M}",
                timezone="UTC",
                created_by="U1",
                created_at=datetime.now(UTC),
            ),
        )
    engine.dispose()
    return subscription


def events(count: int, prefix: str) -> list[dict]:
    """`count` message events (conversations of 5 messages ten minutes apart, bench/ingest.py), ids
    starting `prefix`, in the order they happened, as a helpdesk sends them: a conversation's messages
    are ~85 conversations apart, not side by side on different processes at the same instant."""
    return sorted((message_event(i, prefix) for i in range(count)), key=lambda event: event["at"])


@dataclass
class Delivery:
    """What the processes answered, summed: stored, duplicates, rejected; requests, 503s, latencies."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    requests: int = 0
    busy: int = 0
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def deliver(
    ports: list[int], batches: list[list[dict]], *, rate: float, retried: float, clients: int, seed: int = 1
) -> tuple[Delivery, float]:
    """Posts every batch, the k-th to ports[k % len(ports)] at start + k * len(batch) / rate (open loop:
    a late request goes at once); a `retried` share again to the next port after its first answer.
    Returns what the processes answered and the seconds from the first request to the last answer."""
    chosen = random.Random(seed)
    plan = [
        (k, body, chosen.random() < retried) for k, body in enumerate(json.dumps(b).encode() for b in batches)
    ]
    per_batch = len(batches[0]) / rate if batches else 0.0
    todo, result = iter(plan), Delivery()
    lock = threading.Lock()

    def client() -> None:
        connections: dict[int, http.client.HTTPConnection] = {}
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                break
            k, body, again = item
            time.sleep(max(0.0, began + k * per_batch - time.perf_counter()))
            for port in [ports[k % len(ports)]] + ([ports[(k + 1) % len(ports)]] if again else []):
                post(connections, port, body)
        for connection in connections.values():
            connection.close()

    def post(connections: dict, port: int, body: bytes) -> None:
        while True:
            connection = connections.setdefault(
                port, http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            )
            sent = time.perf_counter()
            try:
                connection.request("POST", "/events", body=body, headers=signed_headers(body))
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):  # the connection dropped: a retry, as a sender's
                connection.close()
                connections.pop(port)
                time.sleep(0.1)
                continue
            took = time.perf_counter() - sent
            if response.status == 503:
                with result.lock:
                    result.busy += 1
                time.sleep(0.2)
                continue
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}: {answer[:200]!r}")
            counts = json.loads(answer)
            with result.lock:
                result.requests += 1
                result.latencies.append(took)
                result.stored += counts["stored"]
                result.duplicates += counts["duplicates"]
                result.rejected += len(counts["rejected"])
            return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result, time.perf_counter() - began


def stored_counts(database_url: str) -> dict[str, int]:
    """Rows in the database: raw events, messages, conversations."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in (
                ("raw events", RawEvent),
                ("messages", Message),
                ("conversations", Conversation),
            )
        }
    engine.dispose()
    return counts


def digests_posted(slack: SlackStandIn) -> int:
    """The chat.postMessage calls to DIGEST_CHANNEL the stand-in recorded."""
    return sum(call.params.get("channel") == DIGEST_CHANNEL for call in slack.calls_to("chat.postMessage"))


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each of the processes `pids` still there."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return used


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two `cpu_seconds`: a process started meanwhile counts whole (one that ended
    meanwhile is not seen: PostgreSQL backends of the serve processes' pools live through the run)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (its backends and helpers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_busy() -> tuple[float, float]:
    """The machine's (busy, total) CPU seconds so far, every core (/proc/stat), to tell how full it was."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / TICKS, sum(ticks) / TICKS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=SERVER, help="the PostgreSQL server")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2000, help="events per second, all processes together")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    parser.add_argument("--retried", type=float, default=0.05, help="share of requests delivered twice")
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    args = parser.parse_args()
    database_url = bench_database(args.database_url, "kpibot_bench_processes")
    make_engine(database_url).dispose()  # the schema, before the processes race to make it
    total = int(args.rate * args.seconds) // args.batch * args.batch
    sent = events(total, f"p{int(time.time())}-")
    batches = [sent[k : k + args.batch] for k in range(0, total, args.batch)]
    workdir = Path(tempfile.mkdtemp(prefix="kpibot-bench-processes-"))
    with SlackStandIn() as slack:
        # due at the first whole minute at least 30 s from now: within the run once the processes are up
        due = (datetime.now(UTC) + timedelta(seconds=90)).replace(second=0, microsecond=0)
        add_digest(database_url, due)
        servers = start_processes(workdir, serve_env(database_url, slack), args.processes)
        try:
            pids = [p.pid for p, *_ in servers]
            before = cpu_seconds(pids), cpu_seconds(postgres_pids()), resource.getrusage(resource.RUSAGE_SELF)
            busy_before = machine_busy()
            load_before = os.getloadavg()[0]
            print(f"{args.processes} processes up; digest due {due:%H:%M:%S} UTC; load {load_before:.2f}")
            result, elapsed = deliver(
                [port for *_, port in servers],
                batches,
                rate=args.rate,
                retried=args.retried,
                clients=args.clients,
            )
            after = cpu_seconds(pids), cpu_seconds(postgres_pids()), resource.getrusage(resource.RUSAGE_SELF)
            busy_after = machine_busy()
            load_after = os.getloadavg()[0]
            # the digest, if due after the load ended, is still waited for
            deadline = max(due + timedelta(seconds=60), datetime.now(UTC) + timedelta(seconds=10))
            while digests_posted(slack) == 0 and datetime.now(UTC) < deadline:
                time.sleep(0.5)
            time.sleep(5)  # a second post, if any, would come now
            digests = digests_posted(slack)
        finally:
            codes = stop_processes(servers)
    rows = stored_counts(database_url)
    retried_events = result.duplicates
    client_cpu = (after[2].ru_utime + after[2].ru_stime) - (before[2].ru_utime + before[2].ru_stime)
    serve_cpu, pg_cpu = cpu_spent(before[0], after[0]), cpu_spent(before[1], after[1])
    busy, whole = (b - a for a, b in zip(busy_before, busy_after, strict=True))
    print(
        f"sent {total:,} events in {len(batches):,} requests of {args.batch} to {args.processes} processes "
        f"in {elapsed:.1f} s: {total / elapsed:,.0f} events/s (asked {args.rate:,.0f}); load "
        f"{load_before:.2f} -> {load_after:.2f}"
    )
    print(
        f"answers: {result.requests:,} requests, {result.busy} answered 503 and retried; latency"
        f" p50 {percentile(result.latencies, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(result.latencies, 0.99) * 1000:.0f} ms"
    )
    print(
        f"stored {result.stored:,}, duplicates {result.duplicates:,} (retried deliveries), rejected "
        f"{result.rejected}; in the database: {rows}"
    )
    per_k = 1000 / total
    print(
        f"CPU s per 1,000 events: serve {serve_cpu * per_k:.3f}, PostgreSQL {pg_cpu * per_k:.3f}, client "
        f"{client_cpu * per_k:.3f} (in all {serve_cpu:.0f} + {pg_cpu:.0f} + {client_cpu:.0f} s"
        f" over {elapsed:.0f} s); the machine's {os.cpu_count()} cores {busy / whole:.0%} busy, other work"
        f" {busy - serve_cpu - pg_cpu - client_cpu:.0f} s"
    )
    print(f"digests posted to {DIGEST_CHANNEL}: {digests}; exit codes {codes}")
    lost_or_doubled = (
        result.stored != total
        or rows["raw events"] != total
        or rows["messages"] != total
        or rows["conversations"] != total // 5 + (total % 5 > 0)
        or result.rejected
    )
    verdict = "YES" if lost_or_doubled else "none"
    print(f"lost or doubled: {verdict}; retried events stored once: {retried_events:,}")
    if lost_or_doubled or digests != 1 or any(codes):
        raise SystemExit(f"the servers' logs are in {workdir}")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
