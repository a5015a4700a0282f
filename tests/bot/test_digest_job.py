"""The digest job against the Slack stand-in, with the clock driven by hand.

The subscription posts at 09:00 Europe/Paris in #C1. Data: Wed 18 Nov one Twitter conversation
(FRT 30 min); Thu 19 Nov one Twitter (FRT 10 min) and one Facebook conversation (FRT 20 min).
The digest due Fri 20 Nov 09:00 Paris (08:00 UTC) covers Thu 19: 2 conversations, FRT mean 15m.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot import jobs
from bot.cli import app
from bot.jobs import post_digest, retry_unsent, run_digest
from bot.jobs.digest import due_digest
from bot.jobs.posting import SKIPPED
from bot.slack_client import web_client
from storage import outbox
from storage.db import make_engine, session
from storage.ingest import Ingestor
from storage.models import Subscription
from storage.settings import Settings
from storage.subscriptions import add_subscription, remove_subscriptions
from tests.concurrently import at_once

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Paris
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def message(eid, local, conv, channel, direction="inbound"):
    author = {"kind": "customer", "id": "@c"} if direction == "inbound" else {"kind": "agent", "id": "U1"}
    return {"id": eid, "type": "message", "at": local, "conversation_id": conv, "channel": channel,
            "direction": direction, "author": author, "text": "hi"}  # fmt: skip


EVENTS = [
    message("e1", "2026-11-18T10:00:00+01:00", "tw-0", "twitter"),
    message("e2", "2026-11-18T10:30:00+01:00", "tw-0", "twitter", "outbound"),
    message("e3", "2026-11-19T09:00:00+01:00", "tw-1", "twitter"),
    message("e4", "2026-11-19T09:10:00+01:00", "tw-1", "twitter", "outbound"),
    message("e5", "2026-11-19T12:00:00+01:00", "fb-1", "facebook"),
    message("e6", "2026-11-19T12:20:00+01:00", "fb-1", "facebook", "outbound"),
]


@pytest.fixture
def settings(slack_settings) -> Settings:
    return slack_settings


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(EVENTS, 1)])
    yield engine
    engine.dispose()


@pytest.fixture
def client(settings):
    return web_client(settings)


@pytest.fixture
def subscription(engine) -> Subscription:
    with session(engine) as db:
        return add_subscription(
            db,
            Subscription(
                kind="digest",
                slack_channel="C1",
                time="09:00",
                timezone="Europe/Paris",
                created_by="U1",
                created_at=NOW - timedelta(days=3),
            ),
        )


@pytest.fixture
def runtime(monkeypatch, settings, engine, client):
    """This process's job runtime pointed at the test database and stand-in, restored afterwards."""
    monkeypatch.setattr(jobs, "_runtime", [])
    return jobs.configure(settings, engine, client)


def posted(slack_api):
    return [call for call in slack_api.calls_to("chat.postMessage") if not call.injected_failure]


def last_result(engine, subscription):
    with session(engine) as db:
        return db.get(Subscription, subscription.id).last_result


def test_digest_is_posted_then_its_chart_uploaded_into_the_thread(
    engine, client, settings, subscription, slack_api
):
    result = post_digest(engine, client, settings, subscription, NOW)
    assert result == "posted 2026-11-20 09:00 CET"
    (post,) = posted(slack_api)
    assert post.params["channel"] == "C1"
    # Thu 19: tw-1 and fb-1; FRT (600 + 1200) / 2 = 900 s = 15m
    assert post.params["text"].startswith("Daily digest for Thu 19 Nov 2026 (all channels · Europe/Paris): ")
    assert "Conversations 2, First response, mean 15m" in post.params["text"]
    assert post.params["blocks"][0]["text"]["text"] == "Daily digest · Thu 19 Nov 2026"
    (url,) = slack_api.calls_to("files.getUploadURLExternal")
    assert url.params["filename"] == "kpibot-digest-2026-11-19.png"
    (png,) = slack_api.uploads.values()
    assert png.startswith(PNG_MAGIC) and int(url.params["length"]) == len(png) > 10_000
    (complete,) = slack_api.calls_to("files.completeUploadExternal")
    ts = "1700000000.000100"  # the stand-in's first message ts
    assert (complete.params["channel_id"], complete.params["thread_ts"]) == ("C1", ts)
    row = outbox.entry(engine, subscription_id=subscription.id, kind="digest", key="2026-11-20")
    assert (row.status, row.slack_ts, row.attempts) == ("sent", ts, 1)
    assert last_result(engine, subscription) == "posted 2026-11-20 09:00 CET"


def test_a_second_run_the_same_day_posts_nothing(engine, client, settings, subscription, slack_api):
    post_digest(engine, client, settings, subscription, NOW)
    assert post_digest(engine, client, settings, subscription, NOW + timedelta(hours=2)) == SKIPPED
    assert len(posted(slack_api)) == 1


def test_the_next_day_gets_its_own_digest(engine, client, settings, subscription, slack_api):
    post_digest(engine, client, settings, subscription, NOW)
    post_digest(engine, client, settings, subscription, NOW + timedelta(days=1))
    texts = [call.params["text"] for call in posted(slack_api)]
    assert [text[:33] for text in texts] == [
        "Daily digest for Thu 19 Nov 2026 ",
        "Daily digest for Fri 20 Nov 2026 ",
    ]


def test_two_app_instances_on_one_database_post_the_digest_once(settings, engine, subscription, slack_api):
    engines = [make_engine(settings.database_url) for _ in range(2)]
    clients = [web_client(settings) for _ in range(2)]
    results = at_once(
        *(lambda n=n: post_digest(engines[n], clients[n], settings, subscription, NOW) for n in range(2))
    )
    for instance_engine in engines:
        instance_engine.dispose()
    assert sorted(results) == sorted(["posted 2026-11-20 09:00 CET", SKIPPED])
    assert len(slack_api.calls_to("chat.postMessage")) == 1
    assert len(slack_api.calls_to("files.completeUploadExternal")) == 1


def test_rate_limited_post_is_retried_and_posted_once(engine, client, settings, subscription, slack_api):
    slack_api.fail_next("chat.postMessage", status=429, retry_after=0)
    assert post_digest(engine, client, settings, subscription, NOW) == "posted 2026-11-20 09:00 CET"
    calls = slack_api.calls_to("chat.postMessage")
    assert [call.injected_failure for call in calls] == [True, False]  # the 429, then the one post


def test_permanent_error_is_recorded_and_never_retried(
    engine, client, settings, subscription, slack_api, runtime
):
    slack_api.fail_next("chat.postMessage", error="channel_not_found")
    result = post_digest(engine, client, settings, subscription, NOW)
    assert result.startswith("failed 2026-11-20 08:00 UTC, not retried: channel_not_found — ")
    assert "/invite @kpibot" in last_result(engine, subscription)
    row = outbox.entry(engine, subscription_id=subscription.id, kind="digest", key="2026-11-20")
    assert (row.status, row.permanent) == ("failed", True)
    assert retry_unsent(NOW + timedelta(hours=1)) == []
    assert post_digest(engine, client, settings, subscription, NOW + timedelta(hours=1)) == SKIPPED
    assert len(slack_api.calls_to("chat.postMessage")) == 1


def test_failure_worth_retrying_is_posted_once_after_the_backoff(
    engine, client, settings, subscription, slack_api, runtime
):
    slack_api.fail_next("chat.postMessage", error="internal_error")
    result = post_digest(engine, client, settings, subscription, NOW)
    assert result == "failed 2026-11-20 08:00 UTC (attempt 1, will retry): Slack said internal_error"
    assert retry_unsent(NOW + timedelta(minutes=1)) == []  # backoff: 5 min after the first attempt
    assert retry_unsent(NOW + timedelta(minutes=6)) == ["posted 2026-11-20 09:06 CET"]
    assert retry_unsent(NOW + timedelta(minutes=20)) == []
    assert len(posted(slack_api)) == 1
    row = outbox.entry(engine, subscription_id=subscription.id, kind="digest", key="2026-11-20")
    assert (row.status, row.attempts) == ("sent", 2)


def test_crash_between_claim_and_post_is_retried_once_the_claim_is_stale(
    engine, settings, subscription, slack_api, runtime
):
    # a process claimed the digest at 09:00 and died before posting
    assert outbox.claim(engine, subscription_id=subscription.id, kind="digest", key="2026-11-20", now=NOW)
    assert run_digest(subscription.id, NOW + timedelta(minutes=1)) == SKIPPED
    assert retry_unsent(NOW + timedelta(minutes=5)) == []  # could still be posting
    assert retry_unsent(NOW + timedelta(minutes=11)) == ["posted 2026-11-20 09:11 CET"]
    assert len(posted(slack_api)) == 1


def test_chart_that_failed_after_the_message_is_retried_without_a_second_message(
    engine, client, settings, subscription, slack_api, runtime
):
    slack_api.fail_next("files.getUploadURLExternal", error="internal_error")
    assert "will retry" in post_digest(engine, client, settings, subscription, NOW)
    assert retry_unsent(NOW + timedelta(minutes=6)) == ["posted 2026-11-20 09:06 CET"]
    assert len(posted(slack_api)) == 1
    (complete,) = slack_api.calls_to("files.completeUploadExternal")
    assert complete.params["thread_ts"] == "1700000000.000100"  # the ts of the one message


def test_chart_refused_for_good_leaves_the_digest_posted(engine, client, settings, subscription, slack_api):
    slack_api.fail_next("files.getUploadURLExternal", error="missing_scope")
    result = post_digest(engine, client, settings, subscription, NOW)
    assert result.startswith("posted 2026-11-20 09:00 CET (chart not uploaded: missing_scope")
    row = outbox.entry(engine, subscription_id=subscription.id, kind="digest", key="2026-11-20")
    assert row.status == "sent" and row.error.startswith("chart not uploaded")


def test_a_digest_due_at_2330_run_after_midnight_is_that_evenings_digest():
    late = Subscription(kind="digest", slack_channel="C1", time="23:30", created_by="U1", created_at=NOW)
    paris = ZoneInfo("Europe/Paris")
    after_midnight = datetime(2026, 11, 20, 23, 45, tzinfo=UTC)  # 00:45 on Sat 21 in Paris
    assert due_digest(late, paris, after_midnight).key == "2026-11-20"
    assert due_digest(late, paris, datetime(2026, 11, 20, 22, 30, tzinfo=UTC)).key == "2026-11-20"
    assert due_digest(late, paris, datetime(2026, 11, 20, 22, 29, tzinfo=UTC)).key == "2026-11-19"


def test_yesterdays_failed_digest_is_not_posted_as_todays(
    engine, client, settings, subscription, slack_api, runtime
):
    slack_api.fail_next("chat.postMessage", error="internal_error")
    post_digest(engine, client, settings, subscription, NOW)
    # 08:30 the next morning in Paris: the 20 Nov digest is no longer the one due
    assert retry_unsent(NOW + timedelta(hours=23, minutes=30)) == []
    assert posted(slack_api) == []


def test_a_digest_still_failing_three_hours_late_is_given_up(
    engine, client, settings, subscription, slack_api, runtime
):
    slack_api.fail_next("chat.postMessage", error="internal_error")
    post_digest(engine, client, settings, subscription, NOW)
    # the retry is long due, but at 12:30 in Paris the 09:00 digest is news from the morning
    assert retry_unsent(NOW + timedelta(hours=3, minutes=30)) == []
    assert posted(slack_api) == []


def test_job_of_a_subscription_turned_off_does_nothing(engine, subscription, slack_api, runtime):
    with session(engine) as db:
        remove_subscriptions(db, kind="digest", slack_channel="C1")
    assert run_digest(subscription.id, NOW) == "skipped: the subscription was turned off"
    assert slack_api.calls == []


def test_preview_prints_the_digest_the_job_posts_and_writes_the_chart(
    engine, settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("KPIBOT_PSEUDONYM_KEY", "test-key")
    out = tmp_path / "digest.png"
    args = ["digest", "--preview", "--db", settings.database_url, "--tz", "Europe/Paris"]
    result = CliRunner().invoke(app, [*args, "--at", "2026-11-20T09:00", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Daily digest · Thu 19 Nov 2026 · all channels · Europe/Paris\n")
    # as posted: tw-1 and fb-1, FRT (600 + 1200) / 2 = 15m against tw-0's 30m the day before
    assert "  First response, mean    15m · ▼ 15m (-50 %) good · bench 2h on target\n" in result.stdout
    assert f"chart written to {out}" in result.stdout
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_preview_names_an_unknown_channel_and_exits_2(settings, tmp_path):
    args = [
        "digest",
        "--preview",
        "--db",
        settings.database_url,
        "--channel",
        "twiter",
        "--out",
        str(tmp_path / "x"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "unknown channel 'twiter' — did you mean 'twitter'?" in result.stderr
    assert not (tmp_path / "x").exists()


# The weekly digest, Mondays 09:00 Paris, due Mon 23 Nov (08:00 UTC): it covers Mon 16 - Sun 22 Nov, which
# holds all three conversations: FRT (1800 + 600 + 1200) / 3 = 1200 s = 20m; the week before holds none.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def cadence_subscription(engine, kind, day, channel="C1") -> Subscription:
    with session(engine) as db:
        return add_subscription(
            db,
            Subscription(
                kind=kind,
                slack_channel=channel,
                time="09:00",
                timezone="Europe/Paris",
                day=day,
                created_by="U1",
                created_at=NOW - timedelta(days=3),
            ),
        )


@pytest.fixture
def weekly(engine) -> Subscription:
    return cadence_subscription(engine, "digest-weekly", 0)


def test_the_weekly_digest_posts_last_week_with_its_12_week_chart(
    engine, client, settings, weekly, slack_api
):
    assert post_digest(engine, client, settings, weekly, MONDAY) == "posted 2026-11-23 09:00 CET"
    (post,) = posted(slack_api)
    assert post.params["text"] == (
        "Weekly digest for the week of 16 – 22 Nov 2026 (all channels · Europe/Paris): Conversations 3, "
        "First response, mean 20m, First response, median 20m, First response in SLA 100 %"
    )
    assert post.params["blocks"][0]["text"]["text"] == "Weekly digest · Week of 16 – 22 Nov 2026"
    (url,) = slack_api.calls_to("files.getUploadURLExternal")
    assert url.params["filename"] == "kpibot-digest-week-2026-11-16.png"
    (complete,) = slack_api.calls_to("files.completeUploadExternal")
    assert complete.params["files"][0]["title"] == (
        "Conversations and first response, 12 weeks to 2026-11-22"
    )
    row = outbox.entry(engine, subscription_id=weekly.id, kind="digest", key="2026-11-16")
    assert (row.status, row.attempts) == ("sent", 1)


def test_a_weekly_digest_run_twice_or_again_midweek_posts_once_and_next_monday_posts_the_next_week(
    engine, client, settings, weekly, slack_api
):
    post_digest(engine, client, settings, weekly, MONDAY)
    assert post_digest(engine, client, settings, weekly, MONDAY) == SKIPPED  # a second run
    assert post_digest(engine, client, settings, weekly, MONDAY + timedelta(days=2)) == SKIPPED  # Wednesday
    post_digest(engine, client, settings, weekly, MONDAY + timedelta(days=7))
    assert [call.params["blocks"][0]["text"]["text"] for call in posted(slack_api)] == [
        "Weekly digest · Week of 16 – 22 Nov 2026",
        "Weekly digest · Week of 23 – 29 Nov 2026",
    ]


def test_a_weekly_digest_moved_to_another_day_does_not_post_the_same_week_again(
    engine, client, settings, weekly, slack_api
):
    post_digest(engine, client, settings, weekly, MONDAY)
    moved = cadence_subscription(engine, "digest-weekly", 2)  # the same channel: now on Wednesdays
    assert moved.id == weekly.id
    assert post_digest(engine, client, settings, moved, MONDAY + timedelta(days=2)) == SKIPPED
    assert len(posted(slack_api)) == 1


def test_a_weekly_digest_beside_a_daily_one_in_the_same_channel_both_post(
    engine, client, settings, subscription, weekly, slack_api
):
    post_digest(engine, client, settings, subscription, MONDAY)
    post_digest(engine, client, settings, weekly, MONDAY)
    assert [call.params["text"][:12] for call in posted(slack_api)] == ["Daily digest", "Weekly diges"]


def test_a_failed_weekly_digest_is_still_retried_20_hours_late(
    engine, client, settings, weekly, slack_api, runtime
):
    slack_api.fail_next("chat.postMessage", error="internal_error")
    assert "will retry" in post_digest(engine, client, settings, weekly, MONDAY)
    # Tue 05:00 in Paris: a daily digest would be given up by now; last week's numbers are still news
    assert retry_unsent(MONDAY + timedelta(hours=20)) == ["posted 2026-11-24 05:00 CET"]
    assert len(posted(slack_api)) == 1


def test_a_weekly_digest_still_failing_a_day_late_is_given_up(
    engine, client, settings, weekly, slack_api, runtime
):
    slack_api.fail_next("chat.postMessage", error="internal_error")
    post_digest(engine, client, settings, weekly, MONDAY)
    assert retry_unsent(MONDAY + timedelta(hours=24, minutes=1)) == []
    assert posted(slack_api) == []


def test_the_monthly_digest_due_1_december_posts_november(engine, client, settings, slack_api):
    monthly = cadence_subscription(engine, "digest-monthly", 1)
    first = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tue 1 Dec 09:00 in Paris
    assert post_digest(engine, client, settings, monthly, first) == "posted 2026-12-01 09:00 CET"
    assert post_digest(engine, client, settings, monthly, first + timedelta(days=9)) == SKIPPED
    (post,) = posted(slack_api)
    assert post.params["blocks"][0]["text"]["text"] == "Monthly digest · November 2026"
    assert "Conversations 3, First response, mean 20m" in post.params["text"]
    (url,) = slack_api.calls_to("files.getUploadURLExternal")
    assert url.params["filename"] == "kpibot-digest-2026-11.png"
    assert outbox.entry(engine, subscription_id=monthly.id, kind="digest", key="2026-11-01").status == "sent"


def test_preview_of_the_weekly_digest(engine, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("KPIBOT_PSEUDONYM_KEY", "test-key")
    out = tmp_path / "week.png"
    args = ["digest", "--preview", "--weekly", "--db", settings.database_url, "--tz", "Europe/Paris"]
    result = CliRunner().invoke(app, [*args, "--at", "2026-11-25T09:00", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Weekly digest · Week of 16 – 22 Nov 2026 · all channels · Europe/Paris\n"
    )
    assert "  Conversations           3 · (none the week before) · bench 10/day\n" in result.stdout
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_my_weekly_digest_is_my_numbers_of_last_week_by_direct_message_once(
    engine, client, settings, slack_api
):
    # U1 wrote the replies, so /kpi me knows U1 as that agent
    mine = cadence_subscription(engine, "digest-me", 0, channel="U1")
    assert post_digest(engine, client, settings, mine, MONDAY) == "posted 2026-11-23 09:00 CET"
    assert post_digest(engine, client, settings, mine, MONDAY + timedelta(hours=1)) == SKIPPED
    (opened,) = slack_api.calls_to("conversations.open")
    (post,) = posted(slack_api)
    assert (opened.params["users"], post.params["channel"]) == ("U1", "DU1")  # the stand-in's DM id
    assert post.params["blocks"][0]["text"]["text"] == "Your numbers: Week of 16 – 22 Nov 2026"
    figures = post.params["blocks"][2]["text"]["text"]
    # three first responses in the week: 1800, 600 and 1200 s, mean 1200 s = 20m
    assert "*First responses*: 3" in figures and "*FRT mean*: 20m" in figures, figures
    assert slack_api.calls_to("files.getUploadURLExternal") == []  # no chart in a personal digest
    assert outbox.entry(engine, subscription_id=mine.id, kind="digest", key="2026-11-16").status == "sent"


def test_my_weekly_digest_is_not_posted_while_i_am_matched_to_no_agent(engine, client, settings, slack_api):
    mine = cadence_subscription(engine, "digest-me", 0, channel="U0NOBODY")
    result = post_digest(engine, client, settings, mine, MONDAY)
    assert result == "not posted 2026-11-23 08:00 UTC: not matched to an agent (see `/kpi me`)"
    assert slack_api.calls == []
    assert outbox.entry(engine, subscription_id=mine.id, kind="digest", key="2026-11-16") is None
    assert last_result(engine, mine) == result


def test_two_processes_post_the_weekly_digest_once(settings, engine, weekly, slack_api):
    engines = [make_engine(settings.database_url) for _ in range(2)]
    clients = [web_client(settings) for _ in range(2)]
    results = at_once(
        *(lambda n=n: post_digest(engines[n], clients[n], settings, weekly, MONDAY) for n in range(2))
    )
    for instance_engine in engines:
        instance_engine.dispose()
    assert sorted(results) == sorted(["posted 2026-11-23 09:00 CET", SKIPPED])
    assert len(slack_api.calls_to("chat.postMessage")) == 1
