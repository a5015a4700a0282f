"""A slow or failing database never holds up Slack's acks or /healthz, and /healthz tells when writes fail.

The real served app (Bolt, webhooks, health) on a real database; another connection holds the database's
write lock, as a long import or a stuck writer would.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from storage.models import RawEvent
from tests.bot.running_bot import running_bot
from tests.databases import held_write_lock, refused_inserts
from tests.slack_standin import slash_command_body
from tests.storage.builders import inbound

TOKEN = "tok-slow"


def event(n: int) -> bytes:
    return json.dumps(inbound(f"w{n}", 0, conv=f"tw-{n}")).encode()


def post_event(bot, n: int):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return bot.http.post("/events", content=event(n), headers=headers, timeout=60)


def stored(bot) -> int:
    with bot.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(RawEvent)).scalar_one()


def test_acks_and_healthz_answer_within_a_second_while_webhooks_wait_for_a_held_database(
    database_url, slack_api
):
    with running_bot(database_url, slack_api, webhook_token=TOKEN, webhook_max_pending=20) as bot:
        pool = ThreadPoolExecutor(max_workers=60)
        with held_write_lock(bot.engine):
            waiting = [pool.submit(post_event, bot, n) for n in range(60)]
            time.sleep(1.0)  # every request has arrived: 20 wait for the database, 40 were turned away
            started = time.monotonic()
            ack = bot.command(slash_command_body("/kpi", "help", response_url=slack_api.new_response_url()))
            ack_seconds = time.monotonic() - started
            started = time.monotonic()
            health = bot.http.get("/healthz")
            health_seconds = time.monotonic() - started
            time.sleep(2.0)  # held 3 s in all
        answers = [future.result() for future in waiting]
        pool.shutdown()
        kept = stored(bot)

    assert (ack.status_code, ack_seconds < 1.0) == (200, True), ack_seconds
    assert (health.status_code, health_seconds < 1.0) == (200, True), health_seconds
    busy = [a for a in answers if a.status_code == 503]
    accepted = [a for a in answers if a.status_code == 200]
    # 20 may wait for the database; the others arriving while it is held are told to retry
    assert len(busy) + len(accepted) == 60 and len(busy) >= 1 and len(accepted) >= 20
    assert {a.headers["retry-after"] for a in busy} == {"5"} and "nothing was stored" in busy[0].json()[
        "error"
    ]
    assert sum(a.json()["stored"] for a in accepted) == len(accepted) == kept


def test_healthz_is_503_while_writes_fail_and_ok_once_they_work_again(database_url, slack_api):
    with running_bot(database_url, slack_api, webhook_token=TOKEN) as bot:
        assert bot.http.get("/healthz").json() == {"ok": True}
        with refused_inserts(bot.engine, "raw_event"):
            failed = post_event(bot, 1)
            unhealthy = bot.http.get("/healthz")
            metrics = bot.http.get("/metrics").text
        healthy = bot.http.get("/healthz")  # the probe finds writes work again
        retried = post_event(bot, 1)

    assert failed.status_code == 503 and failed.headers["retry-after"] == "5"
    assert unhealthy.status_code == 503 and unhealthy.json()["ok"] is False
    assert (
        unhealthy.json()["writes"].startswith("failing since ")
        and "injected failure" in unhealthy.json()["writes"]
    )
    assert "kpibot_database_writes_failing 1.0" in metrics
    assert (healthy.status_code, healthy.json()) == (200, {"ok": True})
    assert retried.json()["stored"] == 1
