"""Block Kit and terminal renderings of sentiment, topics and voice results built by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.console import Console

from commands.periods import Period
from commands.render_nlp import bar, nlp_message, nlp_renderable, split_lines
from commands.result import KpiResult

WEEK = Period(datetime(2026, 11, 13, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC), name="last 7 days")
PREVIOUS_LABEL = "2026-11-06 – 2026-11-12"
# 2 positive, 1 neutral, 1 negative of 4 scored, 1 unscored (Polish); the week before net +10 %
SPLIT = {
    "positive": 0.5,
    "neutral": 0.25,
    "negative": 0.25,
    "net": 0.25,
    "mean": 0.1875,
    "count": 4,
    "unscored": 1,
    "unscored_languages": [{"language": "pl", "count": 1}],
    "scored_share": 0.8,
}
BARS = [
    "positive  ▇▇▇▇▇▇▇▇▇▇               50 %  (2)",
    "neutral   ▇▇▇▇▇                    25 %  (1)",
    "negative  ▇▇▇▇▇                    25 %  (1)",
]


def result(metric, values, previous=None, channels=("instagram",), **extra) -> KpiResult:
    return KpiResult(metric, channels, False, WEEK, WEEK.previous(), values, previous or {}, **extra)


def texts(message: dict) -> list[str]:
    """The mrkdwn or plain text of each block, context elements included."""
    out = []
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [element["text"] for element in block.get("elements", [])]
    return out


def terminal(answer: KpiResult) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=110, color_system=None).print(nlp_renderable(answer))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("share", "cells"), [(0.5, 10), (0.25, 5), (0.025, 1), (0.024, 0), (1.0, 20), (None, 0)]
)
def test_bar_has_one_cell_per_five_percent_rounded_half_up(share, cells):
    assert bar(share) == "▇" * cells


def test_sentiment_message_shows_net_change_split_bars_and_scores():
    previous = {**SPLIT, "net": 0.1}
    message = nlp_message(result("sentiment", SPLIT, previous), asked_by="U1")
    # net 25 % vs 10 % the week before: up 15 points, and higher is better
    assert message["text"] == "Sentiment: net +25 % (last 7 days · instagram)"
    assert texts(message) == [
        "Sentiment: net +25 %",
        f"Previous period ({PREVIOUS_LABEL}): net +10 % · ▲ 15 pt, better",
        "```\n" + "\n".join(BARS) + "\n```",
        "*Mean score* +0.19 · *Scored* 4 · 20 % unscored: 1 pl",
        "last 7 days · instagram · asked by <@U1>",
    ]


def test_sentiment_in_the_terminal_has_the_same_bars_without_slack_markup():
    shown = terminal(result("sentiment", SPLIT, {**SPLIT, "net": 0.5}, benchmark={"net": 0.3}))
    assert "Sentiment — instagram — last 7 days" in shown
    # 25 % after 50 %: down 25 points, worse; below the +30 % benchmark
    assert "net +50 % · ▼ 25 pt, worse\nBenchmark: net +30 % missed" in shown
    assert "\n".join(BARS) in shown
    assert "Mean score +0.19 · Scored 4 · 20 % unscored: 1 pl" in shown
    assert "```" not in shown and "*" not in shown


def test_sentiment_without_scored_messages_says_so_and_still_counts_unscored():
    values = {
        **dict.fromkeys(("positive", "neutral", "negative", "net", "mean")),
        "count": 0,
        "unscored": 2,
        "unscored_languages": [{"language": "de", "count": 2}],
        "scored_share": 0.0,
    }
    answer = result("sentiment", values, notes=["no scored customer messages in this period"])
    assert split_lines(values) == []
    assert texts(nlp_message(answer))[1:3] == [
        "*Mean score* — · *Scored* 0 · 100 % unscored: 2 de",
        "_No scored customer messages in this period_",
    ]


def test_unscored_languages_past_the_third_are_other():
    # 12 of 100 unscored: 5 pl, 3 de, 2 es named; it 1 and nl 1 are "other"
    values = {
        **SPLIT,
        "count": 88,
        "unscored": 12,
        "unscored_languages": [
            {"language": "pl", "count": 5},
            {"language": "de", "count": 3},
            {"language": "es", "count": 2},
            {"language": "it", "count": 1},
            {"language": "nl", "count": 1},
        ],
    }
    assert texts(nlp_message(result("sentiment", values)))[3].endswith(
        "*Scored* 88 · 12 % unscored: 5 pl, 3 de, 2 es, 2 other"
    )


def test_sentiment_by_day_is_a_table_of_split_and_net_per_day():
    days = [
        {"key": "2026-11-13", "values": SPLIT},
        {
            "key": "2026-11-14",
            "values": {**SPLIT, "positive": 0.0, "neutral": 0.0, "negative": 1.0, "net": -1.0},
        },
    ]
    shown = texts(nlp_message(result("sentiment", SPLIT, by="day", breakdown=days)))
    assert shown[4] == (
        "*By day*\n```\n"
        "            Positive  Neutral  Negative  Net     Scored\n"
        "2026-11-13  50 %      25 %     25 %      +25 %   4\n"
        "2026-11-14  0 %       0 %      100 %     -100 %  4\n"
        "```"
    )


TOPICS = {
    "topics": [
        {
            "topic": "delivery",
            "count": 4,
            "share": 4 / 9,
            "sentiment": -0.425,
            "change": 3,
            "subtopics": [{"subtopic": "late", "count": 3}, {"subtopic": "lost", "count": 1}],
        },
        {"topic": "refund", "count": 2, "share": 2 / 9, "sentiment": None, "change": -1, "subtopics": []},
        {"topic": "praise", "count": 1, "share": 1 / 9, "sentiment": 0.5, "change": 0, "subtopics": []},
    ],
    "phrases": [{"phrase": "screen flickering", "count": 3}, {"phrase": "battery drain", "count": 2}],
    "count": 9,
}
TOPIC_TABLE = (
    "Topic     Count  Share   Sentiment  Change  Top subtopic\n"
    "delivery  4      44.4 %  -0.42      ▲ 3     late\n"
    "refund    2      22.2 %  —          ▼ 1\n"
    "praise    1      11.1 %  +0.5       ="
)


def test_topics_message_is_a_table_with_share_sentiment_and_change_then_phrases():
    message = nlp_message(result("topics", TOPICS, {"count": 7}, channels=()))
    # 4/9 = 44.4 %, mean -0.425 shown to 2 places (-0.42, half-even of the float), +3 since before
    assert texts(message) == [
        "Top topics",
        f"*9* customer messages · previous period 7\n```\n{TOPIC_TABLE}\n```",
        "*Recurring phrases outside the topics*: “screen flickering” 3 · “battery drain” 2",
        "last 7 days · all channels",
    ]


def test_topics_say_what_the_taxonomy_did_not_read_by_language():
    values = {
        **TOPICS,
        "unread": 3,
        "unread_languages": [{"language": "pt", "count": 2}, {"language": "it", "count": 1}],
    }
    message = nlp_message(result("topics", values, {"count": 7}, channels=()))
    # 3 of the 9 read are in languages without keywords: 33.3 %
    assert texts(message)[1].startswith(
        "*9* customer messages · previous period 7 · 33.3 % not read for topics: 2 pt, 1 it\n```"
    )


def test_topics_in_the_terminal_and_by_channel():
    channels = [
        {"key": "instagram", "values": TOPICS},
        {"key": "viber", "values": {"topics": [], "phrases": [], "count": 2}},
    ]
    shown = terminal(result("topics", TOPICS, {"count": 7}, by="channel", breakdown=channels))
    assert TOPIC_TABLE in shown
    assert "By channel\ninstagram (9): delivery 4 (44.4 %), refund 2 (22.2 %), praise 1 (11.1 %)\n" in shown
    assert "viber (2): no topic" in shown


def test_topics_without_messages_shows_the_empty_sentence():
    empty = result("topics", {"topics": [], "phrases": [], "count": 0})
    assert texts(nlp_message(empty))[1] == "_No customer messages in this period_"


QUOTE = {
    "text": "still no parcel <!channel> & nobody answers",
    "author": "c_37bc5aba7141ac34",
    "channel": "instagram",
    "at": "2026-11-19T21:40:00+00:00",
    "age": 8400.0,
    "score": -0.65,
}


def test_voice_quotes_escape_slack_controls_and_say_who_where_and_when():
    praise = {**QUOTE, "text": "[bold]thx[/bold] 😍", "score": 0.9, "age": 90000.0}
    message = nlp_message(result("voice", {"negative": [QUOTE], "positive": [praise]}))
    # 8400 s = 2h 20m ago; 90000 s = 1d 1h ago
    assert texts(message)[1:3] == [
        "*Most negative*\n> still no parcel &lt;!channel&gt; &amp; nobody answers\n"
        "— `c_37bc5aba7141ac34` · instagram · 2h 20m ago · score -0.65",
        "*Most positive*\n> [bold]thx[/bold] 😍\n— `c_37bc5aba7141ac34` · instagram · 1d 1h ago · score +0.9",
    ]
    shown = terminal(result("voice", {"negative": [QUOTE], "positive": [praise]}))
    # rich markup in customer text is shown as typed, not applied
    assert "“[bold]thx[/bold] 😍”\n    — c_37bc5aba7141ac34 · instagram · 1d 1h ago · score +0.9" in shown
    assert "“still no parcel <!channel> & nobody answers”" in shown


def test_voice_without_strong_messages_shows_the_empty_sentence():
    shown = terminal(result("voice", {"negative": [], "positive": []}))
    assert "no positive or negative customer messages in this period" in shown
