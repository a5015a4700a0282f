"""Strings from events or settings never become Slack markup: no mention, link or code-fence break in any
rendering (KPI answers and their tables, breakdowns, sentiment/topics/voice, the digest, backlog alerts,
settings replies, the help and the Home tab).

Each test builds its answer from events carrying hostile names through the real ingestion and engine, and
checks every text field of the rendered message: the only `<…>` allowed are the bot's own mentions.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.alert import BacklogReading, Decision, alert_message
from commands.digest import Digest, digest_message
from commands.engine import compute
from commands.parse import help_text, parse_command
from commands.periods import resolve_period
from commands.render_blocks import answer_message
from commands.render_home import home_view
from commands.slack_text import block, inline, link
from storage.ingest import Ingestor
from storage.models import Subscription

HOSTILE = "ok\n```\n<!channel> Urgent: <https://evil.example/sso|re-login> & `x`"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
# What the bot itself writes: user and channel mentions (<@U…>, <#C…>) and http(s) links whose URL holds
# no space, | < or > (commands.slack_text.link); nothing else may appear in <…>.
_OURS = re.compile(r"<[@#][A-Z0-9]+>|<https?://[^\s|<>]+\|[^<>|]*>")


def texts(message) -> list[str]:
    """Every text a Slack client renders as mrkdwn in a message or view."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message)
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        found.append(message["text"])
    return found


def assert_inert(message) -> None:
    for text in texts(message):
        assert "<!" not in text, text
        assert not re.sub(_OURS, "", text).count("<"), text
        # fences only as the bot writes them: a line of its own, opening then closing
        for line in text.split("\n"):
            assert "```" not in line or line.strip() == "```" or line.startswith("```"), text
        assert text.count("```") % 2 == 0, text


def message_event(eid, minutes, conv, direction, **extra) -> dict:
    author = {"kind": "customer", "id": "@ana"} if direction == "inbound" else {"kind": "agent"}
    event = {
        "id": eid,
        "type": "message",
        "at": (NOW - timedelta(hours=5) + timedelta(minutes=minutes)).isoformat(),
        "conversation_id": conv,
        "channel": "twitter",
        "direction": direction,
        "author": author,
        "text": "where is my parcel? <!channel> ```" if direction == "inbound" else "on it",
    }
    return {**event, **extra}


@pytest.fixture
def hostile(engine, settings):
    """A conversation whose agent, team, quick reply, id and link are hostile strings, answered once."""
    conv = "tw-`evil`<!here>"
    events = [
        message_event("i1", 0, conv, "inbound", link="https://evil.example/x|<!channel>"),
        message_event(
            "o1",
            30,
            conv,
            "outbound",
            author={"kind": "agent", "id": "<!channel>", "name": HOSTILE[:200]},
            quick_reply=HOSTILE[:200],
        ),
        {
            "id": "a1",
            "type": "assignment",
            "at": (NOW - timedelta(hours=4)).isoformat(),
            "conversation_id": conv,
            "channel": "twitter",
            "agent": "<!channel>",
            "team": HOSTILE[:200],
        },
        message_event("i2", 10, "tw-open", "inbound"),
    ]
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events)])
    assert not result.rejected, result.rejected
    return engine, settings


@pytest.mark.parametrize(
    "question",
    ["quick-replies today public", "agents today", "frt today by agent", "backlog"],
)
def test_kpi_answers_keep_hostile_names_inert(hostile, question):
    engine, settings = hostile
    request = parse_command(question, settings, NOW)
    with engine.connect() as conn:
        answer = compute(conn, request, settings, NOW)

    message = answer_message(answer, asked_by="U42")

    assert_inert(message)
    assert "<@U42>" in json.dumps(message)  # the bot's own mention is kept


def test_quick_reply_named_to_ping_the_channel_shows_as_text(hostile):
    engine, settings = hostile
    with engine.connect() as conn:
        answer = compute(conn, parse_command("quick-replies today", settings, NOW), settings, NOW)

    table = "\n".join(texts(answer_message(answer)))

    assert "&lt;!channel&gt; Urgent: &lt;https://evil.example/sso|re-login&gt; &amp; ˋxˋ" in table


@pytest.mark.parametrize(
    ("question", "escaped"),
    [
        ("voice today", "&lt;!channel&gt;"),
        ("topics today", "deli&lt;!here&gt;very"),
        ("topics today by channel", "deli&lt;!here&gt;very"),
    ],
)
def test_nlp_answers_keep_customer_text_and_topic_labels_inert(engine, settings, question, escaped):
    settings = settings.model_copy(update={"topics": {"deli<!here>very": {"la`te": ["parcel", "delivery"]}}})
    said = [
        "This is terrible, the worst delivery ever <!channel> ```",
        "I love this parcel, thank you so much! <https://evil.example|x>",
        "Awful awful awful parcel service <!here>",
    ]
    events = [message_event(f"v{n}", n, f"tw-v{n}", "inbound", text=text) for n, text in enumerate(said)]
    Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events)])
    with engine.connect() as conn:
        answer = compute(conn, parse_command(question, settings, NOW), settings, NOW)

    message = answer_message(answer)

    assert_inert(message)
    assert escaped in "\n".join(texts(message))


def test_the_scorecard_and_home_tab_with_a_hostile_channel_name(hostile):
    engine, settings = hostile
    settings = settings.model_copy(update={"channels": [*settings.channels, "x<!here>"]})
    with engine.connect() as conn:
        card = compute(conn, parse_command("twitter x<!here> 7d", settings, NOW), settings, NOW)

    assert_inert(answer_message(card))
    assert_inert(home_view(card, period_word="7d", updated_at=NOW))


def test_help_lists_a_hostile_channel_name_as_text(settings):
    settings = settings.model_copy(update={"channels": ["twitter", "<!channel>"]})

    text = help_text(settings)

    assert "&lt;!channel&gt;" in text and "<!channel>" not in text


def test_digest_keeps_topics_and_channels_inert():
    utc = ZoneInfo("UTC")
    day = resolve_period("yesterday", NOW, utc)
    digest = Digest(date(2026, 11, 19), utc, ("<!channel>",), day, [])
    digest.topics = [{"topic": HOSTILE, "count": 3, "share": 0.5}]

    assert_inert(digest_message(digest))


def test_backlog_alert_keeps_ids_and_links_inert():
    oldest = [
        {"channel": "twitter", "age": 7200.0, "conversation_id": "a```b<!here>", "link": None},
        {
            "channel": "twitter",
            "age": 3600.0,
            "conversation_id": "c",
            "link": "https://x.example/a|<!channel>",
        },
        {"channel": "twitter", "age": 60.0, "conversation_id": "d", "link": "javascript:alert(1)"},
    ]
    reading = BacklogReading(over=3, sla_breaches=0, max_age=7200.0, oldest=oldest)
    subscription = Subscription(
        kind="alert", slack_channel="C1", channels="<!here>", threshold=1, created_by="U1", created_at=NOW
    )

    message = alert_message(Decision("fire", "episode-1/post-1", None), reading, subscription)

    assert_inert(message)
    assert "<https://x.example/a%7C%3C!channel%3E|open>" in json.dumps(message)


def test_inline_escapes_and_flattens():
    assert inline(HOSTILE) == (
        "ok ˋˋˋ &lt;!channel&gt; Urgent: &lt;https://evil.example/sso|re-login&gt; &amp; ˋxˋ"
    )
    assert block("line one\n```\n<!here>") == "line one\n> ˋˋˋ\n> &lt;!here&gt;"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://desk.example/c/42?tab=1&x=2", "<https://desk.example/c/42?tab=1&amp;x=2|open>"),
        ("https://x.example/a b|<!channel>", "<https://x.example/a%20b%7C%3C!channel%3E|open>"),
        ("javascript:alert(1)", "open"),
        ("https://x.example/\nhttps://evil", "open"),
    ],
)
def test_links_are_http_only_and_cannot_end_early(url, shown):
    assert link(url, "open") == shown


def test_settings_replies_show_channel_names_from_settings_as_text(engine, settings):
    from bot.settings_commands import describe
    from commands.intake import intake_command

    subscription = Subscription(
        kind="digest", slack_channel="C1", time="09:00", timezone="UTC", channels="x<!here>",
        created_by="U1", created_at=NOW,
    )  # fmt: skip
    hostile = settings.model_copy(update={"intake_channels": {"C0X": "<!channel>"}})
    listing = intake_command(
        "intake list", user_id="U1", channel_id="C1", settings=hostile, engine=engine, now=NOW,
        is_admin=lambda: False,
    )  # fmt: skip

    assert "x&lt;!here&gt;" in describe(subscription) and "<!" not in describe(subscription)
    assert "&lt;!channel&gt;" in listing and "<!" not in listing
