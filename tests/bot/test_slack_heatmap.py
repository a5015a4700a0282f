"""`/kpi heatmap` end to end: signed slash commands to the served app; the grid answered through the
response_url, the PNG uploaded to the stand-in (a direct message, or the channel when `public`)."""

from __future__ import annotations

import pytest

from bot.slack_heatmap import POSTED, SENT_TO_DM
from tests.bot.running_bot import ingest, running_bot, twitter_week
from tests.slack_standin import slash_command_body

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def bot(database_url, slack_api):
    with running_bot(database_url, slack_api) as running:
        yield running


def ask(bot, text: str) -> dict:
    before = len(bot.slack.responses)
    ack = bot.command(slash_command_body("/kpi", text, response_url=bot.slack.new_response_url()))
    assert (ack.status_code, ack.text) == (200, "")
    return bot.slack.wait_for_response(count=before + 1)[1]


def uploaded(bot) -> tuple[dict, bytes]:
    """The completed upload's parameters and the bytes sent for it."""
    done = bot.slack.wait_for_call("files.completeUploadExternal").params
    (item,) = done["files"]
    return done, bot.slack.uploads[item["id"]]


def texts(answer: dict) -> list[str]:
    found = []
    for block in answer["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [element["text"] for element in block.get("elements", [])]
    return found


def test_heatmap_answers_the_grid_ephemerally_and_sends_the_png_in_a_direct_message(bot):
    ingest(bot.engine, bot.settings, twitter_week())

    answer = ask(bot, "heatmap")

    # inbound messages of the last 30 days (UTC): Tue 11-10 and 11-17 12:00, Wed 12:00, Thu 12:00 (facebook),
    # Fri 11:00 -> Tue 12 holds 2, the busiest; Tuesday 2, hour 12:00-13:00 4, total 5
    assert answer["response_type"] == "ephemeral"
    shown = texts(answer)
    assert shown[0] == "Heatmap: Inbound messages"
    assert shown[1] == "last 30 days · all channels · local hours of UTC"
    assert shown[2] == (
        "busiest: Tue 12:00–13:00, 2 messages\n"
        "busiest day: Tuesday, 2 messages · busiest hour: 12:00–13:00, 4 messages\n"
        "total: 5 messages"
    )
    assert (
        shown[3].startswith("```    0     3")
        and "\nTue " + " ·" * 12 + "██" + " ·" * 11 + "       2\n" in shown[3]
    )
    assert shown[-1] == SENT_TO_DM
    opened = bot.slack.wait_for_call("conversations.open").params
    done, png = uploaded(bot)
    assert opened["users"] == "U1" and done["channel_id"] == "DU1"
    assert done["initial_comment"].startswith("*Inbound messages by hour and weekday · all channels")
    assert "busiest: Tue 12:00–13:00, 2 messages" in done["initial_comment"]
    assert png[:8] == PNG and (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (
        1250,
        550,
    )


def test_public_heatmap_is_uploaded_to_the_channel_with_the_summary_and_the_asker_told(bot):
    ingest(bot.engine, bot.settings, twitter_week())

    answer = ask(bot, "heatmap frt twitter public")

    # twitter first responses: Tue 11-10 15:00 (3h), Tue 11-17 14:00 (2h), Wed 11-18 13:00 (1h)
    done, png = uploaded(bot)
    assert answer["response_type"] == "ephemeral" and answer["text"] == POSTED
    assert done["channel_id"] == "C1" and png[:8] == PNG
    assert done["initial_comment"] == (
        "*Median first response by hour and weekday · twitter · last 30 days · UTC*\n"
        "slowest: Tue 15:00–16:00, median 3h (1 first response)\n"
        "busiest: Tue 14:00–15:00, 1 first response (median 2h)\n"
        "busiest day: Tuesday, 2 first responses · busiest hour: 13:00–14:00, 1 first response\n"
        "total: 3 first responses\n"
        "asked by <@U1>"
    )
    assert not bot.slack.calls_to("conversations.open")


def test_an_upload_slack_refuses_is_said_plainly_beside_the_grid(bot):
    ingest(bot.engine, bot.settings, twitter_week())
    bot.slack.fail_next("files.getUploadURLExternal", status=200, error="not_in_channel")

    answer = ask(bot, "heatmap public")

    shown = texts(answer)
    assert answer["response_type"] == "ephemeral" and shown[0] == "Heatmap: Inbound messages"
    assert shown[-1] == (
        ":warning: The image could not be posted here: "
        "not_in_channel — I am not in the channel: type `/invite @kpibot` there"
    )
    assert "Traceback" not in str(answer) and not bot.slack.calls_to("files.completeUploadExternal")


def test_an_empty_period_is_answered_without_an_image(bot):
    answer = ask(bot, "heatmap 24h")

    assert texts(answer)[2] == "no inbound customer messages in this period"
    assert not bot.slack.calls_to("files.getUploadURLExternal") and not bot.slack.calls_to(
        "conversations.open"
    )


def test_another_metric_word_is_a_usage_message_naming_the_two(bot):
    answer = ask(bot, "heatmap csat")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        "a heatmap shows `volume` (inbound messages) or `frt` (median first response), not `csat`"
    )
    assert not bot.slack.calls_to("files.getUploadURLExternal")
