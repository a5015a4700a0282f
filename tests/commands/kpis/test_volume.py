"""Volume and rate KPIs (commands/kpis/volume.py): conversations, messages, reply, resolution, transfer and
escalation rates, the channel mix."""

from __future__ import annotations

import pytest

from commands.kpis import backlog, business, team
from commands.kpis import volume as kpi
from tests.commands.kpis.events import DAY, NOW, escalation
from tests.storage.builders import assignment, inbound, reply, status


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
