"""`/kpi me` end to end: signed slash commands to the served app, answers posted to the response_url, always
ephemeral. Asked at 2026-11-20 12:00 UTC, so the events of tests.commands.test_me (09:00 onwards, and one
at 07:20) all fall in the last 7 days."""

from __future__ import annotations

import pytest

from commands.me import PRIVATE
from commands.render_me import NO_ACTIVITY
from tests.bot.running_bot import ingest, running_bot
from tests.bot.test_app_commands import ask
from tests.commands.test_me import A, three_agents, waiting_events
from tests.storage.builders import inbound, reply


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api, agents={"U0ANA": A, "U0IDLE": "idle"}) as running:
        ingest(running.engine, running.settings, [*three_agents(), *waiting_events()[:2]])
        yield running


def text_of(answer: dict) -> str:
    """Every text of the message's blocks (header, sections, context), one per line."""
    texts = [block["text"] for block in answer["blocks"] if "text" in block]
    texts += [element for block in answer["blocks"] for element in block.get("elements", [])]
    return "\n".join(text["text"] for text in texts)


def test_kpi_me_answers_the_mapped_agent_only_with_their_numbers_beside_the_team(bot):
    answer = ask(bot, "me", user_id="U0ANA")
    shown = text_of(answer)

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Your numbers: last 7 days (all channels)"
    # A's first responses: c0 600 s, c1 60 s, c2 180 s -> 3, mean 280 s = 4m 40s, median 180 s = 3m;
    # B one of 300 s, C 600 and 1200 s (mean and median 900 s). Team medians over A, B, C: first
    # responses (3, 1, 2) -> 2; means (280, 300, 900) -> 300 s = 5m; medians (180, 300, 900) -> 5m.
    # Replies A 4 (c0, c1 twice, c2), B 1, C 3 -> 3. The week before: nothing (0 or —).
    assert "*First responses*: 3 · team median 2 · previous 0" in shown
    assert "*FRT mean*: 4m 40s · team median 5m · previous —" in shown
    assert "*FRT median*: 3m · team median 5m · previous —" in shown
    assert "*Replies*: 4 · team median 3 · previous 0" in shown
    assert "*CSAT*: 50 % · team median 75 % · previous —" in shown
    # w1, assigned to A, waits since 10:40: 1h 20m at 12:00
    assert "*Waiting on you* (1, oldest first)\n• w1 · twitter · waiting 1h 20m" in shown
    assert shown.endswith("Only you see this.")


def test_an_agent_replying_through_slack_is_matched_by_their_own_user_id(bot):
    answer = ask(bot, "me twitter 7d", user_id=A)  # UA1 is no key of the agents map

    assert answer["response_type"] == "ephemeral"
    assert "*Replies*: 4 · team median 3" in text_of(answer)


def test_an_unknown_user_is_told_how_to_be_matched(bot):
    answer = ask(bot, "me", user_id="U0NOBODY")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        "I don't know which agent you are: ask an admin to add `agents: {U0NOBODY: your-agent-id}` to the "
        "kpibot config (the id your support tool gives you)."
    )


def test_public_is_refused_with_a_short_reason_and_no_numbers(bot):
    answer = ask(bot, "me 30d public", user_id="U0ANA")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == PRIVATE and "Replies" not in text_of(answer)


def test_a_metric_after_me_is_a_usage_error_with_the_help(bot):
    answer = ask(bot, "me frt", user_id="U0ANA")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "`me` shows all your numbers at once: ask `me` without `frt`"


def test_an_agent_without_activity_is_answered_clearly(bot):
    answer = ask(bot, "me", user_id="U0IDLE")

    assert answer["response_type"] == "ephemeral"
    assert NO_ACTIVITY in text_of(answer) and "Nobody is waiting on you." in text_of(answer)


def test_an_agent_name_with_slack_markup_is_shown_inert(bot):
    ingest(
        bot.engine,
        bot.settings,
        [inbound("m1", 100, conv="m1"), reply("m2", 101, conv="m1", agent="UMARK", name="*bold* <!channel>")],
    )
    answer = ask(bot, "me", user_id="UMARK")
    shown = text_of(answer)

    assert "<!channel>" not in shown and "*bold* &lt;!channel&gt;" in shown
