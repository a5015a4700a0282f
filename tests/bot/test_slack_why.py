"""`/kpi why` and the "Why?" button end to end: signed requests to the real Bolt app, answers posted to the
response_url ephemerally, through the local Slack stand-in."""

from __future__ import annotations

import json

import pytest

from commands.render_drill import STALE
from commands.render_why import WHY_ACTION
from tests.bot.running_bot import NOW, ingest, running_bot, twitter_week
from tests.bot.test_app_commands import ask
from tests.bot.test_slack_drill import button
from tests.bot.test_slack_drill import press as press_button

# twitter_week: twitter first responses of 1 h and 2 h this week, 3 h the week before
FELL = "First response time fell 1h 30m: 1h 30m from twitter getting faster."


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api) as running:
        yield running


def why_button(answer: dict) -> dict | None:
    return button(answer, WHY_ACTION)


def press(bot, value: str) -> dict:
    return press_button(bot, value, WHY_ACTION)


def test_kpi_why_is_answered_ephemerally_words_first(bot):
    ingest(bot.engine, bot.settings, twitter_week())

    answer = ask(bot, "why frt twitter 7d")

    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == "Why First response time moved: 3h → 1h 30m"
    assert answer["blocks"][1]["text"]["text"].startswith(FELL)
    assert answer["blocks"][-1]["elements"][0]["text"].startswith("last 7 days · vs ")


def test_the_why_button_under_a_kpi_answer_explains_that_answer(bot):
    ingest(bot.engine, bot.settings, twitter_week())
    answer = ask(bot, "frt twitter 7d")
    button = why_button(answer)
    assert button["text"]["text"] == "Why?"
    assert json.loads(button["value"])["channels"] == ["twitter"]

    explained = press(bot, button["value"])

    assert explained["response_type"] == "ephemeral" and explained["replace_original"] is False
    assert explained["blocks"][1]["text"]["text"].startswith(FELL)


def test_only_a_change_that_can_be_explained_gets_the_button(bot):
    ingest(bot.engine, bot.settings, twitter_week())

    assert why_button(ask(bot, "volume 7d")) is None  # a count, not a mean
    assert why_button(ask(bot, "frt twitter 7d by channel")) is None
    assert why_button(ask(bot, "csat 7d")) is None  # no answers in either period
    assert why_button(ask(bot, "frt facebook 7d")) is None  # no previous period to compare with


def test_a_usage_error_is_the_help_with_the_reason(bot):
    answer = ask(bot, "why volume")

    assert answer["response_type"] == "ephemeral"
    assert "`why` explains the change of a mean or a rate, not `volume`" in json.dumps(answer)


def test_a_button_value_kpibot_cannot_answer_is_told_politely(bot):
    value = json.dumps({"metric": "volume", "channels": [], "start": NOW.isoformat(), "end": NOW.isoformat()})
    assert press(bot, value)["text"] == STALE
