"""Customers coming back (commands/kpis/recontact.py): the reopen rate and "stayed resolved", repeat
contacts within 72 hours and channel hops. Hand-computed, from the cache and from the tables."""

from __future__ import annotations

from sqlalchemy import text

from commands.kpis import recontact as kpi
from tests.commands.kpis.events import DAY, NOW
from tests.storage.builders import at, inbound, reply, status


def customer(eid: str, minutes: float, who: str, change: str = "active", channel: str = "twitter") -> dict:
    return {
        "id": eid,
        "type": "customer",
        "at": at(minutes),
        "customer_id": who,
        "change": change,
        "channel": channel,
    }


def test_reopens_counts_resolved_and_reopened_conversations_by_when_it_happened(feed, ask):
    feed(
        # a: resolved at 10, reopened by the customer at 100 (90 min later), resolved again at 200
        inbound("a1", 0, conv="a"),
        status("a2", 10, "resolved", conv="a"),
        inbound("a3", 100, conv="a"),
        status("a4", 200, "resolved", conv="a"),
        # b: resolved at 20, stays resolved
        inbound("b1", 5, conv="b"),
        status("b2", 20, "closed", conv="b"),
        # c: resolved at 30, reopened by an `open` status the next day (DAY + 60)
        inbound("c1", 6, conv="c"),
        status("c2", 30, "resolved", conv="c"),
        status("c3", DAY + 60, "open", conv="c"),
        # d: opened, never resolved
        inbound("d1", 7, conv="d"),
        # e: resolved before the period, reopened in it (at 50)
        inbound("e1", -300, conv="e"),
        status("e2", -200, "resolved", conv="e"),
        inbound("e3", 50, conv="e"),
    )
    # day 1 [0, DAY): resolved a (twice: one conversation), b, c -> 3; reopened in it: a (100), e (50) -> 2
    # undone within 7 days, of a resolution in the period: a (at 10, reopened at 100), c (at 30, reopened
    # at DAY + 60, before now = 2 days) -> 2; stayed resolved: b -> 1 of 3
    assert ask(kpi.reopens) == {"rate": 2 / 3, "resolved": 3, "reopened": 2, "stayed_resolved": 1 / 3}
    # asked before c was reopened (now = DAY + 30): c has stayed resolved so far; reopened still a, e
    assert ask(kpi.reopens, now=DAY + 30) == {
        "rate": 2 / 3,
        "resolved": 3,
        "reopened": 2,
        "stayed_resolved": 2 / 3,
    }
    # day 2: nothing resolved (c's reopening counts, but no resolution): no rate
    assert ask(kpi.reopens, start=DAY, end=2 * DAY) == {
        "rate": None,
        "resolved": 0,
        "reopened": 1,
        "stayed_resolved": None,
    }


def test_a_reopening_more_than_7_days_after_the_resolution_leaves_it_stayed_resolved(feed, ask):
    week = 7 * DAY
    feed(
        inbound("a1", 0, conv="a"),
        status("a2", 60, "resolved", conv="a"),
        inbound("a3", 60 + week + 1, conv="a"),  # one minute past 7 days
        inbound("b1", 0, conv="b"),
        status("b2", 90, "resolved", conv="b"),
        inbound("b3", 90 + week, conv="b"),  # exactly 7 days: within the window
    )
    now = 9 * DAY
    assert ask(kpi.reopens, now=now) == {"rate": 0.0, "resolved": 2, "reopened": 0, "stayed_resolved": 0.5}


def test_reopens_by_channel_and_by_agent(feed, ask):
    feed(
        inbound("a1", 0, conv="a"),
        reply("a2", 5, conv="a", agent="U1"),
        status("a3", 10, "resolved", conv="a"),
        inbound("a4", 20, conv="a"),
        inbound("f1", 0, conv="f", channel="facebook"),
        reply("f2", 5, conv="f", channel="facebook", agent="U2"),
        status("f3", 10, "resolved", conv="f", channel="facebook"),
    )
    assert ask(kpi.reopens, channels=["facebook"]) == {
        "rate": 0.0,
        "resolved": 1,
        "reopened": 0,
        "stayed_resolved": 1.0,
    }
    assert ask(kpi.reopens, agent="U1") == {"rate": 1.0, "resolved": 1, "reopened": 1, "stayed_resolved": 0.0}


def test_repeat_counts_customers_who_came_back_within_72_hours(feed, ask):
    hour = 60
    feed(
        # @ana: twitter at 0, again on twitter 71 h later -> a repeat
        inbound("a1", 0, conv="tw-a1", handle="@ana"),
        inbound("a2", 71 * hour, conv="tw-a2", handle="@ana"),
        # @bob: twitter at 10, again 73 h later -> not a repeat
        inbound("b1", 10, conv="tw-b1", handle="@bob"),
        inbound("b2", 10 + 73 * hour, conv="tw-b2", handle="@bob"),
        # @cy: twitter at 20, then facebook 1 h later, unlinked -> two customers, no repeat
        inbound("c1", 20, conv="tw-c1", handle="@cy"),
        inbound("c2", 80, conv="fb-c2", channel="facebook", handle="@cy"),
        # @dee: linked by a customer event -> twitter at 30, whatsapp at 90: a repeat and a hop
        customer("k1", -500, "@dee"),
        inbound("d1", 30, conv="tw-d1", handle="@dee"),
        inbound("d2", 90, conv="wa-d2", channel="whatsapp", handle="@dee"),
    )
    now = 5 * DAY
    # customers with a conversation in day 1: (tw,@ana), (tw,@bob), (tw,@cy), (fb,@cy), @dee -> 5;
    # repeats: @ana (71 h), @dee (1 h, twitter > whatsapp) -> 2
    assert ask(kpi.repeat, now=now) == {
        "rate": 2 / 5,
        "customers": 5,
        "repeat_customers": 2,
        "hops": {"twitter>whatsapp": 1},
    }
    # twitter only: @ana, @bob, @cy, @dee opened there; @dee's next contact on whatsapp still counts
    assert ask(kpi.repeat, now=now, channels=["twitter"]) == {
        "rate": 2 / 4,
        "customers": 4,
        "repeat_customers": 2,
        "hops": {"twitter>whatsapp": 1},
    }
    # asked an hour in: @dee's second contact is known, @ana's is not yet
    assert ask(kpi.repeat, now=91)["repeat_customers"] == 1


def test_a_customer_event_after_the_contacts_were_cached_joins_their_channels(feed, ask, engine, source):
    # Who opened what when is cached per day; whether `customer` events name a customer is looked up when
    # asked, so an event naming @cy after the first answer makes their two channels one customer.
    feed(
        inbound("c1", 20, conv="tw-c1", handle="@cy"),
        inbound("c2", 80, conv="fb-c2", channel="facebook", handle="@cy"),
    )
    now = 5 * DAY
    assert ask(kpi.repeat, now=now) == {"rate": 0.0, "customers": 2, "repeat_customers": 0, "hops": {}}
    with engine.connect() as conn:
        cached = conn.execute(text("SELECT count(*) FROM kpi_slot WHERE measure = 'contacts'")).scalar_one()
    assert (cached > 0) == (source == "auto")

    feed(customer("k1", 200, "@cy"))

    assert ask(kpi.repeat, now=now) == {
        "rate": 1.0,
        "customers": 1,
        "repeat_customers": 1,
        "hops": {"twitter>facebook": 1},
    }


def test_repeat_with_nobody_is_no_data(feed, ask):
    feed(inbound("a1", -100, conv="tw-a1"))
    assert ask(kpi.repeat) == {"rate": None, "customers": 0, "repeat_customers": 0, "hops": {}}
    assert NOW == 2 * DAY


def test_a_days_cached_contacts_are_in_customer_order(feed, engine):
    # six conversations of three customers fed in time order; the day's row sorts them by the
    # handle-and-channel hash, then each customer's by time (20 and 30 minutes apart)
    import numpy as np

    from storage.kpi_cache import contacts
    from storage.kpi_cache.slots import Slot
    from storage.kpi_cache.store import Batch
    from tests.storage.builders import T0

    handles = ["@zed", "@amy", "@zed", "@kim", "@amy", "@zed"]
    feed(*[inbound(f"m{n}", 10 * n, conv=f"c{n}", handle=handle) for n, handle in enumerate(handles)])
    with engine.connect() as conn:
        row = contacts.compute_day(conn, Slot(T0.date()), Batch())[contacts.EVERY]
    found = contacts._unpacked(row.values)

    assert len(found.at) == 6
    assert np.all(np.diff(found.alone) >= 0)
    same = found.alone[1:] == found.alone[:-1]
    minute = 60 * 10**6
    assert sorted(np.diff(found.at)[same].tolist()) == [20 * minute, 30 * minute, 30 * minute]
