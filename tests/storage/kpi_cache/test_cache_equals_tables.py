"""The property the KPI cache rests on, checked on generated histories (Hypothesis): for every KPI that
reads the cache, any period and any instant asked, the answer from the cache is the answer from the
tables alone. Runs on SQLite and, with `pytest --db postgresql`, on PostgreSQL.

One database per test: each example adds its conversations to what earlier examples stored (fresh ids),
so later examples also meet slots computed before their events arrived, which the change notes must
make stale.
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from commands.heatmap import local_hours
from commands.kpis import KPIS
from commands.query import Query
from storage.ingest import Ingestor
from tests.fuzzing import FUZZ_DB

T0 = datetime(2026, 11, 10, tzinfo=UTC)
SPAN = 6 * 24 * 60  # minutes of history
# The KPIs whose values come from the cache's measures, rankings, tallies or agent activity.
CACHED = [key for key in KPIS if key not in ("leads", "retention", "churn", "social-impact")]
TEXTS = ("Thank you so much, great help!", "This is terrible, still no refund", "where is my parcel?", "")
_batches = itertools.count()


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@st.composite
def conversation(draw, tag: str) -> list[dict]:
    """One conversation: a customer message, maybe replies (by U1 or U2, templates, handle time), a
    second message and its reply, an assignment, a resolution and a reopen, survey answers."""
    channel = draw(st.sampled_from(["twitter", "facebook", "instagram"]))
    where = {"conversation_id": f"c-{tag}", "channel": channel}
    start = draw(st.integers(0, SPAN))
    events = [{"id": f"{tag}-i1", "type": "message", "at": at(start), **where, "direction": "inbound"}]
    events[0].update(author={"kind": "customer", "id": f"@{tag}"}, text=draw(st.sampled_from(TEXTS)))
    t = start
    for n in range(draw(st.integers(0, 3))):
        t += draw(st.integers(1, 36 * 60))
        human = draw(st.booleans())
        author = {"kind": "agent", "id": draw(st.sampled_from(["U1", "U2"]))} if human else {"kind": "bot"}
        reply = {"id": f"{tag}-o{n}", "type": "message", "at": at(t), **where, "direction": "outbound"}
        reply.update(author=author, text="on it")
        if draw(st.booleans()):
            reply["quick_reply"] = draw(st.sampled_from(["apology", "tracking"]))
        if draw(st.booleans()):
            reply["handle_seconds"] = draw(st.integers(10, 900))
        events.append(reply)
        if draw(st.booleans()):  # the customer writes again
            t += draw(st.integers(1, 600))
            follow = {"id": f"{tag}-i{n + 2}", "type": "message", "at": at(t), **where}
            follow.update(direction="inbound", author={"kind": "customer", "id": f"@{tag}"}, text="any news?")
            events.append(follow)
    if draw(st.booleans()):
        assignment = {"id": f"{tag}-a", "type": "assignment", "at": at(start + 5), **where, "agent": "U2"}
        events.append({**assignment, "team": draw(st.sampled_from([None, "t1", "t2"]))})
    if draw(st.booleans()):
        t += draw(st.integers(1, 24 * 60))
        events.append({"id": f"{tag}-s", "type": "status", "at": at(t), **where, "status": "resolved"})
        if draw(st.booleans()):
            t += draw(st.integers(1, 24 * 60))
            events.append({"id": f"{tag}-r", "type": "status", "at": at(t), **where, "status": "open"})
    for kind, scale in (("csat", (1, 5)), ("nps", (0, 10)), ("ces", (1, 7))):
        if draw(st.booleans()):
            answer = {"id": f"{tag}-{kind}", "type": "survey", "at": at(t + 30), **where, "kind": kind}
            events.append({**answer, "score": draw(st.integers(*scale))})
    return events


@st.composite
def history(draw) -> list[dict]:
    batch = next(_batches)
    found = [draw(conversation(f"{batch}-{n}")) for n in range(draw(st.integers(1, 6)))]
    return [event for events in found for event in events]


questions = st.tuples(
    st.integers(0, SPAN),  # start, minutes after T0
    st.integers(30, 4 * 24 * 60),  # length in minutes
    st.integers(0, 3 * 24 * 60),  # how long after the end it is asked
    st.sampled_from([(), ("twitter",), ("twitter", "facebook")]),
)


def close(cached, tables) -> bool:
    """Equal, numbers to 1e-9 relative (sums of per-slot sums may round differently in the last bit)."""
    if isinstance(cached, float) or isinstance(tables, float):
        return cached is not None and tables is not None and math.isclose(cached, tables, rel_tol=1e-9)
    if isinstance(cached, dict) and isinstance(tables, dict):
        return cached.keys() == tables.keys() and all(close(cached[k], tables[k]) for k in cached)
    if isinstance(cached, list) and isinstance(tables, list):
        return len(cached) == len(tables) and all(close(a, b) for a, b in zip(cached, tables, strict=True))
    return cached == tables


def stored_and_asked(engine, settings, events, question) -> tuple[datetime, datetime, datetime, tuple]:
    """Stores the example's events; the question's start, end, instant asked and channels."""
    result = Ingestor(engine, settings).ingest(list(enumerate(json.dumps(e) for e in events)))
    assert not result.rejected, result.rejected
    start_minutes, length, later, channels = question
    start = T0 + timedelta(minutes=start_minutes)
    end = start + timedelta(minutes=length)
    return start, end, end + timedelta(minutes=later), channels


@FUZZ_DB
@given(events=history(), question=questions)
def test_every_cached_kpi_answers_from_the_cache_what_the_tables_give(engine, settings, events, question):
    start, end, now, channels = stored_and_asked(engine, settings, events, question)

    with engine.connect() as conn:
        for key in CACHED:
            compute = KPIS[key].compute
            cached = compute(conn, Query(start, end, channels, now, settings, source="auto"))
            tables = compute(conn, Query(start, end, channels, now, settings, source="tables"))
            assert close(cached, tables), (key, cached, tables)


# Zones whose offsets are whole hours, half hours (St John's, -03:30 / -02:30) and quarter hours
# (Kathmandu, +05:45): a local hour is whole quarters of UTC hours, not always whole UTC hours.
ZONES = ("UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu")
HOURLY = [key for key in CACHED if "hour" in KPIS[key].breakdowns]


@FUZZ_DB
@given(
    events=history(),
    question=questions,
    zone=st.sampled_from(ZONES),
    cell=st.tuples(st.sampled_from(["hour", "weekday"]), st.integers(0, 23)),
)
def test_some_hours_of_a_period_answer_from_the_cache_what_the_tables_give(
    engine, settings, events, question, zone, cell
):
    """`by hour` and `by weekday` rows: the period's ranges that were one local hour (weekday) of a zone,
    read from the cache's quarter-hour days (storage.kpi_cache.quarters) and from the tables."""
    start, end, now, channels = stored_and_asked(engine, settings, events, question)
    by, n = cell
    hours = tuple(
        (since, until)
        for number, since, until in local_hours(start, end, ZoneInfo(zone))
        if (number % 24 if by == "hour" else number // 24) == (n if by == "hour" else n % 7)
    )

    with engine.connect() as conn:
        for key in HOURLY:
            compute = KPIS[key].compute
            cached = compute(conn, Query(start, end, channels, now, settings, source="auto", hours=hours))
            tables = compute(conn, Query(start, end, channels, now, settings, source="tables", hours=hours))
            assert close(cached, tables), (key, cached, tables)


BY_LABEL = [key for key in CACHED if {"team", "topic"} <= set(KPIS[key].breakdowns)]
LABELS = [("team", "t1"), ("team", "t2"), ("topic", "delivery"), ("topic", "refund"), ("topic", "praise")]
# what comes later to a conversation stored before: another team, or a customer message about a topic
LATE = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(["t1", "t2", "where is my parcel?", "no refund yet"])),
    max_size=3,
)


@FUZZ_DB
@given(
    events=history(), question=questions, label=st.sampled_from(LABELS), late=LATE, when=st.integers(0, SPAN)
)
def test_one_team_or_topic_answers_from_the_cache_what_the_tables_give(
    engine, settings, events, question, label, late, when
):
    """`by team` and `by topic` rows: one team's or topic's rows read from the cache's rows per label
    (storage.kpi_cache.labelled) and from the tables, before and after a conversation stored earlier
    changes team or gets a tagged customer message (which must make the cached rows stale)."""
    start, end, now, channels = stored_and_asked(engine, settings, events, question)
    by, name = label
    sliced = {by: name}

    def same() -> None:
        with engine.connect() as conn:
            for key in BY_LABEL:
                compute = KPIS[key].compute
                cached = compute(conn, Query(start, end, channels, now, settings, source="auto", **sliced))
                tables = compute(conn, Query(start, end, channels, now, settings, source="tables", **sliced))
                assert close(cached, tables), (key, cached, tables)

    same()
    stored = sorted({(e["conversation_id"], e["channel"]) for e in events})
    later = []
    for n, (target, what) in enumerate(late):
        conversation, channel = stored[target % len(stored)]
        where = {
            "id": f"late-{conversation}-{n}",
            "at": at(when),
            "conversation_id": conversation,
            "channel": channel,
        }
        if what.startswith("t"):
            later.append({**where, "type": "assignment", "agent": "U1", "team": what})
        else:
            customer = {"kind": "customer", "id": "@" + conversation.removeprefix("c-")}
            later.append(
                {**where, "type": "message", "direction": "inbound", "author": customer, "text": what}
            )
    if later:
        result = Ingestor(engine, settings).ingest(list(enumerate(json.dumps(e) for e in later)))
        assert not result.rejected, result.rejected
        same()
