"""Team reports (commands/kpis/team.py): the agents' activity and the quick replies they use."""

from __future__ import annotations

from commands.kpis import team
from storage.business_hours import BusinessClock
from storage.settings import BusinessHours
from tests.commands.kpis.events import DAY
from tests.storage.builders import assignment, inbound, reply, status


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


def test_agent_names_are_those_of_the_team_report_and_unnamed_agents_are_left_out(feed, ask):
    feed(
        inbound("a1", 0, conv="c1"),
        reply("a2", 10, conv="c1", agent="U1", name="Maya"),
        inbound("b1", 20, conv="c2", channel="facebook"),
        reply("b2", 30, conv="c2", channel="facebook", agent="U2", name="Tom"),
        inbound("c1", 40, conv="c3"),
        reply("c2", 50, conv="c3", agent="U3", name=None),
    )
    assert ask(team.agent_names) == {"U1": "Maya", "U2": "Tom"}
    assert ask(team.agent_names, channels=("facebook",)) == {"U2": "Tom"}


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
