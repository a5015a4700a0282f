"""Sentiment, topics and voice on hand-picked messages scored by real ingestion (TextBlob, taxonomy).

Times are minutes after 2026-11-20 09:00 UTC (T0); the asked period is [0, 1440) and its previous
period [-1440, 0); `now` is the end of the period. Scores quoted in comments are what ingestion stores
(TextBlob's pattern lexicon plus our cues), checked in tests/storage/test_sentiment.py's style.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from commands.engine import compute, measure
from commands.errors import UsageError
from commands.kpis import KPIS
from commands.kpis.nlp import sentiment, shorten, topics, voice
from commands.parse import parse_command
from commands.query import Query
from storage.models import Message
from storage.privacy import Pseudonymiser
from tests.offline import PRELUDE
from tests.storage.builders import T0, inbound, reply

DAY = 1440
REPO = Path(__file__).resolve().parents[3]
ANA = Pseudonymiser(b"test-key")("@ana")


@pytest.fixture
def ask(engine, settings, source):
    """One KPI function over [start, end) minutes, asked at the end of the period, from `source`."""

    def ask(fn, start=0, end=DAY, channels=()):
        query = Query(_t(start), _t(end), tuple(channels), _t(end), settings, source=source)
        with engine.connect() as conn:
            return fn(conn, query)

    return ask


def _t(minutes: float):
    return T0 + timedelta(minutes=minutes)


def said(eid, minutes, text, kind="customer", channel="instagram", **extra) -> dict:
    """An inbound message from a customer (or, with `kind`, from an agent or a bot)."""
    event = inbound(eid, minutes, conv=f"conv-{eid}", channel=channel, text=text)
    if kind != "customer":
        event["author"] = {"kind": kind, "id": "U9", "name": "Auto"}
    return {**event, **extra}


POLISH = "Dzień dobry, gdzie jest moja paczka?"  # no Polish lexicon: unscored


def test_split_counts_scored_customer_messages_and_reports_unscored_polish(feed, ask):
    feed(
        said("p1", 10, "I love it"),  # "love" 0.5 + 0.6 x lexicon 0.5 = 0.8 positive
        said("p2", 20, "😍"),  # 0.6 x lexicon 0.9 = 0.54 positive, emoji only
        said("n0", 30, "I sent the form yesterday"),  # 0.0 neutral
        said("m1", 40, "My parcel is two weeks late, this is awful"),  # -0.6 - 0.7 - 1.0: -1.0
        said("pl", 50, POLISH),
        said("bot", 60, "Excellent!", kind="bot"),  # +1.0 but a bot's
        said("agent", 70, "terrible terrible", kind="agent"),  # -1.0 but an agent's
        reply("out", 80, conv="conv-p1", channel="instagram"),  # outbound: never scored
        said("tw", 90, "awful", channel="twitter"),  # another channel
        said("early", -10, "awful"),  # the previous period
    )
    # instagram customers: 4 scored, 2 positive, 1 neutral, 1 negative -> 0.5 / 0.25 / 0.25,
    # net 0.5 - 0.25 = 0.25, mean (0.8 + 0.54 + 0 - 1.0) / 4 = 0.085; 1 unscored (Polish): 4 of 5 scored
    values = ask(sentiment, channels=["instagram"])
    assert values == {
        "positive": 0.5,
        "neutral": 0.25,
        "negative": 0.25,
        "net": 0.25,
        "mean": pytest.approx(0.085),
        "count": 4,
        "unscored": 1,
        "unscored_languages": [{"language": "pl", "count": 1}],
        "scored_share": 0.8,
    }
    # all channels add twitter's "awful" (-1.0): 2 / 1 / 2 of 5
    assert ask(sentiment)["negative"] == 0.4


def test_period_without_scored_messages_has_no_split_but_counts_unscored(feed, ask):
    feed(
        said("pl", 10, POLISH),
        said("de", 15, "Hallo, ich habe meine Bestellung noch nicht erhalten"),
        said("pl2", 16, "Paczka nie dotarła, czekam już tydzień"),
        said("blank", 20, "   "),
    )
    # the Polish and German ones were read but not scored; blank text is neither scored nor unscored
    assert ask(sentiment) == {
        "positive": None,
        "neutral": None,
        "negative": None,
        "net": None,
        "mean": None,
        "count": 0,
        "unscored": 3,
        "unscored_languages": [{"language": "pl", "count": 2}, {"language": "de", "count": 1}],
        "scored_share": 0.0,
    }


def test_engine_notes_an_empty_period_and_breaks_sentiment_down_by_channel(feed, engine, settings):
    feed(said("p1", 10, "I love it"), said("m1", 20, "awful", channel="twitter"))
    request = parse_command("sentiment by channel 2026-11-20", settings, _t(DAY))
    with engine.connect() as conn:
        result = compute(conn, request, settings, _t(DAY))
        empty = measure(conn, KPIS["sentiment"], settings, _t(DAY), ("viber",), request.period)
    # instagram: 1 of 1 positive (net +1); twitter: 1 of 1 negative (net -1), worst first
    assert [(row["key"], row["values"]["net"]) for row in result.breakdown] == [
        ("twitter", -1.0),
        ("instagram", 1.0),
    ]
    assert empty.notes == ["no scored customer messages in this period"]


PREVIOUS = [
    said("q1", -100, "where is my parcel?"),  # delivery/late
    said("q2", -90, "refund please"),  # refund/request
    said("q3", -80, "I want my money back"),  # refund/request
    said("q4", -70, "refund please!!"),  # refund/request
]


def test_topics_count_inflected_forms_under_their_topic_with_share_sentiment_and_change(feed, ask):
    feed(
        *PREVIOUS,
        said("d1", 10, "my parcels never arrived, terrible"),  # delivery/lost, -0.8 - 1.0: -1.0
        said("d2", 20, "the deliveries are late"),  # delivery/status + delivery/late, -0.7 - 0.6 x 0.3
        said("d3", 30, "where is my parcel?"),  # delivery/late, -0.5 x 0.15 (a question) = -0.075
        said("d4", 40, "where is my order, and the refund smh"),  # delivery + refund, -0.5 - 0.5 = -1.0
        said("r1", 50, "I want my money back"),  # refund/request, "want my money back" -0.6
        said("fr", 60, "Bonjour, mon colis est en retard"),  # delivery, "retard" and "en retard": -1.0
        said("s1", 70, "Colour theme since the update"),  # no topic
        said("s2", 80, "colour theme again"),  # no topic
        said("s3", 90, "the theme colour is annoying"),  # no topic
        said("bot", 100, "where is my refund", kind="bot"),  # a bot's: not counted
    )
    values = ask(topics)
    # 9 customer messages read. delivery: d1-d4 and fr = 5 (5/9), mean of the 5 scored
    # (-1 - 0.88 - 0.075 - 1 - 1) / 5 = -0.791, late in 4 (d2, d3, d4, fr), status 4 (d1, d2, d3 name
    # a parcel, fr), lost 1; 1 the day before -> +4. refund: d4, r1 = 2 (2/9), mean (-1 - 0.6) / 2 = -0.8;
    # 3 the day before -> -1.
    assert values["count"] == 9
    assert values["topics"] == [
        {
            "topic": "delivery",
            "count": 5,
            "share": 5 / 9,
            "sentiment": pytest.approx(-0.791),
            "change": 4,
            "subtopics": [
                {"subtopic": "late", "count": 4},
                {"subtopic": "status", "count": 4},
                {"subtopic": "lost", "count": 1},
            ],
        },
        {
            "topic": "refund",
            "count": 2,
            "share": 2 / 9,
            "sentiment": pytest.approx(-0.8),
            "change": -1,
            "subtopics": [{"subtopic": "request", "count": 2}],
        },
    ]
    # "colour theme" x2 and "theme colour" are one group in 3 messages (the French one has a topic, so it
    # is no phrase source)
    assert values["phrases"] == [{"phrase": "colour theme", "count": 3}]
    assert (values["unread"], values["unread_languages"]) == (0, [])  # every message in a taxonomy language


def test_topics_say_which_languages_the_taxonomy_did_not_read(feed, ask):
    feed(
        said("en", 10, "where is my parcel?"),
        said("it", 20, "Ciao, il mio ordine non è ancora arrivato"),
        said("pt", 30, "Olá, minha encomenda ainda não chegou"),
        said("pt2", 40, "Olá, o meu pedido ainda não chegou e estou à espera"),
        said("emoji", 50, "😡"),  # no language: not counted as unread
    )
    values = ask(topics)
    # 5 read; Italian and Portuguese have no keywords (the English ones find nothing): 3 unread
    assert values["count"] == 5
    assert values["unread"] == 3
    assert values["unread_languages"] == [{"language": "pt", "count": 2}, {"language": "it", "count": 1}]


def test_topic_change_is_none_when_nothing_was_read_just_before(feed, ask):
    feed(said("d1", 10, "where is my parcel?"))
    assert ask(topics)["topics"][0]["change"] is None
    assert ask(topics, start=2 * DAY, end=3 * DAY) == {
        "topics": [],
        "phrases": [],
        "count": 0,
        "unread": 0,
        "unread_languages": [],
    }


def test_topics_have_no_breakdown_by_day(engine, settings):
    request = parse_command("topics by day", settings, _t(DAY))
    with engine.connect() as conn, pytest.raises(UsageError, match="by day` is not available for topics"):
        compute(conn, request, settings, _t(DAY))


LONG = "My parcel is two weeks late, this is awful. " + (
    "I have called you every single day and nobody can tell me where it is. " * 3
)


def test_voice_quotes_strongest_customer_messages_never_agents_bots_or_notes(feed, ask, engine):
    feed(
        said("a", 10, "awful"),  # -1.0 - 0.6: -1.0
        said("b", 20, "my parcels never arrived, terrible"),  # -0.8 - 1.0: -1.0, more recent
        said("c", 30, LONG),  # -1.0 (late, weeks late, awful, …), the most recent, 257 characters
        said("d", 40, "the deliveries are late"),  # -0.88: fourth, left out
        said("e", 45, "excellent"),  # 0.6 + 0.6 x 1.0: +1.0
        said("f", 46, "😍"),  # 0.6 x 0.9 = +0.54: fourth, left out
        said("g", 47, "I love it"),  # 0.5 + 0.6 x 0.5 = +0.8
        said("h", 48, "amazing support, thank you"),  # 0.6 + 0.7 + 0.6 x 0.4: +1.0, more recent
        said("agent", 50, "terrible terrible", kind="agent"),  # -1.0, an agent's
        said("bot", 55, "awful", kind="bot"),  # -1.0, a bot's
        said("note", 60, "terrible", private=True),
        reply("out", 65, conv="conv-a", channel="instagram", text="this is terrible, sorry"),
    )
    with engine.begin() as conn:  # as if a private note had been scored by an older version
        conn.execute(update(Message.__table__).where(Message.text == "terrible").values(sentiment=-1.0))
    values = ask(voice)
    negative, positive = values["negative"], values["positive"]
    assert [(q["text"][:30], q["score"]) for q in negative] == [
        ("My parcel is two weeks late, t", -1.0),
        ("my parcels never arrived, terr", -1.0),
        ("awful", -1.0),
    ]
    assert [q["text"] for q in positive] == ["amazing support, thank you", "excellent", "I love it"]
    assert negative[1] == {
        "text": "my parcels never arrived, terrible",
        "author": ANA,
        "channel": "instagram",
        "at": "2026-11-20T09:20:00+00:00",
        "age": (DAY - 20) * 60.0,  # asked at minute 1440
        "score": -1.0,
    }
    # 257 characters: cut at the last word break within the first 199, then "…" (193 characters)
    assert negative[0]["text"] == (
        "My parcel is two weeks late, this is awful. "
        + "I have called you every single day and nobody can tell me where it is. " * 2
        + "I have…"
    )


def test_voice_is_empty_without_strong_messages(feed, ask):
    feed(said("n", 10, "I sent the form yesterday"))  # 0.0: neither
    assert ask(voice) == {"negative": [], "positive": []}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("short\n\n  and   spaced", "short and spaced"),
        ("x" * 200, "x" * 200),
        ("word " * 50, ("word " * 39).strip() + "…"),  # 250 chars: last break before 199 is at 194
        ("x" * 300, "x" * 199 + "…"),  # no break at all: a hard cut
    ],
)
def test_shorten_flattens_and_cuts_long_text_at_a_word_break(text, expected):
    assert shorten(text) == expected
    assert len(shorten(text)) <= 200


NO_NLTK = (
    PRELUDE
    + """
import json
from datetime import datetime, timedelta, UTC
from commands.kpis.nlp import sentiment, topics, voice
from commands.query import Query
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings

settings = Settings(database_url="sqlite:///" + sys.argv[2], pseudonym_key="k")
engine = make_engine(settings.database_url)
events = json.loads(sys.argv[3])
Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)])
t0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
query = Query(t0, t0 + timedelta(days=1), (), t0 + timedelta(days=1), settings)
with engine.connect() as conn:
    print(json.dumps([sentiment(conn, query)["net"], topics(conn, query)["phrases"],
                      len(voice(conn, query)["negative"])]))
"""
)


def test_kpis_compute_with_no_nltk_data_and_no_network(tmp_path):
    empty = tmp_path / "nltk_data"
    empty.mkdir()
    events = [
        said("a", 10, "I love it"),
        said("b", 20, "dark mode, awful"),
        said("c", 30, "dark mode again"),
    ]
    env = {"NLTK_DATA": str(empty), "HOME": str(tmp_path), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", NO_NLTK, str(empty), str(tmp_path / "k.db"), json.dumps(events)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    # 1 positive, 1 neutral (0.0), 1 negative ("awful") -> net 0; the phrase is in 2 messages
    assert json.loads(run.stdout) == [0.0, [{"phrase": "dark mode", "count": 2}], 1]
    assert list(empty.iterdir()) == []


def test_topic_phrases_leave_out_single_words():
    from commands.kpis.nlp import _phrases

    # "details" is in all four texts, "screen flicker" (in any inflection) in three: only the phrase shows.
    texts = [
        "sent details, the screen flickers",
        "details again: screen flickering",
        "more details",
        "flickering screen and details",
    ]
    phrases = _phrases(texts)
    assert len(phrases) == 1 and phrases[0]["count"] == 3
    assert set(phrases[0]["phrase"].split()) & {"screen"} and " " in phrases[0]["phrase"]


def test_key_phrases_come_from_the_latest_customer_messages_of_the_period(feed, ask, monkeypatch):
    feed(
        said("s1", 10, "the dark mode is back"),
        said("s2", 20, "dark mode again"),
        said("b1", 30, "gift wrapping fast"),
        said("b2", 40, "my gift wrapping overnight"),
        said("t1", 50, "where is my parcel?"),  # tagged (delivery): read, but no phrase source
    )
    assert [p["phrase"] for p in ask(topics)["phrases"]] == ["dark mode", "gift wrapping"]

    # the bound: the latest 3 customer messages are t1, b2 and b1; only the wrapping phrase recurs there
    monkeypatch.setattr("commands.kpis.nlp.PHRASE_SCAN", 3)
    assert ask(topics)["phrases"] == [{"phrase": "gift wrapping", "count": 2}]


def test_key_phrases_are_read_in_every_language_with_stop_words(feed, ask):
    feed(
        said("f1", 10, "Bonjour, l'écran clignote depuis hier"),  # fr: bonjour, depuis, "é"
        said("f2", 20, "mon écran clignote encore une fois"),  # fr: mon, encore, une, "é"
        said("e1", 30, "the dark mode is back"),
        said("e2", 40, "dark mode again"),
        said("x1", 50, "Grazie mille"),  # und (one Italian word): read as English, recurs nowhere
    )
    # French phrases with French stop words ("l'", "mon", "encore", "une") and stems; both groups are
    # in 2 messages, ties by wording
    assert ask(topics)["phrases"] == [
        {"phrase": "dark mode", "count": 2},
        {"phrase": "ecran clignote", "count": 2},
    ]
