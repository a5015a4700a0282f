"""Values over a range that is over, kept while no row of it changes (`storage.kpi_cache.settled`), and
`repeat`'s previous period matched once (commands/kpis/recontact.py). Hand-made conversations on days of
their own, noted by the conversation triggers as any writer's changes are."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from commands.kpis import recontact
from commands.query import Query
from storage.kpi_cache import settled as settled_module
from storage.kpi_cache.settled import settled
from storage.models import Conversation
from tests.storage.builders import T0, at, inbound, reply
from tests.storage.conftest import feed

DAY = 24 * 60  # minutes
START, END = T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=2)  # 2026-11-20 and 21, UTC
NOW = T0 + timedelta(days=10)


def opened(conn) -> int:
    """What the kept value stands for here: conversations opened in [START, END)."""
    where = (Conversation.opened_at >= START, Conversation.opened_at < END)
    return conn.execute(select(func.count()).select_from(Conversation).where(*where)).scalar_one()


def test_a_ranges_value_is_kept_until_a_row_of_its_days_changes(ingestor, engine):
    feed(ingestor, [inbound("a1", 0, conv="a"), inbound("b1", 60, conv="b")])
    computed = []

    def ask(now=NOW):
        with engine.connect() as conn:
            return settled(conn, ("opened",), START, END, now, lambda: computed.append(1) or opened(conn))

    assert ask() == 2 and ask() == 2
    assert len(computed) == 1
    # a conversation on a day after the range: the range's days have no newer note, the value stands
    feed(ingestor, [inbound("z1", 3 * DAY, conv="z")])
    assert ask() == 2 and len(computed) == 1
    # one opened in the range, stored late (a backfill): its hour is noted, the value is computed again
    feed(ingestor, [inbound("c1", DAY + 30, conv="c")])
    assert ask() == 3 and len(computed) == 2
    assert ask() == 3 and len(computed) == 2


def test_a_range_reaching_into_the_current_hour_is_never_kept(ingestor, engine):
    # a change to an hour still running is not noted, so a value over it could not be trusted later
    feed(ingestor, [inbound("a1", 0, conv="a")])
    running, over = [], []
    with engine.connect() as conn:
        for _ in range(2):
            settled(conn, ("opened",), START, END, END - timedelta(minutes=30), lambda: running.append(1))
            settled(conn, ("opened",), START, END, END + timedelta(minutes=5), lambda: over.append(1))
    assert (len(running), len(over)) == (2, 1)


def test_a_zone_half_an_hour_off_utc_does_not_end_a_running_utc_hour(ingestor, engine):
    # 00:50 UTC is 06:20 in Kolkata (+05:30): its local hour began at 00:30 UTC, but the UTC hour from
    # 00:00, whose changes are not noted yet, is still running; a range up to 00:30 is not over
    feed(ingestor, [inbound("a1", 0, conv="a")])
    now = (END + timedelta(minutes=50)).astimezone(ZoneInfo("Asia/Kolkata"))
    computed = []
    with engine.connect() as conn:
        for _ in range(2):
            settled(conn, ("opened",), START, END + timedelta(minutes=30), now, lambda: computed.append(1))
            settled(conn, ("up to the UTC hour",), START, END, now, lambda: computed.append(2))
    assert computed == [1, 2, 1]


def test_only_the_newest_values_are_kept(ingestor, engine, monkeypatch):
    monkeypatch.setattr(settled_module, "LIMIT", 2)
    feed(ingestor, [inbound("a1", 0, conv="a")])
    computed = []
    with engine.connect() as conn:
        for key in ("one", "two", "three", "one"):
            settled(conn, (key,), START, END, NOW, lambda key=key: computed.append(key))
    assert computed == ["one", "two", "three", "one"]  # "one" was the least recently used, dropped


def test_repeats_previous_period_is_matched_once_while_its_conversations_stay(
    ingestor, engine, settings, monkeypatch
):
    """`repeat` over a day that is over, 72 hours and more ago: matched once while its conversations stay,
    again after one is stored late. Each answer equals the tables'."""
    feed(
        ingestor,
        [
            inbound("a1", 0, conv="a1", handle="@ana"),
            inbound("a2", 60, conv="a2", handle="@ana"),  # again an hour later: a repeat
            inbound("b1", 10, conv="b1", handle="@bob"),
            inbound("c1", DAY + 10, conv="c1", handle="@cy"),  # the next day
        ],
    )
    matched = []
    real = recontact._matched
    monkeypatch.setattr(recontact, "_matched", lambda q, *found: matched.append(q.end) or real(q, *found))
    now = T0 + timedelta(days=4, minutes=30)
    day = (T0, T0 + timedelta(days=1))

    def ask(source="auto"):
        with engine.connect() as conn:
            return recontact.repeat(conn, Query(*day, (), now, settings, source=source))

    assert ask() == ask() == ask("tables") == {"rate": 0.5, "customers": 2, "repeat_customers": 1, "hops": {}}
    assert matched.count(day[1]) == 1 + 1  # from the cache once, from the tables once

    feed(ingestor, [inbound("b2", 70, conv="b2", handle="@bob")])  # @bob came back, stored late
    assert ask() == ask("tables") == {"rate": 1.0, "customers": 2, "repeat_customers": 2, "hops": {}}
    assert matched.count(day[1]) == 4


def test_a_running_periods_conversations_before_the_hour_are_sorted_once(
    ingestor, engine, settings, monkeypatch
):
    """`repeat` up to `now` (30 minutes into an hour): the conversations opened before the hour are put in
    customer order once and kept while they stay; those of the running hour are read and merged in at
    every answer. Each answer equals the tables'."""
    feed(
        ingestor,
        [
            inbound("a1", 0, conv="a1", handle="@ana"),
            inbound("a2", 60, conv="a2", handle="@ana"),
            inbound("b1", 10, conv="b1", handle="@bob"),
            inbound("c1", DAY + 10, conv="c1", handle="@cy"),
            inbound("d1", 30, conv="d1", handle="@dee"),
        ],
    )
    sorted_sizes = []
    real = recontact._in_order
    monkeypatch.setattr(
        recontact, "_in_order", lambda key, *rest: sorted_sizes.append(len(key)) or real(key, *rest)
    )
    # the first hour of the 24th is running; the days before it are what is kept (a change in the running
    # hour is not noted: here ingestion, on the wall clock, notes the 24th, which the kept days leave out)
    now = START + timedelta(days=4, minutes=30)

    def ask(source="auto"):
        with engine.connect() as conn:
            return recontact.repeat(conn, Query(T0, now, (), now, settings, source=source))

    expected = {"rate": 1 / 4, "customers": 4, "repeat_customers": 1, "hops": {}}
    assert ask() == ask() == ask("tables") == expected
    assert sorted_sizes == [5, 0, 0]  # the five before the hour once; the running hour's (none) each time

    # in the running hour, merged in after each customer's earlier ones: @cy again 62 h 55 min after the
    # first (a repeat), @dee 86 h 40 min after (not)
    feed(
        ingestor,
        [
            inbound("c2", 3 * DAY + 15 * 60 + 5, conv="c2", handle="@cy"),
            inbound("d2", 3 * DAY + 15 * 60 + 10, conv="d2", handle="@dee"),
        ],
    )
    assert ask() == ask("tables") == {"rate": 2 / 4, "customers": 4, "repeat_customers": 2, "hops": {}}
    assert sorted_sizes == [5, 0, 0, 2]

    # @bob came back an hour after b1, stored late: the hours before are sorted again
    feed(ingestor, [inbound("b2", 70, conv="b2", handle="@bob")])
    assert ask() == ask("tables") == {"rate": 3 / 4, "customers": 4, "repeat_customers": 3, "hops": {}}
    assert sorted_sizes == [5, 0, 0, 2, 6, 2]


def test_a_channel_first_seen_in_the_running_hour_is_a_hop_from_the_kept_ones(ingestor, engine, settings):
    # @eve, whom a customer event names, on twitter before the hour and on whatsapp in it: the two parts
    # list their channels apart, and the merge puts both in one list
    feed(
        ingestor,
        [
            {"id": "k1", "type": "customer", "at": at(-500), "customer_id": "@eve", "change": "active"},
            inbound("e1", 3 * DAY + 14 * 60, conv="e1", handle="@eve"),
            inbound("e2", 3 * DAY + 15 * 60 + 5, conv="e2", channel="whatsapp", handle="@eve"),
        ],
    )
    now = START + timedelta(days=4, minutes=30)
    with engine.connect() as conn:
        cached, tables = (
            recontact.repeat(conn, Query(T0, now, (), now, settings, source=source))
            for source in ("auto", "tables")
        )
    expected = {"rate": 1.0, "customers": 1, "repeat_customers": 1, "hops": {"twitter>whatsapp": 1}}
    assert cached == tables == expected


def test_the_team_figures_of_the_cached_days_are_merged_once_until_a_day_changes(
    ingestor, engine, settings, monkeypatch
):
    """`/kpi me`'s figures of every agent (their activity, first responses and CSAT answers per owner): the
    cached days' rows are unpacked and merged once while they stay (a 90-day answer unpacked ~300 rows
    each time); a late reply in one of them is seen. Each answer equals the tables'."""
    from commands.me_figures import figures
    from storage.kpi_cache import agents, owners

    def conversation(n: int, minutes: int, agent: str) -> list[dict]:
        return [
            inbound(f"i{n}", minutes, conv=f"m{n}"),
            reply(f"o{n}", minutes + 2 + n, conv=f"m{n}", agent=agent, name=agent.title()),
        ]

    feed(ingestor, [e for n in range(6) for e in conversation(n, n * DAY // 2, ("ana", "bo")[n % 2])])
    unpacked = []
    for module, name in ((agents, "_unpack"), (owners, "_unpacked")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda blob, real=real: unpacked.append(1) or real(blob))
    now = START + timedelta(days=5, minutes=30)

    def ask(source="auto"):
        with engine.connect() as conn:
            return figures(conn, Query(START, now, (), now, settings, source=source))

    first = ask()
    read = len(unpacked)
    assert ask() == first == ask("tables")
    assert read > 0 and len(unpacked) == read
    assert (first["ana"]["first_responses"], first["bo"]["first_responses"]) == (3, 3)

    feed(ingestor, conversation(9, DAY + 60, "bo"))  # stored late, in a cached day
    late = ask()
    assert late == ask("tables") and late["bo"]["first_responses"] == 4
    assert len(unpacked) > read
