"""manifest.yml asks Slack for exactly what the code registers and calls: commands, events, scopes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.app import BOT_SCOPES, EVENT_SCOPES, METHOD_SCOPES
from bot.listeners.commands import COMMANDS
from tests.bot.running_bot import ingest, running_bot, twitter_week
from tests.slack_standin import block_action_body, event_body, slash_command_body

MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_lists_the_code_commands_events_and_scopes():
    commands = [command["command"] for command in MANIFEST["features"]["slash_commands"]]

    assert sorted(commands) == sorted(COMMANDS)
    assert sorted(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == sorted(EVENT_SCOPES)
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_every_declared_scope_is_needed_by_a_command_or_a_web_api_method_the_bot_calls():
    needed = {"commands"} | {scope for scopes in METHOD_SCOPES.values() for scope in scopes}
    needed |= {scope for scopes in EVENT_SCOPES.values() for scope in scopes}

    assert set(BOT_SCOPES) == needed


def test_manifest_turns_on_socket_mode_interactivity_and_the_home_tab_with_usage_hints():
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["description"] and command["usage_hint"].startswith("[")


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api) as running:
        ingest(running.engine, running.settings, twitter_week())
        yield running


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_manifest_command_is_handled_and_an_unknown_one_is_not(bot, command):
    handled = bot.command(slash_command_body(command, "help", response_url=bot.slack.response_url))
    unknown = bot.command(slash_command_body("/nope", "help", response_url=bot.slack.new_response_url()))
    answer = bot.slack.wait_for_response()[1]

    assert handled.status_code == 200
    assert answer["text"].startswith("*kpibot*") and answer["response_type"] == "ephemeral"
    # Bolt answers 404 to a request no listener matches.
    assert unknown.status_code == 404


@pytest.mark.parametrize("subscription", sorted(EVENT_SCOPES))
def test_each_manifest_event_is_handled(bot, subscription):
    # "message.channels" is the subscription name; the event itself is of type "message".
    event = {
        "type": subscription.split(".")[0],
        "user": "U1",
        "channel": "D1",
        "tab": "home",
        "ts": "1.0",
        "item": {"type": "message", "channel": "C9", "ts": "1.0"},
        "reaction": "eyes",
    }
    response = bot.event(event_body(event))

    assert response.status_code == 200


def test_every_web_api_method_the_bot_calls_is_covered_by_a_manifest_scope(bot):
    """A tour of everything the bot does; each method it called must be listed with its scopes."""
    bot.slack.set_user("U1", is_admin=True)
    bot.slack.set_channel("C1", is_member=False)
    tour = [
        "frt twitter",
        "",
        "help",
        "digest here 09:00",
        "digest list",
        "alert backlog 3 2h here",
        "alert off",
    ]
    for n, text in enumerate(tour, 1):
        bot.command(slash_command_body("/kpi", text, response_url=bot.slack.new_response_url()))
        bot.slack.wait_for_response(count=n)
    bot.event(event_body({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}))
    bot.slack.wait_for_call("views.publish")
    bot.post(
        block_action_body("home_refresh", "30d", view={"type": "home"}),
        content_type="application/x-www-form-urlencoded",
    )
    bot.slack.wait_for_call("views.publish", count=2)

    called = {call.method for call in bot.slack.calls} - {"response_url"}
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"])

    assert called == {"auth.test", "users.info", "conversations.info", "views.publish"}
    for method in called:
        scopes = METHOD_SCOPES[method]
        assert not scopes or granted & set(scopes), method
