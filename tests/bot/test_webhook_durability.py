"""A 2xx from POST /events means durable: SIGKILL the real server mid-load, restart it, find every event.

The server is a real `kpibot serve` subprocess on a SQLite file. Eight client threads post single
events and batches of five until 300 events have been acknowledged; then the server is killed with
SIGKILL (no shutdown, no flush).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from storage.db import make_engine
from storage.models import RawEvent
from tests.slack_standin import wait_for

ROOT = Path(__file__).resolve().parents[2]
SECRET = "durability-secret"
# `kpibot serve` itself, on a free port.
LAUNCH = "import sys; from bot.cli import main; sys.argv = ['kpibot', 'serve', '--port', sys.argv[1]]; main()"


def message(event_id: str) -> dict:
    return {
        "id": event_id,
        "type": "message",
        "at": "2026-11-20T09:00:00Z",
        "conversation_id": f"c-{event_id.split('-')[0]}",
        "channel": "twitter",
        "direction": "inbound",
        "author": {"kind": "customer", "id": "@ana"},
        "text": "Where is my parcel?",
    }


def post(connection: http.client.HTTPConnection, events: list[dict]) -> dict:
    """The bot's answer to `events` posted signed on `connection`."""
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Kpibot-Timestamp": stamp}
    headers["X-Kpibot-Signature"] = f"sha256={mac}"
    connection.request("POST", "/events", body=body, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    assert response.status == 200, answer
    return json.loads(answer)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "KPIBOT_WEBHOOK_SECRET": SECRET}
    env.update(KPIBOT_PSEUDONYM_KEY="test-key", SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="test")
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, str(port)], cwd=ROOT, env=env)

    def answers() -> bool:
        assert process.poll() is None, "the server exited during start-up"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    wait_for(answers, timeout=30, interval=0.05, message="the server to listen")
    return process, port


def test_every_acknowledged_event_is_in_the_database_after_sigkill_and_restart(database_url):
    server, port = start_server(database_url)
    acknowledged: list[str] = []
    failed_requests: list[str] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            send_until_cut_off(worker, connection)
        finally:
            connection.close()

    def send_until_cut_off(worker: int, connection: http.client.HTTPConnection) -> None:
        for n in range(100_000):
            size = 1 if n % 2 else 5  # single events and small batches, in turn
            ids = [f"w{worker}n{n}-{k}" for k in range(size)]
            try:
                post(connection, [message(event_id) for event_id in ids])
            except (OSError, http.client.HTTPException) as exc:  # the server is gone
                with lock:
                    failed_requests.append(repr(exc))
                return
            with lock:
                acknowledged.extend(ids)

    try:
        threads = [threading.Thread(target=client, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acknowledged) >= 300, timeout=60, message="300 acknowledged events")
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.kill()
    assert len(failed_requests) == 8  # every client was cut off mid-load, not finished
    promised = set(acknowledged)

    restarted, port = start_server(database_url)
    try:
        # Through the restarted server: every acknowledged event is already there, so a duplicate.
        ids = sorted(promised)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        answers = [post(connection, [message(i) for i in ids[k : k + 500]]) for k in range(0, len(ids), 500)]
        connection.close()
        assert sum(a["duplicates"] for a in answers) == len(promised)
        assert sum(a["stored"] for a in answers) == 0
        engine = make_engine(database_url)
        with engine.connect() as conn:
            stored = set(conn.execute(select(RawEvent.external_id)).scalars())
        engine.dispose()
        assert promised <= stored  # (events stored whose answer was lost are allowed)
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
