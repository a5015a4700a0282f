"""The conversations behind a number (commands/drill.py): hand-built conversations fed through real
ingestion, asked about over [0, DAY) minutes after T0 (2026-11-20 09:00 UTC) at NOW (two days after T0).
Ages are NOW - opened: a conversation opened at minute m is (2880 - m) x 60 seconds old."""

from __future__ import annotations

import pytest

from commands.drill import DRILLS, NO_LIST, DrillList, DrillRow, conversations_behind, has_list
from commands.errors import UsageError
from commands.parse import KpiRequest
from commands.periods import Period
from commands.render_drill import drill_button, drill_message, drill_request
from commands.result import KpiResult
from storage.service_levels import ensure_stamped
from tests.commands.kpis.events import DAY, NOW, escalation, t
from tests.storage.builders import assignment, at, inbound, reply, status

LINK = "https://inbox.example/conversations/tw-2"


def age(opened: float) -> float:
    return (NOW - opened) * 60.0


def behind(engine, settings, metric, channels=(), start=0, end=DAY, now=NOW, limit=10):
    """The list behind `metric` over [start, end) as of `now`, as (conversation, figure, note) rows."""
    request = KpiRequest(metric, tuple(channels), Period(t(start), t(end)), "")
    with engine.connect() as conn:
        return conversations_behind(conn, request, settings, t(now), limit)


def rows(drill) -> list[tuple]:
    return [(r.conversation_id, r.figure, r.note) for r in drill.rows]


def survey(eid, minutes, kind, score, conv=None, channel="twitter") -> dict:
    event = {"id": eid, "type": "survey", "at": at(minutes), "channel": channel, "kind": kind, "score": score}
    return {**event, "conversation_id": conv} if conv else event


@pytest.fixture
def first_responses(feed):
    feed(
        {**inbound("a1", 0, conv="tw-1"), "link": "javascript:alert(1)"},
        reply("a2", 30, conv="tw-1"),  # FRT 30 min = 1800 s
        {**inbound("b1", 10, conv="tw-2"), "link": LINK},
        assignment("b2", 11, conv="tw-2", agent="U9"),
        reply("b3", 130, conv="tw-2"),  # 120 min = 7200 s, owner U9 (assigned) though U1 replied
        inbound("c1", 20, conv="tw-3"),
        reply("c2", 25, conv="tw-3"),  # 300 s
        inbound("d1", 5, conv="fb-1", channel="facebook"),
        reply("d2", 605, conv="fb-1", channel="facebook"),  # 36000 s, on facebook
        inbound("e1", 100, conv="tw-4"),  # never answered: still waiting at NOW
        inbound("f1", -100, conv="tw-5"),
        reply("f2", 50, conv="tw-5"),  # opened the day before, answered in the period: 150 min = 9000 s
        inbound("g1", 1000, conv="tw-6"),
        reply("g2", 1500, conv="tw-6"),  # answered after the period: not behind this period's FRT
    )


def test_frt_lists_slowest_first_responses_of_the_period_and_those_still_waiting(
    engine, settings, first_responses
):
    drill = behind(engine, settings, "frt", ["twitter"])

    # tw-4 has waited 2780 min = 166800 s for a first reply; tw-5's reply is in the period though it
    # opened before; tw-6 was answered after the period; fb-1 is facebook's
    assert rows(drill) == [
        ("tw-4", 166800.0, "still waiting"),
        ("tw-5", 9000.0, None),
        ("tw-2", 7200.0, None),
        ("tw-1", 1800.0, None),
        ("tw-3", 300.0, None),
    ]
    tw2 = drill.rows[2]
    assert (tw2.channel, tw2.agent, tw2.link, tw2.age) == ("twitter", "U9", LINK, age(10))
    assert (drill.rows[3].agent, drill.rows[3].link) == ("U1", "javascript:alert(1)")  # rendered inert
    assert drill.rows[1].age == age(-100) and drill.rows[0].agent is None
    assert (drill.figure, drill.unit) == ("First response", "seconds")


def test_bands_list_is_frt_s_across_every_channel_cut_at_the_limit(engine, settings, first_responses):
    drill = behind(engine, settings, "bands", limit=3)

    assert rows(drill) == [
        ("tw-4", 166800.0, "still waiting"),
        ("fb-1", 36000.0, None),
        ("tw-5", 9000.0, None),
    ]


def test_wait_lists_the_longest_wait_of_each_conversation_ended_in_the_period(engine, settings, feed):
    feed(
        inbound("a1", 0, conv="a"),
        reply("a2", 10, conv="a"),  # first wait 600 s
        inbound("a3", 60, conv="a"),
        reply("a4", 300, conv="a"),  # next wait 240 min = 14400 s: a's longest
        inbound("b1", 0, conv="b"),
        reply("b2", 120, conv="b"),  # 7200 s
        inbound("c1", 1400, conv="c"),
        reply("c2", 1500, conv="c"),  # ended after the period
        inbound("d1", 100, conv="d"),  # still waiting: a wait with no length
    )

    assert rows(behind(engine, settings, "wait")) == [("a", 14400.0, None), ("b", 7200.0, None)]


def test_art_lists_slowest_resolutions_resolved_in_the_period(engine, settings, feed):
    feed(
        inbound("a1", 0, conv="a"),
        status("a2", 600, "resolved", conv="a"),  # 36000 s
        inbound("b1", -600, conv="b"),
        status("b2", 60, "resolved", conv="b"),  # opened the day before: 660 min = 39600 s
        inbound("c1", 10, conv="c"),
        status("c2", 70, "resolved", conv="c"),  # 3600 s
        inbound("d1", 20, conv="d"),
        status("d2", DAY + 10, "resolved", conv="d"),  # resolved the next day
        inbound("e1", 30, conv="e"),  # still open
    )

    assert rows(behind(engine, settings, "art")) == [
        ("b", 39600.0, None),
        ("a", 36000.0, None),
        ("c", 3600.0, None),
    ]


def test_reopens_lists_conversations_reopened_in_the_period_latest_first(engine, settings, feed):
    feed(
        inbound("a1", 0, conv="a"),
        status("a2", 10, "resolved", conv="a"),
        inbound("a3", 100, conv="a"),  # reopened at 100, 90 min = 5400 s after its resolution
        inbound("e1", -300, conv="e"),
        status("e2", -200, "resolved", conv="e"),
        inbound("e3", 50, conv="e"),  # reopened at 50, 250 min = 15000 s after
        inbound("c1", 6, conv="c"),
        status("c2", 30, "resolved", conv="c"),
        status("c3", DAY + 60, "open", conv="c"),  # reopened the next day
        inbound("b1", 5, conv="b"),
        status("b2", 20, "closed", conv="b"),  # stays resolved
    )

    assert rows(behind(engine, settings, "reopens")) == [("a", 5400.0, None), ("e", 15000.0, None)]


def test_backlog_lists_the_oldest_open_conversations(engine, settings, feed):
    feed(
        inbound("a1", 300, conv="a"),
        inbound("b1", -500, conv="b"),  # opened before the period: still in the backlog
        inbound("c1", 100, conv="c"),
        status("c2", 200, "resolved", conv="c"),  # closed
        inbound("d1", 50, conv="d", channel="facebook"),
    )

    drill = behind(engine, settings, "backlog", ["twitter"])

    assert [(r.conversation_id, r.age, r.figure) for r in drill.rows] == [
        ("b", age(-500), None),
        ("a", age(300), None),
    ]


def test_backlog_of_a_past_instant_lists_those_open_then(engine, settings, feed):
    feed(
        inbound("a1", 0, conv="a"),
        status("a2", DAY + 100, "resolved", conv="a"),  # open at the end of day 1, resolved the next day
        inbound("b1", 10, conv="b"),
        status("b2", 20, "resolved", conv="b"),
        inbound("c1", 30, conv="c"),
    )

    assert [r.conversation_id for r in behind(engine, settings, "backlog").rows] == ["a", "c"]


def test_sla_lists_the_answer_s_worst_breaches(engine, settings, feed):
    twitter = {"twitter": {"first": "1h", "next": "4h", "resolve": "24h"}}
    asked = settings.model_copy(update={"sla": twitter})
    feed(
        inbound("a1", 0, conv="A"), reply("a2", 60, conv="A"), status("a3", 100, "resolved", conv="A"),
        {**inbound("b1", 10, conv="B"), "link": LINK}, reply("b2", 200, conv="B"),
        inbound("c1", 1400, conv="C"),
        inbound("d1", -100, conv="D"), reply("d2", 10, conv="D"),
    )  # fmt: skip
    ensure_stamped(engine, asked)

    drill = behind(engine, asked, "sla", ["twitter"])

    # as tests/commands/kpis/test_service.py works out: B's first reply 130 min past its deadline (the
    # clock 190 min old when it ended); D's resolution still open, 100 min past its deadline at the end
    # of the period (1540 min old then); C's deadline (1460) is after the period
    assert [(r.conversation_id, r.figure, r.age, r.note) for r in drill.rows] == [
        ("B", 7800.0, 11400.0, "First response, ended late"),
        ("D", 6000.0, 92400.0, "Resolution, still open"),
    ]
    assert (drill.rows[0].agent, drill.rows[0].link, drill.figure) == ("U1", LINK, "Past deadline")


def test_volume_and_reply_rate_list_the_period_s_unanswered_conversations_oldest_first(
    engine, settings, feed
):
    feed(
        inbound("a1", 100, conv="a"),  # unanswered, open
        inbound("b1", 50, conv="b"),
        status("b2", 60, "closed", conv="b"),  # closed without a reply: not replied either
        inbound("c1", 10, conv="c"),
        reply("c2", 20, conv="c"),  # replied
        inbound("d1", 30, conv="d"),
        reply("d2", DAY + 30, conv="d"),  # replied after the period, before NOW: replied
        inbound("e1", -100, conv="e"),  # opened before the period
    )

    assert [r.conversation_id for r in behind(engine, settings, "volume").rows] == ["b", "a"]
    assert [r.conversation_id for r in behind(engine, settings, "reply-rate").rows] == ["b", "a"]
    # asked at DAY + 10, d was not answered yet
    assert [r.conversation_id for r in behind(engine, settings, "reply-rate", now=DAY + 10).rows] == [
        "d",
        "b",
        "a",
    ]


def test_resolution_rate_escalations_and_transfers_list_who_missed_the_outcome(engine, settings, feed):
    feed(
        inbound("a1", 0, conv="a"),
        status("a2", 100, "resolved", conv="a"),
        inbound("b1", 10, conv="b"),
        escalation("b2", 20, "b", to="phone"),
        inbound("c1", 20, conv="c"),
        assignment("c2", 30, conv="c", agent="U1"),
        assignment("c3", 40, conv="c", agent="U2"),
        status("c4", 200, "resolved", conv="c"),
        inbound("d1", 30, conv="d"),
        escalation("d2", DAY + 100, "d", to="email"),  # escalated the next day, before NOW
    )

    assert [r.conversation_id for r in behind(engine, settings, "resolution-rate").rows] == ["b", "d"]
    assert rows(behind(engine, settings, "escalations")) == [("b", None, "to phone"), ("d", None, "to email")]
    assert rows(behind(engine, settings, "escalations", now=DAY)) == [("b", None, "to phone")]
    assert rows(behind(engine, settings, "transfers")) == [("c", 1, None)]


def test_survey_lists_show_the_worst_answers_first(engine, settings, feed):
    feed(
        inbound("a1", 0, conv="a"),
        inbound("b1", 0, conv="b"),
        inbound("c1", 0, conv="c"),
        survey("v1", 100, "csat", 4, conv="a"),
        survey("v2", 110, "csat", 1, conv="b"),
        survey("v3", 120, "csat", 2, conv="c"),
        survey("v4", 130, "csat", 1),  # tied to no conversation: not listed
        survey("v5", -100, "csat", 1, conv="a"),  # answered before the period
        survey("n1", 100, "nps", 9, conv="a"),
        survey("n2", 110, "nps", 3, conv="b"),
        survey("e1", 100, "ces", 2, conv="a"),
        survey("e2", 110, "ces", 6, conv="c"),  # high effort: worst
    )

    assert rows(behind(engine, settings, "csat")) == [("b", 1.0, None), ("c", 2.0, None), ("a", 4.0, None)]
    assert rows(behind(engine, settings, "nps")) == [("b", 3.0, None), ("a", 9.0, None)]
    assert rows(behind(engine, settings, "ces")) == [("c", 6.0, None), ("a", 2.0, None)]


def test_sentiment_lists_the_conversations_of_the_most_negative_messages(engine, settings, feed):
    feed(
        inbound("m1", 40, conv="m", text="My parcel is two weeks late, this is awful"),  # -1.0
        inbound("p1", 10, conv="p", text="I love it"),  # positive: not listed
        inbound("d1", 20, conv="d", text="the deliveries are late"),  # negative, milder
    )

    drill = behind(engine, settings, "sentiment")

    assert [r.conversation_id for r in drill.rows] == ["m", "d"]
    assert drill.rows[0].figure == -1.0 and -1.0 < drill.rows[1].figure < -0.1


def test_topics_lists_the_conversations_of_the_top_topic_latest_first(engine, settings, feed):
    feed(
        inbound("d1", 10, conv="d1", text="my parcels never arrived, terrible"),  # delivery
        inbound("d2", 20, conv="d2", text="where is my parcel?"),  # delivery
        inbound("r1", 30, conv="r1", text="I want a refund"),  # refund
        inbound("d3", 40, conv="d1", text="where is my parcel?"),  # delivery again, in d1
    )

    assert rows(behind(engine, settings, "topics")) == [("d1", None, "delivery"), ("d2", None, "delivery")]


def test_empty_period_has_no_conversations_behind(engine, settings):
    for metric in DRILLS:
        assert behind(engine, settings, metric).rows == [], metric


@pytest.mark.parametrize("metric", ["mix", "agents", "cost", "voice", "aht", "scorecard", "repeat"])
def test_metrics_without_conversations_have_no_list(engine, settings, metric):
    assert not has_list(metric)
    with pytest.raises(UsageError, match=NO_LIST):
        behind(engine, settings, metric)


def test_slack_list_escapes_what_events_wrote_and_links_only_web_urls():
    tricky = [
        DrillRow("<!channel>", "twitter", 60.0, "*U1* <@U2>", 90.0, "<https://evil.example|click>", "a & b"),
        DrillRow("tw-2", "twitter", 7200.0, None, 3600.0, "javascript:alert(1)"),
        DrillRow("tw-3", "twitter", 86400.0, "U3", None, "https://inbox.example/c?id=1|x>y"),
    ]
    drill = DrillList(
        "frt", ("twitter",), Period(t(0), t(DAY), name="today"), "Slowest", "FRT", "seconds", tricky
    )

    texts = [block["text"]["text"] for block in drill_message(drill)["blocks"] if block["type"] == "section"]

    assert texts == [
        "*&lt;!channel&gt;* · twitter · 1m old · *U1* &lt;@U2&gt;\nFRT: *1m 30s* · _a &amp; b_",
        "*tw-2* · twitter · 2h old · no agent\nFRT: *1h*",
        "*tw-3* · twitter · 1d old · U3\nFRT: *—* · <https://inbox.example/c?id=1%7Cx%3Ey|open>",
    ]


def test_the_button_carries_the_exact_period_and_reads_back_as_the_same_question(settings):
    period = Period(t(0), t(DAY), name="today")
    result = KpiResult("frt", ("twitter",), False, period, period.previous(), {}, {})

    request = drill_request(drill_button(result)["value"], settings)

    assert (request.metric, request.channels, request.period, request.period.label) == (
        "frt",
        ("twitter",),
        period,
        "today",
    )
    assert drill_button(KpiResult("mix", (), False, period, period.previous(), {}, {})) is None
