"""SLA risk (commands/sla_risk.py): queue positions, the team's pace and the lead time decide which running
clocks are at risk; hand-computed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from commands.sla_risk import at_risk, risk_line, risk_message
from storage.db import make_engine
from storage.ingest import Ingestor
from storage.models import SlaClaim
from storage.settings import Settings
from tests.storage.builders import T0, inbound, reply

POLICY = {"twitter": {"first": "1h", "next": "1h", "resolve": "10d"}}


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def feed(engine, settings, *events):
    result = Ingestor(engine, settings, analyse_text=False).ingest(
        [(n, json.dumps(e)) for n, e in enumerate(events, 1)]
    )
    assert not result.rejected


def now_at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_wait_behind_a_long_queue_at_the_team_s_pace_is_at_risk_and_one_near_the_front_is_not(
    engine, database_url
):
    settings = Settings(database_url=database_url, pseudonym_key="k", sla=POLICY)
    # Six customers wait on Twitter since minutes 0..5 (deadlines 60..65). In the last hour (10..70 at
    # now = 40: 0..40 counted) the team answered 12 other waits: 12 / 60 = 0.2 per minute.
    waiting = [inbound(f"w{i}", i, conv=f"w{i}", handle=f"@w{i}") for i in range(6)]
    answered = []
    for i in range(12):
        answered += [
            inbound(f"a{i}", -30 + i, conv=f"a{i}", handle=f"@a{i}"),
            reply(f"r{i}", 5 + i, conv=f"a{i}"),
        ]
    feed(engine, settings, *waiting, *answered)
    with engine.connect() as conn:
        risks = at_risk(conn, now_at(40), lead=1800)
    # at 40, w_i is i+1-th in the queue: predicted 40 + (i + 1) / 0.2 = 45, 50, 55, 60, 65, 70 min vs
    # deadlines 60..65: w3 (60 vs 63) is fine, w4 (65 vs 64) and w5 (70 vs 65) are at risk
    assert [(r.conversation_id, r.position, round(r.pace, 2)) for r in risks] == [
        ("w4", 5, 0.2),
        ("w5", 6, 0.2),
    ]
    assert risks[0].left == 24 * 60.0
    assert risk_line(risks[0], now_at(40)).startswith(
        "breaches in 24m — 5th in the twitter queue, team answering 0.2/min · first response · `w4`"
    )


def test_without_any_reply_in_the_last_hour_every_wait_due_within_the_lead_is_at_risk_until_claimed(
    engine, database_url
):
    settings = Settings(database_url=database_url, pseudonym_key="k", sla=POLICY)
    feed(engine, settings, inbound("a", 0, conv="A", handle="@a"), inbound("b", 50, conv="B", handle="@b"))
    with engine.connect() as conn:
        early = at_risk(conn, now_at(20), lead=1800)  # A due at 60: 40 min left > 30
        due = at_risk(conn, now_at(35), lead=1800)  # A: 25 min left; B: 75 min left
    with engine.begin() as conn:
        conn.execute(SlaClaim.__table__.insert().values(conversation_id=due[0].conversation, claimed_by="U9"))
    with engine.connect() as conn:
        claimed = at_risk(conn, now_at(35), lead=1800)
        past = at_risk(conn, now_at(61), lead=1800)  # A breached already: no longer a risk

    assert early == []
    assert [(r.conversation_id, r.position, r.pace) for r in due] == [("A", 1, 0.0)]
    assert claimed == [] and [r.conversation_id for r in past] == []
    message = risk_message(due, now_at(35), 1800)
    actions = [block for block in message["blocks"] if block["type"] == "actions"]
    assert [e["action_id"].split(":")[0] for e in actions[0]["elements"]] == ["sla_snooze", "sla_claim"]
    assert message["text"] == ":stopwatch: SLA risk: 1 conversation may breach within 30m"
