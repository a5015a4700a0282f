"""storage.export: one row per conversation opened in the period, with its waits, latest CSAT and NPS, mean
sentiment and topics, merged in id order; the period, channels and limit respected.

DAY (Friday 2026-11-20, minutes from 09:00 UTC), ingested conversation by conversation so ids follow:
- tw-1 (twitter) 09:00 "I love it" (+0.8, praise), reply 09:42 (FRT 2520 s), 10:00 "my parcels never
  arrived, terrible" (-1.0, delivery), reply 10:30, resolved 11:00 (7200 s); assigned to Bo of Care; CSAT
  3 then 5, NPS 9 at 11:15 then an NPS 6 given at 11:08 that arrives later (the latest answer is the 9),
  a CES ignored; a link.
- tw-0 (twitter) opened the day before, with a survey today: in the id range, never exported.
- fb-1 (facebook) 09:10 "I want my money back" (-0.6, refund), reply 09:20 (600 s), resolved 09:30,
  reopened 09:40 by "I sent the form yesterday" (0.0), reply 09:50, resolved 10:00 (3000 s from opening).
- ig-1 (instagram) 12:20 "I sent the form yesterday" (0.0, no topic), never answered.
- tw-2 (twitter) 14:00 "I love it" (+0.8), reply 14:10 (600 s), resolved 14:20, reopened 14:30 by "thanks,
  great service" (+1.0, praise twice): open again, so neither resolved nor a resolution time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.export import conversation_rows, export_scope, several_sources
from tests.storage.builders import assignment, at, inbound, reply, status
from tests.storage.conftest import feed

START = datetime(2026, 11, 20, tzinfo=UTC)
END = START + timedelta(days=1)


def survey(eid: str, minutes: float, kind: str, score: float, conv: str, channel: str = "twitter") -> dict:
    return {
        "id": eid,
        "type": "survey",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "kind": kind,
        "score": score,
    }


def day_conversations() -> list[list[dict]]:
    """DAY's events, one batch per conversation (ids follow that order), surveys last."""
    tw1 = {"conv": "tw-1"}
    fb1 = {"conv": "fb-1", "channel": "facebook"}
    tw2 = {"conv": "tw-2"}
    return [
        [
            {**inbound("t1", 0, text="I love it", **tw1), "link": "https://help.example.com/c/1"},
            assignment("t2", 5, agent="Bo", team="Care", **tw1),
            reply("t3", 42, **tw1),
            inbound("t4", 60, text="my parcels never arrived, terrible", **tw1),
            reply("t5", 90, **tw1),
            status("t6", 120, "resolved", **tw1),
        ],
        [inbound("y1", -1440, conv="tw-0", text="awful"), reply("y2", -1400, conv="tw-0")],
        [
            inbound("f1", 10, text="I want my money back", **fb1),
            reply("f2", 20, **fb1),
            status("f3", 30, "resolved", **fb1),
            inbound("f4", 40, text="I sent the form yesterday", **fb1),
            reply("f5", 50, **fb1),
            status("f6", 60, "resolved", **fb1),
        ],
        [inbound("i1", 200, conv="ig-1", channel="instagram", text="I sent the form yesterday")],
        [
            inbound("w1", 300, text="I love it", **tw2),
            reply("w2", 310, **tw2),
            status("w3", 320, "resolved", **tw2),
            inbound("w4", 330, text="thanks, great service", **tw2),
        ],
        [
            survey("v1", 125, "csat", 3, "tw-1"),
            survey("v2", 130, "csat", 5, "tw-1"),
            survey("v3", 135, "nps", 9, "tw-1"),
            survey("v4", 128, "nps", 6, "tw-1"),  # given before v3, arrived after it
            survey("v5", 140, "ces", 2, "tw-1"),
            survey("v6", 100, "csat", 1, "tw-0"),
        ],
    ]


@pytest.fixture
def day(ingestor):
    for batch in day_conversations():
        result = feed(ingestor, batch)
        assert not result.rejected, result.rejected
    return ingestor


def utc(minutes: float) -> datetime:
    return datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def rows(engine, channels=(), start=START, end=END, limit=None):
    with engine.connect() as conn:
        return list(conversation_rows(conn, export_scope(conn, start, end, channels), limit=limit))


def test_each_conversation_opened_in_the_period_is_one_row_with_its_aggregates(day, engine):
    found = rows(engine)

    # by id; tw-0 (opened the day before) not there
    assert [row.external_id for row in found] == ["tw-1", "fb-1", "ig-1", "tw-2"]
    tw1, fb1, ig1, tw2 = found
    assert tw1._replace(id=0, sentiment=round(tw1.sentiment, 9)) == (
        0, "kpibot", "tw-1", "twitter", utc(0), utc(42), 2520.0,
        2,  # waits: 09:00 -> 09:42 and 10:00 -> 10:30
        utc(120), 7200.0, "Bo", "Care",
        5.0, 9.0,  # the latest CSAT (5 after 3) and NPS (9 at 11:15, not the 6 given at 11:08); no CES
        -0.1,  # (0.8 - 1.0) / 2
        ("delivery", "praise"), 0, "https://help.example.com/c/1",
    )  # fmt: skip
    # reopened once and resolved again: the last resolution, 50 min after opening
    assert (fb1.waits, fb1.resolved_at, fb1.resolution_seconds, fb1.reopen_count) == (2, utc(60), 3000.0, 1)
    assert (fb1.sentiment, fb1.topics, fb1.csat, fb1.nps) == (pytest.approx(-0.3), ("refund",), None, None)
    # never answered: one wait, still running; its one message scored 0.0 (not "no score")
    assert (ig1.first_response_at, ig1.frt_seconds, ig1.waits, ig1.resolved_at) == (None, None, 1, None)
    assert (ig1.sentiment, ig1.topics, ig1.agent, ig1.link) == (0.0, (), None, None)
    # reopened and open again: no resolution shown, the reopening counted
    assert (tw2.waits, tw2.resolved_at, tw2.resolution_seconds, tw2.reopen_count) == (2, None, None, 1)
    assert (tw2.sentiment, tw2.topics) == (pytest.approx(0.9), ("praise",))  # (0.8 + 1.0) / 2; praise twice


def test_channels_and_period_select_the_conversations(day, engine):
    assert [row.external_id for row in rows(engine, channels=("twitter",))] == ["tw-1", "tw-2"]
    assert [row.external_id for row in rows(engine, channels=("facebook", "instagram"))] == ["fb-1", "ig-1"]
    # opened in [09:10, 12:20): fb-1 only (the end is excluded)
    assert [row.external_id for row in rows(engine, start=utc(10), end=utc(200))] == ["fb-1"]
    yesterday = rows(engine, start=START - timedelta(days=1), end=START)
    assert [(row.external_id, row.waits, row.csat) for row in yesterday] == [("tw-0", 1, 1.0)]


def test_limit_keeps_the_first_conversations_by_id(day, engine):
    assert [row.external_id for row in rows(engine, limit=2)] == ["tw-1", "fb-1"]


def test_a_period_without_conversations_has_no_rows_and_no_id_range(day, engine):
    with engine.connect() as conn:
        scope = export_scope(conn, START + timedelta(days=5), END + timedelta(days=5))

    assert (scope.count, scope.first_id, scope.last_id) == (0, None, None)
    assert rows(engine, start=START + timedelta(days=5), end=END + timedelta(days=5)) == []


def test_scope_counts_the_conversations_and_their_id_range(day, engine):
    with engine.connect() as conn:
        every = export_scope(conn, START, END)
        twitter = export_scope(conn, START, END, ("twitter",))

    assert every.count == 4 and twitter.count == 2
    assert twitter.last_id - twitter.first_id == every.last_id - every.first_id  # tw-1 first, tw-2 last


def test_several_sources_only_once_a_second_source_has_conversations(day, engine):
    with engine.connect() as conn:
        alone = several_sources(conn)
    assert not feed(day, [{**inbound("c1", 20, conv="tw-1"), "source": "helpdesk"}]).rejected
    with engine.connect() as conn:
        mixed = several_sources(conn)

    assert (alone, mixed) == (False, True)
    assert [(row.source, row.external_id) for row in rows(engine, channels=("twitter",))] == [
        ("kpibot", "tw-1"),
        ("kpibot", "tw-2"),
        ("helpdesk", "tw-1"),
    ]
