"""Webhook throughput and latency: signed POST /events against the bot's HTTP server in a subprocess.

    python bench/webhook.py [--events 100000] [--batch 500] [--singles 100000] [--concurrency 16] [--bare]
                            [--database-url postgresql+psycopg://USER:PW@HOST:PORT/postgres]

Starts the server on 127.0.0.1 with KPIBOT_WEBHOOK_SECRET set and DATABASE_URL a fresh database — a temp
SQLite file by default, or with `--database-url` of a PostgreSQL server the bench's own database
`kpibot_bench_webhook` there (dropped and created empty each run) — serving the app of
`kpibot serve` (bot.server.create_http_app, with the webhook routes), or with --bare only the webhook
routes on uvicorn. Then posts `--events` events in batches of `--batch`, and `--singles` events one per
request, each with `--concurrency` client threads, and prints events/s and request latency p50/p99.
Targets: ≥ 2,000 events/s sustained; p99 < 50 ms for single events.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import message_event  # noqa: E402
from bench.kpi_data import bench_database  # noqa: E402

SECRET = "bench-webhook-secret"
# The HTTP app `kpibot serve` runs, with the webhook routes; --bare serves the routes alone.
LAUNCH = """
import sys, uvicorn
from starlette.applications import Starlette
from bot.webhooks import webhook_routes
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings
settings = Settings()
engine = make_engine(settings.database_url)
if sys.argv[2] == "bare":
    app = Starlette(routes=webhook_routes(settings, engine, Ingestor(engine, settings)))
else:
    from bot.server import create_http_app
    app = create_http_app(settings, engine=engine)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def signed_headers(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Kpibot-Timestamp": stamp,
        "X-Kpibot-Signature": f"sha256={mac}",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, port: int, bare: bool) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "KPIBOT_WEBHOOK_SECRET": SECRET}
    env.update(KPIBOT_PSEUDONYM_KEY="bench-key", SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET="bench")
    command = [sys.executable, "-c", LAUNCH, str(port), "bare" if bare else "serve"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            # an unsigned POST answers 401 once the server is up
            httpx.post(f"http://127.0.0.1:{port}/events", content=b"{}", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                raise SystemExit("the server exited during start-up") from None
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start within 30 s")


def run(port: int, requests: list[list[dict]], concurrency: int) -> tuple[float, list[float]]:
    """Posts every request with `concurrency` threads; returns elapsed seconds and each request's latency.

    The stdlib client, not httpx: on two cores httpx's own overhead halved the rate of a no-op endpoint.
    """
    bodies = iter([json.dumps(batch[0] if len(batch) == 1 else batch).encode() for batch in requests])
    lock, latencies, failures = threading.Lock(), [], []

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                body = next(bodies, None)
            if body is None:
                connection.close()
                return
            started = time.perf_counter()
            connection.request("POST", "/events", body=body, headers=signed_headers(body))
            response = connection.getresponse()
            answer = response.read()
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                if response.status != 200 or json.loads(answer)["rejected"]:
                    failures.append(answer[:200])

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]!r}")
    return elapsed, latencies


def report(name: str, events: int, elapsed: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<22} {events:>7} events in {elapsed:6.1f} s: {events / elapsed:7.0f} events/s, "
        f"{len(latencies)} requests, p50 {p50 * 1000:6.1f} ms, p99 {p99 * 1000:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events posted in batches")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--singles", type=int, default=100_000, help="events posted one per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bare", action="store_true", help="serve the webhook routes alone")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+psycopg://…); the bench uses a database kpibot_bench_webhook",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url and not args.database_url.startswith("sqlite"):
            database_url, database = bench_database(args.database_url, "kpibot_bench_webhook"), "PostgreSQL"
        else:
            database_url, database = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite"
        port = free_port()
        server = start_server(database_url, port, args.bare)
        url = f"http://127.0.0.1:{port}"
        try:
            app = "webhook routes on uvicorn" if args.bare else "kpibot serve app"
            print(f"server: {app}, {database}, {url}")
            batched = [message_event(i, "b") for i in range(args.events)]
            requests = [batched[k : k + args.batch] for k in range(0, len(batched), args.batch)]
            report(f"batches of {args.batch}", args.events, *run(port, requests, args.concurrency))
            singles = [[message_event(i, "s")] for i in range(args.singles)]
            report("single events", args.singles, *run(port, singles, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
