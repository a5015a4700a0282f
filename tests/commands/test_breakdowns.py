"""Breakdowns `by team`, `by topic`, `by hour` and `by weekday` (commands/engine.py): hand-computed rows,
from the cache and from the tables, across a daylight-saving change; and the grammar and help around them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from commands.engine import compute
from commands.errors import UsageError
from commands.kpis import speed
from commands.parse import help_text, parse_command
from commands.render_text import to_text
from storage.ingest import Ingestor
from storage.settings import Settings
from tests.storage.builders import T0, assignment, inbound, reply, status


def minutes(moment: datetime) -> float:
    return (moment - T0).total_seconds() / 60


def said(eid: str, moment: datetime, conv: str, text: str = "hello") -> dict:
    return inbound(eid, minutes(moment), conv=conv, text=text)


def answer(eid: str, moment: datetime, conv: str, agent: str = "U1") -> dict:
    return reply(eid, minutes(moment), conv=conv, agent=agent)


@pytest.fixture(params=["auto", "tables"], ids=["cache", "tables"])
def source(request) -> str:
    return request.param


def rows(settings, engine, text, now, source, key="conversations"):
    with engine.connect() as conn:
        result = compute(conn, parse_command(text, settings, now), settings, now, source=source)
    return [(row["key"], row["values"][key]) for row in result.breakdown]


# Europe/Paris left summer time on Sunday 2026-10-25 at 01:00 UTC (03:00 CEST -> 02:00 CET).
PARIS_NOW = datetime(2026, 10, 27, 12, 0, tzinfo=UTC)


def dst_week() -> list[dict]:
    def utc(day: int, hour: int, minute: int = 30) -> datetime:
        return datetime(2026, 10, day, hour, minute, tzinfo=UTC)

    return [
        said("a", utc(24, 0), "a"),  # Sat 02:30 CEST -> Saturday, 02:00
        said("b", utc(25, 0), "b"),  # Sun 02:30 CEST (the first 02:00 hour) -> Sunday, 02:00
        said("c", utc(25, 1), "c"),  # Sun 02:30 CET (the same local hour, lived again) -> Sunday, 02:00
        said("d", utc(26, 0), "d"),  # Mon 01:30 CET -> Monday, 01:00
        said("e", utc(26, 1), "e"),  # Mon 02:30 CET -> Monday, 02:00
        said("f", utc(26, 13), "f"),  # Mon 14:30 CET -> Monday, 14:00
    ]


def test_by_hour_counts_each_message_in_its_local_hour_across_the_clock_change(make_database, source):
    settings, engine = make_database(dst_week(), PARIS_NOW, tz="Europe/Paris")
    found = dict(rows(settings, engine, "volume 7d by hour", PARIS_NOW, source, key="inbound"))
    # every hour of the day is a row, in order, even without messages
    assert list(found) == [f"{hour:02d}:00" for hour in range(24)]
    # 02:00: a, b, c, e (c in the repeated hour of the 25th) -> 4; 01:00: d; 14:00: f
    assert {key: n for key, n in found.items() if n} == {"01:00": 1, "02:00": 4, "14:00": 1}


def test_by_weekday_counts_each_message_on_its_local_weekday(make_database, source):
    settings, engine = make_database(dst_week(), PARIS_NOW, tz="Europe/Paris")
    found = dict(rows(settings, engine, "volume 7d by weekday", PARIS_NOW, source, key="inbound"))
    assert list(found) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert found == {"Mon": 3, "Tue": 0, "Wed": 0, "Thu": 0, "Fri": 0, "Sat": 1, "Sun": 2}


def test_by_hour_of_first_response_time_is_by_when_the_reply_was_sent(make_database, source):
    now = datetime(2026, 11, 9, tzinfo=UTC)
    day = datetime(2026, 11, 5, tzinfo=UTC)  # UTC workspace
    events = [
        said("a1", day + timedelta(hours=9), "a"),
        answer("a2", day + timedelta(hours=9, minutes=10), "a"),  # 600 s, sent at 09:10
        said("b1", day + timedelta(hours=9, minutes=30), "b"),
        answer("b2", day + timedelta(hours=9, minutes=50), "b"),  # 1200 s, sent at 09:50
        said("c1", day + timedelta(hours=13), "c"),
        answer("c2", day + timedelta(hours=14, minutes=5), "c"),  # 3900 s, sent at 14:05
        said("d1", day + timedelta(hours=16, minutes=20), "d"),  # never answered: still waiting, 16:00
    ]
    settings, engine = make_database(events, now)
    found = dict(rows(settings, engine, "frt 7d by hour", now, source, key="mean"))
    assert found["09:00"] == 900.0 and found["14:00"] == 3900.0 and found["13:00"] is None
    waiting = dict(rows(settings, engine, "frt 7d by hour", now, source, key="still_waiting"))
    assert {hour: n for hour, n in waiting.items() if n} == {"16:00": 1}


def test_by_hour_in_a_quarter_hour_zone_puts_replies_either_side_of_the_local_hour_in_their_rows(
    make_database, source
):
    # Kathmandu is UTC+05:45: local 08:00 starts at 02:15 UTC, within a UTC hour. The cache reads whole
    # days by UTC quarter hour (storage.kpi_cache.quarters); a reply a second either side of a local hour
    # lands in its own row.
    now = datetime(2026, 11, 9, tzinfo=UTC)
    day = datetime(2026, 11, 5, tzinfo=UTC)

    def at(hour: int, minute: int, second: int = 0) -> datetime:
        return day + timedelta(hours=hour, minutes=minute, seconds=second)

    events = [
        said("a1", at(1, 0), "a"),
        answer("a2", at(2, 14, 59), "a"),  # 4499 s, local 07:59:59
        said("b1", at(1, 0), "b"),
        answer("b2", at(2, 15), "b"),  # 4500 s, local 08:00:00
        said("c1", at(1, 30), "c"),
        answer("c2", at(3, 14, 59), "c"),  # 6299 s, local 08:59:59
        said("d1", at(3, 0), "d"),
        answer("d2", at(3, 15), "d"),  # 900 s, local 09:00:00
    ]
    settings, engine = make_database(events, now, tz="Asia/Kathmandu")
    found = dict(rows(settings, engine, "frt 7d by hour", now, source, key="mean"))
    assert {hour: mean for hour, mean in found.items() if mean is not None} == {
        "07:00": 4499.0,
        "08:00": (4500 + 6299) / 2,
        "09:00": 900.0,
    }
    counted = dict(rows(settings, engine, "wait 7d by weekday", now, source, key="count"))
    assert counted == {"Mon": 0, "Tue": 0, "Wed": 0, "Thu": 4, "Fri": 0, "Sat": 0, "Sun": 0}


def test_a_late_event_on_a_cached_day_shows_in_the_next_by_hour_answer(make_database):
    # The first answer stores the days' quarter-hour rows; a reply imported later into one of those days
    # makes its rows stale (the change notes), so the next answer has it.
    now = datetime(2026, 11, 9, tzinfo=UTC)
    day = datetime(2026, 11, 5, tzinfo=UTC)
    events = [
        said("a1", day + timedelta(hours=9), "a"),
        answer("a2", day + timedelta(hours=9, minutes=10), "a"),
    ]
    settings, engine = make_database(events, now)
    assert dict(rows(settings, engine, "frt 7d by hour", now, "auto", key="count"))["09:00"] == 1
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM kpi_slot WHERE measure = 'frt@q'")).scalar_one()
    assert stored > 0  # the answer came from, and stored, the quarter-hour rows

    late = [
        said("b1", day + timedelta(hours=9, minutes=20), "b"),
        answer("b2", day + timedelta(hours=9, minutes=50), "b"),
    ]
    assert (
        not Ingestor(engine, settings)
        .ingest([(n, json.dumps(e)) for n, e in enumerate(late)], now=now)
        .rejected
    )

    found = dict(rows(settings, engine, "frt 7d by hour", now, "auto", key="mean"))
    assert found["09:00"] == (600 + 1800) / 2


def test_by_hour_still_waiting_finds_each_rows_oldest_reading_more_open_conversations_as_needed(
    make_database, source, monkeypatch
):
    # The rows read the open conversations in opening order, a growing prefix at a time: with a first read
    # of one, 10:00's and 16:00's oldest are found only in the later, larger reads.
    monkeypatch.setattr(speed, "FIRST_READ", 1)
    now = datetime(2026, 11, 9, tzinfo=UTC)
    day = datetime(2026, 11, 5, tzinfo=UTC)
    opened = {"a": (9, 0), "b": (9, 30), "c": (10, 0), "d": (16, 0)}  # none answered
    events = [said(f"{c}1", day + timedelta(hours=h, minutes=m), c) for c, (h, m) in opened.items()]
    settings, engine = make_database(events, now)
    waiting = dict(rows(settings, engine, "frt 7d by hour", now, source, key="still_waiting"))
    assert {hour: n for hour, n in waiting.items() if n} == {"09:00": 2, "10:00": 1, "16:00": 1}
    oldest = dict(rows(settings, engine, "frt 7d by hour", now, source, key="oldest_waiting"))
    age = {hour: (now - day).total_seconds() - hour * 3600 for hour in (9, 10, 16)}
    assert {hour: s for hour, s in oldest.items() if s is not None} == {
        "09:00": age[9],
        "10:00": age[10],
        "16:00": age[16],
    }


def test_by_team_splits_conversations_by_their_team(make_database, source):
    now = datetime(2026, 11, 9, tzinfo=UTC)
    day = datetime(2026, 11, 5, 9, tzinfo=UTC)
    events = [
        said("a1", day, "a"),
        assignment("a2", minutes(day) + 1, conv="a", team="billing"),
        answer("a3", day + timedelta(minutes=10), "a"),  # 600 s
        said("b1", day, "b"),
        assignment("b2", minutes(day) + 1, conv="b", team="billing"),
        answer("b3", day + timedelta(minutes=30), "b"),  # 1800 s
        said("c1", day, "c"),
        assignment("c2", minutes(day) + 1, conv="c", team="vip"),
        answer("c3", day + timedelta(minutes=60), "c"),  # 3600 s
        said("d1", day, "d"),  # no team: in no row
        answer("d3", day + timedelta(minutes=5), "d"),
    ]
    settings, engine = make_database(events, now)
    # worst first: vip 3600 s, billing (600 + 1800) / 2 = 1200 s
    assert rows(settings, engine, "frt 7d by team", now, source, key="mean") == [
        ("vip", 3600.0),
        ("billing", 1200.0),
    ]
    assert rows(settings, engine, "volume 7d by team", now, source) == [("billing", 2), ("vip", 1)]


def test_by_topic_splits_conversations_by_what_their_customers_wrote_about(make_database, source):
    now = datetime(2026, 11, 9, tzinfo=UTC)
    day = datetime(2026, 11, 5, 9, tzinfo=UTC)
    events = [
        said("a1", day, "a", "Where is my parcel? It is late"),  # delivery
        answer("a2", day + timedelta(minutes=10), "a"),  # 600 s
        said("b1", day, "b", "I want my money back for this"),  # refund
        answer("b2", day + timedelta(minutes=40), "b"),  # 2400 s
        said("c1", day, "c", "hello"),
        said("c2", day + timedelta(minutes=1), "c", "my parcel is late and I want my money back"),  # both
        answer("c3", day + timedelta(minutes=20), "c"),  # 1200 s
    ]
    settings, engine = make_database(events, now)
    found = rows(settings, engine, "frt 7d by topic", now, source, key="mean")
    # refund: b 2400, c 1200 -> 1800; delivery: a 600, c 1200 -> 900; worst first
    assert found == [("refund", 1800.0), ("delivery", 900.0)]
    # sentiment by topic counts the messages of the topic itself: c1 ("hello") is in no row
    counted = dict(rows(settings, engine, "sentiment 7d by topic", now, source, key="count"))
    assert counted == {"delivery": 2, "refund": 2}


def test_reopens_by_weekday_counts_the_reopening_on_its_day(make_database, source):
    now = datetime(2026, 11, 9, tzinfo=UTC)
    monday = datetime(2026, 11, 2, 9, tzinfo=UTC)
    events = [
        said("a1", monday, "a"),
        status("a2", minutes(monday) + 10, "resolved", conv="a"),
        said("a3", monday + timedelta(days=2), "a"),  # reopened on Wednesday
    ]
    settings, engine = make_database(events, now)
    found = dict(rows(settings, engine, "reopens 7d by weekday", now, source, key="reopened"))
    assert found == {"Mon": 0, "Tue": 0, "Wed": 1, "Thu": 0, "Fri": 0, "Sat": 0, "Sun": 0}
    resolved = dict(rows(settings, engine, "reopens 7d by weekday", now, source, key="resolved"))
    assert resolved["Mon"] == 1


def test_a_breakdown_a_metric_lacks_names_the_metrics_that_have_it(make_database):
    now = datetime(2026, 11, 9, tzinfo=UTC)
    settings, engine = make_database([], now)
    with pytest.raises(UsageError) as raised, engine.connect() as conn:
        compute(conn, parse_command("backlog by hour", settings, now), settings, now)
    assert "`by hour` is not available for backlog" in raised.value.message
    assert "`frt`" in raised.value.message and "`volume`" in raised.value.message


def test_the_grammar_reads_the_new_breakdowns_and_suggests_for_typos():
    settings, now = Settings(pseudonym_key="k"), datetime(2026, 11, 9, tzinfo=UTC)
    for word, dimension in (("team", "team"), ("topics", "topic"), ("hours", "hour"), ("weekday", "weekday")):
        assert parse_command(f"frt by {word}", settings, now).by == dimension
    with pytest.raises(UsageError) as raised:
        parse_command("frt by wekday", settings, now)
    assert "did you mean `by weekday`" in raised.value.message


def test_help_says_which_metrics_have_which_breakdown():
    text = help_text(Settings(pseudonym_key="k"))
    hour_line = next(line for line in text.splitlines() if line.startswith("`by hour`"))
    # most metrics have it, so the line names those without
    assert hour_line.startswith("`by hour` `by weekday`: all but ")
    lacking = hour_line.split("all but ")[1].split(", ")
    assert "backlog" in lacking and "sla" in lacking and "volume" not in lacking and "frt" not in lacking


def test_a_breakdown_by_hour_renders_in_the_terminal_in_order(make_database):
    settings, engine = make_database(dst_week(), PARIS_NOW, tz="Europe/Paris")
    with engine.connect() as conn:
        result = compute(conn, parse_command("volume 7d by hour", settings, PARIS_NOW), settings, PARIS_NOW)
    lines = [line.split() for line in to_text(result).splitlines()]
    table = [(line[0], line[1]) for line in lines if line and line[0].endswith(":00") and len(line[0]) == 5]
    assert table[:3] == [("00:00", "0"), ("01:00", "1"), ("02:00", "4")] and ("14:00", "1") in table
