"""Speed KPIs (frt, bands, wait, art, aht) on a real SQLite file filled through the ingestion core.

Times come from tests.storage.builders: `at(m)` is m minutes after Friday 2026-11-20 09:00 UTC.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from commands.kpis import backlog, speed
from commands.query import Query
from storage.business_hours import BusinessClock
from storage.ingest import Ingestor
from storage.settings import BusinessHours
from tests.storage.builders import T0, assignment, inbound, reply, status

HOUR = timedelta(hours=1)


@pytest.fixture
def store(engine, settings):
    """Ingests a list of events and returns a connection factory for reading them back."""
    ingestor = Ingestor(engine, settings)

    def _store(events: list[dict]) -> None:
        result = ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)], now=T0)
        assert not result.rejected, result.rejected

    return _store


@pytest.fixture
def ask(engine, settings, source):
    """One KPI function over [start, end), as asked at `now` (default: the end), from `source`."""

    def ask(kpi, start, end, now=None, channels=(), clock=None, agent=None) -> dict:
        query = Query(start, end, tuple(channels), now or end, settings, clock, agent, source=source)
        with engine.connect() as conn:
            return kpi(conn, query)

    return ask


def test_article_check_800_first_responses_totalling_54000_seconds_give_a_mean_of_67_5(
    engine, settings, store, ask
):
    # 400 replies after 30 s and 400 after 105 s: 12,000 + 42,000 = 54,000 s over 800 = 67.5 s.
    # Sorted, ranks 399/400 (0-based) are 30 and 105 -> median 67.5; p90 at rank 719.1 is 105.
    events = []
    for n in range(800):
        conv = f"c{n}"
        events.append(inbound(f"i{n}", n, conv=conv))
        events.append(reply(f"r{n}", n + (0.5 if n % 2 else 1.75), conv=conv))
    store(events)
    values = ask(speed.frt, T0, T0 + timedelta(days=1))
    assert values["count"] == 800
    assert values["mean"] == pytest.approx(67.5)
    assert values["median"] == pytest.approx(67.5)
    assert values["p90"] == pytest.approx(105.0)
    assert values["still_waiting"] == 0
    assert values["oldest_waiting"] is None


def test_empty_period_gives_none_not_zero(engine, settings, ask):
    values = ask(speed.frt, T0, T0 + HOUR)
    assert values == {
        "mean": None,
        "median": None,
        "p90": None,
        "count": 0,
        "still_waiting": 0,
        "oldest_waiting": None,
    }
    assert ask(speed.bands, T0, T0 + HOUR)["within_1h"] is None
    assert ask(speed.art, T0, T0 + HOUR)["first_mean"] is None
    assert ask(speed.aht, T0, T0 + HOUR) == {"mean": None, "count": 0}


def test_first_response_counts_in_the_period_it_was_sent_not_when_the_conversation_opened(
    engine, settings, store, ask
):
    # Opened 08:30, answered 09:30: FRT 3600 s, counted in [09:00, 11:00), not in [07:00, 09:00).
    store([inbound("i1", -30), reply("r1", 30)])
    before = ask(speed.frt, T0 - 2 * HOUR, T0, now=T0 + 2 * HOUR)
    after = ask(speed.frt, T0, T0 + 2 * HOUR)
    assert before["count"] == 0 and before["still_waiting"] == 0  # answered by now
    assert after["count"] == 1 and after["mean"] == 3600.0


def test_asked_before_the_reply_the_conversation_is_still_waiting(engine, settings, store, ask):
    # As of 09:10 the 08:30 conversation (answered at 09:30) had waited 40 min = 2400 s.
    store([inbound("i1", -30), reply("r1", 30)])
    values = ask(speed.frt, T0 - 2 * HOUR, T0 + 2 * HOUR, now=T0 + timedelta(minutes=10))
    assert values["count"] == 0  # the reply lies after `now`
    assert values["still_waiting"] == 1
    assert values["oldest_waiting"] == 2400.0


def test_conversation_answered_and_closed_after_the_asked_moment_was_still_waiting_then(
    engine, settings, store, ask
):
    # Opened 08:30, answered 09:30, closed 10:00. As of 09:10 it had waited 40 min = 2400 s.
    store([inbound("i1", -30), reply("r1", 30), status("s1", 60, "resolved")])
    values = ask(speed.frt, T0 - HOUR, T0 + HOUR, now=T0 + timedelta(minutes=10))
    assert (values["still_waiting"], values["oldest_waiting"]) == (1, 2400.0)
    assert ask(speed.frt, T0 - HOUR, T0 + HOUR)["still_waiting"] == 0  # as of 10:00


def test_closed_without_a_reply_is_not_still_waiting(engine, settings, store, ask):
    # Spam closed at 09:05 without an answer: not waiting; the 09:10 one is, aged 50 min at 10:00.
    store(
        [
            inbound("i1", 0, conv="spam"),
            status("s1", 5, "closed", conv="spam"),
            inbound("i2", 10, conv="real"),
        ]
    )
    values = ask(speed.frt, T0, T0 + HOUR)
    assert values["still_waiting"] == 1
    assert values["oldest_waiting"] == 3000.0


def test_bot_reply_does_not_count_as_first_response(engine, settings, store, ask):
    # The auto-reply at 1 min is ignored; the agent's reply at 10 min makes FRT 600 s.
    store([inbound("i1", 0), reply("b1", 1, agent="B1", kind="bot"), reply("r1", 10)])
    values = ask(speed.frt, T0, T0 + HOUR)
    assert (values["count"], values["mean"]) == (1, 600.0)


def test_reply_exactly_at_a_band_limit_counts_within_it(engine, settings, store, ask):
    # FRTs 900 s (= 15 min), 3600 s (= 1 h), 3601 s and 25 h: within 15m 1/4, 1h 2/4, 4h 3/4, 24h 3/4.
    frts_minutes = (15, 60, 60 + 1 / 60, 25 * 60)
    events = []
    for n, minutes in enumerate(frts_minutes):
        events += [inbound(f"i{n}", 0, conv=f"c{n}"), reply(f"r{n}", minutes, conv=f"c{n}")]
    store(events)
    values = ask(speed.bands, T0, T0 + timedelta(days=2))
    assert values == {"within_15m": 0.25, "within_1h": 0.5, "within_4h": 0.75, "within_24h": 0.75, "count": 4}


def test_waits_are_counted_by_when_the_reply_ended_them(engine, settings, store, ask):
    # Waits 09:00->09:10 (600 s) and 09:20->09:50 (1800 s; the 09:25 message was already waiting),
    # then 10:00->11:10 (4200 s) ends after the period. Mean 1200, median 1200, p90 600+0.9*1200 = 1680.
    store(
        [
            inbound("i1", 0),
            reply("r1", 10),
            inbound("i2", 20),
            inbound("i3", 25),
            reply("r2", 50),
            inbound("i4", 60),
            reply("r3", 130),
        ]
    )
    values = ask(speed.wait, T0, T0 + HOUR)
    assert values == {"mean": 1200.0, "median": 1200.0, "p90": 1680.0, "count": 2}
    assert ask(speed.wait, T0 + HOUR, T0 + 3 * HOUR)["mean"] == 4200.0


def test_reopened_conversation_is_left_out_of_resolution_time_until_resolved_again(
    engine, settings, store, ask
):
    # a: resolved at 60 min -> first = full = 3600 s.
    # b: resolved at 30, reopened by a message at 40, resolved again at 120 -> first 1800, full 7200.
    # c: resolved at 30, reopened at 40 and still open -> not counted.
    # First mean (3600+1800)/2 = 2700, full mean (3600+7200)/2 = 5400; medians equal the means.
    store(
        [
            inbound("a1", 0, conv="a"),
            reply("a2", 10, conv="a"),
            status("a3", 60, "resolved", conv="a"),
            inbound("b1", 0, conv="b"),
            reply("b2", 5, conv="b"),
            status("b3", 30, "resolved", conv="b"),
            inbound("b4", 40, conv="b"),
            reply("b5", 45, conv="b"),
            status("b6", 120, "resolved", conv="b"),
            inbound("c1", 0, conv="c"),
            reply("c2", 5, conv="c"),
            status("c3", 30, "resolved", conv="c"),
            inbound("c4", 40, conv="c"),
        ]
    )
    values = ask(speed.art, T0, T0 + 3 * HOUR)
    assert values == {
        "first_mean": 2700.0,
        "first_median": 2700.0,
        "full_mean": 5400.0,
        "full_median": 5400.0,
        "count": 2,
    }


def test_handle_time_averages_per_conversation_and_ignores_conversations_without_it(
    engine, settings, store, ask
):
    # a: replies carrying 120 s and 60 s -> 180 s; b: 300 s; c: no handle data. Mean (180+300)/2 = 240.
    store(
        [
            inbound("a1", 0, conv="a"),
            reply("a2", 5, conv="a", handle_seconds=120),
            inbound("a3", 10, conv="a"),
            reply("a4", 15, conv="a", handle_seconds=60),
            inbound("b1", 0, conv="b"),
            reply("b2", 5, conv="b", handle_seconds=300),
            inbound("c1", 0, conv="c"),
            reply("c2", 5, conv="c"),
        ]
    )
    assert ask(speed.aht, T0, T0 + HOUR) == {"mean": 240.0, "count": 2}


def test_business_hours_skip_the_weekend_for_first_response_and_waiting(engine, settings, store, ask):
    # Open Mon-Fri 09:00-17:00 UTC. Friday 16:00 -> Monday 10:00 is 66 h of calendar time but
    # 1 h (Fri 16-17) + 1 h (Mon 9-10) = 7200 s of business time. As of Monday 09:30 both conversations
    # are unanswered; the older (Fri 16:00) has waited 1 h on Friday + 30 min on Monday = 5400 s.
    monday = 3 * 24 * 60
    store(
        [
            inbound("i1", 7 * 60, conv="a"),
            reply("r1", monday + 60, conv="a"),
            inbound("i2", 7 * 60 + 30, conv="b"),
        ]
    )
    hours = BusinessHours(hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")})
    clock = BusinessClock(hours, "UTC")
    start, end = T0, T0 + timedelta(days=3, hours=2)  # Fri 09:00 to Mon 11:00
    monday_0930 = T0 + timedelta(days=3, minutes=30)
    calendar = ask(speed.frt, start, end)
    business = ask(speed.frt, start, end, clock=clock)
    assert calendar["mean"] == 66 * 3600.0
    assert business["mean"] == 7200.0
    assert ask(speed.bands, start, end, clock=clock)["within_1h"] == 0.0
    waiting = ask(speed.frt, start, monday_0930, now=monday_0930, clock=clock)
    assert (waiting["still_waiting"], waiting["oldest_waiting"]) == (2, 3600.0 + 1800.0)


def test_channel_and_agent_narrow_the_first_responses(engine, settings, store, ask):
    # twitter: U1 answers in 600 s; facebook: U2 answers in 1200 s.
    store(
        [
            inbound("i1", 0, conv="t"),
            reply("r1", 10, conv="t", agent="U1"),
            inbound("i2", 0, conv="f", channel="facebook"),
            reply("r2", 20, conv="f", channel="facebook", agent="U2"),
        ]
    )
    assert ask(speed.frt, T0, T0 + HOUR)["mean"] == 900.0
    assert ask(speed.frt, T0, T0 + HOUR, channels=["facebook"])["mean"] == 1200.0
    assert ask(speed.frt, T0, T0 + HOUR, agent="U1")["mean"] == 600.0
    assert ask(speed.wait, T0, T0 + HOUR, agent="U2")["mean"] == 1200.0


def test_still_waiting_for_one_agent_counts_what_they_own_as_the_backlog_does(engine, settings, store, ask):
    # "a" is assigned to U1; "b" is nobody's until U2 answers it at minute 30 (after the question's now,
    # minute 20): as of minute 20 both wait, "a" is U1's and "b", answered later by U2, is U2's.
    store(
        [
            inbound("i1", 0, conv="a"),
            assignment("as1", 1, conv="a", agent="U1"),
            inbound("i2", 5, conv="b"),
            reply("r2", 30, conv="b", agent="U2"),
        ]
    )
    now = T0 + timedelta(minutes=20)
    waiting = {
        agent: ask(speed.frt, T0, T0 + HOUR, now=now, agent=agent)["still_waiting"] for agent in ("U1", "U2")
    }
    open_now = {
        agent: ask(backlog.backlog, T0, T0 + HOUR, now=now, agent=agent)["open"] for agent in ("U1", "U2")
    }
    assert waiting == open_now == {"U1": 1, "U2": 1}
