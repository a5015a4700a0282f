"""Service levels (commands/kpis/service.py): met, breached, pending and the worst breaches, by event time,
per channel policy, in calendar time and in business hours; hand-computed."""

from __future__ import annotations

from datetime import date

from commands.kpis import service
from storage.business_hours import BusinessClock
from storage.service_levels import ensure_stamped
from storage.settings import BusinessHours
from tests.commands.kpis.events import DAY
from tests.storage.builders import inbound, reply, status

TWITTER = {"twitter": {"first": "1h", "next": "4h", "resolve": "24h"}}


def configure(engine, settings, **overrides) -> None:
    """The YAML edited and the bot started again: the clocks stored are stamped with the new policies."""
    ensure_stamped(engine, settings.model_copy(update=overrides))


def test_met_counts_when_met_and_a_breach_at_its_deadline_with_the_worst_breaches_listed(
    feed, ask, engine, settings
):
    feed(
        inbound("a1", 0, conv="A"), reply("a2", 60, conv="A"), status("a3", 100, "resolved", conv="A"),
        inbound("b1", 10, conv="B"), reply("b2", 200, conv="B"), inbound("b3", 300, conv="B"),
        reply("b4", 400, conv="B"),
        inbound("c1", 1400, conv="C"),
        inbound("d1", -100, conv="D"), reply("d2", 10, conv="D"),
    )  # fmt: skip
    configure(engine, settings, sla=TWITTER)
    values = ask(service.sla, channels=["twitter"], sla=TWITTER)
    # first (1 h): A answered exactly at its deadline (met, at 60); B's deadline 70 passed before its reply
    # at 200 (breached at 70); D's deadline -40 is before the period; C's (1460) after it: pending at 1440
    assert values["first_response"] == {
        "met": 1,
        "breached": 1,
        "pending": 1,
        "hit_rate": 0.5,
        "target": 3600.0,
    }
    assert values["next_response"] == {
        "met": 1,
        "breached": 0,
        "pending": 0,
        "hit_rate": 1.0,
        "target": 14400.0,
    }
    # resolution (24 h): A in 100 min (met); D open since -100, deadline 1340 (breached); B and C pending
    assert values["resolution"] == {"met": 1, "breached": 1, "pending": 2, "hit_rate": 0.5, "target": 86400.0}
    assert values["hit_rate"] == 0.5
    assert [
        (b["conversation_id"], b["target"], b["late"], b["age"], b["status"]) for b in values["breaches"]
    ] == [
        ("B", "First response", 130 * 60.0, 190 * 60.0, "ended late"),
        ("D", "Resolution", 100 * 60.0, 1540 * 60.0, "still open"),
    ]
    # the next day: B's breach stays in the first day; D's reply is not met (110 min > 1 h) anywhere
    later = ask(service.sla, start=DAY, end=2 * DAY, channels=["twitter"], sla=TWITTER)
    assert later["first_response"]["met"] == 0 and later["first_response"]["breached"] == 1  # C, at 1460


def test_a_reopen_starts_a_new_resolution_clock_at_the_reopening_message(feed, ask, engine, settings):
    feed(
        inbound("e1", 500, conv="E"), status("e2", 600, "resolved", conv="E"),
        inbound("e3", 700, conv="E"), status("e4", 900, "resolved", conv="E"),
    )  # fmt: skip
    policy = {"twitter": {"resolve": "2h"}}
    configure(engine, settings, sla=policy)
    values = ask(service.sla, channels=["twitter"], sla=policy)
    # 500 -> 600: 100 min, met; 700 -> 900: 200 min, breached at 820 (from 500 it would have been 620)
    assert values["resolution"] == {"met": 1, "breached": 1, "pending": 0, "hit_rate": 0.5, "target": 7200.0}
    assert "first_response" not in values and "next_response" not in values and values["hit_rate"] is None
    assert values["breaches"][0]["late"] == 80 * 60.0


def test_business_hours_deadlines_skip_a_closed_weekend_and_a_holiday(feed, ask, engine, settings):
    hours = BusinessHours(
        timezone="UTC",
        hours={day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        holidays=[date(2026, 11, 23)],  # the Monday
    )
    # T0 is Friday 2026-11-20 09:00 UTC: F writes at 17:00, G at 17:30; 2 business hours end on Tuesday
    # (Monday is a holiday) at 10:00 for F and 10:30 for G. F is answered Tue 09:30 (met), G at 11:00.
    tuesday = 4 * DAY
    feed(
        inbound("f1", 480, conv="F"), reply("f2", tuesday + 30, conv="F"),
        inbound("g1", 510, conv="G"), reply("g2", tuesday + 120, conv="G"),
    )  # fmt: skip
    policy = {"twitter": {"first": "2h", "business_hours": True}}
    configure(engine, settings, sla=policy, business_hours=hours)
    clock = BusinessClock(hours)
    values = ask(service.sla, 0, 6 * DAY, 7 * DAY, ["twitter"], clock=clock, sla=policy, business_hours=hours)
    assert values["first_response"] == {
        "met": 1,
        "breached": 1,
        "pending": 0,
        "hit_rate": 0.5,
        "target": 7200.0,
    }
    assert [(b["conversation_id"], b["late"]) for b in values["breaches"]] == [("G", 1800.0)]
    # by Monday's end nothing was due yet: both pending
    monday = ask(service.sla, 0, 4 * DAY, 7 * DAY, ["twitter"], sla=policy, business_hours=hours)
    assert monday["first_response"] == {
        "met": 0,
        "breached": 0,
        "pending": 2,
        "hit_rate": None,
        "target": 7200.0,
    }


def test_each_channel_counts_against_its_own_policy(feed, ask, engine, settings):
    feed(
        inbound("a1", 0, conv="tw"), reply("a2", 90, conv="tw"),  # 90 min: breaches twitter's 1 h
        inbound("b1", 0, conv="vb", channel="viber"), reply("b2", 90, conv="vb", channel="viber"),
    )  # fmt: skip
    policy = {"twitter": {"first": "1h"}, "default": {"first": "2h"}}
    configure(engine, settings, sla=policy)
    values = ask(service.sla, channels=["twitter", "viber"], sla=policy)
    assert values["first_response"] == {
        "met": 1,
        "breached": 1,
        "pending": 0,
        "hit_rate": 0.5,
        "target": None,
    }


def test_by_agent_each_counts_the_clocks_of_the_conversations_they_own(feed, ask, engine, settings):
    feed(
        inbound("a1", 0, conv="A"), reply("a2", 30, conv="A", agent="U1"),  # met (1 h), U1's
        inbound("b1", 0, conv="B"), reply("b2", 90, conv="B", agent="U2"),  # breached at 60, U2's
        inbound("c1", 0, conv="C", handle="@c"), reply("c2", 120, conv="C", agent="U1"),  # breached, U1's
    )  # fmt: skip
    configure(engine, settings, sla={"twitter": {"first": "1h"}})
    mine = ask(service.sla, channels=["twitter"], agent="U1", sla={"twitter": {"first": "1h"}})
    theirs = ask(service.sla, channels=["twitter"], agent="U2", sla={"twitter": {"first": "1h"}})

    assert (mine["first_response"]["met"], mine["first_response"]["breached"]) == (1, 1)
    assert (theirs["first_response"]["met"], theirs["first_response"]["breached"]) == (0, 1)
    assert [b["conversation_id"] for b in mine["breaches"]] == ["C"]
