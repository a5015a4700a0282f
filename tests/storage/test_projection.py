"""The pure projection: waits, first response and resolution from a timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.projection import Step, project

T = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _m(minutes, direction, kind="customer", author=None, private=False):
    return Step(
        at=T + timedelta(minutes=minutes),
        kind="message",
        direction=direction,
        author_kind=kind,
        author_id=author,
        private=private,
    )


def test_waits_start_at_first_unanswered_inbound_and_end_at_next_human_reply():
    # in 0, in 5 (already waiting), bot 6, out 20 -> wait 1,200 s; in 30, out 31 -> 60 s; in 50 -> open wait
    steps = [
        _m(0, "inbound"),
        _m(5, "inbound"),
        _m(6, "outbound", "bot"),
        _m(20, "outbound", "agent", "U1"),
        _m(30, "inbound"),
        _m(31, "outbound", "agent", "U2"),
        _m(50, "inbound"),
    ]
    p = project(steps)
    assert [w.seconds for w in p.waits] == [1200.0, 60.0, None]
    assert [w.agent for w in p.waits] == ["U1", "U2", None]
    assert p.frt_seconds == 1200.0 and p.first_responder == "U1"


def test_outbound_before_the_customer_writes_is_not_a_first_response():
    p = project([_m(0, "outbound", "agent", "U1"), _m(10, "inbound"), _m(25, "outbound", "agent", "U2")])
    assert p.opened_at == T + timedelta(minutes=10)
    assert p.frt_seconds == 900.0 and p.first_responder == "U2"


def test_conversation_without_inbound_is_not_opened():
    p = project([_m(0, "outbound", "agent", "U1"), Step(at=T, kind="status", status="resolved")])
    assert p.opened_at is None and p.status == "new" and p.resolved is False and p.waits == []


def test_handle_seconds_add_up_over_agent_messages():
    steps = [
        _m(0, "inbound"),
        Step(
            at=T + timedelta(minutes=5),
            kind="message",
            direction="outbound",
            author_kind="agent",
            author_id="U1",
            handle_seconds=120.0,
        ),
        Step(
            at=T + timedelta(minutes=9),
            kind="message",
            direction="outbound",
            author_kind="agent",
            author_id="U1",
            handle_seconds=45.5,
        ),
    ]
    assert project(steps).handle_seconds == 165.5


def _status(minutes, value):
    return Step(at=T + timedelta(minutes=minutes), kind="status", status=value)


def test_resolution_clocks_run_from_opening_and_from_each_reopening_to_the_resolution_that_follows():
    # opened 0, resolved 30 (then closed 40: the same clock), reopened by a message at 100, resolved 160,
    # reopened by an `open` status at 200: that clock still runs
    steps = [
        _m(0, "inbound"),
        _m(10, "outbound", "agent", "U1"),
        _status(30, "resolved"),
        _status(40, "closed"),
        _m(100, "inbound"),
        _status(160, "resolved"),
        _status(200, "open"),
    ]
    p = project(steps)
    assert [(c.start, c.end) for c in p.resolutions] == [
        (T, T + timedelta(minutes=30)),
        (T + timedelta(minutes=100), T + timedelta(minutes=160)),
        (T + timedelta(minutes=200), None),
    ]
    assert [c.seconds for c in p.resolutions] == [1800.0, 3600.0, None]
    assert p.reopen_count == 2 and "resolutions" not in p.columns()


def test_a_conversation_never_opened_has_no_resolution_clock():
    assert project([_m(0, "outbound", "agent", "U1"), _status(5, "resolved")]).resolutions == []
