"""The daily digest on a hand-built Paris fixture: Thu 2026-11-19 against Wed 2026-11-18.

Times are local Paris (UTC+1 in November). `now` is Fri 2026-11-20 09:00, when the digest posts.

Wed 18 (the day before):
  tw-p1 twitter   in 10:00, reply 10:30 (FRT 1800), resolved 12:00 (7200)
  fb-p2 facebook  in 14:00, reply 16:00 (FRT 7200), still open
  vb-p3 viber     in 18:00, reply 19:00 (FRT 3600), resolved 19:30 (5400)
  CSAT 5
Thu 19 (the digest's day):
  tw-1 twitter    in 09:00, reply 09:10 (FRT 600), resolved 10:00 (3600)
  tw-2 twitter    in 10:00, reply 11:00 (FRT 3600), in 11:30, reply 12:30 (a second wait of 3600)
  fb-1 facebook   in 12:00, reply 12:20 (FRT 1200)
  ig-1 instagram  in 20:00, no reply
  CSAT 4, 2; NPS 10, 9, 3
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from commands.cadence import Cadence
from commands.digest import build_digest, digest_message, digest_text, local_day
from commands.kpis import KPIS
from storage.db import make_engine
from storage.ingest import Ingestor

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2026, 11, 19)
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Paris


def at(day: int, clock: str) -> str:
    return f"2026-11-{day:02d}T{clock}:00+01:00"


def message(eid, day, clock, conv, channel, direction="inbound"):
    author = (
        {"kind": "customer", "id": f"@{conv}"} if direction == "inbound" else {"kind": "agent", "id": "U1"}
    )
    return {
        "id": eid,
        "type": "message",
        "at": at(day, clock),
        "conversation_id": conv,
        "channel": channel,
        "direction": direction,
        "author": author,
        "text": "hello",
    }


def resolved(eid, day, clock, conv, channel):
    return {"id": eid, "type": "status", "at": at(day, clock), "conversation_id": conv, "channel": channel,
            "status": "resolved"}  # fmt: skip


def survey(eid, day, clock, kind, score, channel="twitter"):
    return {
        "id": eid,
        "type": "survey",
        "at": at(day, clock),
        "channel": channel,
        "kind": kind,
        "score": score,
    }


FIXTURE = [
    message("p1", 18, "10:00", "tw-p1", "twitter"),
    message("p2", 18, "10:30", "tw-p1", "twitter", "outbound"),
    resolved("p3", 18, "12:00", "tw-p1", "twitter"),
    survey("p4", 18, "12:05", "csat", 5),
    message("p5", 18, "14:00", "fb-p2", "facebook"),
    message("p6", 18, "16:00", "fb-p2", "facebook", "outbound"),
    message("p7", 18, "18:00", "vb-p3", "viber"),
    message("p8", 18, "19:00", "vb-p3", "viber", "outbound"),
    resolved("p9", 18, "19:30", "vb-p3", "viber"),
    message("d1", 19, "09:00", "tw-1", "twitter"),
    message("d2", 19, "09:10", "tw-1", "twitter", "outbound"),
    resolved("d3", 19, "10:00", "tw-1", "twitter"),
    survey("d4", 19, "10:05", "csat", 4),
    message("d5", 19, "10:00", "tw-2", "twitter"),
    message("d6", 19, "11:00", "tw-2", "twitter", "outbound"),
    message("d7", 19, "11:30", "tw-2", "twitter"),
    message("d8", 19, "12:30", "tw-2", "twitter", "outbound"),
    message("d9", 19, "12:00", "fb-1", "facebook"),
    message("d10", 19, "12:20", "fb-1", "facebook", "outbound"),
    survey("d11", 19, "13:00", "csat", 2),
    survey("d12", 19, "14:00", "nps", 10),
    survey("d13", 19, "14:01", "nps", 9),
    survey("d14", 19, "14:02", "nps", 3),
    message("d15", 19, "20:00", "ig-1", "instagram"),
]


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(FIXTURE, 1)])
    assert not result.rejected, result.rejected
    yield engine
    engine.dispose()


def digest_of(engine, settings, channels=()):
    with engine.connect() as conn:
        return build_digest(conn, settings, period=local_day(DAY, PARIS), channels=channels, now=NOW)


def line(digest, label):
    return next(item for item in digest.lines if item.label == label)


def test_digest_compares_the_day_with_the_day_before(engine, settings):
    digest = digest_of(engine, settings)
    figures = {item.label: (item.value, item.previous) for item in digest.lines}
    assert figures["Conversations"] == (4, 3)
    # FRT: (600 + 3600 + 1200) / 3 = 1800 vs (1800 + 7200 + 3600) / 3 = 4200; medians 1200 vs 3600
    assert figures["First response, mean"] == (1800, 4200)
    assert figures["First response, median"] == (1200, 3600)
    # every first response within its channel's benchmark (Twitter and Facebook 3 h, Viber 12 h) both days;
    # ig-1's deadline (4 h after 20:00) falls on the next day
    assert figures["First response in SLA"] == (1.0, 1.0)
    # waits: (600 + 3600 + 3600 + 1200) / 4 = 2250 vs the three first responses, 4200
    assert figures["Reply wait, mean"] == (2250, 4200)
    # resolution: tw-1 3600 vs (7200 + 5400) / 2 = 6300
    assert figures["Resolution time, mean"] == (3600, 6300)
    # backlog at midnight ending the day: only fb-p2 (open 34 h) is over 24 h; at the midnight before, none
    assert figures["Backlog over threshold"] == (1, 0)
    assert figures["CSAT"] == (0.5, 1.0)
    assert figures["NPS"][0] == pytest.approx(100 / 3)  # (2 promoters - 1 detractor) / 3 answers
    assert figures["NPS"][1] is None
    # every customer message says "hello": scored neutral (0), so the net is 0 both days
    assert figures["Net sentiment"] == (0.0, 0.0)
    # ig-1 opened 20:00 and is unanswered at 09:00 the next day: 13 h
    assert (digest.still_waiting, digest.oldest_waiting) == (1, 13 * 3600)
    assert digest.open_conversations == 4  # fb-p2, tw-2, fb-1, ig-1


def test_digest_lines_carry_the_benchmark(engine, settings):
    digest = digest_of(engine, settings)
    assert line(digest, "First response, mean").benchmark == 7200
    assert line(digest, "CSAT").benchmark == 0.70
    assert line(digest, "Conversations").benchmark == 10


def test_biggest_movers_are_the_largest_relative_changes_good_or_bad(engine, settings):
    digest = digest_of(engine, settings)
    # backlog 0 -> 1 (from 0 counts as from 1: 100 %), FRT median -2400/3600 = 67 %, FRT mean
    # -2400/4200 = 57 %; then CSAT 50 %, wait 46 %, resolution 43 %, conversations 33 %
    assert [m.label for m in digest.movers] == [
        "Backlog over threshold",
        "First response, median",
        "First response, mean",
    ]
    assert [m.change["good"] for m in digest.movers] == [False, True, True]


def test_digest_text_shows_value_change_verdict_and_benchmark(engine, settings):
    text = digest_text(digest_of(engine, settings))
    assert "Daily digest · Thu 19 Nov 2026 · all channels · Europe/Paris" in text
    assert "First response, mean    30m · ▼ 40m (-57 %) good · bench 2h on target" in text
    assert "CSAT                    50 % · ▼ 50 pt bad · bench 70 % off target" in text
    assert "NPS                     +33.3 · (none the day before) · bench +20 on target" in text
    assert "Conversations           4 · ▲ 1 (+33 %) · bench 10/day" in text
    assert "Still waiting for a reply: 1, oldest 13h" in text
    assert (
        "Biggest movers: Backlog over threshold ▲ 1 bad; First response, median ▼ 40m (-67 %) good;" in text
    )


def test_digest_message_has_blocks_and_a_text_fallback(engine, settings):
    message = digest_message(digest_of(engine, settings))
    assert message["text"].startswith(
        "Daily digest for Thu 19 Nov 2026 (all channels · Europe/Paris): Conversations 4"
    )
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Daily digest · Thu 19 Nov 2026"},
    }
    fields = [field["text"] for block in message["blocks"] for field in block.get("fields", [])]
    assert "*First response, median*\n*20m* · ▼ 40m (-67 %) good" in fields
    assert len(fields) == 12  # the eleven lines (reopens and repeat contacts among them) and net sentiment
    assert all(len(block.get("fields", [])) <= 10 for block in message["blocks"])


def test_digest_scoped_to_channels_counts_only_them(engine, settings):
    digest = digest_of(engine, settings, channels=("twitter",))
    # twitter only: tw-1, tw-2 vs tw-p1; FRT (600 + 3600) / 2 = 2100 vs 1800
    assert line(digest, "Conversations").value == 2
    assert (line(digest, "First response, mean").value, line(digest, "First response, mean").previous) == (
        2100,
        1800,
    )
    assert digest.still_waiting == 0
    # the single-channel benchmark: Twitter's 3 h
    assert line(digest, "First response, mean").benchmark == 10800


def test_sentiment_split_and_top_topics_appear_when_those_kpis_exist(engine, settings, monkeypatch):
    def sentiment(conn, query):
        return {"positive": 0.5, "neutral": 0.3, "negative": 0.2, "net": 0.3, "count": 10}

    def topics(conn, query):
        rows = [
            {"topic": "delivery", "count": 6, "share": 0.6},
            {"topic": "refund", "count": 4, "share": 0.4},
        ]
        return {"topics": rows, "phrases": []}

    monkeypatch.setitem(KPIS, "sentiment", replace(KPIS["sentiment"], compute=sentiment))
    monkeypatch.setitem(KPIS, "topics", replace(KPIS["topics"], compute=topics))
    digest = digest_of(engine, settings)
    assert digest.sentiment == {"positive": 0.5, "neutral": 0.3, "negative": 0.2}
    assert [t["topic"] for t in digest.topics] == ["delivery", "refund"]
    assert line(digest, "Net sentiment").value == 0.3
    text = digest_text(digest)
    assert "Sentiment: positive 50 % · neutral 30 % · negative 20 %" in text
    assert "Top topics: delivery 6 (60 %); refund 4 (40 %)" in text


def test_the_sentiment_line_says_what_was_not_scored_by_language(engine, settings, monkeypatch):
    def sentiment(conn, query):
        languages = [{"language": "pl", "count": 3}, {"language": "de", "count": 2}]
        split = {"positive": 0.5, "neutral": 0.3, "negative": 0.2, "net": 0.3, "count": 10}
        return {**split, "unscored": 5, "unscored_languages": languages, "scored_share": 10 / 15}

    monkeypatch.setitem(KPIS, "sentiment", replace(KPIS["sentiment"], compute=sentiment))
    text = digest_text(digest_of(engine, settings))
    # 5 of the 15 customer messages read were not scored: 33.3 %
    assert "Sentiment: positive 50 % · neutral 30 % · negative 20 % (33.3 % unscored: 3 pl, 2 de)" in text


def test_a_day_whose_messages_were_stored_without_analysis_says_nothing_of_sentiment_or_topics(
    engine, settings
):
    with engine.begin() as conn:  # as an import with text analysis off stores them
        conn.exec_driver_sql("UPDATE message SET sentiment = NULL, lang = NULL, topics = NULL")
    digest = digest_of(engine, settings)
    text = digest_text(digest)
    assert digest.sentiment is None and digest.topics == []
    assert "Sentiment" not in text and "Top topics" not in text


def test_a_day_without_data_says_no_data_rather_than_zero(settings):
    engine = make_engine(settings.database_url)  # not the fixture: this database holds no events
    with engine.connect() as conn:
        digest = build_digest(conn, settings, period=local_day(DAY, PARIS), channels=(), now=NOW)
    engine.dispose()
    text = digest_text(digest)
    assert "First response, mean    no data" in text
    assert digest.movers == []


def test_the_day_of_the_spring_clock_change_lasts_23_hours():
    period = local_day(date(2026, 3, 29), PARIS)
    assert period.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


# A week against the week before (Paris, UTC+1). The weekly digest due Mon 23 Nov 09:00 covers
# Mon 16 - Sun 22 Nov against Mon 9 - Sun 15 Nov.
#   w0 twitter   Sun 8 23:00, reply 23:10                       (before both weeks)
#   w1 twitter   Tue 10 10:00, reply 10:30 (FRT 1800), resolved 12:00 (7200); CSAT 5
#   w2 facebook  Sat 14 23:30, reply Sun 15 00:30 (FRT 3600)
#   x1 twitter   Mon 16 00:10, reply 00:20 (FRT 600), resolved 01:10 (3600); CSAT 4
#   x2 twitter   Wed 18 09:00, reply 09:20 (FRT 1200); CSAT 2
#   x3 facebook  Sun 22 20:00, no reply
#   y1 twitter   Mon 23 00:05, no reply                          (the next week)
WEEKS = [
    message("w0a", 8, "23:00", "w0", "twitter"),
    message("w0b", 8, "23:10", "w0", "twitter", "outbound"),
    message("w1a", 10, "10:00", "w1", "twitter"),
    message("w1b", 10, "10:30", "w1", "twitter", "outbound"),
    resolved("w1c", 10, "12:00", "w1", "twitter"),
    survey("w1d", 10, "12:05", "csat", 5),
    message("w2a", 14, "23:30", "w2", "facebook"),
    message("w2b", 15, "00:30", "w2", "facebook", "outbound"),
    message("x1a", 16, "00:10", "x1", "twitter"),
    message("x1b", 16, "00:20", "x1", "twitter", "outbound"),
    resolved("x1c", 16, "01:10", "x1", "twitter"),
    survey("x1d", 16, "01:15", "csat", 4),
    message("x2a", 18, "09:00", "x2", "twitter"),
    message("x2b", 18, "09:20", "x2", "twitter", "outbound"),
    survey("x2c", 18, "09:30", "csat", 2),
    message("x3a", 22, "20:00", "x3", "facebook"),
    message("y1a", 23, "00:05", "y1", "twitter"),
]
MONDAY_0900 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def weeks(settings):
    engine = make_engine(settings.database_url)
    result = Ingestor(engine, settings).ingest([(n, json.dumps(e)) for n, e in enumerate(WEEKS, 1)])
    assert not result.rejected, result.rejected
    yield engine
    engine.dispose()


def test_a_weekly_digest_compares_the_week_with_the_week_before(weeks, settings):
    period = Cadence("weekly", 0).covered(date(2026, 11, 23), PARIS)
    with weeks.connect() as conn:
        digest = build_digest(conn, settings, period=period, channels=(), now=MONDAY_0900)
    figures = {item.label: (item.value, item.previous) for item in digest.lines}
    assert figures["Conversations"] == (3, 2)  # x1, x2, x3 vs w1, w2 (w0 and y1 outside)
    # FRT (600 + 1200) / 2 = 900 vs (1800 + 3600) / 2 = 2700
    assert figures["First response, mean"] == (900, 2700)
    assert figures["Resolution time, mean"] == (3600, 7200)
    assert figures["CSAT"] == (0.5, 1.0)
    text = digest_text(digest)
    assert text.startswith("Weekly digest · Week of 16 – 22 Nov 2026 · all channels · Europe/Paris\n")
    assert "vs the week of 9 – 15 Nov 2026\n" in text
    assert "First response, mean    15m · ▼ 30m (-67 %) good · bench 2h on target" in text
    message = digest_message(digest)
    assert message["blocks"][0]["text"]["text"] == "Weekly digest · Week of 16 – 22 Nov 2026"
    assert message["text"].startswith("Weekly digest for the week of 16 – 22 Nov 2026 (all channels")
    assert message["blocks"][-1]["elements"][0]["text"] == "The 12-week chart is in the thread."


def test_a_monthly_digest_compares_the_month_with_the_month_before(weeks, settings):
    period = Cadence("monthly", 1).covered(date(2026, 12, 1), PARIS)
    with weeks.connect() as conn:
        digest = build_digest(
            conn, settings, period=period, channels=(), now=datetime(2026, 12, 1, 8, tzinfo=UTC)
        )
    # November: all seven conversations; October: none, which the volume KPI reads as no data
    assert (line(digest, "Conversations").value, line(digest, "Conversations").previous) == (7, None)
    text = digest_text(digest)
    assert text.startswith("Monthly digest · November 2026 · all channels · Europe/Paris\nvs October 2026\n")
    assert "CSAT                    66.7 % · (none the month before)" in text
