"""App Home: opening the tab publishes a live scorecard; its Refresh button and period picker republish it."""

from __future__ import annotations

import pytest

from tests.bot.running_bot import ingest, running_bot, twitter_week
from tests.databases import refused_inserts
from tests.slack_standin import block_action_body, event_body


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api) as running:
        ingest(running.engine, running.settings, twitter_week())
        yield running


def home_opened(user: str = "U1", tab: str = "home", event_id: str = "Ev1") -> str:
    return event_body(
        {"type": "app_home_opened", "user": user, "channel": "D1", "tab": tab}, event_id=event_id
    )


def controls(view: dict) -> dict:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "home_controls"]
    return {element["action_id"]: element for element in block["elements"]}


def section_texts(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


def test_opening_home_publishes_the_7_day_scorecard_for_that_user(bot):
    assert bot.event(home_opened(user="U5")).status_code == 200

    call = bot.slack.wait_for_call("views.publish")
    view = call.params["view"]

    assert call.params["user_id"] == "U5" and view["type"] == "home"
    assert view["blocks"][0]["text"]["text"] == "Scorecard: last 7 days"
    # twitter 1 h and 2 h plus facebook 10 min this week: FRT mean (3600 + 7200 + 600) / 3 = 3800 s = 1h 3m
    frt = next(text for text in section_texts(view) if text.startswith("*First response time*"))
    assert frt.startswith("*First response time*  *1h 3m*")
    buttons = controls(view)
    assert buttons["home_refresh"]["value"] == "7d"
    assert buttons["home_period"]["initial_option"]["value"] == "7d"
    assert view["blocks"][-1]["elements"][0]["text"] == "all channels · Updated 2026-11-20 12:00 (UTC)"


def test_messages_tab_opening_publishes_nothing(database_url, slack_api):
    with running_bot(database_url, slack_api) as bot:
        acked = bot.event(home_opened(tab="messages", event_id="Ev1")).status_code
        bot.event(home_opened(user="U9", event_id="Ev2"))
    # Leaving running_bot waited for every answer in flight, as on SIGTERM.

    assert acked == 200
    assert [call.params["user_id"] for call in slack_api.calls_to("views.publish")] == ["U9"]


def test_choosing_30_days_in_the_picker_republishes_for_30_days(bot):
    picked = {"action_id": "home_period", "block_id": "home_controls", "type": "static_select"}
    picked["selected_option"] = {"value": "30d", "text": {"type": "plain_text", "text": "Last 30 days"}}
    body = block_action_body(actions=[picked], view={"type": "home", "blocks": []}, user_id="U3")

    ack = bot.post(body, content_type="application/x-www-form-urlencoded")
    view = bot.slack.wait_for_call("views.publish").params["view"]

    assert ack.status_code == 200
    assert view["blocks"][0]["text"]["text"] == "Scorecard: last 30 days"
    assert controls(view)["home_period"]["initial_option"]["value"] == "30d"
    # 30 days add tw-0's 3 h: (3600 + 7200 + 600 + 10800) / 4 = 5550 s = 1h 32m 30s, rounded half up
    assert any(text.startswith("*First response time*  *1h 33m*") for text in section_texts(view))


def test_refresh_keeps_the_period_shown(bot):
    body = block_action_body("home_refresh", "1d", view={"type": "home", "blocks": []}, user_id="U3")

    bot.post(body, content_type="application/x-www-form-urlencoded")
    call = bot.slack.wait_for_call("views.publish")

    assert call.params["user_id"] == "U3"
    assert call.params["view"]["blocks"][0]["text"]["text"] == "Scorecard: last 24 hours"
    assert controls(call.params["view"])["home_refresh"]["value"] == "1d"


def test_redelivered_home_event_is_acknowledged_but_published_once(database_url, slack_api):
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    with running_bot(database_url, slack_api) as bot:
        first = bot.event(home_opened(event_id="Ev7"))
        retry = bot.event(home_opened(event_id="Ev7"), **retry_headers)
        unseen_retry = bot.event(home_opened(user="U8", event_id="Ev8"), **retry_headers)
    # Leaving running_bot waited for every answer in flight, as on SIGTERM.

    assert (first.status_code, retry.status_code, unseen_retry.status_code) == (200, 200, 200)
    assert retry.headers["X-Slack-No-Retry"] == "1"
    # The retry of Ev7 was dropped; a retry of an event never seen (its first delivery lost) is handled.
    assert sorted(call.params["user_id"] for call in slack_api.calls_to("views.publish")) == ["U1", "U8"]


def test_a_retry_reaching_another_bot_process_on_the_same_database_is_not_handled_again(
    database_url, slack_api
):
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    with running_bot(database_url, slack_api) as first, running_bot(database_url, slack_api) as second:
        delivered = first.event(home_opened(event_id="Ev9"))
        retried = second.event(home_opened(event_id="Ev9"), **retry_headers)

    assert (delivered.status_code, retried.status_code) == (200, 200)
    assert retried.headers["X-Slack-No-Retry"] == "1"
    assert [call.params["user_id"] for call in slack_api.calls_to("views.publish")] == ["U1"]


def test_an_event_whose_delivery_cannot_be_recorded_is_handled_and_counted_as_a_database_error(
    database_url, engine, slack_api
):
    with (
        running_bot(database_url, slack_api, engine=engine) as bot,
        refused_inserts(engine, "slack_delivery"),
    ):
        answered = bot.event(home_opened(event_id="Ev10"))
        slack_api.wait_for_call("views.publish")
        exposition = bot.http.get("/metrics").text

    assert answered.status_code == 200
    assert 'kpibot_database_errors_total{operation="slack_delivery"} 1.0' in exposition
