"""A measure's rows per team and per topic (`storage.kpi_cache.labelled`): the rows of `by team` and `by
topic` read from the cache, kept current when a conversation stored earlier changes team (migration 0016)
or gets a tagged customer message (`kpi_cache.note_conversations`). Hand-made conversations in days of
their own, so that nothing else notes the hours read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from commands.engine import compute, top_topics
from commands.kpis import KPIS
from commands.parse import parse_command
from commands.query import Query
from storage.kpi_cache import labelled
from storage.kpi_cache.labelled import key, top_level
from storage.kpi_cache.slicing import Slice
from storage.rescore import rescore_messages
from tests.storage.builders import T0, assignment, inbound, reply, status
from tests.storage.conftest import feed

DAY = 24 * 60  # minutes
# the week from Friday 2026-11-20 00:00 UTC, asked on the 30th
START, END, NOW = (
    datetime(2026, 11, 20, tzinfo=UTC),
    datetime(2026, 11, 27, tzinfo=UTC),
    T0 + timedelta(days=10),
)


def ask(engine, settings, metric: str, source: str = "auto", **sliced):
    with engine.connect() as conn:
        return KPIS[metric].compute(conn, Query(START, END, (), NOW, settings, source=source, **sliced))


def labelled_rows(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(text("SELECT DISTINCT measure FROM kpi_slot WHERE measure LIKE '%@%:%'")).scalars()
        )


def test_keys_and_top_level_topics():
    assert key("frt", Slice(team="tier 2")) == "frt@team:tier 2"
    assert key("wait", Slice(topic="delivery")) == "wait@topic:delivery"
    assert key("frt", None) is key("frt", Slice(hours=((START, END),))) is None
    assert key("frt", Slice(team="a", topic="b")) is None  # both: read from the tables
    assert top_level("delivery/late,refund,delivery/status") == {"delivery", "refund"}
    assert top_level("") == top_level(None) == set()


def test_a_new_team_makes_the_cached_rows_of_its_conversations_messages_stale(ingestor, engine, settings):
    """A customer message on a day of its own (the 21st: no other time of its conversation falls then)
    counts for the conversation's team once it is assigned one on the 25th: the trigger notes the
    message's hour, so the sentiment of team t1 read from the cache sees it."""
    feed(
        ingestor,
        [
            inbound("c1-i1", 0, conv="c1", text="hello"),
            inbound("c1-i2", DAY, conv="c1", text="This is terrible, the worst delivery ever"),
            inbound("c1-i3", 2 * DAY, conv="c1", text="hello?"),
            reply("c1-o1", 3 * DAY, conv="c1"),
        ],
    )
    before = ask(engine, settings, "sentiment", team="t1")
    assert before["count"] == 0
    assert "sentiment@team:t1" in labelled_rows(engine)

    feed(ingestor, [assignment("c1-a", 5 * DAY, conv="c1", team="t1")])

    after = ask(engine, settings, "sentiment", team="t1")
    assert after == ask(engine, settings, "sentiment", "tables", team="t1")
    assert after["count"] == 3  # the three customer messages


def test_a_tagged_message_makes_its_conversations_other_cached_rows_stale(ingestor, engine, settings):
    """A CSAT answer on the 22nd, alone that day, counts for `delivery` once a customer message of its
    conversation is tagged so, on the 25th: ingestion notes the answer's hour."""
    survey = {"id": "c2-csat", "type": "survey", "at": "2026-11-22T12:00:00Z", "kind": "csat", "score": 2}
    feed(
        ingestor,
        [
            inbound("c2-i1", 0, conv="c2", text="hello"),
            reply("c2-o1", 10, conv="c2"),
            {**survey, "conversation_id": "c2", "channel": "twitter"},
        ],
    )
    assert ask(engine, settings, "csat", topic="delivery")["responses"] == 0

    feed(ingestor, [inbound("c2-i2", 5 * DAY, conv="c2", text="where is my parcel?")])

    after = ask(engine, settings, "csat", topic="delivery")
    assert after == ask(engine, settings, "csat", "tables", topic="delivery")
    assert after["responses"] == 1 and after["score"] == 0.0


def test_rescoring_a_message_into_a_topic_makes_its_conversations_rows_stale(ingestor, engine, settings):
    """`kpibot rescore` tagging a stored message (here: its topics cleared by hand, as an older taxonomy
    would have left them) notes the hours of its conversation's other rows, as ingestion does."""
    survey = {"id": "c3-csat", "type": "survey", "at": "2026-11-22T12:00:00Z", "kind": "csat", "score": 5}
    feed(
        ingestor,
        [
            inbound("c3-i1", 0, conv="c3", text="hello"),
            reply("c3-o1", 10, conv="c3"),
            inbound("c3-i2", 5 * DAY, conv="c3", text="where is my parcel?"),
            {**survey, "conversation_id": "c3", "channel": "twitter"},
        ],
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE message SET topics = NULL"))
    assert ask(engine, settings, "csat", topic="delivery")["responses"] == 0

    result = rescore_messages(engine, ingestor.analyser, now=NOW)

    assert result.topics == 1
    after = ask(engine, settings, "csat", topic="delivery")
    assert after == ask(engine, settings, "csat", "tables", topic="delivery")
    assert after["responses"] == 1 and after["score"] == 1.0


def parcels_and_refunds(prefix: str, slower: int = 0) -> list[dict]:
    """Four conversations on four days from the 24th, about a parcel and a refund by turns, each answered
    10 minutes after it opened (and `slower` minutes more per conversation before it)."""
    events = []
    for n in range(4):
        conv, words = f"{prefix}{n}", ("where is my parcel?", "still no refund")[n % 2]
        events += [
            inbound(f"{conv}-i", (n + 4) * DAY + 60, conv=conv, text=words),
            reply(f"{conv}-o", (n + 4) * DAY + 70 + slower * n, conv=conv),
        ]
    return events


BREAKDOWNS = {  # a breakdown, and a measure or tally whose rows per label it keeps
    "frt by team 7d": "frt@team:t1",
    "frt by topic 7d": "frt@topic:delivery",
    "volume by topic 7d": "inbound@topic:refund",
    "sentiment by topic 7d": "languages@topic:praise",
    "sla by team 7d": "sla_met@team:t2",
    "sla by topic 7d": "sla_late@topic:delivery",  # a ranking: the worst breaches
}


@pytest.mark.parametrize("request_text", BREAKDOWNS)
def test_breakdowns_by_team_and_topic_are_the_same_from_the_cache(ingestor, engine, settings, request_text):
    """Two teams and three topics over a week; every row from the cache equals the tables' (the cached rows
    computed by the first answer, read by the second)."""
    events = []
    for n in range(6):
        conv, words = f"b{n}", ("where is my parcel?", "still no refund", "thanks, great help")[n % 3]
        events += [
            inbound(f"{conv}-i", n * DAY + 60, conv=conv, text=words),
            reply(f"{conv}-o", n * DAY + 60 + n, conv=conv),
        ]
        events.append(assignment(f"{conv}-a", n * DAY + 61, conv=conv, team=("t1", "t2")[n % 2]))
    feed(ingestor, events)
    request = parse_command(request_text, settings, NOW)
    with engine.connect() as conn:
        tables = compute(conn, request, settings, NOW, source="tables").breakdown
        first = compute(conn, request, settings, NOW).breakdown
        again = compute(conn, request, settings, NOW).breakdown

    assert first == again == tables
    assert len(tables) >= 2
    assert BREAKDOWNS[request_text] in labelled_rows(engine)


def test_a_breakdown_computes_each_slot_once_for_all_its_rows(ingestor, engine, settings, monkeypatch):
    """`frt by topic`: eight topics, two of them in the data. Each slot a row reads is computed once, and
    stores the rows of every topic the breakdown asks (`labelled.among`): a topic absent from a day does
    not make the day computed again for its row."""
    feed(ingestor, parcels_and_refunds("d"))
    computed = []
    real = labelled._compute_slot
    monkeypatch.setattr(
        labelled,
        "_compute_slot",
        lambda conn, slot, batch, **kw: (
            computed.append((kw["measure"], slot)) or real(conn, slot, batch, **kw)
        ),
    )
    request = parse_command("frt by topic 7d", settings, NOW)
    with engine.connect() as conn:
        rows = compute(conn, request, settings, NOW).breakdown

    assert sorted(row["key"] for row in rows) == ["delivery", "refund"]
    assert computed and len(computed) == len(set(computed))
    assert {f"frt@topic:{topic}" for topic in top_topics(settings)} <= labelled_rows(engine)


@pytest.mark.parametrize("request_text", ["frt by topic 7d", "sla by topic 7d"])
def test_a_breakdown_reads_every_rows_cached_rows_in_one_statement(
    ingestor, engine, settings, request_text, monkeypatch
):
    """Asked again (every slot cached) by a process that does not hold the rows in memory, a breakdown
    reads each measure's rows of all its topics in one statement (`labelled.together`), not one per topic:
    on PostgreSQL each read cost ~1 ms. The answer is the same as the tables'."""
    from storage.kpi_cache import settled

    monkeypatch.setattr(settled, "ROWS_LIMIT", 0)  # nothing kept in memory (settled.rows_over)
    feed(ingestor, parcels_and_refunds("r"))
    request = parse_command(request_text, settings, NOW)
    with engine.connect() as conn:
        compute(conn, request, settings, NOW)  # fills the cache
        reads: list[tuple] = []
        listen = lambda *args: reads.append(args[2:4])  # noqa: E731 (conn, cursor, statement, parameters…)
        event.listen(engine, "before_cursor_execute", listen)
        try:
            again = compute(conn, request, settings, NOW).breakdown
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        tables = compute(conn, request, settings, NOW, source="tables").breakdown

    assert again == tables and len(again) >= 2
    topics = top_topics(settings)
    cached = [
        tuple(params.values() if isinstance(params, dict) else params)  # PostgreSQL's are named
        for statement, params in reads
        if "FROM kpi_slot" in statement
    ]
    keys = [[p for p in params if isinstance(p, str) and "@topic:" in p] for params in cached]
    read_together = [found for found in keys if found]
    assert read_together, "the topics' rows are read from the cache"
    for found in read_together:  # one statement, every topic of the breakdown
        assert sorted(label.split("@topic:")[1] for label in found) == sorted(topics)
    # a read per measure and set of slots (frt: the rows, then the unanswered), not one per topic
    assert len(read_together) < len(topics)


@pytest.mark.parametrize("request_text", ["frt by topic 7d", "sla by topic 7d", "sla 7d"])
def test_cached_rows_stay_in_memory_until_one_of_their_days_changes(ingestor, engine, settings, request_text):
    """Asked again, an answer takes its cached rows from memory (storage.kpi_cache.settled.rows_over: no
    read of `kpi_slot`); a conversation stored late in one of their days is noted, and the next answer
    reads them again and counts it. Each answer equals the tables'."""
    feed(ingestor, parcels_and_refunds("m", slower=600))
    request = parse_command(request_text, settings, NOW)

    def answer(source: str = "auto") -> tuple[object, list[str]]:
        reads: list[str] = []
        listen = lambda *args: reads.append(args[2])  # noqa: E731 (conn, cursor, statement, …)
        event.listen(engine, "before_cursor_execute", listen)
        try:
            with engine.connect() as conn:
                found = compute(conn, request, settings, NOW, source=source)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        return (found.breakdown if found.breakdown is not None else found.values), [
            statement for statement in reads if "FROM kpi_slot" in statement
        ]

    first, _ = answer()
    again, read = answer()
    assert again == first == answer("tables")[0]
    assert read == []
    feed(ingestor, parcels_and_refunds("late", slower=900)[:2])  # a parcel on the 24th, answered 10 min later
    late, read = answer()
    assert late == answer("tables")[0] != first
    assert read, "rows of a changed day are read again"


@pytest.mark.sqlite_only("SQLite's single write lock")
def test_a_breakdowns_rows_not_stored_by_a_busy_database_are_stored_by_the_next_answer(
    ingestor, engine, settings
):
    """While another writer holds the database, a breakdown's answer comes from rows it computed but could
    not store: they are not kept in memory as if stored, so the next answer computes and stores every
    topic's rows."""
    import sqlite3

    feed(ingestor, parcels_and_refunds("b"))
    request = parse_command("frt by topic 7d", settings, NOW)
    with engine.connect() as conn:
        tables = compute(conn, request, settings, NOW, source="tables").breakdown
    blocker = sqlite3.connect(engine.url.database)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            busy = compute(conn, request, settings, NOW).breakdown
    finally:
        blocker.rollback()
        blocker.close()
    assert busy == tables and not {row for row in labelled_rows(engine) if row.startswith("frt@")}
    engine._kpibot_cache_busy_until = 0.0  # the back-off is over
    with engine.connect() as conn:
        assert compute(conn, request, settings, NOW).breakdown == tables
    assert {f"frt@topic:{topic}" for topic in top_topics(settings)} <= labelled_rows(engine)


@pytest.mark.parametrize("by", ["topic", "team"])
def test_still_waiting_per_row_counts_those_answered_or_closed_only_after_the_moment_asked(
    ingestor, engine, settings, by
):
    """`frt by topic` / `by team` asked as of a past moment: a row's still waiting are its conversations
    not answered by then, counted whether they were answered or closed only later (read once, labelled,
    for all the rows) or are still open; the oldest is the earliest of them. Hand-computed, and the same
    as the tables'."""
    day = 4 * DAY

    def conversation(conv: str, opened: int, words: str, team: str) -> list[dict]:
        return [
            inbound(f"{conv}-i", day + opened, conv=conv, text=words),
            assignment(f"{conv}-a", day + opened + 1, conv=conv, team=team),
        ]

    feed(
        ingestor,
        [
            *conversation("p1", 10, "where is my parcel?", "t1"),  # answered after the moment
            reply("p1-o", day + 300, conv="p1"),
            *conversation("p2", 20, "my parcel is lost", "t1"),  # answered before it
            reply("p2-o", day + 40, conv="p2"),
            *conversation("r1", 30, "still no refund", "t2"),  # closed after it, never answered
            status("r1-s", day + 400, "resolved", conv="r1"),
            *conversation("r2", 50, "refund please", "t2"),  # still open, never answered
        ],
    )
    asked_at = T0 + timedelta(minutes=day + 120)  # 11:00 on the 24th
    request = parse_command(f"frt by {by} 7d", settings, asked_at)
    with engine.connect() as conn:
        rows = compute(conn, request, settings, asked_at).breakdown
        tables = compute(conn, request, settings, asked_at, source="tables").breakdown

    assert rows == tables
    waiting = {row["key"]: (row["values"]["still_waiting"], row["values"]["oldest_waiting"]) for row in rows}
    first, second = ("delivery", "refund") if by == "topic" else ("t1", "t2")
    assert waiting[first] == (1, 110 * 60)  # p1, opened at 09:10
    assert waiting[second] == (2, 90 * 60)  # r1 (closed at 15:40) and r2, the oldest r1 at 09:30


def test_cached_tallies_and_rankings_are_parsed_once_while_read(ingestor, engine, settings, monkeypatch):
    """`sla by topic` reads three tallies and a ranking per topic and slot, as JSON: parsed at the first
    answer that reads them, not again at the next (a 90-day answer parsed ~3,400 of them each time)."""
    import json

    from storage import kpi_cache

    feed(ingestor, parcels_and_refunds("p", slower=600))  # the last two first responses breach 1 h
    kpi_cache._counted.cache_clear()
    kpi_cache._ranked.cache_clear()
    parsed = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda text, **kw: parsed.append(1) or real(text, **kw))
    request = parse_command("sla by topic 7d", settings, NOW)
    with engine.connect() as conn:
        compute(conn, request, settings, NOW)  # computes and stores the slots
        first = compute(conn, request, settings, NOW)  # reads and parses them
        read = len(parsed)
        again = compute(conn, request, settings, NOW)
        tables = compute(conn, request, settings, NOW, source="tables")

    assert read > 0 and len(parsed) == read
    assert again.breakdown == first.breakdown == tables.breakdown
    assert any(row["values"]["breaches"] for row in again.breakdown)


def test_the_topics_of_a_breakdown_are_compiled_once_per_taxonomy(settings, monkeypatch):
    """`by topic` lists the taxonomy's top-level topics; compiling it took 25 ms of every answer, so it is
    done once per taxonomy content (a changed taxonomy is compiled again)."""
    from storage import topics

    compiled = []
    real = topics.compile_taxonomy
    monkeypatch.setattr(
        topics, "compile_taxonomy", lambda taxonomy: compiled.append(taxonomy) or real(taxonomy)
    )
    mine = {"shipping": {"late": ["late parcel"]}, "refunds": {"asked": ["refund"]}}
    other = settings.model_copy(update={"topics": mine})

    assert top_topics(other) == ["shipping", "refunds"] == top_topics(other)
    assert top_topics(settings)[:2] == ["delivery", "refund"]
    assert compiled == [mine, None] or compiled == [mine]  # the default may be compiled by an earlier test
    mine["billing"] = {"invoice": ["invoice"]}
    assert top_topics(other) == ["shipping", "refunds", "billing"]
