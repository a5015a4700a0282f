"""The anomaly alert end to end: set from Slack (admins only) and from the terminal, checked by its job
against the Slack stand-in with the clock driven by hand, posted once across processes, its button pressed
through the real app with signed requests, previewed in the terminal and listed by the digest.

The data: Instagram on the four Tuesdays before 17 November 2026 had 44, 46, 46 and 50 customer messages
from 13:00 to 14:00 UTC and as many from 14:00 to 15:00, all "Is the shop open on Sunday" (neutral, no
topic). On Tuesday 17 November from 13:00 to 14:00: 88 "my parcel is late again" (negative, delivery/late),
50 of the usual and 4 "where did the gift card balance go": 142; from 14:00 to 15:00, 46 usual ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.jobs import check_anomalies
from bot.jobs.posting import SKIPPED
from bot.scheduler import job_trigger
from bot.settings_commands import ADMINS_ONLY
from bot.slack_client import web_client
from commands.anomaly_alert import VOICE_ACTION
from commands.digest import build_digest, digest_text, local_day
from storage.db import make_engine, session
from storage.models import AnomalyPost, Subscription
from storage.subscriptions import add_subscription, list_subscriptions
from tests.bot.running_bot import ingest, running_bot
from tests.bot.test_app_commands import ask
from tests.commands.test_anomaly import LATE, messages
from tests.concurrently import at_once
from tests.slack_standin import block_action_body

NOW = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
FIRE_TEXT = (
    ":rotating_light: Instagram (unusual activity): 142 messages in the last hour, 3.1× the usual for "
    "Tue 13:00–14:00 (46); 62 % about delivery / late (usual 0 %); net sentiment −62 (usual 0); "
    "62 % of 142 scored messages negative, usual 0 % for Tue 13:00–14:00; 88 messages about delivery, "
    "usually 0 for Tue 13:00–14:00; top new phrase: ‘card balance go’"
)


def history() -> list[dict]:
    events = []
    for week, count in zip(range(1, 5), (44, 46, 46, 50), strict=True):
        for hour in (1, 0):  # 13:00 and 14:00
            events += messages(NOW - timedelta(days=7 * week, hours=hour), count)
    spike = NOW - HOUR
    events += messages(spike, 88, LATE) + messages(spike, 50, tag="q")
    events += messages(spike, 4, "where did the gift card balance go", tag="g")
    return events + messages(NOW, 46)


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api, now=NOW, channels=["instagram", "twitter"]) as running:
        ingest(running.engine, running.settings, history())
        yield running


def subscribe(engine, channels: str = "instagram") -> Subscription:
    with session(engine) as db:
        sub = Subscription(
            kind="anomaly", slack_channel="C2", channels=channels, created_by="U1", created_at=NOW
        )
        return add_subscription(db, sub)


def posts(slack_api) -> list[dict]:
    return [call.params for call in slack_api.calls_to("chat.postMessage") if not call.injected_failure]


def check(bot, subscription, minutes: float = 0) -> str:
    client = web_client(bot.settings)
    return check_anomalies(bot.engine, client, bot.settings, subscription, NOW + timedelta(minutes=minutes))


def test_a_spike_fires_once_says_what_drives_it_and_clears_once(bot):
    subscription = subscribe(bot.engine)

    fired = check(bot, subscription)
    quiet = check(bot, subscription, 5)  # still unusual, within the hour, not clearly worse
    cleared = check(bot, subscription, 60)  # 14:00-15:00: 46 messages, as usual
    after = check(bot, subscription, 65)

    assert fired == "fire posted 2026-11-17 14:00 UTC (instagram: volume, negative, topic:delivery)"
    assert (quiet, after) == ("quiet", "quiet")
    assert cleared == "all-clear posted 2026-11-17 15:00 UTC (instagram: volume, negative, topic:delivery)"
    alert, clear = posts(bot.slack)
    assert alert["channel"] == "C2" and alert["text"] == FIRE_TEXT
    assert alert["blocks"][0]["text"]["text"] == FIRE_TEXT.replace("Instagram", "*Instagram*", 1)
    assert alert["blocks"][1]["elements"][0]["action_id"] == VOICE_ACTION
    assert alert["blocks"][2]["elements"][0]["text"] == (
        "UTC · compared with the same hour of the previous 4 weeks · next reminder in 1 h unless it gets "
        "clearly worse"
    )
    assert clear["text"] == (
        ":white_check_mark: Instagram: messages back to usual: 46 for Tue 14:00–15:00 (usual 46); "
        "negative share back to usual: 0 % for Tue 14:00–15:00 (usual 0 %); messages about delivery back "
        "to usual: 0 for Tue 14:00–15:00 (usual 0)"
    )
    with bot.engine.connect() as conn:
        rows = conn.execute(select(AnomalyPost.__table__).order_by("id")).mappings().all()
    assert [(r["signal"], r["kind"], r["episode"], r["post"], r["value"], r["usual"]) for r in rows] == [
        ("volume", "fire", 1, 1, 142, 46),
        ("negative", "fire", 1, 1, pytest.approx(100 * 88 / 142), 0),
        ("topic:delivery", "fire", 1, 1, 88, 0),
        ("volume", "clear", 1, 0, 46, 46),
        ("negative", "clear", 1, 0, 0, 0),
        ("topic:delivery", "clear", 1, 0, 0, 0),
    ]


def test_every_channel_and_all_of_them_together_are_judged_each_in_its_own_post(bot):
    subscription = subscribe(bot.engine, channels="")  # all: instagram, twitter (quiet) and both together

    assert check(bot, subscription) == (
        "fire posted 2026-11-17 14:00 UTC (all: volume, negative, topic:delivery); "
        "fire posted 2026-11-17 14:00 UTC (instagram: volume, negative, topic:delivery)"
    )
    together, instagram = posts(bot.slack)
    assert together["text"].startswith(":rotating_light: All channels (unusual activity): 142 messages")
    assert instagram["text"] == FIRE_TEXT
    named = subscribe(bot.engine, channels="instagram,twitter")  # in C2 too: replaces the one above
    assert check(bot, named).startswith("fire posted 2026-11-17 14:00 UTC (instagram,twitter: volume")
    both = posts(bot.slack)[2]
    assert both["text"].startswith(":rotating_light: instagram + twitter (unusual activity): 142 messages")
    assert both["blocks"][1]["elements"][0]["value"].endswith(":instagram,twitter")


def test_names_from_settings_are_escaped_in_the_message(database_url, slack_api):
    events = []
    for week in range(1, 5):
        events += messages(NOW - timedelta(days=7 * week, hours=1), 40, channel="<!here>")
    events += messages(NOW - HOUR, 100, channel="<!here>")
    with running_bot(database_url, slack_api, now=NOW, channels=["<!here>"]) as running:
        ingest(running.engine, running.settings, events)
        subscription = subscribe(running.engine, channels="<!here>")
        check(running, subscription)
    (alert,) = posts(slack_api)
    assert alert["blocks"][0]["text"]["text"].startswith(":rotating_light: *&lt;!here&gt;* (unusual")
    assert "<!here>" not in alert["blocks"][0]["text"]["text"]


def test_the_button_shows_what_customers_said_that_hour_to_whoever_pressed_it(bot):
    subscription = subscribe(bot.engine)
    check(bot, subscription)
    button = posts(bot.slack)[0]["blocks"][1]["elements"][0]
    before = len(bot.slack.responses)

    body = block_action_body(
        VOICE_ACTION, button["value"], user_id="U7", response_url=bot.slack.new_response_url()
    )
    ack = bot.post(body, content_type="application/x-www-form-urlencoded")
    answer = bot.slack.wait_for_response(count=before + 1)[1]
    stale = block_action_body(VOICE_ACTION, "nonsense", response_url=bot.slack.new_response_url())
    bot.post(stale, content_type="application/x-www-form-urlencoded")
    refused = bot.slack.wait_for_response(count=before + 2)[1]

    assert (ack.status_code, ack.text) == (200, "")
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert answer["blocks"][0]["text"]["text"] == "Voice of the customer"
    quotes = answer["blocks"][1]["text"]["text"]
    assert quotes.startswith("*Most negative*\n> my parcel is late again\n")
    assert quotes.count("> my parcel is late again") == 3
    assert "Tue 13:00–14:00 · instagram" in answer["blocks"][-1]["elements"][0]["text"]
    assert refused["text"].startswith("This button is no longer valid")


def test_two_bot_processes_post_the_alert_once(bot):
    subscription = subscribe(bot.engine)
    engines = [make_engine(bot.settings.database_url) for _ in range(2)]
    clients = [web_client(bot.settings) for _ in range(2)]
    results = at_once(
        *(
            lambda n=n: check_anomalies(engines[n], clients[n], bot.settings, subscription, NOW)
            for n in range(2)
        )
    )
    for engine in engines:
        engine.dispose()

    fired = "fire posted 2026-11-17 14:00 UTC (instagram: volume, negative, topic:delivery)"
    assert results.count(fired) == 1 and [r for r in results if r != fired][0] in (SKIPPED, "quiet")
    assert len(posts(bot.slack)) == 1
    assert check(bot, subscription, 1) == "quiet"  # the state went with the post


def test_the_daily_digest_lists_the_day_s_anomalies(bot):
    subscription = subscribe(bot.engine)
    check(bot, subscription)
    day = local_day(NOW.date(), bot.settings.zone)

    with bot.engine.connect() as conn:
        text = digest_text(build_digest(conn, bot.settings, period=day, channels=(), now=NOW + 10 * HOUR))
        other = build_digest(conn, bot.settings, period=day, channels=("twitter",), now=NOW + 10 * HOUR)

    assert (
        "Anomalies: Instagram messages 142 (usual 46, 3.1×), Tue 13:00–14:00; Instagram negative share 62 % "
        "(usual 0 %), Tue 13:00–14:00; Instagram messages about delivery 88 (usual 0), Tue 13:00–14:00\n"
    ) in text
    assert other.anomalies == []


def test_an_admin_sets_the_alert_in_slack_and_its_job_runs_every_minute(bot):
    bot.slack.set_user("U1", is_admin=True)
    answer = ask(bot, "alert anomalies here instagram")
    listed = ask(bot, "alert list")
    with session(bot.engine) as db:
        (sub,) = list_subscriptions(db, kind="anomaly")

    assert (sub.slack_channel, sub.channels) == ("C1", "instagram")
    assert answer["text"].startswith(
        "Done: anomaly alert in <#C1> when volume, first response, negative sentiment or a topic is far from "
        "the same hour of previous weeks, checked every minute, instagram"
    )
    assert "anomaly alert in <#C1>" in listed["text"]
    assert job_trigger(sub, bot.settings).interval == timedelta(minutes=1)
    off = ask(bot, "alert anomalies off")
    with session(bot.engine) as db:
        assert list_subscriptions(db, kind="anomaly") == []
    assert off["text"] == "The anomaly alert in <#C1> is off."


def test_a_non_admin_is_refused_and_a_mistake_is_explained_and_nothing_is_stored(bot):
    bot.slack.set_user("U1", is_admin=False)
    refused = ask(bot, "alert anomalies here")
    bot.slack.set_user("U1", is_admin=True)
    mistake = ask(bot, "alert anomalies here instagrm")

    assert refused["text"] == ADMINS_ONLY
    assert "unknown word `instagrm` in `/kpi alert` — did you mean `instagram`?" in mistake["text"]
    with session(bot.engine) as db:
        assert list_subscriptions(db) == []


def test_the_terminal_previews_what_would_be_posted_without_posting_or_storing(bot, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", bot.settings.database_url)
    runner = CliRunner()

    spike = runner.invoke(app, ["alert", "anomalies", "instagram", "--preview", "--at", NOW.isoformat()])
    calm = runner.invoke(app, ["alert", "anomalies", "--preview", "--at", (NOW + HOUR).isoformat()])
    bad = runner.invoke(app, ["alert", "anomalies", "myspace", "--preview"])
    added = runner.invoke(app, ["alert", "anomalies-add", "C0123ABCD", "instagram"])

    assert spike.exit_code == 1
    assert (
        spike.stdout
        == FIRE_TEXT.replace(":rotating_light: ", "").replace("; top new phrase: ‘card balance go’", "")
        + "\n"
    )
    assert (calm.exit_code, calm.stdout) == (0, "No anomaly at 2026-11-17 15:00 UTC.\n")
    assert bad.exit_code == 2 and "unknown support channel 'myspace'" in bad.stderr
    assert added.exit_code == 0 and "Done: anomaly alert in #C0123ABCD" in added.stdout
    with bot.engine.connect() as conn:
        assert conn.execute(select(AnomalyPost.__table__)).all() == []
    assert posts(bot.slack) == []


def test_the_scheduler_runs_the_alert_every_minute_under_its_own_metrics_label(bot, monkeypatch):
    from bot import jobs
    from bot.scheduler import build_scheduler, job_kind, sync_jobs

    monkeypatch.setattr(jobs, "_runtime", [])  # this process's runtime only, none left behind
    subscription = subscribe(bot.engine)
    scheduler = build_scheduler(bot.settings, bot.engine, client=web_client(bot.settings))
    scheduler.start(paused=True)
    try:
        assert sync_jobs(scheduler, bot.engine, bot.settings) == [f"anomaly-{subscription.id}"]
        job = scheduler.get_job(f"anomaly-{subscription.id}")
        ran = jobs.run_anomaly_alert(subscription.id, NOW)
    finally:
        scheduler.shutdown()

    assert (job.func_ref, job.args, job.trigger.interval) == (
        "bot.jobs:run_anomaly_alert",
        (subscription.id,),
        timedelta(minutes=1),
    )
    assert job_kind(job.id) == "anomaly"
    assert ran == "fire posted 2026-11-17 14:00 UTC (instagram: volume, negative, topic:delivery)"
