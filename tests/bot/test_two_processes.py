"""Two `kpibot serve` processes on one PostgreSQL database, as behind a load balancer.

Both take webhooks and slash commands; the scheduler runs in one of them only (the leader), so a due
backlog alert is posted once; when the leader stops, the other takes the scheduler over.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from storage.db import make_engine, session
from storage.models import Conversation, RawEvent, Subscription
from storage.subscriptions import add_subscription
from tests.bot.running_bot import SECRET, kpibot_serve, served_url
from tests.slack_standin import sign, slash_command_body, wait_for

pytestmark = pytest.mark.postgresql_only("several processes share one database on PostgreSQL")

WEBHOOK_SECRET = "two-process-secret"
CONVERSATIONS = 150


def inbound(n: int, at: datetime) -> dict:
    return {
        "id": f"m{n}",
        "type": "message",
        "at": at.isoformat(),
        "conversation_id": f"tw-{n}",
        "channel": "twitter",
        "direction": "inbound",
        "author": {"kind": "customer", "id": f"@c{n}"},
        "text": "Where is my parcel?",
    }


def post_events(base_url: str, events: list[dict]) -> dict:
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Kpibot-Timestamp": stamp,
        "X-Kpibot-Signature": f"sha256={mac}",
    }
    response = httpx.post(f"{base_url}/events", content=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_two_processes_share_webhooks_both_answer_and_the_alert_is_posted_once(
    tmp_path, database_url, slack_api
):
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    with session(engine) as db:
        # Alerts are checked every 5 minutes counted from creation: this one is first due in ~6 s.
        add_subscription(
            db,
            Subscription(
                kind="alert",
                slack_channel="C2",
                threshold=10,
                max_age_seconds=3600.0,
                created_by="U1",
                created_at=now - timedelta(minutes=5) + timedelta(seconds=6),
            ),
        )
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api.api_url,
        "SLACK_RESPONSE_ORIGINS": slack_api.base_url,
        "KPIBOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KPIBOT_PSEUDONYM_KEY": "test-key",
        "KPIBOT_LEADER_RETRY_SECONDS": "0.5",
    }
    servers = [kpibot_serve(tmp_path, env, name=f"serve{n}") for n in range(2)]
    try:
        urls = [served_url(process, log) for process, log in servers]

        # Every event goes to both processes at once (a retried delivery landing on the other one):
        # 150 conversations opened 2 h ago, never answered, in batches of 10 and one by one.
        events = [inbound(n, now - timedelta(hours=2)) for n in range(CONVERSATIONS)]
        deliveries = [events[k : k + 10] for k in range(0, 100, 10)] + [[e] for e in events[100:]]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(
                pool.map(
                    post_events, [u for d in deliveries for u in urls], [d for d in deliveries for _ in urls]
                )
            )

        # Both processes answer slash commands from the same data.
        for url in urls:
            body = slash_command_body("/kpi", "volume", response_url=slack_api.new_response_url())
            ack = httpx.post(
                f"{url}/slack/events",
                content=body,
                headers={**sign(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert ack.status_code == 200
        replies = [slack_api.wait_for_response(count=n, timeout=10)[1]["text"] for n in (1, 2)]

        post = slack_api.wait_for_call("chat.postMessage", timeout=30)
        time.sleep(3)  # a second scheduler would have posted by now
        logs = [log.read_text() for _, log in servers]
        leaders = [n for n, text in enumerate(logs) if "this process runs the scheduler (leader)" in text]
        health = [httpx.get(f"{url}/healthz").json() for url in urls]

        # The leader stops: the other process takes the scheduler over.
        servers[leaders[0]][0].send_signal(signal.SIGTERM)
        standby = servers[1 - leaders[0]][1]
        wait_for(lambda: "this process runs the scheduler (leader)" in standby.read_text(), timeout=15)
    finally:
        for process, _ in servers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in servers:
            process.wait(timeout=30)

    # No event lost, none stored twice: each stored once, its twin delivery counted as a duplicate.
    assert sum(a["stored"] for a in answers) == CONVERSATIONS
    assert sum(a["duplicates"] for a in answers) == CONVERSATIONS
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RawEvent)).scalar_one() == CONVERSATIONS
        assert conn.execute(select(func.count()).select_from(Conversation)).scalar_one() == CONVERSATIONS
    engine.dispose()
    assert replies == ["Volume: 21.4/day (last 7 days · all channels)"] * 2  # 150 conversations / 7 days
    assert len(leaders) == 1, logs
    assert health[leaders[0]] == {"ok": True, "scheduler": "leader"}
    assert health[1 - leaders[0]] == {"ok": True, "scheduler": "standby"}
    assert "another process runs the scheduler; this one stands by" in logs[1 - leaders[0]]
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    assert post.params["channel"] == "C2"
    assert re.fullmatch(
        r":rotating_light: Backlog alert: \d+ open conversations waited over 1h \(limit 10\)\.",
        post.params["text"],
    )
