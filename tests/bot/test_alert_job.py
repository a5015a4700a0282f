"""The backlog alert job against the Slack stand-in, with the clock driven by hand.

The alert in #C2 fires when 2 or more open conversations have waited over 1 h. At NOW (12:00 UTC):
a1 (twitter, opened 09:00, has a link) has waited 3 h, a2 (facebook, 10:30) 1 h 30 min and a3
(instagram, 11:30) 30 min: 2 over the limit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs import check_alert
from bot.jobs.posting import SKIPPED
from bot.slack_client import web_client
from commands.alert import BacklogReading, decide
from storage.db import make_engine, session
from storage.ingest import Ingestor
from storage.models import AlertState, Subscription
from storage.settings import Settings
from storage.subscriptions import add_subscription, list_subscriptions
from tests.concurrently import at_once

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def inbound(conv, opened, channel, **extra):
    author = {"kind": "customer", "id": "@c"}
    return {"id": f"m-{conv}", "type": "message", "at": opened, "conversation_id": conv, "channel": channel,
            "direction": "inbound", "author": author, "text": "hi", **extra}  # fmt: skip


def resolved(conv, at, channel):
    return {"id": f"s-{conv}", "type": "status", "at": at, "conversation_id": conv, "channel": channel,
            "status": "resolved"}  # fmt: skip


EVENTS = [
    inbound("a1", "2026-11-20T09:00:00Z", "twitter", link="https://x.example/a1"),
    inbound("a2", "2026-11-20T10:30:00Z", "facebook"),
    inbound("a3", "2026-11-20T11:30:00Z", "instagram"),
]


@pytest.fixture
def settings(slack_settings) -> Settings:
    return slack_settings


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    feed(engine, settings, EVENTS)
    yield engine
    engine.dispose()


def feed(engine, settings, events):
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)])
    assert not result.rejected, result.rejected


@pytest.fixture
def client(settings):
    return web_client(settings)


def subscribe(engine, threshold=2, max_age=3600.0) -> Subscription:
    with session(engine) as db:
        return add_subscription(
            db,
            Subscription(
                kind="alert",
                slack_channel="C2",
                threshold=threshold,
                max_age_seconds=max_age,
                created_by="U1",
                created_at=NOW - timedelta(days=1),
            ),
        )


@pytest.fixture
def check(engine, client, settings):
    subscription = subscribe(engine)

    def check(minutes: float) -> str:
        return check_alert(engine, client, settings, subscription, NOW + timedelta(minutes=minutes))

    return check


def posts(slack_api):
    return [call.params for call in slack_api.calls_to("chat.postMessage") if not call.injected_failure]


def test_alert_fires_with_the_count_and_the_oldest_conversations(check, slack_api):
    assert check(0) == "fire posted 2026-11-20 12:00 UTC (2 over 1h)"
    (post,) = posts(slack_api)
    assert post["channel"] == "C2"
    assert post["text"] == ":rotating_light: Backlog alert: 2 open conversations waited over 1h (limit 2)."
    assert post["blocks"][1]["text"]["text"] == (
        "*Oldest*\n"
        "• twitter · waiting 3h · <https://x.example/a1|open>\n"
        "• facebook · waiting 1h 30m · `a2`\n"
        "• instagram · waiting 30m · `a3`"
    )


def test_alert_is_not_repeated_within_the_cool_down_then_reminds(check, slack_api):
    check(0)
    # at 12:55 a3 has waited 85 min too: 3 over, short of the next step (2 + 5 = 7)
    assert [check(5), check(30), check(55)] == ["quiet"] * 3
    assert check(60) == "repeat posted 2026-11-20 13:00 UTC (3 over 1h)"
    assert posts(slack_api)[1]["text"].startswith(":hourglass: Backlog still over the limit: 3 open")
    assert check(65) == "quiet"


def test_alert_escalates_inside_the_cool_down_when_worse_by_a_step(check, engine, settings, slack_api):
    check(0)
    # five more conversations opened at 10:00: 2 + 5 = 7 over 1 h, the next step
    feed(engine, settings, [inbound(f"b{n}", "2026-11-20T10:00:00Z", "twitter") for n in range(5)])
    assert check(10) == "worse posted 2026-11-20 12:10 UTC (7 over 1h)"
    assert posts(slack_api)[1]["text"].startswith(":rotating_light: Backlog alert, getting worse: 7 open")
    assert check(15) == "quiet"


def test_one_all_clear_when_back_under_the_limit(check, engine, settings, slack_api):
    check(0)
    feed(engine, settings, [resolved("a1", "2026-11-20T12:01:00Z", "twitter")])
    feed(engine, settings, [resolved("a2", "2026-11-20T12:02:00Z", "facebook")])
    # at 12:05 only a3 is open, 35 min old: 0 over the limit
    assert check(5) == "clear posted 2026-11-20 12:05 UTC (0 over 1h)"
    assert [check(10), check(70)] == ["quiet", "quiet"]
    texts = [post["text"] for post in posts(slack_api)]
    assert len(texts) == 2
    assert (
        texts[1]
        == ":white_check_mark: Backlog back under control: 0 open conversations waited over 1h (limit 2)."
    )


def test_a_conversation_past_its_channel_sla_fires_below_the_count(engine, client, database_url, slack_api):
    settings = Settings(
        database_url=database_url,
        pseudonym_key="test-key",
        slack_bot_token="xoxb-test",
        slack_api_url=slack_api.api_url,
        slack_response_origins=[slack_api.base_url],
        backlog_thresholds={"twitter": 7200.0},
    )
    subscription = subscribe(engine, threshold=10)
    # 2 over 1 h is below 10, but a1 has waited 3 h on twitter, whose SLA is 2 h
    assert check_alert(engine, client, settings, subscription, NOW).startswith("fire posted")
    (post,) = posts(slack_api)
    assert post["text"].endswith("(limit 10), 1 past their channel's SLA.")


def test_a_backlog_under_the_limit_posts_nothing(engine, client, settings, slack_api):
    subscription = subscribe(engine, threshold=3)
    assert check_alert(engine, client, settings, subscription, NOW) == "quiet"
    assert slack_api.calls == []


def test_two_app_instances_on_one_database_post_the_alert_once(engine, settings, slack_api):
    subscription = subscribe(engine)
    engines = [make_engine(settings.database_url) for _ in range(2)]
    clients = [web_client(settings) for _ in range(2)]
    results = at_once(
        *(lambda n=n: check_alert(engines[n], clients[n], settings, subscription, NOW) for n in range(2))
    )
    for instance_engine in engines:
        instance_engine.dispose()
    fired = "fire posted 2026-11-20 12:00 UTC (2 over 1h)"
    # The other instance either meets the claim (skipped) or, when it reads the alert's state after the
    # first one saved it, finds nothing new to say (quiet). Either way Slack sees one post.
    assert results.count(fired) == 1
    assert [r for r in results if r != fired][0] in (SKIPPED, "quiet")
    assert len(slack_api.calls_to("chat.postMessage")) == 1


def test_an_alert_that_failed_to_post_is_posted_by_the_next_check(check, slack_api):
    slack_api.fail_next("chat.postMessage", error="internal_error")
    assert check(0) == "failed 2026-11-20 12:00 UTC (attempt 1, will retry): Slack said internal_error"
    assert check(5) == "fire posted 2026-11-20 12:05 UTC (2 over 1h)"
    assert len(posts(slack_api)) == 1


def test_an_alert_refused_for_good_is_not_retried_until_the_next_reminder(check, engine, slack_api):
    slack_api.fail_next("chat.postMessage", error="not_in_channel")
    assert check(0).startswith("failed 2026-11-20 12:00 UTC, not retried: not_in_channel — ")
    assert check(5) == "quiet"
    with session(engine) as db:
        (subscription,) = list_subscriptions(db, kind="alert")
    assert "type `/invite @kpibot` there" in subscription.last_result  # what `/kpi alert list` shows
    assert check(60) == "repeat posted 2026-11-20 13:00 UTC (3 over 1h)"
    assert len(posts(slack_api)) == 1


def reading(over, sla=0):
    return BacklogReading(over=over, sla_breaches=sla, max_age=3600.0)


def test_the_escalation_step_is_five_or_half_as_many_again_whichever_is_larger():
    state = AlertState(subscription_id=1, active=True, episode=1, posts=1, last_count=40, last_posted_at=NOW)
    later = NOW + timedelta(minutes=10)
    assert decide(state, reading(59), limit=10, now=later) is None  # 40 + 20 = 60 needed
    worse = decide(state, reading(60), limit=10, now=later)
    assert (worse.kind, worse.key, worse.state.last_count) == ("worse", "episode-1/post-2", 60)
    small = state.model_copy(update={"last_count": 2})
    assert decide(small, reading(6), limit=2, now=later) is None  # 2 + 5 = 7 needed
    assert decide(small, reading(7), limit=2, now=later).kind == "worse"


def test_a_new_episode_after_an_all_clear_gets_new_keys():
    cleared = AlertState(
        subscription_id=1, active=False, episode=3, posts=2, last_count=0, last_posted_at=NOW
    )
    fired = decide(cleared, reading(5), limit=2, now=NOW + timedelta(minutes=5))
    assert (fired.kind, fired.key, fired.state.episode, fired.state.posts) == (
        "fire",
        "episode-4/post-1",
        4,
        1,
    )
