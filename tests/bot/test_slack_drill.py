""" "Show conversations" end to end: a signed `/kpi` answered with the button, the button pressed as Slack
sends a block_actions request, the list posted to the response_url ephemerally beside the answer."""

from __future__ import annotations

import json

import pytest

from commands.render_drill import DRILL_ACTION, STALE
from tests.bot.running_bot import ingest, running_bot, twitter_week
from tests.bot.test_app_commands import ask
from tests.slack_standin import block_action_body

SAFE_LINK = "https://inbox.example/c/tw-2?a=1&b=<x>|y"


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api) as running:
        yield running


def button(answer: dict, action_id: str = DRILL_ACTION) -> dict | None:
    """The button `action_id` ("Show conversations") of an answer, if it has one."""
    for block in answer["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element
    return None


def press(bot, value: str, action_id: str = DRILL_ACTION) -> dict:
    """Presses a button carrying `value`; checks the empty 200 ack and returns what was posted back."""
    before = len(bot.slack.responses)
    body = block_action_body(action_id, value, response_url=bot.slack.new_response_url())
    ack = bot.post(body, content_type="application/x-www-form-urlencoded")
    assert (ack.status_code, ack.text) == (200, "")
    return bot.slack.wait_for_response(count=before + 1)[1]


def texts(message: dict) -> list[str]:
    return [block["text"]["text"] for block in message["blocks"] if block["type"] == "section"]


def test_show_conversations_lists_the_conversations_behind_the_frt_answer(bot):
    events = twitter_week()
    events[0]["link"] = "javascript:alert(1)"  # tw-1: not a web link, never clickable
    events[2]["link"] = SAFE_LINK  # tw-2
    ingest(bot.engine, bot.settings, events)
    answer = ask(bot, "frt twitter 7d")
    shown = button(answer)

    listed = press(bot, shown["value"])

    # the button sits above the scope line, which stays last, before "Why?"
    assert answer["blocks"][-2]["elements"][0] == shown and answer["blocks"][-1]["type"] == "context"
    assert shown["text"]["text"] == "Show conversations" and len(shown["value"]) < 2000
    assert listed["response_type"] == "ephemeral" and listed["replace_original"] is False
    assert listed["blocks"][0]["text"]["text"] == "Conversations behind First response time"
    assert listed["blocks"][1]["elements"][0]["text"] == (
        "Slowest first responses, and conversations still waiting for one · last 7 days · twitter"
    )
    # twitter this week (NOW 2026-11-20 12:00): tw-2 answered in 2 h (opened 3 days ago), tw-1 in 1 h (2 days
    # ago), tw-3 waiting 1 h so far (tied with tw-1: the earlier conversation first); U7 replied to both
    assert texts(listed) == [
        "*tw-2* · twitter · 3d old · U7\n"
        "First response: *2h* · <https://inbox.example/c/tw-2?a=1&amp;b=%3Cx%3E%7Cy|open>",
        "*tw-1* · twitter · 2d old · U7\nFirst response: *1h*",
        "*tw-3* · twitter · 1h old · no agent\nFirst response: *1h* · _still waiting_",
    ]


def test_a_metric_without_conversations_has_no_button_nor_has_the_scorecard(bot):
    ingest(bot.engine, bot.settings, twitter_week())

    assert button(ask(bot, "mix 7d")) is None
    assert button(ask(bot, "")) is None
    assert button(ask(bot, "backlog")) is not None


def test_an_empty_period_says_there_are_no_conversations_behind_the_number(bot):
    answer = ask(bot, "csat twitter 30d")

    listed = press(bot, button(answer)["value"])

    assert listed["blocks"][0]["text"]["text"] == "Conversations behind CSAT"
    assert texts(listed) == ["_No conversations behind this number_"]


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        json.dumps({"metric": "mix", "channels": [], "start": "2026-11-13T12:00:00+00:00", "end": "x"}),
        json.dumps(
            {
                "metric": "frt",
                "channels": ["<!channel>"],
                "start": "2026-11-13T12:00:00+00:00",
                "end": "2026-11-20T12:00:00+00:00",
            }
        ),
    ],
    ids=["garbled", "metric-without-list", "unknown-channel"],
)
def test_a_button_value_kpibot_cannot_answer_is_told_politely(bot, value):
    listed = press(bot, value)

    assert listed["response_type"] == "ephemeral" and listed["text"] == STALE
