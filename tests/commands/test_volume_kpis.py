"""Volume and productivity KPIs on small conversations ingested into a real SQLite file.

Times are minutes after 2026-11-20 09:00 UTC (T0); the asked period is [0, 1440) unless a test says
otherwise, and `now` is two days after T0 so later replies and resolutions are known.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from commands.business_hours import BusinessClock
from commands.kpis import backlog, business, team
from commands.kpis import volume as kpi
from commands.query import Query
from storage.settings import BusinessHours
from tests.storage.builders import T0, assignment, at, inbound, status

DAY = 1440
NOW = 2 * DAY


@pytest.fixture
def ask(engine, settings, source):
    """Computes one KPI function over [start, end) minutes, as asked at `now` minutes, from `source`."""

    def ask(fn, start=0, end=DAY, now=NOW, channels=(), agent=None, clock=None, **overrides):
        asked_with = settings.model_copy(update=overrides) if overrides else settings
        query = Query(
            _t(start), _t(end), tuple(channels), _t(now), asked_with, clock=clock, agent=agent, source=source
        )
        with engine.connect() as conn:
            return fn(conn, query)

    return ask


def _t(minutes: float):
    return T0 + timedelta(minutes=minutes)


def reply(eid, minutes, conv="tw-1", channel="twitter", agent="U1", name="Bo", kind="agent", **extra):
    return {
        "id": eid,
        "type": "message",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "direction": "outbound",
        "author": {"kind": kind, "id": agent, "name": name},
        "text": "on it",
        **extra,
    }


def escalation(eid, minutes, conv, to="phone", channel="twitter"):
    return {
        "id": eid,
        "type": "escalation",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "to_channel": to,
    }


def lead(eid, minutes, conv, converted=False, channel="twitter"):
    return {
        "id": eid,
        "type": "lead",
        "at": at(minutes),
        "conversation_id": conv,
        "channel": channel,
        "converted": converted,
    }


def test_volume_counts_opened_conversations_customer_messages_and_human_replies(feed, ask):
    feed(
        inbound("old", -100, conv="tw-0"),
        reply("old-r", 30, conv="tw-0"),  # a reply in the period to a conversation opened before it
        inbound("a1", 0),
        reply("bot", 2, kind="bot", agent="B1", name="Autoresponder"),
        inbound("a2", 5),
        reply("a3", 10),
        reply("note", 12, private=True),
        inbound("b1", 60, conv="fb-1", channel="facebook"),
        reply("b2", 70, conv="fb-1", channel="facebook"),
    )
    # opened in [0, 1440): tw-1, fb-1 -> 2; customer messages a1, a2, b1 -> 3;
    # human replies old-r, a3, b2 -> 3 (the bot reply and the private note are neither); 2 in 1 day -> 2.0
    assert ask(kpi.volume) == {"conversations": 2, "inbound": 3, "outbound": 3, "per_day": 2.0}
    assert ask(kpi.volume, channels=["facebook"]) == {
        "conversations": 1,
        "inbound": 1,
        "outbound": 1,
        "per_day": 1.0,
    }


def test_volume_by_agent_counts_owned_conversations_and_own_replies(feed, ask):
    feed(
        inbound("a1", 0),
        reply("a2", 10, agent="U1"),
        inbound("a3", 20),
        reply("a4", 30, agent="U2"),
        inbound("b1", 40, conv="tw-2"),
        reply("b2", 50, conv="tw-2", agent="U2"),
    )
    # tw-1 is U1's (first responder), tw-2 is U2's; U2 wrote a4 and b2; inbound in U2's tw-2: b1
    assert ask(kpi.volume, agent="U2") == {"conversations": 1, "inbound": 1, "outbound": 2, "per_day": 1.0}


def test_bot_reply_does_not_count_in_outbound_volume_or_reply_rate(feed, ask):
    feed(inbound("a1", 0), reply("bot", 1, kind="bot", agent="B1"))
    assert ask(kpi.volume)["outbound"] == 0
    # 0 of 1 conversations got a human reply: a real 0 %, not "no data"
    assert ask(kpi.reply_rate) == {"rate": 0.0, "replied": 0, "opened": 1}


def test_conversation_answered_in_next_period_counts_for_reply_rate_of_the_period_it_opened(feed, ask):
    feed(inbound("a1", DAY - 10), reply("a2", DAY + 10), inbound("b1", 100, conv="tw-2"))
    # period 1 opened tw-1 and tw-2; tw-1 was answered (in period 2) by now -> 1 of 2
    assert ask(kpi.reply_rate) == {"rate": 0.5, "replied": 1, "opened": 2}
    # asked before the reply was sent, it had not been answered yet
    assert ask(kpi.reply_rate, now=DAY + 5) == {"rate": 0.0, "replied": 0, "opened": 2}
    # period 2 opened nothing, so it has no reply rate even though a reply was sent in it
    assert ask(kpi.reply_rate, start=DAY, end=2 * DAY) == {"rate": None, "replied": 0, "opened": 0}


def test_resolution_rate_counts_conversations_resolved_as_of_now(feed, ask):
    feed(
        inbound("a1", 0, conv="done"),
        status("a2", 10, "resolved", conv="done"),
        inbound("b1", 20, conv="reopened"),
        status("b2", 30, "closed", conv="reopened"),
        inbound("b3", 40, conv="reopened"),  # the customer wrote again: open once more
        inbound("c1", 50, conv="open"),
        inbound("d1", 60, conv="later"),
        status("d2", DAY + 60, "resolved", conv="later"),
    )
    # opened 4; resolved now: done, later -> 2 / 4
    assert ask(kpi.resolution_rate) == {"rate": 0.5, "resolved": 2, "opened": 4}
    # asked before `later` was resolved: 1 / 4
    assert ask(kpi.resolution_rate, now=DAY) == {"rate": 0.25, "resolved": 1, "opened": 4}


def test_backlog_uses_each_channels_threshold_and_lists_oldest_first(feed, ask):
    feed(
        inbound("a", 0, conv="tw-old"),
        inbound("b", NOW - 120, conv="tw-new"),
        inbound("c", NOW - 150, conv="vb-1", channel="viber"),
        inbound("d", 10, conv="fb-done", channel="facebook"),
        status("e", 20, "resolved", conv="fb-done", channel="facebook"),
        inbound("f", 100, conv="fb-late", channel="facebook"),
        status("g", 2000, "resolved", conv="fb-late", channel="facebook"),
    )
    values = ask(backlog.backlog, start=DAY, end=NOW, backlog_thresholds={"viber": 3600.0})
    # open at 2880: tw-old (48 h > 24 h: over), vb-1 (2.5 h > viber's 1 h: over), tw-new (2 h < 24 h)
    assert values == {
        "over_threshold": 2,
        "open": 3,
        "oldest_age": 172800.0,
        "threshold": 86400.0,
        "oldest": [
            {"conversation_id": "tw-old", "channel": "twitter", "age": 172800.0},
            {"conversation_id": "vb-1", "channel": "viber", "age": 9000.0},
            {"conversation_id": "tw-new", "channel": "twitter", "age": 7200.0},
        ],
    }
    viber = ask(backlog.backlog, start=DAY, end=NOW, channels=["viber"], backlog_thresholds={"viber": 3600.0})
    assert (viber["open"], viber["over_threshold"], viber["threshold"]) == (1, 1, 3600.0)


def test_backlog_of_a_past_period_is_the_snapshot_at_its_end(feed, ask):
    feed(
        inbound("a", 0, conv="tw-old"),
        inbound("d", 10, conv="fb-done", channel="facebook"),
        status("e", 20, "resolved", conv="fb-done", channel="facebook"),
        inbound("f", 100, conv="fb-late", channel="facebook"),
        status("g", 2000, "resolved", conv="fb-late", channel="facebook"),
    )
    values = ask(backlog.backlog, start=0, end=DAY)
    # at 1440: tw-old open 24 h exactly (not over 24 h), fb-late open 22 h 20 min (resolved only later)
    assert (values["open"], values["over_threshold"], values["oldest_age"]) == (2, 0, 86400.0)
    assert [row["conversation_id"] for row in values["oldest"]] == ["tw-old", "fb-late"]
    # at 2880 fb-late is resolved and tw-old is 48 h old
    now = ask(backlog.backlog, start=DAY, end=NOW)
    assert (now["open"], now["over_threshold"]) == (1, 1)


def test_a_past_backlog_applies_each_channels_threshold_to_those_resolved_since(feed, ask):
    feed(
        inbound("a", DAY - 120, conv="vb-1", channel="viber"),
        status("b", DAY + 60, "resolved", conv="vb-1", channel="viber"),
        inbound("c", DAY - 120, conv="tw-1"),
        status("d", DAY + 60, "resolved", conv="tw-1"),
    )
    values = ask(backlog.backlog, start=0, end=DAY, backlog_thresholds={"viber": 3600.0})
    # at 1440 both had been open 2 h (resolved an hour later): over viber's 1 h, within twitter's 24 h
    assert (values["open"], values["over_threshold"], values["oldest_age"]) == (2, 1, 7200.0)
    assert sorted((row["conversation_id"], row["age"]) for row in values["oldest"]) == [
        ("tw-1", 7200.0),
        ("vb-1", 7200.0),
    ]


def test_backlog_lists_only_the_ten_oldest_and_is_zero_not_none_when_nothing_is_open(feed, ask):
    assert ask(backlog.backlog)["open"] == 0
    assert ask(backlog.backlog)["over_threshold"] == 0
    assert ask(backlog.backlog)["oldest_age"] is None
    feed(*[inbound(f"m{n}", n, conv=f"tw-{n}") for n in range(12)])
    values = ask(backlog.backlog)
    assert values["open"] == 12
    assert [row["conversation_id"] for row in values["oldest"]] == [f"tw-{n}" for n in range(10)]


def test_transfer_rate_is_over_conversations_resolved_in_the_period(feed, ask):
    feed(
        inbound("a1", 0, conv="moved"),
        assignment("a2", 1, conv="moved", agent="U1"),
        assignment("a3", 2, conv="moved", agent="U2"),
        status("a4", 100, "resolved", conv="moved"),
        inbound("b1", 0, conv="kept"),
        assignment("b2", 1, conv="kept", agent="U1"),
        status("b3", 200, "resolved", conv="kept"),
        inbound("c1", -500, conv="earlier"),
        assignment("c2", -499, conv="earlier", agent="U1"),
        assignment("c3", -498, conv="earlier", agent="U2"),
        status("c4", -100, "resolved", conv="earlier"),
        inbound("d1", 0, conv="reopened"),
        assignment("d2", 1, conv="reopened", agent="U1"),
        assignment("d3", 2, conv="reopened", agent="U2"),
        status("d4", 50, "resolved", conv="reopened"),
        status("d5", 60, "open", conv="reopened"),
    )
    # resolved in the period and still resolved: moved (transferred), kept -> 1 / 2
    assert ask(kpi.transfers) == {"rate": 0.5, "transferred": 1, "resolved": 2}
    assert ask(kpi.transfers, start=DAY, end=NOW) == {"rate": None, "transferred": 0, "resolved": 0}


def test_escalation_rate_is_over_conversations_opened_in_the_period(feed, ask):
    feed(
        inbound("a1", 0),
        escalation("a2", 30, "tw-1"),
        inbound("b1", 10, conv="tw-2"),
        inbound("c1", 20, conv="tw-3"),
        inbound("d1", 30, conv="tw-4"),
    )
    assert ask(kpi.escalations) == {"rate": 0.25, "escalated": 1, "opened": 4}


def test_channel_mix_shares_and_preferred_channel_respect_the_channel_filter(feed, ask):
    feed(
        *[inbound(f"f{n}", n, conv=f"fb-{n}", channel="facebook") for n in range(3)],
        inbound("t1", 5, conv="tw-1"),
    )
    assert ask(kpi.mix) == {"shares": {"facebook": 0.75, "twitter": 0.25}, "preferred": "facebook"}
    assert ask(kpi.mix, channels=["twitter"]) == {"shares": {"twitter": 1.0}, "preferred": "twitter"}


def test_team_report_per_agent_sorted_by_replies(feed, ask):
    feed(
        inbound("a1", 0, conv="c1"),
        reply("a2", 10, conv="c1", agent="U1"),
        reply("a3", 20, conv="c1", agent="U1"),
        reply("a4", 30, conv="c1", agent="U2", name="Cy"),
        status("a5", 40, "resolved", conv="c1"),
        inbound("b1", 100, conv="c2"),
        assignment("b2", 105, conv="c2", agent="U1"),
        reply("b3", 130, conv="c2", agent="U2", name="Cy"),
        status("b4", 140, "resolved", conv="c2"),
        inbound("c1", 200, conv="c3"),
        reply("c2", 201, conv="c3", kind="bot", agent="B1"),
        reply("c3", 260, conv="c3", agent="U1"),
    )
    # U1: replies a2, a3, c3 in c1 and c3; first responses c1 600 s, c3 3600 s -> mean 2100, max 3600;
    #     resolutions c1 (unassigned, U1 answered first) and c2 (assigned to U1) -> 2
    # U2: replies a4, b3 in c1 and c2; first response c2 1800 s; resolutions none
    u1 = {
        "agent": "U1",
        "name": "Bo",
        "conversations": 2,
        "replies": 3,
        "frt_mean": 2100.0,
        "frt_max": 3600.0,
    }
    u2 = {
        "agent": "U2",
        "name": "Cy",
        "conversations": 2,
        "replies": 2,
        "frt_mean": 1800.0,
        "frt_max": 1800.0,
    }
    assert ask(team.agents) == {"rows": [{**u1, "resolutions": 2}, {**u2, "resolutions": 0}]}
    assert ask(team.agents, agent="U2") == {"rows": [{**u2, "resolutions": 0}]}


def test_team_report_first_response_times_count_business_hours_when_asked(feed, ask):
    feed(inbound("a1", 30), reply("a2", 90))
    # T0 is Friday 09:00 UTC; open only 09:00-10:00 on Fridays: 09:30 -> 10:30 is 1 h, 30 min of it open
    clock = BusinessClock(BusinessHours(timezone="UTC", hours={"fri": ["09:00-10:00"]}))
    row = ask(team.agents, clock=clock)["rows"][0]
    assert (row["frt_mean"], row["frt_max"]) == (1800.0, 1800.0)
    assert ask(team.agents)["rows"][0]["frt_mean"] == 3600.0


def test_quick_replies_count_human_replies_per_template_most_used_first(feed, ask):
    feed(
        inbound("a1", 0),
        reply("a2", 1, quick_reply="tracking"),
        reply("a3", 2, quick_reply="apology"),
        reply("a4", 3, quick_reply="apology"),
        reply("a5", 4, kind="bot", agent="B1", quick_reply="apology"),
        reply("a6", 5),
        reply("a7", DAY + 1, quick_reply="tracking"),
    )
    assert ask(team.quick_replies) == {
        "rows": [{"id": "apology", "count": 2}, {"id": "tracking", "count": 1}]
    }


def _handled_conversations(feed):
    feed(
        *[
            e
            for n in range(3)
            for e in (inbound(f"t{n}", n, conv=f"tw-{n}"), reply(f"r{n}", 10 + n, conv=f"tw-{n}"))
        ],
        inbound("f1", 0, conv="fb-1", channel="facebook"),
        reply("f2", 20, conv="fb-1", channel="facebook"),
        inbound("u1", 30, conv="tw-unanswered"),
    )


def test_cost_per_contact_from_a_daily_support_cost(feed, ask):
    _handled_conversations(feed)
    # 100 a day over 2 days = 200, over 4 conversations given a human reply -> 50 each
    values = ask(business.cost, start=0, end=NOW, support_cost_per_day=100.0)
    assert values == {"per_contact": 50.0, "handled": 4, "total": 200.0}
    # the daily cost is the whole team's: facebook's share is its 1 of 4 conversations
    facebook = ask(business.cost, start=0, end=NOW, channels=["facebook"], support_cost_per_day=100.0)
    assert facebook == {"per_contact": 50.0, "handled": 1, "total": 50.0}


def test_cost_per_contact_from_hourly_agent_cost_and_handle_time(feed, ask):
    feed(
        inbound("a1", 0),
        reply("a2", 5, handle_seconds=600),
        reply("a3", 6, handle_seconds=1200),
        inbound("b1", 0, conv="tw-2"),
        reply("b2", 5, conv="tw-2"),
    )
    # 1800 s = 0.5 h at 30 an hour = 15, over 2 conversations handled -> 7.5
    assert ask(business.cost, hourly_agent_cost=30.0) == {"per_contact": 7.5, "handled": 2, "total": 15.0}


def test_cost_is_none_when_no_cost_is_configured_or_no_handle_time_was_recorded(feed, ask):
    _handled_conversations(feed)
    assert ask(business.cost) == {"per_contact": None, "handled": 4, "total": None}
    assert ask(business.cost, hourly_agent_cost=30.0) == {"per_contact": None, "handled": 4, "total": None}


def test_leads_per_day_and_conversions_by_now(feed, ask):
    feed(
        lead("l1", 10, "tw-1", converted=True),
        lead("l2", 20, "tw-2"),
        {
            "id": "x2",
            "type": "conversion",
            "at": at(DAY + 100),
            "conversation_id": "tw-2",
            "channel": "twitter",
        },
        lead("l3", 30, "tw-3"),
        lead("l4", DAY + 30, "tw-4"),
    )
    # period [0, 2880) -> 4 leads in 2 days = 2.0 a day; l1 and l2 converted -> 2 / 4
    assert ask(business.leads, start=0, end=NOW) == {
        "per_day": 2.0,
        "leads": 4,
        "conversions": 2,
        "conversion_rate": 0.5,
    }
    # asked before l2's conversion: leads l1-l3 in the first day, only l1 converted
    early = ask(business.leads, now=DAY + 50)
    assert (early["leads"], early["conversions"]) == (3, 1)
    assert early["conversion_rate"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (kpi.volume, {"conversations": 0, "inbound": 0, "outbound": 0, "per_day": None}),
        (kpi.reply_rate, {"rate": None, "replied": 0, "opened": 0}),
        (kpi.resolution_rate, {"rate": None, "resolved": 0, "opened": 0}),
        (kpi.transfers, {"rate": None, "transferred": 0, "resolved": 0}),
        (kpi.escalations, {"rate": None, "escalated": 0, "opened": 0}),
        (kpi.mix, {"shares": {}, "preferred": None}),
        (team.agents, {"rows": []}),
        (team.quick_replies, {"rows": []}),
        # the day's support cost (100) was still spent; there is just no contact to divide it by
        (business.cost, {"per_contact": None, "handled": 0, "total": 100.0}),
        (business.leads, {"per_day": None, "leads": 0, "conversions": 0, "conversion_rate": None}),
    ],
)
def test_empty_period_gives_none_rates_and_zero_counts(feed, ask, fn, expected):
    feed(inbound("a1", -100), reply("a2", -90), status("a3", -80, "resolved"))
    assert ask(fn, support_cost_per_day=100.0) == expected


def test_period_reaching_past_now_counts_only_up_to_now(feed, ask):
    feed(inbound("a1", 0), inbound("b1", 60, conv="tw-2"))
    # asked at minute 720 about [0, 1440): half a day has passed, 2 conversations -> 4 a day;
    # tw-2 is not known yet when asked at minute 30
    assert ask(kpi.volume, now=720)["per_day"] == 4.0
    assert ask(kpi.volume, now=30)["conversations"] == 1


def test_every_volume_kpi_is_described_for_the_engine():
    keys = [spec.key for module in (kpi, backlog, team, business) for spec in module.SPECS]
    keys.insert(3, keys.pop(keys.index("backlog")))  # listed after the rates
    assert keys == [
        "volume",
        "reply-rate",
        "resolution-rate",
        "backlog",
        "transfers",
        "escalations",
        "mix",
        "agents",
        "quick-replies",
        "cost",
        "leads",
    ]
    better = {spec.key: spec.better for module in (kpi, backlog) for spec in module.SPECS}
    assert better["reply-rate"] == "higher" and better["backlog"] == "lower" and better["volume"] is None
