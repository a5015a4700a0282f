"""`/kpi export` end to end: signed slash commands to the served app; the CSV uploaded to the stand-in in a
direct message with the asker, the ephemeral confirmation through the response_url. DAY is
tests/storage/test_export.py's; the bot answers on Saturday 2026-11-21 in Europe/Paris."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot import slack_export
from bot.app import METHOD_SCOPES
from storage.ingest import Ingestor
from tests.bot.running_bot import running_bot
from tests.commands.test_export import DAY_CSV, HEADER
from tests.slack_standin import slash_command_body
from tests.storage.test_export import day_conversations

SATURDAY = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text(encoding="utf-8"))


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api, now=SATURDAY, tz="Europe/Paris") as running:
        ingestor = Ingestor(running.engine, running.settings)
        for batch in day_conversations():
            assert not ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(batch, 1)]).rejected
        yield running


def ask(bot, text: str, command: str = "/kpi") -> dict:
    before = len(bot.slack.responses)
    ack = bot.command(slash_command_body(command, text, response_url=bot.slack.new_response_url()))
    assert (ack.status_code, ack.text) == (200, "")  # acked at once, with nothing shown
    return bot.slack.wait_for_response(count=before + 1)[1]


def uploaded(bot) -> tuple[dict, dict, bytes]:
    """The upload's request and completion parameters, and the bytes sent."""
    asked = bot.slack.wait_for_call("files.getUploadURLExternal").params
    done = bot.slack.wait_for_call("files.completeUploadExternal").params
    (item,) = done["files"]
    return asked, done, bot.slack.uploads[item["id"]]


def test_export_sends_the_csv_in_a_direct_message_and_confirms_ephemerally(bot):
    answer = ask(bot, "export 2026-11-20")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Sent 4 conversations to you in a direct message."
    opened = bot.slack.wait_for_call("conversations.open").params
    asked, done, content = uploaded(bot)
    assert opened["users"] == "U1" and done["channel_id"] == "DU1"
    assert asked["filename"] == "kpibot-conversations-2026-11-20-2026-11-20.csv"
    assert done["files"][0]["title"] == "Conversations, 2026-11-20, all channels"
    comment = "*4 conversations* opened in 2026-11-20, all channels · times in Europe/Paris"
    assert done["initial_comment"] == comment
    assert content.decode("utf-8") == "\r\n".join(DAY_CSV) + "\r\n"


def test_export_of_some_channels_holds_their_conversations_only(bot):
    answer = ask(bot, "export twitter 2026-11-20")

    assert answer["text"] == "Sent 2 conversations to you in a direct message."
    _, done, content = uploaded(bot)
    assert content.decode("utf-8").splitlines() == [HEADER, DAY_CSV[1], DAY_CSV[4]]
    assert "opened in 2026-11-20, twitter ·" in done["initial_comment"]


def test_an_empty_period_is_answered_plainly_and_sends_nothing(bot):
    answer = ask(bot, "export instagram yesterday")  # Friday: ig-1 is there; Thursday is not asked

    assert answer["text"] == "Sent 1 conversation to you in a direct message."
    empty = ask(bot, "export 2026-11-01")

    assert empty["response_type"] == "ephemeral"
    assert empty["text"] == "No conversations opened in 2026-11-01, all channels: there is nothing to send."
    assert len(bot.slack.calls_to("conversations.open")) == 1
    assert len(bot.slack.calls_to("files.getUploadURLExternal")) == 1


def test_a_capped_export_says_how_many_of_how_many(bot, monkeypatch):
    monkeypatch.setattr(slack_export, "SLACK_ROW_LIMIT", 3)

    answer = ask(bot, "export 2026-11-20")

    _, done, content = uploaded(bot)
    assert answer["text"] == (
        "Sent 3 conversations to you in a direct message. That is the first 3 of 4 (a Slack export stops "
        "there): ask for a shorter period or fewer channels, or run `kpibot export conversations` in the "
        "terminal for all."
    )
    assert content.decode("utf-8").splitlines() == DAY_CSV[:4]
    assert "That is the first 3 of 4" in done["initial_comment"]


@pytest.mark.parametrize(
    ("method", "error", "said"),
    [
        ("files.getUploadURLExternal", "not_allowed_token_type", "Slack said not_allowed_token_type"),
        ("conversations.open", "missing_scope", "missing_scope"),
    ],
)
def test_an_upload_slack_refuses_is_said_in_words(bot, method, error, said):
    bot.slack.fail_next(method, status=200, error=error)

    answer = ask(bot, "export 2026-11-20")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(":warning: The export could not be sent to you: ")
    assert said in answer["text"]
    assert "Traceback" not in json.dumps(answer)
    assert not bot.slack.calls_to("files.completeUploadExternal")


def test_a_word_an_export_cannot_read_gets_the_did_you_mean_help(bot):
    answer = ask(bot, "export twiter 30d")
    other = ask(bot, "export frt 30d")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "unknown channel `twiter` — did you mean `twitter`?"
    assert other["text"] == "an export takes channels and a period only: `/kpi export [channel…] [period]`"
    assert not bot.slack.calls_to("conversations.open")


def test_export_is_a_kpi_command_only(bot):
    answer = ask(bot, "export 7d", command="/sentiment")

    assert answer["text"].startswith("unknown ")  # a word /sentiment's grammar does not know
    assert not bot.slack.calls_to("conversations.open")


def test_every_method_an_export_calls_is_covered_by_a_manifest_scope(bot):
    ask(bot, "export 2026-11-20")
    uploaded(bot)

    called = {call.method for call in bot.slack.calls} - {"response_url", "upload"}
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"])

    assert {"conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal"} <= called
    for method in called:
        assert not METHOD_SCOPES[method] or granted & set(METHOD_SCOPES[method]), method
