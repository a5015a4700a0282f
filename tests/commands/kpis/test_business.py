"""Business KPIs (commands/kpis/business.py): the cost per contact and leads with their conversions."""

from __future__ import annotations

import pytest

from commands.kpis import business
from tests.commands.kpis.events import DAY, NOW, lead
from tests.storage.builders import at, inbound, reply


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
