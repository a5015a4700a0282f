"""The SLA-risk alert end to end: set from Slack, checked by its job against the Slack stand-in with the
clock driven by hand, its buttons pressed through the real app with signed requests.

Twitter's policy here: first and next response within 1 h. At NOW (11:45 UTC) w1 (opened 11:00, has a
link) has 15 minutes left, w2 (opened 11:20) 35 minutes, and nobody replied in the last hour, so with a
30-minute lead only w1 is at risk; w2 joins at 11:50.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.jobs import check_sla_alert
from bot.jobs.posting import SKIPPED
from bot.scheduler import job_trigger
from bot.slack_client import web_client
from commands.sla_risk import at_risk
from storage.db import make_engine, session
from storage.ingest import Ingestor
from storage.models import SlaClaim, Subscription
from storage.subscriptions import add_subscription, list_subscriptions
from tests.bot.running_bot import running_bot
from tests.bot.test_app_commands import ask
from tests.concurrently import at_once
from tests.slack_standin import block_action_body

NOW = datetime(2026, 11, 20, 11, 45, tzinfo=UTC)
POLICY = {"twitter": {"first": "1h", "next": "1h"}}


def inbound(conv: str, at: str, **extra) -> dict:
    author = {"kind": "customer", "id": f"@{conv}"}
    return {"id": f"m-{conv}", "type": "message", "at": at, "conversation_id": conv, "channel": "twitter",
            "direction": "inbound", "author": author, "text": "hi", **extra}  # fmt: skip


EVENTS = [
    inbound("w1", "2026-11-20T11:00:00Z", link="https://x.example/w1"),
    inbound("w2", "2026-11-20T11:20:00Z"),
]


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api, now=NOW, sla=POLICY) as running:
        result = Ingestor(running.engine, running.settings).ingest(
            [(n, json.dumps(e)) for n, e in enumerate(EVENTS, 1)]
        )
        assert not result.rejected
        yield running


def subscribe(engine, lead: float = 1800.0) -> Subscription:
    with session(engine) as db:
        sub = Subscription(
            kind="sla", slack_channel="C2", max_age_seconds=lead, created_by="U1", created_at=NOW
        )
        return add_subscription(db, sub)


def posts(slack_api) -> list[dict]:
    return [call.params for call in slack_api.calls_to("chat.postMessage") if not call.injected_failure]


def check(bot, subscription, minutes: float = 0) -> str:
    client = web_client(bot.settings)
    return check_sla_alert(bot.engine, client, bot.settings, subscription, NOW + timedelta(minutes=minutes))


def test_an_admin_sets_the_alert_in_slack_and_its_job_runs_every_minute(bot):
    bot.slack.set_user("U1", is_admin=True)
    answer = ask(bot, "alert sla here lead 45m x")
    with session(bot.engine) as db:
        (sub,) = list_subscriptions(db, kind="sla")

    assert (sub.slack_channel, sub.max_age_seconds, sub.channels) == ("C1", 2700.0, "twitter")
    assert answer["text"].startswith("Done: SLA-risk alert in <#C1> for breaches due within 45m")
    assert job_trigger(sub, bot.settings).interval == timedelta(minutes=1)


def test_the_alert_lists_what_will_breach_with_buttons_then_tells_a_newcomer_at_once(bot):
    subscription = subscribe(bot.engine)

    first = check(bot, subscription)
    quiet = check(bot, subscription, 2)  # the same risk, within the cool-down
    newcomer = check(bot, subscription, 6)  # 11:51: w2 has 29 minutes left

    assert (first, quiet) == ("fire posted 2026-11-20 11:45 UTC (1 at risk)", "quiet")
    assert newcomer == "new posted 2026-11-20 11:51 UTC (2 at risk)"
    fired, more = posts(bot.slack)
    assert fired["channel"] == "C2"
    assert fired["text"] == ":stopwatch: SLA risk: 1 conversation may breach within 30m"
    line = fired["blocks"][1]["text"]["text"]
    assert line == (
        "• breaches in 15m — 1st in the twitter queue, no replies in the last hour · first response · "
        "<https://x.example/w1|w1>"
    )
    buttons = fired["blocks"][2]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Open", "Snooze 30 min", "I'm on it"]
    assert buttons[0]["url"] == "https://x.example/w1"
    assert more["text"].startswith(":stopwatch: SLA risk, more conversations: 2 conversations")


def test_i_m_on_it_records_who_took_it_edits_the_alert_and_the_next_check_clears(bot):
    subscription = subscribe(bot.engine)
    check(bot, subscription)
    (fired,) = posts(bot.slack)
    claim = fired["blocks"][2]["elements"][2]
    message = {"text": fired["text"], "blocks": fired["blocks"]}
    body = block_action_body(
        claim["action_id"], claim["value"], user_id="U7", channel_id="C2", message_ts="1.2", message=message
    )

    ack = bot.post(body, content_type="application/x-www-form-urlencoded")
    edited = bot.slack.wait_for_call("chat.update").params
    with bot.engine.connect() as conn:
        taken = conn.execute(select(SlaClaim.__table__)).mappings().all()

    assert ack.status_code == 200
    assert (edited["channel"], edited["ts"]) == ("C2", "1.2")
    assert edited["blocks"][2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": ":raising_hand: <@U7> is on it"}],
    }
    assert [(row["conversation_id"], row["claimed_by"]) for row in taken] == [(int(claim["value"]), "U7")]
    assert check(bot, subscription, 1) == "clear posted 2026-11-20 11:46 UTC (0 at risk)"


def test_snooze_keeps_a_conversation_out_for_30_minutes(bot):
    subscription = subscribe(bot.engine, lead=3600.0)  # both at risk
    check(bot, subscription)
    (fired,) = posts(bot.slack)
    snooze = fired["blocks"][2]["elements"][1]
    message = {"text": fired["text"], "blocks": fired["blocks"]}
    body = block_action_body(
        snooze["action_id"], snooze["value"], user_id="U7", channel_id="C2", message=message
    )

    bot.post(body, content_type="application/x-www-form-urlencoded")
    edited = bot.slack.wait_for_call("chat.update").params
    with bot.engine.connect() as conn:
        left = [risk.conversation_id for risk in at_risk(conn, NOW + timedelta(minutes=1), lead=3600.0)]
        back = [risk.conversation_id for risk in at_risk(conn, NOW + timedelta(minutes=31), lead=3600.0)]

    # the bot's clock says 11:45: snoozed until 12:15; w1's buttons give way to the note, w2's stay
    assert edited["blocks"][2]["elements"][0]["text"] == ":zzz: snoozed by <@U7> until 12:15 UTC"
    assert edited["blocks"][4]["type"] == "actions"
    assert left == ["w2"]
    assert back == ["w2"]  # at 12:16 w1 is back, but already breached (12:00): no longer a risk


def test_two_bot_processes_post_the_alert_once(bot):
    subscription = subscribe(bot.engine)
    engines = [make_engine(bot.settings.database_url) for _ in range(2)]
    clients = [web_client(bot.settings) for _ in range(2)]
    results = at_once(
        *(
            lambda n=n: check_sla_alert(engines[n], clients[n], bot.settings, subscription, NOW)
            for n in range(2)
        )
    )
    for engine in engines:
        engine.dispose()

    fired = "fire posted 2026-11-20 11:45 UTC (1 at risk)"
    assert results.count(fired) == 1 and [r for r in results if r != fired][0] in (SKIPPED, "quiet")
    assert len(posts(bot.slack)) == 1
