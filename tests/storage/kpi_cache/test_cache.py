"""The KPI cache (`storage.kpi_cache`): whole UTC days and hours come from `kpi_slot`, the
answer is exactly what the tables give, and every later change to a cached day is seen.

Events are a week of conversations from tests.storage.builders (minutes from Friday 2026-11-20 09:00
UTC), days that are closed by the wall clock whenever the tests run.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from functools import partial

import numpy
import pytest
from sqlalchemy import event, text

from commands.kpis import KPIS as ALL_KPIS
from commands.query import Query
from storage import kpi_cache
from storage.days import midnight
from storage.db import make_engine
from storage.kpi_cache import Scope
from storage.kpi_cache import compute as cache_compute
from storage.kpi_cache import slots as cache_slots
from storage.kpi_cache.measures import QUARTERED_TALLIES
from storage.kpi_cache.slots import Slot
from storage.kpi_cache.tables import EVERY, compact, unpacked
from storage.models.cache import WHOLE_DAY
from tests.concurrently import at_once
from tests.storage.builders import T0, assignment, at, inbound, reply, status
from tests.storage.conftest import feed

DAY = 24 * 60  # minutes
HOUR = timedelta(hours=1)
COUNTED = {"count", "conversations", "opened", "resolved", "responses", "shares", "transferred", "escalated"}
COUNTED |= {"negative", "positive", "rows", "handled", "open"}  # voice's quotes, quick replies' templates
COUNTED |= {"first_response"}  # service levels (checked below to hold clocks met)
COUNTED |= {"customers"}  # repeat contacts
# Friday 2026-11-13 18:00 UTC to Friday 2026-11-20 12:00 UTC: whole days 14th to 19th, partial ends
START, END = T0 - timedelta(days=7) + timedelta(hours=9), T0 + timedelta(hours=3)
KPIS = {key: spec.compute for key, spec in ALL_KPIS.items() if key not in ("leads", "retention", "churn")}
KPIS.pop("social-impact")  # the KPIs that read the cache: all but leads and the customer base
TEXTS = {2: "I love this, thank you so much!", 10: "hello", 20: "This is terrible, the worst delivery ever"}


def week_of_conversations() -> list[dict]:
    """Per day from the 13th to the 20th, at hours 2, 10 and 20 (UTC): a twitter and a facebook
    conversation, answered after a different number of minutes, one in three resolved (twitter's after a
    transfer), some waiting twice, some with handle time, facebook's first escalated; and a CSAT, NPS and
    CES answer per conversation."""
    events = []
    for day in range(-7, 1):
        for hour in (2, 10, 20):
            for channel in ("twitter", "facebook"):
                conv = f"{channel}-{day}-{hour}"
                start = day * DAY + (hour - 9) * 60
                late = 3 + (day + 7) * 5 + hour + (7 if channel == "twitter" else 0)
                where = {"conv": conv, "channel": channel}
                events.append(inbound(f"{conv}-i1", start, **where, text=TEXTS[hour]))
                template = {2: "greeting", 10: "greeting", 20: f"sorry-{channel}"}[hour]
                events.append(
                    reply(f"{conv}-r1", start + late, **where, handle_seconds=late, quick_reply=template)
                )
                if hour != 10:
                    events.append(inbound(f"{conv}-i2", start + late + 1, **where))
                    events.append(reply(f"{conv}-r2", start + 2 * late, **where))
                if hour == 20:
                    if channel == "twitter":
                        events.append(assignment(f"{conv}-a1", start + 1, **where, agent="U1"))
                        events.append(assignment(f"{conv}-a2", start + 2, **where, agent="U2"))
                    events.append(status(f"{conv}-s", start + 3 * late, "resolved", **where))
                if hour == 2 and channel == "facebook":
                    events.append(escalation(f"{conv}-e", start + late + 2, conv))
                scores = {"csat": 1 + (day + hour) % 5, "nps": (day * hour) % 11, "ces": hour % 7}
                for kind, score in scores.items():
                    answer = {
                        "at": at(start + 3 * late + 5),
                        "channel": channel,
                        "kind": kind,
                        "score": score,
                    }
                    events.append({"id": f"{conv}-{kind}", "type": "survey", **answer})
        unanswered = {"conv": f"ig-{day}", "channel": "instagram"}
        events.append(inbound(f"ig-{day}-i", day * DAY + 60, **unanswered))
    return [e for e in events if e["at"] < "2026-11-20T12"]  # nothing after the last moment asked


def ask(engine, settings, kpi: str, channels=(), start=START, end=END, now=None, source="auto") -> dict:
    """The KPI as of `now` (default: `end`), read from the cache where it can (`source` "auto") or from the
    tables alone ("tables")."""
    with engine.connect() as conn:
        return KPIS[kpi](conn, Query(start, end, tuple(channels), now or end, settings, source=source))


def escalation(eid: str, minutes: float, conv: str) -> dict:
    where = {"conversation_id": conv, "channel": "facebook", "to_channel": "phone"}
    return {"id": eid, "type": "escalation", "at": at(minutes), **where}


def without_cache(engine, settings, kpi: str, channels=(), **kwargs) -> dict:
    """The KPI from the tables alone."""
    return ask(engine, settings, kpi, channels, source="tables", **kwargs)


def rounded(value):
    """`value` with every float inside rounded to 9 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item) for item in value]
    return value


def slot_of(name: str) -> dict:
    """The measure and hour a test names a slot's rows by: "frt" (whole days), "frt@14" (the 14:00 hour)."""
    measure, _, hour = name.partition("@")
    return {"m": measure, "h": int(hour) if hour else WHOLE_DAY}


def cached_days(engine, name: str, channel: str = EVERY) -> list[str]:
    """The days with a row of `name` (see `slot_of`) for `channel`."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT day FROM kpi_slot WHERE measure = :m AND hour = :h AND channel = :c ORDER BY day"),
            {**slot_of(name), "c": channel},
        )
        return [str(day)[:10] for (day,) in rows]


def stale_days(engine) -> list[str]:
    with engine.connect() as conn:
        return [str(day)[:10] for (day,) in conn.execute(text("SELECT day FROM kpi_change_note ORDER BY id"))]


@pytest.mark.parametrize("channels", [(), ("twitter",), ("twitter", "facebook")])
@pytest.mark.parametrize("kpi", sorted(KPIS))
def test_a_period_of_whole_and_partial_days_gives_what_the_tables_give(
    engine, settings, ingestor, monkeypatch, kpi, channels
):
    feed(ingestor, week_of_conversations())
    expected = without_cache(engine, settings, kpi, channels)

    expected_values = rounded(expected)  # sums of floats added in another order differ in the last bits
    assert rounded(ask(engine, settings, kpi, channels)) == expected_values
    assert rounded(ask(engine, settings, kpi, channels)) == expected_values  # now from kpi_slot
    assert any(value for key, value in expected.items() if key in COUNTED)
    if kpi == "sentiment":
        assert expected["positive"] > 0 and expected["negative"] > 0
    if kpi == "sla":
        assert expected["first_response"]["met"] > 0 and expected["resolution"]["met"] > 0


def test_whole_utc_days_are_cached_per_channel_and_for_every_channel(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    values = ask(engine, settings, "frt", ("twitter",))

    whole = ["2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
    assert cached_days(engine, "frt") == whole
    assert cached_days(engine, "frt", "twitter") == whole
    assert cached_days(engine, "frt", "facebook") == whole  # a day is computed for every channel at once
    assert cached_days(engine, "wait") == []  # only what was asked
    # Hand count: the 13th at 20:00 and 2026-11-20 at 02:00 and 10:00 (replied before 12:00) are the
    # partial days; 6 whole days x 3 = 18: 21 first replies on twitter.
    assert values["count"] == 21
    with engine.connect() as conn:
        twitter = "SELECT payload FROM kpi_slot WHERE measure = 'frt' AND hour = -1 AND channel = 'twitter'"
        blob = conn.execute(text(twitter + " ORDER BY day")).scalars().first()
    # 2026-11-14 is day -6: replies after 3 + 5 + hour + 7 minutes, at hours 2, 10 and 20, whole seconds
    # kept as int32
    assert numpy.frombuffer(blob, dtype="<i4").tolist() == [17 * 60, 25 * 60, 35 * 60]


def test_a_late_event_for_a_cached_day_is_counted_by_the_next_question(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    before = ask(engine, settings, "frt")
    assert stale_days(engine) != []  # the import itself noted its (past) days
    ask(engine, settings, "frt")

    # A conversation of Tuesday the 17th arrives late (an import of another inbox, say)
    late = [inbound("late-i", -3 * DAY + 60, conv="late"), reply("late-r", -3 * DAY + 64, conv="late")]
    feed(ingestor, late)
    # its day, and the next, which holds its resolution clock's deadline (24 h on)
    assert sorted(set(stale_days(engine)[-3:])) == ["2026-11-17", "2026-11-18"]
    after = ask(engine, settings, "frt")

    assert after["count"] == before["count"] + 1
    assert after["mean"] == pytest.approx((before["mean"] * before["count"] + 240.0) / after["count"])


def test_a_late_message_for_a_cached_day_is_counted_by_the_next_question(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    before = ask(engine, settings, "volume", ("facebook",))
    ask(engine, settings, "volume", ("facebook",))

    feed(ingestor, [inbound("late-i", -2 * DAY + 30, conv="facebook--2-10", channel="facebook")])
    after = ask(engine, settings, "volume", ("facebook",))

    assert (after["inbound"], after["outbound"]) == (before["inbound"] + 1, before["outbound"])
    assert after["conversations"] == before["conversations"] == 21  # as many as first replies, above


def test_a_row_changed_by_any_writer_leaves_the_cached_day(engine, settings, ingestor, monkeypatch):
    feed(ingestor, week_of_conversations())
    before = ask(engine, settings, "frt")
    with engine.begin() as conn:  # no kpibot code involved: the triggers note the change
        conn.execute(
            text(
                "UPDATE conversation SET frt_seconds = frt_seconds + 60"
                " WHERE first_response_at >= '2026-11-16' AND first_response_at < '2026-11-17'"
            )
        )

    after = ask(engine, settings, "frt")

    assert after["count"] == before["count"]
    assert after["mean"] > before["mean"]  # 6 first responses of the 16th each a minute longer
    assert after == pytest.approx(without_cache(engine, settings, "frt"))


def test_a_rate_asked_as_of_a_moment_before_a_cached_days_replies_counts_only_earlier_replies(
    engine, settings, ingestor, monkeypatch
):
    feed(ingestor, week_of_conversations())
    # opened Sunday 15th at 23:00, answered Monday at 01:00: not yet replied as of Monday 00:30
    feed(
        ingestor,
        [
            inbound("night-i", -5 * DAY + 14 * 60, conv="night"),
            reply("night-r", -4 * DAY - 8 * 60, conv="night"),
        ],
    )
    period = {"start": T0 - timedelta(days=6, hours=9), "end": T0 - timedelta(days=4, hours=9)}  # 14th, 15th
    as_of = {**period, "now": T0 - timedelta(days=4, hours=8, minutes=30)}
    ask(engine, settings, "reply-rate", **period)  # the 14th and 15th cached, the 15th's last reply at 01:00

    before_the_reply = ask(engine, settings, "reply-rate", **as_of)

    assert before_the_reply == without_cache(engine, settings, "reply-rate", **as_of)
    # twitter and facebook 3 a day, instagram 1 (never answered), over 2 days, and the night one
    assert (before_the_reply["opened"], before_the_reply["replied"]) == (15, 12)
    assert ask(engine, settings, "reply-rate", **period, now=T0)["replied"] == 13  # asked later: cached


def test_events_of_today_note_nothing(engine, settings, ingestor):
    now = datetime.now(UTC).replace(microsecond=0)
    event = inbound("today-i", 0, conv="today")
    event["at"] = now.isoformat().replace("+00:00", "Z")

    feed(ingestor, [event])

    assert stale_days(engine) == []  # live traffic never writes a note (nor contends for one)


def test_an_hour_is_cached_an_hour_after_it_ended_todays_too(engine, settings):
    now = datetime.now(UTC)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    assert cache_slots.split(this_hour - timedelta(hours=1), now, now) is None  # tables only
    assert cache_slots.split(this_hour - timedelta(hours=2), now, now) is not None
    utc = partial(datetime, tzinfo=UTC)
    # at 00:59 the 23rd's 22:00-23:00 ended an hour ago, not its 23:00-24:00: the 22nd is the last whole day
    assert cache_slots.cached_until(utc(2026, 11, 24, 0, 59)) == utc(2026, 11, 23, 23)
    assert kpi_cache.last_cached_day(utc(2026, 11, 24, 0, 59)) == date(2026, 11, 22)
    assert cache_slots.cached_until(utc(2026, 11, 24, 1, 0)) == utc(2026, 11, 24)
    assert kpi_cache.last_cached_day(utc(2026, 11, 24, 1, 0)) == date(2026, 11, 23)


@pytest.mark.sqlite_only("SQLite's single write lock")
def test_while_another_writer_holds_the_database_the_answer_comes_at_once_and_is_cached_later(
    engine, settings, ingestor, monkeypatch
):
    feed(ingestor, week_of_conversations())
    expected = without_cache(engine, settings, "frt")
    blocker = sqlite3.connect(engine.url.database)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        answer = ask(engine, settings, "frt")
        took = time.perf_counter() - started
    finally:
        blocker.rollback()
        blocker.close()

    assert answer == pytest.approx(expected)
    # one wait of 250 ms, then no more tries (6 days and 18 hours to store): not 24 waits, nor the 30 s
    # busy timeout of writers
    assert took < 2
    assert cached_days(engine, "frt") == []
    engine._kpibot_cache_busy_until = 0.0  # the back-off is over (2 s later)
    ask(engine, settings, "frt")
    assert len(cached_days(engine, "frt")) == 6


def test_values_are_stored_exactly_whole_seconds_in_half_the_bytes():
    whole = compact(numpy.array([3.0, 1.0, 86400.0 * 60]))
    fractional = compact(numpy.array([3.0, 0.25]))
    huge = compact(numpy.array([3.0, 2.0**31]))

    assert (whole.dtype.str, whole.tolist()) == ("<i4", [3, 1, 5184000])
    assert (fractional.dtype.str, fractional.tolist()) == ("<f8", [3.0, 0.25])
    assert huge.dtype.str == "<f8"
    assert unpacked(whole.tobytes(), 3).tolist() == [3, 1, 5184000]
    assert unpacked(fractional.tobytes(), 2).tolist() == [3.0, 0.25]


def test_warm_fills_every_measure_for_the_closed_days_with_data_and_then_has_nothing_to_do(
    engine, settings, ingestor
):
    now = datetime.now(UTC)
    assert kpi_cache.warm(engine, now) == 0  # an empty database: no work
    feed(ingestor, week_of_conversations())
    days = (kpi_cache.last_cached_day(now) - date(2026, 11, 13)).days + 1  # from the first conversation on
    # and today's hours over an hour ago (at 00:30: yesterday's up to 23:00)
    hours = (cache_slots.cached_until(now) - midnight(kpi_cache.last_cached_day(now))) // HOUR - 24

    kinds = (
        len(kpi_cache.MEASURES) + len(cache_compute.RANKINGS) + len(cache_compute.TALLIES) + 4
    )  # and the agents' activity, the contacts, first responses and CSAT per owner
    quartered = len(QUARTERED_TALLIES)  # a tally kept per quarter hour too: whole days only
    assert kpi_cache.warm(engine, now) == days * kinds + hours * (kinds - quartered)
    assert kpi_cache.warm(engine, now) == 0
    assert cached_days(engine, "transferred")[:2] == ["2026-11-13", "2026-11-14"]
    last_hour = cache_slots.cached_until(now) - HOUR
    assert hours == 0 or cached_days(engine, f"transferred@{last_hour:%H}") == [f"{last_hour:%Y-%m-%d}"]

    # Tuesday the 17th changes, and Wednesday, where its resolution clock (24 h) is due
    feed(ingestor, [inbound("late-i", -3 * DAY + 60, conv="late")])
    assert kpi_cache.warm(engine, now) == 2 * kinds


def test_two_processes_filling_the_same_days_at_once_both_answer_right_and_the_cache_stays_whole(
    engine, settings, ingestor, monkeypatch
):
    feed(ingestor, week_of_conversations())
    expected = without_cache(engine, settings, "wait")
    engines = [make_engine(settings.database_url) for _ in range(2)]

    answers = at_once(*(lambda e=e: ask(e, settings, "wait") for e in engines))
    for other in engines:
        other.dispose()

    assert answers == [pytest.approx(expected)] * 2  # a store that lost the race gave up quietly
    kpi_cache.warm(engine, datetime.now(UTC))  # whatever either left out
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT day, count(*) FROM kpi_slot WHERE measure = 'wait' AND hour = -1 GROUP BY day")
        )
        per_day = {str(day)[:10]: n for day, n in rows}
    assert [per_day.get(f"2026-11-{d}") for d in range(14, 20)] == [3] * 6  # every, twitter, facebook
    assert ask(engine, settings, "wait") == pytest.approx(expected)


def test_voice_takes_its_candidates_from_each_days_strongest_messages(
    engine, settings, ingestor, monkeypatch
):
    feed(ingestor, week_of_conversations())
    quotes = ask(engine, settings, "voice")

    assert cached_days(engine, "most_negative") == cached_days(engine, "most_positive") != []
    assert quotes == without_cache(engine, settings, "voice")
    assert {quote["text"] for quote in quotes["negative"]} == {TEXTS[20]}
    assert {quote["text"] for quote in quotes["positive"]} == {TEXTS[2]}
    # equal scores: the latest first — Friday 20th 02:00 (twitter and facebook), then the 19th
    assert [quote["at"][:13] for quote in quotes["positive"]] == ["2026-11-20T02"] * 2 + ["2026-11-19T02"]


@pytest.mark.parametrize("costs", [{"hourly_agent_cost": 30.0}, {"support_cost_per_day": 700.0}])
@pytest.mark.parametrize("channels", [(), ("twitter",)])
def test_cost_counts_each_handled_conversation_once_over_the_cached_days(
    engine, settings, ingestor, monkeypatch, costs, channels
):
    # answered late on Sunday 15th and again early on Monday 16th: handled once over the week
    night = [
        inbound("night-i", -5 * DAY + 14 * 60, conv="night"),
        reply("night-r1", -5 * DAY + 14 * 60 + 30, conv="night"),
        reply("night-r2", -4 * DAY - 8 * 60 - 30, conv="night"),
    ]
    feed(ingestor, week_of_conversations() + night)
    priced = settings.model_copy(update=costs)
    expected = without_cache(engine, priced, "cost", channels)

    assert ask(engine, priced, "cost", channels) == pytest.approx(expected)
    assert ask(engine, priced, "cost", channels) == pytest.approx(expected)
    assert cached_days(engine, "handled") != []
    # each conversation is answered within its day (twice for two in three), so it counts once:
    # on twitter the 13th at 20:00, 6 whole days x 3, the 20th at 02:00 and 10:00, and the night one
    assert expected["handled"] == (22 if channels else 43)
    assert expected["total"] is not None


def test_agents_count_a_conversation_once_however_many_cached_days_they_replied_in_it(
    engine, settings, ingestor, monkeypatch
):
    # "night" opens Sunday 15th 23:00. U7 answers at 23:30 (first response: 1,800 s), again Monday
    # 01:00 and Tuesday 10:00; U8 replies Monday 01:30. It is assigned to U8 and resolved on Tuesday.
    night = [
        inbound("night-i", -5 * DAY + 14 * 60, conv="night"),
        reply("night-r1", -5 * DAY + 14 * 60 + 30, conv="night", agent="U7"),
        reply("night-r2", -4 * DAY - 8 * 60, conv="night", agent="U7"),
        reply("night-r3", -4 * DAY - 7 * 60 - 30, conv="night", agent="U8"),
        reply("night-r4", -3 * DAY + 60, conv="night", agent="U7"),
        assignment("night-a", -3 * DAY + 90, conv="night", agent="U8"),
        status("night-s", -3 * DAY + 120, "resolved", conv="night"),
    ]
    feed(ingestor, week_of_conversations() + night)
    expected = without_cache(engine, settings, "agents")
    ask(engine, settings, "agents")  # computes and stores the whole days

    rows = {row["agent"]: row for row in ask(engine, settings, "agents")["rows"]}

    assert cached_days(engine, "agents")[:1] == ["2026-11-14"]
    assert rows == {row["agent"]: row for row in expected["rows"]}
    assert rows["U7"] == {
        "agent": "U7",
        "name": "Bo",
        "conversations": 1,  # one conversation over three days
        "replies": 3,
        "frt_mean": 1800.0,
        "frt_max": 1800.0,
        "resolutions": 0,
    }
    assert (rows["U8"]["conversations"], rows["U8"]["frt_mean"], rows["U8"]["resolutions"]) == (1, None, 1)

    # Later, the conversation turns out to have been U7's (no kpibot code: the triggers note the change)
    with engine.begin() as conn:
        conn.execute(text("UPDATE conversation SET agent = 'U7' WHERE agent = 'U8'"))
    rows = {row["agent"]: row for row in ask(engine, settings, "agents")["rows"]}

    assert (rows["U7"]["resolutions"], rows["U8"]["resolutions"]) == (1, 0)
    assert ask(engine, settings, "agents") == without_cache(engine, settings, "agents")


def test_a_range_is_split_into_closed_days_closed_hours_and_what_the_tables_give(monkeypatch):
    asked = datetime(2026, 11, 20, 1, tzinfo=UTC)  # the newest hour cached ends at 2026-11-20 00:00
    utc = partial(datetime, tzinfo=UTC)

    slots, edges = cache_slots.split(utc(2026, 11, 13, 18, 30), utc(2026, 11, 20, 12), asked)
    # 19:00-24:00 of the 13th by the hour, the 14th to 19th whole; the 20th is not closed yet
    assert slots == [Slot(date(2026, 11, 13), hour) for hour in range(19, 24)] + [
        Slot(date(2026, 11, day)) for day in range(14, 20)
    ]
    assert edges == [
        (utc(2026, 11, 13, 18, 30), utc(2026, 11, 13, 19)),
        (utc(2026, 11, 20), utc(2026, 11, 20, 12)),
    ]

    slots, edges = cache_slots.split(
        utc(2026, 11, 16, 22, 10), utc(2026, 11, 17, 2, 45), asked
    )  # across midnight
    assert slots == [Slot(date(2026, 11, 16), 23), Slot(date(2026, 11, 17), 0), Slot(date(2026, 11, 17), 1)]
    assert edges == [
        (utc(2026, 11, 16, 22, 10), utc(2026, 11, 16, 23)),
        (utc(2026, 11, 17, 2), utc(2026, 11, 17, 2, 45)),
    ]

    assert cache_slots.split(utc(2026, 11, 16, 10, 5), utc(2026, 11, 16, 10, 55), asked) is None  # no hour
    assert cache_slots.split(utc(2026, 11, 20), utc(2026, 11, 20, 12), asked) is None  # not closed


def test_the_closed_hours_of_a_partial_day_are_cached_and_follow_a_late_event(engine, settings, ingestor):
    feed(ingestor, week_of_conversations())
    before = ask(engine, settings, "frt")  # from Friday 13th 18:00: hours 18-23 of the 13th are slots

    assert cached_days(engine, "frt@18") == cached_days(engine, "frt@23") == ["2026-11-13"]
    assert cached_days(engine, "frt@05") == ["2026-11-20"]  # and the 20th's hours before noon
    # A conversation of the 13th at 21:00 arrives late: the day's hours are computed again
    feed(
        ingestor,
        [
            inbound("late-i", -7 * DAY + 12 * 60, conv="late"),
            reply("late-r", -7 * DAY + 12 * 60 + 4, conv="late"),
        ],
    )
    after = ask(engine, settings, "frt")

    assert after["count"] == before["count"] + 1
    assert after["mean"] == pytest.approx((before["mean"] * before["count"] + 240.0) / after["count"])


@pytest.mark.parametrize("channels", [(), ("twitter",), ("twitter", "instagram")])
def test_backlog_counts_open_conversations_from_the_cache_and_follows_a_late_resolution(
    engine, settings, ingestor, monkeypatch, channels
):
    feed(ingestor, week_of_conversations())
    # the backlog now (the 20th at 12:00) and at the 17th's 12:00, seen from now
    instants = [{"end": END}, {"start": START, "end": END - timedelta(days=3), "now": END}]
    before = [ask(engine, settings, "backlog", channels, **instant) for instant in instants]

    assert cached_days(engine, "open")[:2] == ["2026-11-13", "2026-11-14"]  # from the first day on
    assert before == [without_cache(engine, settings, "backlog", channels, **i) for i in instants]
    # Open now: per day from the 13th to the 20th, twitter's and facebook's of 02:00 and 10:00 (20:00's
    # are resolved) and instagram's one (never answered)
    open_now = {"twitter": 8 * 2, "facebook": 8 * 2, "instagram": 8}
    assert before[0]["open"] == sum(
        n for channel, n in open_now.items() if not channels or channel in channels
    )
    # The 15th's 10:00 twitter conversation is resolved on the 19th: a past day's row, noted by the trigger
    feed(ingestor, [status("late-s", -1 * DAY, "resolved", conv="twitter--5-10", channel="twitter")])
    after = [ask(engine, settings, "backlog", channels, **instant) for instant in instants]

    assert after[0]["open"] == before[0]["open"] - 1
    assert after[1]["open"] == before[1]["open"]  # still open on the 17th: it was resolved on the 19th
    assert after == [without_cache(engine, settings, "backlog", channels, **i) for i in instants]


def row_seen(engine, name: str) -> dict[str, int]:
    """Per day, the `seen` of the every-channel row of `name` (see `slot_of`)."""
    with engine.connect() as conn:
        query = "SELECT day, seen FROM kpi_slot WHERE measure = :m AND hour = :h AND channel = ''"
        rows = conn.execute(text(query), slot_of(name))
        return {str(day)[:10]: seen for day, seen in rows}


def test_todays_hours_are_cached_once_over_and_a_late_event_recomputes_only_its_hour(
    engine, settings, ingestor, monkeypatch
):
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)  # over, cached from 1 h after

    def minutes(moment: datetime) -> float:
        return (moment - T0) / timedelta(minutes=1)

    opened = hour + timedelta(minutes=10)
    feed(ingestor, [inbound("a-i", minutes(opened), conv="a"), reply("a-r", minutes(opened) + 5, conv="a")])
    period = {"start": hour - timedelta(hours=1), "end": now, "now": now}
    before = ask(engine, settings, "frt", **period)
    seen = {
        name: row_seen(engine, name) for name in (f"frt@{hour:%H}", f"frt@{hour - timedelta(hours=1):%H}")
    }

    assert before["count"] == 1
    assert cached_days(engine, f"frt@{hour:%H}") == [f"{hour:%Y-%m-%d}"]
    # Answered in that hour, but only now sent in (a slow connector): noted by the hour, counted next time
    late = hour + timedelta(minutes=20)
    feed(ingestor, [inbound("b-i", minutes(late), conv="b"), reply("b-r", minutes(late) + 4, conv="b")])
    after = ask(engine, settings, "frt", **period)

    assert (after["count"], after["mean"]) == (2, (300.0 + 240.0) / 2)
    assert after == without_cache(engine, settings, "frt", **period)
    earlier = f"frt@{hour - timedelta(hours=1):%H}"
    assert row_seen(engine, earlier) == seen[earlier]  # the hour before: still current, not computed again
    assert row_seen(engine, f"frt@{hour:%H}") != seen[f"frt@{hour:%H}"]


def test_a_change_committed_while_a_question_computes_is_counted_by_the_next_one(
    engine, settings, ingestor, monkeypatch
):
    # found by review: the hour had a note no stored row had seen, the question had read it as what it
    # saw, and a trigger that skipped noting "an hour noted already" lost the resolution
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    feed(ingestor, [inbound(f"{c}-i", (hour - T0) / timedelta(minutes=1) + 10, conv=c) for c in ("a", "b")])
    compute_runs, resolved = cache_compute._compute_runs, []

    def racing(*args, **kwargs):
        computed = compute_runs(*args, **kwargs)
        if not resolved:  # the question has read the tables and not stored yet
            resolved.append(True)
            feed(ingestor, [status("a-s", (hour - T0) / timedelta(minutes=1) + 30, "resolved", conv="a")])
        return computed

    monkeypatch.setattr(cache_compute, "_compute_runs", racing)
    with engine.connect() as conn:
        assert (
            kpi_cache.count(conn, "open", Scope(hour, hour + timedelta(hours=1), (), datetime.now(UTC))) == 2
        )  # a and b: open then
    monkeypatch.setattr(cache_compute, "_compute_runs", compute_runs)
    with engine.connect() as conn:
        assert (
            kpi_cache.count(conn, "open", Scope(hour, hour + timedelta(hours=1), (), datetime.now(UTC))) == 1
        )  # b


@pytest.mark.postgresql_only("sequence ids are handed out as notes are made, not as they commit")
def test_while_a_transaction_that_noted_a_change_is_open_questions_answer_but_store_nothing(
    engine, settings, ingestor
):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    feed(ingestor, [inbound("a-i", (hour - T0) / timedelta(minutes=1) + 10, conv="a")])
    with engine.connect() as writer:
        writer.execute(text("UPDATE conversation SET agent = 'U9' WHERE external_id = 'a'"))  # notes the hour
        with engine.connect() as conn:
            assert (
                kpi_cache.count(conn, "open", Scope(hour, hour + timedelta(hours=1), (), datetime.now(UTC)))
                == 1
            )
        # its note could commit with an id below one committed meanwhile: nothing computed now is kept
        assert cached_days(engine, f"open@{hour:%H}") == []
        writer.commit()
    with engine.connect() as conn:
        assert (
            kpi_cache.count(conn, "open", Scope(hour, hour + timedelta(hours=1), (), datetime.now(UTC))) == 1
        )

    assert cached_days(engine, f"open@{hour:%H}") == [f"{hour:%Y-%m-%d}"]


def test_a_question_spending_notes_keeps_each_hours_newest(engine, settings, ingestor, monkeypatch):
    feed(ingestor, week_of_conversations())
    before = ask(engine, settings, "frt")  # from the 13th at 18:00: hours 18-23 of the 13th cached
    # Late: a conversation of the 13th answered at 21:00, then one opened at 19:00, never answered
    feed(
        ingestor,
        [
            inbound("late-i", -7 * DAY + 12 * 60, conv="late"),
            reply("late-r", -7 * DAY + 12 * 60 + 4, conv="late"),
        ],
    )
    feed(ingestor, [inbound("later-i", -7 * DAY + 10 * 60, conv="later")])
    # volume's hours of the 13th are computed having seen both notes, and spend what they have seen, but
    # not 21:00's newest note: frt's row of 21:00 has not seen it
    ask(engine, settings, "volume")
    after = ask(engine, settings, "frt")

    assert after["count"] == before["count"] + 1
    assert after == without_cache(engine, settings, "frt")


def test_a_cold_question_reads_each_missing_day_and_each_run_of_missing_hours_once(
    engine, settings, ingestor
):
    feed(ingestor, week_of_conversations())
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    ask(engine, settings, "frt")

    # 13th 18:00 to 20th 12:00 asked at 12:00: the 14th to 19th (6 days), hours 18-23 of the 13th and
    # 0-10 of the 20th (2 runs, 17 hours: the hours over an hour before now), and 11:00-12:00 from the tables
    reads = [sql for sql in statements if "frt_seconds IS NOT NULL" in sql]  # not the still-waiting count
    assert len(reads) == 6 + 2 + 1
    assert len(cached_days(engine, "frt")) == 6
    assert sum(len(cached_days(engine, f"frt@{hour:02d}")) for hour in range(24)) == 17


def test_a_range_starting_in_year_1_caches_at_most_the_last_1000_days(monkeypatch):
    asked = datetime(2026, 11, 20, 1, tzinfo=UTC)  # the newest hour cached ends at 2026-11-20 00:00
    year_1 = datetime(1, 1, 1, tzinfo=UTC)

    slots, edges = cache_slots.split(year_1, datetime(2026, 11, 20, 12, tzinfo=UTC), asked)

    first = date(2026, 11, 20) - timedelta(days=cache_slots.MAX_CACHED_DAYS)
    assert len(slots) == 1000 and slots[0] == Slot(first) and slots[-1] == Slot(date(2026, 11, 19))
    assert edges[0] == (year_1, datetime.combine(first, datetime.min.time(), UTC))


def test_a_conversation_written_by_hand_in_year_1_costs_backlog_no_more_than_1000_cached_days(
    engine, settings, ingestor, monkeypatch
):
    feed(ingestor, week_of_conversations())
    with engine.begin() as conn:  # what ingestion refuses, written straight into the table
        conn.execute(
            text("UPDATE conversation SET opened_at = :at WHERE external_id = 'ig--7'"),
            {
                "at": datetime(1, 1, 1, 0, 0),
            },
        )

    started = time.perf_counter()
    answer = ask(engine, settings, "backlog")
    elapsed = time.perf_counter() - started

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(DISTINCT day) FROM kpi_slot WHERE measure = 'open'")).scalar()
    assert rows <= cache_slots.MAX_CACHED_DAYS + 1 and elapsed < 60
    assert answer == without_cache(engine, settings, "backlog")
    assert answer["oldest_age"] > 739_000 * 86400  # the year-1 conversation is still the oldest open one
