"""`/kpi why` (commands/why.py): the change of a mean KPI split by channel into mix and performance, then
within channels by arrival hours, agent and topic — every split adding up to the change — with
hand-computed numbers; the words; the load; the conversations weighing most; grammar and errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.engine import compute
from commands.errors import UsageError
from commands.parse import EXPLAINED, help_text, parse_command
from commands.query import Query
from commands.render_text import to_text
from commands.render_why import why_message
from commands.why import Why, explain
from commands.why_items import WHY
from tests.fuzzing import FUZZ, json_values, odd_text
from tests.storage.builders import T0, inbound, reply, status

NOW = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday: 7d is Nov 16-23, the previous period Nov 9-16
SAT_PREV, WED_PREV = datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC)
SAT_NOW, WED_NOW = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 18, tzinfo=UTC)
TAXONOMY = {"parcels": {"late": ["parcel"]}, "money": {"invoice": ["invoice"]}}
PARCEL, INVOICE = "where is my parcel", "a question about my invoice"


def minutes(moment: datetime) -> float:
    return (moment - T0).total_seconds() / 60


def conversation(conv: str, channel: str, opened: datetime, text: str, frt: float | None, agent: str):
    """A conversation opened at `opened` and answered by `agent` after `frt` seconds (None: never)."""
    events = [inbound(f"{conv}-in", minutes(opened), conv=conv, channel=channel, text=text)]
    if frt is not None:
        answered = opened + timedelta(seconds=frt)
        events.append(reply(f"{conv}-out", minutes(answered), conv=conv, channel=channel, agent=agent))
    return events


def two_periods() -> list[dict]:
    """Twitter arrives on Saturdays (off hours), Facebook on Wednesdays (business hours), all in UTC.

    Previous: twitter 60 s (A), 120 s (A), one never answered; facebook 300 s (A), 900 s (B).
    Current: twitter 120 s (B); facebook 600 s (A), 900 s (B), 900 s (B)."""
    hour = timedelta(hours=1)
    rows = [
        ("tw-p1", "twitter", SAT_PREV + 10 * hour, PARCEL, 60, "A"),
        ("tw-p2", "twitter", SAT_PREV + 11 * hour, PARCEL, 120, "A"),
        ("tw-p3", "twitter", SAT_PREV + 12 * hour, "hello", None, ""),
        ("fb-p1", "facebook", WED_PREV + 10 * hour, INVOICE, 300, "A"),
        ("fb-p2", "facebook", WED_PREV + 11 * hour, INVOICE, 900, "B"),
        ("tw-c1", "twitter", SAT_NOW + 10 * hour, PARCEL, 120, "B"),
        ("fb-c1", "facebook", WED_NOW + 10 * hour, INVOICE, 600, "A"),
        ("fb-c2", "facebook", WED_NOW + 11 * hour, PARCEL, 900, "B"),
        ("fb-c3", "facebook", WED_NOW + 11.5 * hour, "hello", 900, "B"),
    ]
    return [event for row in rows for event in conversation(*row)]


@pytest.fixture
def database(make_database):
    return make_database(two_periods(), NOW, topics=TAXONOMY)


def why(settings, engine, text: str, source: str = "auto") -> Why:
    with engine.connect() as conn:
        return explain(conn, parse_command(text, settings, NOW), settings, NOW, source=source)


@pytest.fixture(params=["auto", "tables"], ids=["cache", "tables"])
def source(request) -> str:
    return request.param


def parts(split) -> dict[str, tuple[float, float]]:
    """Each row's (mix, performance), rounded past float noise."""
    return {row.key: (round(row.mix, 9), round(row.performance, 9)) for row in split.rows}


def test_frt_change_splits_into_channel_mix_and_performance(database):
    settings, engine = database
    found = why(settings, engine, "why frt 7d")
    # M_p = (60 + 120 + 300 + 900) / 4 = 345; M_q = (120 + 600 + 900 + 900) / 4 = 630
    assert (found.previous, found.current, found.change) == (345, 630, 285)
    assert (found.previous_count, found.count) == (4, 4)
    # twitter: shares 1/2 -> 1/4, means 90 -> 120; facebook: 1/2 -> 3/4, means 600 -> 800
    # mix = (w_q - w_p)(m_p - M_p): twitter (-1/4)(90 - 345) = 63.75, facebook (1/4)(600 - 345) = 63.75
    # performance = w_q (m_q - m_p): twitter 1/4 * 30 = 7.5, facebook 3/4 * 200 = 150
    assert parts(found.by_channel) == {"twitter": (63.75, 7.5), "facebook": (63.75, 150)}
    assert [row.key for row in found.by_channel.rows] == ["facebook", "twitter"]  # largest part first
    assert found.by_channel.mix + found.by_channel.performance == pytest.approx(285)
    facebook = found.by_channel.rows[0]
    assert (facebook.previous_count, facebook.count) == (2, 3)
    assert (facebook.previous_mean, facebook.mean) == (600, 800)
    assert (facebook.previous_share, facebook.share) == (0.5, 0.75)


def test_the_mean_explained_is_the_kpi_figure(database):
    settings, engine = database
    with engine.connect() as conn:
        answer = compute(conn, parse_command("frt 7d", settings, NOW), settings, NOW)
    found = why(settings, engine, "why frt 7d")
    assert (found.current, found.previous) == (answer.values["mean"], answer.previous["mean"])


def test_within_channels_each_split_adds_up_to_the_performance_part(database):
    settings, engine = database
    found = why(settings, engine, "why frt 7d")
    # Agents. Twitter (weight 1/4, m_p 90): A 90 -> gone, B new at 120 (counted from 90): B 1/4 * 30 = 7.5.
    # Facebook (weight 3/4, m_p 600): A 1/2 -> 1/3 at 300 -> 600, B 1/2 -> 2/3 at 900 -> 900:
    # A mix 3/4 (-1/6)(300 - 600) = 37.5, performance 3/4 * 1/3 * 300 = 75; B mix 3/4 * 1/6 * 300 = 37.5.
    assert parts(found.within["agent"]) == {"A": (37.5, 75), "B": (37.5, 7.5)}
    # Hours: twitter all off hours, facebook all business hours: no mix within a channel.
    assert parts(found.within["hours"]) == {"off hours": (0, 7.5), "business hours": (0, 150)}
    hours = {row.key: (row.previous_share, row.share) for row in found.within["hours"].rows}
    assert hours == {"off hours": (0.5, 0.25), "business hours": (0.5, 0.75)}
    # Topics. Twitter: parcels 90 -> 120: 7.5. Facebook: money 600 -> 600 (share 1 -> 1/3): 0; parcels and
    # untagged new, each 1/3 at 900 against m_p 600: 3/4 * 1/3 * 300 = 75.
    assert parts(found.within["topic"]) == {"parcels": (0, 82.5), "untagged": (0, 75), "money": (0, 0)}
    for split in found.within.values():
        assert split.mix + split.performance == pytest.approx(found.by_channel.performance)


def test_load_is_conversations_opened_per_active_agent_hour(database):
    settings, engine = database
    found = why(settings, engine, "why frt 7d")
    # previous: 5 opened; agent-hours twitter (A,10h) (A,11h), facebook (A,10h) (B,11h): 4
    # current: 4 opened; twitter (B,10h), facebook (A,10h) (B,11h: two replies in one hour): 3
    assert found.load["all"] == pytest.approx((5 / 4, 4 / 3))
    assert found.load["twitter"] == pytest.approx((3 / 2, 1))
    assert found.load["facebook"] == pytest.approx((1, 3 / 2))


def test_words_come_first_with_the_largest_parts(database):
    settings, engine = database
    found = why(settings, engine, "why frt 7d")
    assert found.words == (
        "First response time rose 4m 45s: 2m 30s from facebook getting slower, "
        "1m 4s from more traffic on facebook (slowest channel), 1m 4s from less traffic on twitter. "
        "Within channels: arrivals in business hours slower (2m 30s of it); agent A slower (1m 53s of it); "
        "conversations about parcels slower (1m 23s of it). "
        "Load: 1.2 → 1.3 conversations per active agent-hour."
    )


def test_the_conversations_weighing_most_are_the_slowest_now(database):
    settings, engine = database
    found = why(settings, engine, "why frt 7d")
    ids = [row.conversation_id for row in found.drill.rows]
    assert sorted(ids[:2]) == ["fb-c2", "fb-c3"] and ids[2] == "fb-c1"
    assert [row.figure for row in found.drill.rows] == [900, 900, 600]


def test_a_rate_is_a_mean_of_zero_or_one_items(database):
    settings, engine = database
    found = why(settings, engine, "why reply-rate 7d")
    # previous: twitter 2 of 3 answered, facebook 2 of 2 -> 0.8; current: 1 of 1 and 3 of 3 -> 1.0
    assert (found.previous, found.current) == pytest.approx((0.8, 1.0))
    # mix twitter (1/4 - 3/5)(2/3 - 0.8), facebook (3/4 - 2/5)(1 - 0.8); performance twitter 1/4 (1 - 2/3)
    assert parts(found.by_channel) == {
        "twitter": (round((0.25 - 0.6) * (2 / 3 - 0.8), 9), round(0.25 / 3, 9)),
        "facebook": (0.07, 0),
    }
    assert found.words.startswith("Reply rate rose 20.0 pt: 8.3 pt from twitter getting higher, ")


def survey(eid: str, moment: datetime, score: int, channel: str, conv: str | None) -> dict:
    event = {"id": eid, "type": "survey", "at": moment.isoformat(), "channel": channel, "kind": "csat"}
    return {**event, "score": score, **({"conversation_id": conv} if conv else {})}


def test_csat_items_are_credited_through_their_conversation(make_database):
    later = timedelta(days=1)
    answers = [
        survey("v1", SAT_PREV + later, 5, "twitter", "tw-p1"),  # previous: twitter 1 of 1 satisfied
        survey("v2", WED_PREV + later, 2, "facebook", "fb-p1"),  # facebook 0 of 1
        survey("v3", WED_NOW + later, 5, "facebook", "fb-c1"),  # current: facebook 2 of 2 (A, B)
        survey("v4", WED_NOW + later, 4, "facebook", "fb-c2"),
        survey("v5", SAT_NOW - later, 1, "twitter", "tw-c1"),  # twitter 1 of 2, one without a conversation
        survey("v6", SAT_NOW - later, 5, "twitter", None),
    ]
    settings, engine = make_database([*two_periods(), *answers], NOW, topics=TAXONOMY)
    found = why(settings, engine, "why csat 7d")
    # M_p = 1/2, M_q = 3/4; shares 1/2 in both periods: no mix; twitter 1/2 (1/2 - 1), facebook 1/2 (1 - 0)
    assert (found.previous, found.current) == (0.5, 0.75)
    assert parts(found.by_channel) == {"twitter": (0, -0.25), "facebook": (0, 0.5)}
    agents = {row.key: (row.previous_count, row.count) for row in found.within["agent"].rows}
    assert agents == {"A": (2, 1), "B": (0, 2), "unassigned": (0, 1)}
    for split in found.within.values():
        assert sum(row.part for row in split.rows) == pytest.approx(0.25)


@pytest.mark.parametrize("key", list(WHY))
def test_the_cache_and_the_tables_give_the_same_explanation(make_database, key):
    later = timedelta(hours=5)
    resolved = [
        status(f"{conv}-done", minutes(opened + later), "resolved", conv=conv, channel=channel)
        for conv, channel, opened in [
            ("tw-p1", "twitter", SAT_PREV + timedelta(hours=10)),
            ("fb-p2", "facebook", WED_PREV + timedelta(hours=11)),
            ("fb-c1", "facebook", WED_NOW + timedelta(hours=10)),
            ("tw-c1", "twitter", SAT_NOW + timedelta(hours=10)),
        ]
    ]
    answers = [survey("v1", SAT_PREV, 5, "twitter", "tw-p1"), survey("v2", SAT_NOW, 2, "twitter", "tw-c1")]
    settings, engine = make_database([*two_periods(), *resolved, *answers], NOW, topics=TAXONOMY)
    from_tables = why(settings, engine, f"why {key} 7d", source="tables").to_json()
    computed = why(settings, engine, f"why {key} 7d").to_json()  # the slots computed, then stored
    stored = why(settings, engine, f"why {key} 7d").to_json()  # read back
    assert from_tables == computed == stored
    assert from_tables["previous"] is not None and from_tables["current"] is not None


def test_a_rate_asked_as_of_an_earlier_instant_counts_the_answers_given_by_then(database, source):
    settings, engine = database
    asked = WED_NOW + timedelta(hours=11, minutes=40)  # fb-c3 arrived at 11:30, is answered at 11:45
    request = parse_command("why reply-rate 2026-11-16..2026-11-22", settings, asked)
    with engine.connect() as conn:
        found = explain(conn, request, settings, asked, source=source)
        kpi = compute(
            conn, parse_command("reply-rate 2026-11-16..2026-11-22", settings, asked), settings, asked
        )
    # by 11:40: fb-c1 and fb-c2 answered, fb-c3 not yet; twitter's conversation opens on Saturday
    assert (found.previous, found.current) == pytest.approx((0.8, 2 / 3))
    assert (found.previous, found.current) == (kpi.previous["rate"], kpi.values["rate"])


def test_one_channel_asked_is_the_whole_mix(database):
    settings, engine = database
    found = why(settings, engine, "why frt facebook 7d")
    assert (found.previous, found.current) == (600, 800)
    assert parts(found.by_channel) == {"facebook": (0, 200)}


def test_no_previous_data_says_there_is_nothing_to_compare(database):
    settings, engine = database
    found = why(settings, engine, "why frt 2026-10-01..2026-10-08")
    assert found.by_channel is None and found.within == {}
    assert found.words == "First response time: nothing to compare, no data in this period."


def test_json_holds_the_splits_in_seconds(database):
    settings, engine = database
    document = why(settings, engine, "why frt 7d").to_json()
    assert (document["metric"], document["kpi"], document["change"]) == ("why", "frt", 285)
    rows = {row["key"]: row for row in document["by_channel"]["rows"]}
    assert rows["twitter"]["mix"] == 63.75 and rows["twitter"]["part"] == 71.25
    assert set(document["within_channels"]) == {"hours", "agent", "topic"}
    assert [row["conversation_id"] for row in document["conversations"]][2] == "fb-c1"


def test_terminal_rendering_shows_words_then_tables(database):
    settings, engine = database
    text = to_text(why(settings, engine, "why frt 7d"), width=140)
    assert text.startswith("Why First response time moved: 5m 45s → 10m 30s\nFirst response time rose 4m 45s")
    assert "facebook  50 % → 75 %  10m → 13m 20s  +1m 4s  +2m 30s      +3m 34s" in text


def test_names_from_events_are_escaped_in_slack(make_database):
    events = two_periods()
    for event in events:
        if event["direction"] == "outbound" and event["author"]["id"] == "B":
            event["author"]["id"] = "<!here>"
    settings, engine = make_database(events, NOW, topics=TAXONOMY)
    message = why_message(why(settings, engine, "why frt 7d"))
    shown = json.dumps(message)
    assert "<!here>" not in shown and "&lt;!here&gt;" in shown
    assert message["blocks"][0]["text"]["text"] == "Why First response time moved: 5m 45s → 10m 30s"
    tables = [block["text"]["text"] for block in message["blocks"][2:-1]]
    assert [table.split("\n")[0] for table in tables] == [
        "*By channel*",
        "*Within channels, by arrival (business or off hours)*",
        "*Within channels, by agent*",
        "*Within channels, by topic*",
        "*Weighing most now* (slowest first responses, and conversations still waiting for one)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("why", "`why` needs a metric"),
        ("why volume", "`why` explains the change of a mean or a rate, not `volume`"),
        ("why frt by channel", "drop `by`"),
        ("frt why", "`why` comes first: `why frt …`"),
    ],
)
def test_grammar_errors_are_clear(database, text, message):
    settings, _ = database
    with pytest.raises(UsageError) as raised:
        parse_command(text, settings, NOW)
    assert message in raised.value.message


def test_the_grammar_and_the_explained_kpis_agree():
    assert tuple(WHY) == EXPLAINED
    from storage.settings import Settings

    assert "`/kpi why METRIC [channel…] [period]`" in help_text(Settings())


@pytest.mark.parametrize(
    ("label", "named"),
    [
        ("2026-11-18 07:3", "off hours"),  # Wednesday 08:30 in Paris (UTC+1)
        ("2026-11-18 08:0", "business hours"),  # 09:00
        ("2026-11-18 16:3", "business hours"),  # 17:30
        ("2026-11-18 17:0", "off hours"),  # 18:00
        ("2026-11-21 10:0", "off hours"),  # a Saturday
        ("2026-07-01 07:0", "business hours"),  # 09:00 in summer time (UTC+2)
        ("2026-07-01 06:3", "off hours"),  # 08:30 in summer time
        (None, "off hours"),  # no arrival time
    ],
)
def test_arrivals_are_business_hours_by_default_monday_to_friday_9_to_18_local(label, named):
    from commands.why_items import _hours_namer
    from storage.settings import Settings

    query = Query(NOW, NOW, (), NOW, Settings(tz="Europe/Paris"))
    assert _hours_namer(query)(label) == named


@pytest.mark.parametrize(
    ("label", "named"),
    [
        ("2026-11-18 03:3", "off hours"),
        ("2026-11-18 04:0", "business hours"),
        ("2026-11-18 12:3", "off hours"),
    ],
)
def test_configured_business_hours_decide_arrivals_to_the_half_hour(label, named):
    from commands.why_items import _hours_namer
    from storage.settings import BusinessHours, Settings

    # Kolkata is UTC+5:30: 03:30 UTC is 09:00 there, 04:00 is 09:30, 12:30 is 18:00
    hours = BusinessHours(hours={"wed": ["09:30-18:00"]}, timezone="Asia/Kolkata")
    query = Query(NOW, NOW, (), NOW, Settings(business_hours=hours))
    assert _hours_namer(query)(label) == named


@FUZZ
@given(
    words=st.lists(
        st.one_of(odd_text, st.sampled_from(["frt", "csat", "by", "bh", "7d", "why", "all"])), max_size=5
    )
)
def test_any_words_after_why_are_a_request_or_a_usage_error(words):
    from storage.settings import Settings

    settings = Settings()
    try:
        request = parse_command(" ".join(["why", *words]), settings, NOW)
    except UsageError as error:
        assert error.message
    else:
        assert request.metric == "help" or (request.explain and request.metric in EXPLAINED)


@FUZZ
@given(value=st.one_of(odd_text, json_values.map(json.dumps)))
def test_any_why_button_value_is_a_question_or_the_stale_notice(value):
    from commands.render_drill import STALE, asked_question
    from storage.settings import Settings

    try:
        request = asked_question(value, Settings(), WHY)
    except UsageError as error:
        assert error.message == STALE
    else:
        assert request.metric in WHY


def test_a_channel_gone_and_a_channel_new_still_add_up():
    from commands.why import split

    # before: a 2 items at 100, b 2 at 200 (M_p 150); now: b 1 at 300, c 1 at 500 (M_q 400): +250
    before = {"": {"a": (2, 200.0), "b": (2, 400.0)}}
    now = {"": {"b": (1, 300.0), "c": (1, 500.0)}}
    found = split(before, now, "channel")
    # a: share 1/2 -> 0 at 100, below the mean: mix (0 - 1/2)(100 - 150) = 25; b: performance 1/2 (300 - 200)
    # c: new, counted at M_p: performance 1/2 (500 - 150) = 175
    assert parts(found) == {"a": (25, 0), "b": (0, 50), "c": (0, 175)}
    assert found.mix + found.performance == 250
    gone = next(row for row in found.rows if row.key == "a")
    assert (gone.count, gone.mean, gone.share) == (0, None, 0)
