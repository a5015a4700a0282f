"""`/sentiment` and `/topics` end to end: signed slash commands to the served app, answers with the numbers.

Messages are scored by real ingestion; the app answers as of NOW (Friday 2026-11-20 12:00 UTC).
"""

from __future__ import annotations

from tests.bot.running_bot import ingest
from tests.bot.test_app_commands import ask, bot  # noqa: F401  (the served-app fixture and its helper)
from tests.storage.builders import inbound

DAY = 1440  # builders count minutes from 09:00 on NOW's day


def said(eid: str, minutes: float, text: str, channel: str = "instagram") -> dict:
    return inbound(eid, minutes, conv=f"conv-{eid}", channel=channel, text=text)


def test_sentiment_instagram_30d_answers_with_the_split_and_the_change(bot):  # noqa: F811
    ingest(
        bot.engine,
        bot.settings,
        [
            said("p1", -2 * DAY, "I love it"),  # "love" 0.5 + 0.6 x lexicon 0.5 = +0.8
            said("p2", -3 * DAY, "😍"),  # 0.6 x 0.9 = +0.54
            said("n0", -4 * DAY, "I sent the form yesterday"),  # 0.0
            said("m1", -5 * DAY, "My parcel is two weeks late, this is awful"),  # -1.0
            said("pl", -6 * DAY, "Dzień dobry, gdzie jest moja paczka?"),  # Polish: unscored
            said("tw", -DAY, "awful", channel="twitter"),  # not instagram
            said("old", -40 * DAY, "awful"),  # the previous 30 days: net -100 %
        ],
    )

    answer = ask(bot, "instagram 30d", command="/sentiment")

    # 2 positive, 1 neutral, 1 negative of 4 -> 50 / 25 / 25 %, net +25 %; -100 % before: +125 points
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Sentiment: net +25 % (last 30 days · instagram)"
    shown = [block["text"]["text"] for block in answer["blocks"] if "text" in block]
    assert shown[1] == "Previous period (2026-09-21 12:00 – 2026-10-21 12:00): net -100 % · ▲ 125 pt, better"
    assert shown[2] == (
        "```\n"
        "positive  ▇▇▇▇▇▇▇▇▇▇               50 %  (2)\n"
        "neutral   ▇▇▇▇▇                    25 %  (1)\n"
        "negative  ▇▇▇▇▇                    25 %  (1)\n"
        "```"
    )
    # mean (0.8 + 0.54 + 0 - 1.0) / 4 = 0.085; 1 of 5 unscored
    assert shown[3] == "*Mean score* +0.09 · *Scored* 4 · 20 % unscored: 1 pl"


def test_topics_answers_with_the_top_topics_of_the_last_7_days(bot):  # noqa: F811
    ingest(
        bot.engine,
        bot.settings,
        [
            said("d1", -DAY, "where is my parcel?", channel="twitter"),  # delivery/late, -0.075
            said("d2", -2 * DAY, "my parcels never arrived, terrible"),  # delivery/lost, -1.0
            said("r1", -3 * DAY, "I want my money back"),  # refund/request, "want my money back" -0.6
            said("x1", -4 * DAY, "I sent the form yesterday"),  # no topic
            said("d0", -10 * DAY, "where is my parcel?"),  # the week before: delivery 1
        ],
    )

    answer = ask(bot, "", command="/topics")

    # 4 messages this week: delivery 2 (50 %, mean -0.5375, +1 on the week before), refund 1 (25 %, new)
    assert answer["text"] == "Top topics (last 7 days · all channels)"
    table = answer["blocks"][1]["text"]["text"]
    assert table.startswith("*4* customer messages · previous period 1\n```\n")
    assert "delivery  2      50 %   -0.54      ▲ 1     status\n" in table  # both name a parcel
    assert "refund    1      25 %   -0.6       ▲ 1     request\n" in table
