"""What customers say (docs/metrics.md), from the scores and topics stored at ingestion: `sentiment`,
`topics`, `voice`.

Only inbound customer messages count: agent and bot text and private notes never do, whatever their
direction. A message counts in the period it was sent; nothing after `query.now` counts. Nothing here
re-scores text: a lexicon or taxonomy change reaches stored messages through `kpibot rescore`.

A message is "scored" when it carries a sentiment score, and "unscored" when ingestion read it but
could not score it: it is in a language kpibot has no lexicon for (`lang` set, not "und"). Messages
whose text was blank, and messages stored without analysis, are neither. Shares are fractions of scored
messages. What was not read is said per language: the unscored messages (sentiment), and the messages
in a language the taxonomy has no keywords for (topics).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Connection

from commands.format import COUNT, FRACTION, SCORE, SECONDS, TEXT, TIME
from commands.kpis.spec import KpiSpec, rows
from commands.query import Query
from storage import kpi_cache
from storage.models import Message
from storage.sentiment import NEGATIVE_BELOW, POSITIVE_ABOVE
from storage.topics import LANGUAGES as TOPIC_LANGUAGES
from storage.topics import PHRASE_LANGUAGES, key_phrases

M = Message.__table__.c
TOP_TOPICS = 10
TOP_PHRASES = 5
# Key phrases come from the most recent untagged texts only (among the period's latest PHRASE_SCAN
# customer messages): enough to show what recurs, and the extraction stays well under a second.
PHRASE_TEXTS = 2000
PHRASE_SCAN = 3 * PHRASE_TEXTS  # in support traffic a third to a half of the messages match no topic
QUOTES = 3
QUOTE_CHARS = 200
_SPACES = re.compile(r"\s+")


def sentiment(conn: Connection, query: Query) -> dict[str, Any]:
    """Shares (0-1) of scored customer messages that were positive (score > +0.1), neutral and negative
    (< -0.1); net sentiment (positive share - negative share); mean score (-1..+1); how many messages were
    scored, how many were unscored (a language without a lexicon) and of which languages, and the scored
    share of the two. Shares, net and mean are None when none was scored."""
    scope = query.until_now().scope()
    scores = kpi_cache.sample(conn, "sentiment", scope)
    positive, negative = scores.count - scores.at_most(POSITIVE_ABOVE), scores.below(NEGATIVE_BELOW)
    scored, total = scores.count, scores.total
    languages = kpi_cache.tally(conn, "languages", scope)  # {language: [messages, scored]}
    unscored_in = {lang: n - s for lang, (n, s) in languages.items() if lang != "und" and n > s}
    unscored = sum(unscored_in.values())
    unread = {
        "unscored": unscored,
        "unscored_languages": _by_language(unscored_in),
        "scored_share": scored / (scored + unscored) if scored + unscored else None,
    }
    if not scored:
        split = dict.fromkeys(("positive", "neutral", "negative", "net", "mean"))
        return {**split, "count": 0, **unread}
    return {
        "positive": positive / scored,
        "neutral": (scored - positive - negative) / scored,
        "negative": negative / scored,
        "net": (positive - negative) / scored,
        "mean": total / scored,
        "count": scored,
        **unread,
    }


def _by_language(counts: dict[str, int]) -> list[dict[str, Any]]:
    """{language: messages} as rows, the most messages first."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"language": lang, "count": count} for lang, count in ranked if count]


def topics(conn: Connection, query: Query) -> dict[str, Any]:
    """What customers wrote about: the top taxonomy topics of the period (see `_topic_rows`), the key
    phrases recurring in the messages no topic matched ({phrase, count of messages}, most frequent first),
    `count`, the customer messages read at ingestion (the base of every share), and `unread`: those in a
    language the taxonomy has no keywords for (matched with the English ones), per language."""
    q = query.until_now()
    languages = kpi_cache.tally(conn, "languages", q.scope())
    unread_in = {
        lang: n for lang, (n, _) in languages.items() if lang != "und" and lang not in TOPIC_LANGUAGES
    }
    tally, considered = topic_tally(conn, q)
    previous, before = topic_tally(conn, q.with_range(q.start - (q.end - q.start), q.start))
    # the period's latest customer messages, those in a language phrases are read in (from the index
    # alone: storage.topics has stop words and a stemmer for it), then the rows of those
    latest = select(M.id, M.lang).where(*_said(q)).order_by(M.at.desc()).limit(PHRASE_SCAN).subquery()
    readable = select(latest.c.id).where(latest.c.lang.in_(sorted(PHRASE_LANGUAGES)))
    texts = conn.execute(
        select(M.text, M.lang)
        .where(M.id.in_(readable), M.topics.is_(None), M.text.is_not(None))
        .order_by(M.at.desc())
        .limit(PHRASE_TEXTS)
    ).all()
    return {
        "topics": _topic_rows(tally, considered, previous if before else None),
        "phrases": _phrases(texts),
        "count": considered,
        "unread": sum(unread_in.values()),
        "unread_languages": _by_language(unread_in),
    }


def _phrases(texts: Iterable[str | tuple[str, str | None]]) -> list[dict[str, Any]]:
    """The top recurring phrases of several words: single words ("dm", "details") say little alone.
    `texts` are strings (English) or (text, language) pairs, as `key_phrases` reads them."""
    found = [(p, n) for p, n in key_phrases(texts, TOP_PHRASES * 4) if " " in p]
    return [{"phrase": p, "count": n} for p, n in found[:TOP_PHRASES]]


def voice(conn: Connection, query: Query) -> dict[str, Any]:
    """The most negative and the most positive customer messages of the period (3 each, the strongest
    score first, the most recent first among equals), each {text (shortened to 200 characters), author
    (pseudonymised), channel, at (ISO time), age (seconds before `now`), score}."""
    q = query.until_now()
    return {
        "negative": _quotes(conn, q, "most_negative", M.sentiment.asc()),
        "positive": _quotes(conn, q, "most_positive", M.sentiment.desc()),
    }


def shorten(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` on one line (runs of white space as one space) and at most `limit` characters: a longer
    one is cut at the last word break (if it is not too early) and ends with "…"."""
    flat = _SPACES.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:!?-") + "…"


def _said(q: Query) -> list[ColumnElement[bool]]:
    """Conditions: a customer message the customer sent in the period, on the asked channels."""
    return [
        M.direction == "inbound",
        q.in_period(M.at),
        q.in_channels(M.channel),
        M.author_kind == "customer",
        M.private.is_(False),
    ]


def topic_tally(conn: Connection, q: Query) -> tuple[dict[str, list], int]:
    """Per topic [messages, score sum, scored messages, Counter of subtopics], and the messages read."""
    scope = q.scope()
    read = kpi_cache.count(conn, "read", scope)
    tagged = kpi_cache.tally(conn, "topics", scope)
    rows = [(labels, messages, total, scored) for labels, (messages, total, scored) in tagged.items()]
    tally: dict[str, list] = defaultdict(lambda: [0, 0.0, 0, Counter()])
    for labels, messages, total, scored in rows:
        subtopics: dict[str, list[str]] = defaultdict(list)
        for label in labels.split(","):
            topic, _, subtopic = label.partition("/")
            subtopics[topic].append(subtopic)
        for topic, names in subtopics.items():  # a message counts once per topic, once per subtopic
            entry = tally[topic]
            entry[0] += messages
            entry[1] += total or 0.0
            entry[2] += scored
            entry[3].update(dict.fromkeys(names, messages))
    return tally, read


def _topic_rows(tally: dict[str, list], considered: int, previous: dict[str, list] | None) -> list[dict]:
    """The TOP_TOPICS topics with most messages: {topic, count, share of the messages read, sentiment
    (mean score of its scored messages, None if none), change (messages minus those of the same length of
    time just before the period; None when nothing was read then), subtopics ([{subtopic, count}])}.

    The comparison is with the time just before, not the engine's previous period, so that "today" at
    noon compares with yesterday afternoon rather than with all of yesterday."""
    ranked = sorted(tally.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_TOPICS]
    return [
        {
            "topic": topic,
            "count": count,
            "share": count / considered,
            "sentiment": total / scored if scored else None,
            "change": None if previous is None else count - previous.get(topic, (0,))[0],
            "subtopics": [
                {"subtopic": name, "count": n}
                for name, n in sorted(subtopics.items(), key=lambda item: (-item[1], item[0]))
            ],
        }
        for topic, (count, total, scored, subtopics) in ranked
    ]


def _quotes(conn: Connection, q: Query, ranking_key: str, order) -> list[dict[str, Any]]:
    """The QUOTES strongest messages of the ranking `ranking_key` (storage.kpi_cache.measures.RANKINGS),
    as voice quotes; messages whose text was purged are passed over."""
    # The candidates (QUOTES x 4) are ranked from the index alone (no text); their rows are read after.
    ranking = (order, M.at.desc(), M.id.desc())
    candidates = kpi_cache.top(conn, ranking_key, q.scope())
    rows = conn.execute(
        select(M.text, M.author_id, M.channel, M.at, M.sentiment)
        .where(M.id.in_(candidates), M.text.is_not(None))
        .order_by(*ranking)
        .limit(QUOTES)
    ).all()
    return [
        {
            "text": shorten(text),
            "author": author,
            "channel": channel,
            "at": at.isoformat(),
            "age": (q.now - at).total_seconds(),
            "score": score,
        }
        for text, author, channel, at, score in rows
    ]


_LANGUAGES = rows(language=TEXT, count=COUNT)
_QUOTE = rows(text=TEXT, author=TEXT, channel=TEXT, at=TIME, age=SECONDS, score=SCORE)
_TOPIC = rows(
    topic=TEXT,
    count=COUNT,
    share=FRACTION,
    sentiment=SCORE,
    change=COUNT,
    subtopics=rows(subtopic=TEXT, count=COUNT),
)
SPECS = (
    KpiSpec(
        "sentiment",
        "Sentiment",
        sentiment,
        {
            "positive": FRACTION,
            "neutral": FRACTION,
            "negative": FRACTION,
            "net": FRACTION,
            "mean": SCORE,
            "count": COUNT,
            "unscored": COUNT,
            "unscored_languages": _LANGUAGES,
            "scored_share": FRACTION,
        },
        "net",
        "higher",
        "no scored customer messages in this period",
        ("channel", "day", "team", "topic", "hour", "weekday"),
    ),
    KpiSpec(
        "topics",
        "Top topics",
        topics,
        {
            "topics": _TOPIC,
            "phrases": rows(phrase=TEXT, count=COUNT),
            "count": COUNT,
            "unread": COUNT,
            "unread_languages": _LANGUAGES,
        },
        None,
        None,
        "no customer messages in this period",
        ("channel",),
        synonyms=("topic",),
    ),
    KpiSpec(
        "voice",
        "Voice of the customer",
        voice,
        {"negative": _QUOTE, "positive": _QUOTE},
        None,
        None,
        "no positive or negative customer messages in this period",
        (),
    ),
)
