"""One bad event is rejected alone, with its reason, and kept: values no database stores, absurd numbers
and times, deep nesting, sources owned by another door, and anything the database itself refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage.ingest import Ingestor
from storage.models import Conversation, Lead, RawEvent, RejectedEvent
from tests.databases import refused_inserts
from tests.storage.builders import inbound, reply

GOOD = inbound("good", 0)
CLOCK = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def ingestor(engine, settings) -> Ingestor:
    """An ingestor whose clock reads 2026-11-21 00:00 UTC (the time window's 'now')."""
    return Ingestor(engine, settings, clock=lambda: CLOCK)


def ingest_text(ingestor: Ingestor, lines: list[str], **kwargs):
    return ingestor.ingest(list(enumerate(lines)), **kwargs)


def stored_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(RawEvent.external_id)).scalars())


def kept(engine) -> list[RejectedEvent]:
    with engine.connect() as conn:
        return list(conn.execute(select(RejectedEvent).order_by(RejectedEvent.id)))


def test_lone_surrogate_in_text_id_or_handle_is_rejected_alone_and_kept(ingestor, engine):
    # Escaped in the JSON text, a lone surrogate decodes to a str no database encoding accepts.
    good = json.dumps(GOOD)
    lines = [
        good,
        json.dumps(inbound("s1", 1, text="x")).replace('"text": "x"', '"text": "\\ud83d"'),
        json.dumps(inbound("s2", 1)).replace('"id": "s2"', '"id": "\\ud83d"'),
        json.dumps(inbound("s3", 1, handle="@x")).replace('"@x"', '"@\\udc00"'),
    ]

    result = ingest_text(ingestor, lines)

    assert result.stored == 1 and stored_ids(engine) == ["good"]
    assert [(r.position, r.reason) for r in result.rejected] == [
        (1, "\"text\" is not valid Unicode (a lone surrogate, '\\ud83d')"),
        (2, "\"id\" is not valid Unicode (a lone surrogate, '\\ud83d')"),
        (3, "\"author.id\" is not valid Unicode (a lone surrogate, '\\udc00')"),
    ]
    assert [row.position for row in kept(engine)] == [1, 2, 3]


@pytest.mark.parametrize("field", ["text", "id", "conversation_id"])
def test_nul_character_is_rejected_on_every_database(ingestor, engine, field):
    bad = {**inbound("n1", 1), field: "before\x00after"}

    result = ingestor.ingest([(0, GOOD), (1, bad)])

    assert result.stored == 1 and stored_ids(engine) == ["good"]
    assert result.rejected[0].reason == f'"{field}" contains a NUL character, which cannot be stored'
    assert "\\u0000" in kept(engine)[0].payload  # kept readable, and storable on PostgreSQL too


def test_nul_in_an_agent_name_is_rejected(ingestor, engine):
    bad = {**reply("r1", 5), "author": {"kind": "agent", "id": "U1\x00", "name": "Bo"}}

    result = ingestor.ingest([(0, GOOD), (1, bad)])

    assert result.stored == 1 and result.rejected[0].reason.startswith('"author.id" contains a NUL')


def test_json_nested_990_deep_is_rejected_not_a_recursion_error(ingestor, engine):
    deep = json.dumps(GOOD)[:-1] + ', "extra": ' + "[" * 990 + "]" * 990 + "}"
    deep_id = deep.replace('"id": "good"', '"id": "deep"')

    result = ingest_text(ingestor, [json.dumps(GOOD), deep_id, "[" * 100_000])

    assert result.stored == 1
    assert [r.reason for r in result.rejected] == [
        "the event is nested more than 32 levels deep",
        "the event is nested more than 32 levels deep",
    ]


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (
            "0001-01-01T00:00:00+01:00",
            '"at" is outside the range of times (before year 1 or after 9999 in UTC)',
        ),
        (
            "9999-12-31T23:59:59-01:00",
            '"at" is outside the range of times (before year 1 or after 9999 in UTC)',
        ),
        (
            "0001-01-01T00:00:00Z",
            '"at" 0001-01-01T00:00:00+00:00 is before 2000-01-01, the earliest time kpibot accepts '
            "(setting event_time_min)",
        ),
        (
            "1999-12-31T23:59:59Z",
            '"at" 1999-12-31T23:59:59+00:00 is before 2000-01-01, the earliest time kpibot accepts '
            "(setting event_time_min)",
        ),
        (
            "2026-11-22T00:00:01Z",  # the clock reads 2026-11-21 00:00: one day and one second ahead
            '"at" 2026-11-22T00:00:01+00:00 is more than 1 day ahead of the bot\'s clock '
            "(2026-11-21 00:00 UTC; setting event_time_max_ahead_seconds)",
        ),
    ],
)
def test_implausible_time_is_rejected_with_its_reason(ingestor, engine, at, reason):
    result = ingestor.ingest([(0, GOOD), (1, {**inbound("t1", 1), "at": at})])

    assert result.stored == 1 and [r.reason for r in result.rejected] == [reason]


def test_time_exactly_a_day_ahead_is_accepted_and_the_bounds_are_settings(engine, settings):
    ahead = {**inbound("t1", 1), "at": "2026-11-22T00:00:00Z"}
    early = {**inbound("t2", 1, conv="tw-2"), "at": "1995-06-01T00:00:00Z"}
    strict = settings.model_copy(
        update={"event_time_min": datetime(1990, 1, 1, tzinfo=UTC), "event_time_max_ahead_seconds": 60.0}
    )

    default = Ingestor(engine, settings, clock=lambda: CLOCK).ingest([(0, ahead)])
    tuned = Ingestor(engine, strict, clock=lambda: CLOCK).ingest([(0, early), (1, {**ahead, "id": "t3"})])

    assert default.stored == 1 and tuned.stored == 1
    assert tuned.rejected[0].reason.startswith('"at" 2026-11-22T00:00:00+00:00 is more than 1 minute')


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"handle_seconds": float("inf")}, '"handle_seconds" must be a finite number, not inf'),
        ({"handle_seconds": 1e300}, '"handle_seconds" must be ≤ 604800'),
        ({"handle_seconds": "NaN"}, "\"handle_seconds\" must be a finite number, not 'NaN'"),
    ],
)
def test_non_finite_or_absurd_handle_time_is_rejected(ingestor, change, reason):
    result = ingestor.ingest([(0, GOOD), (1, {**reply("r1", 5), **change})])

    assert result.stored == 1 and [r.reason for r in result.rejected] == [reason]


def test_nan_and_infinity_tokens_are_not_json(ingestor):
    lead = '{"id":"l1","type":"lead","at":"2026-11-20T09:00:00Z","value":NaN}'
    customer = (
        '{"id":"c1","type":"customer","at":"2026-11-20T09:00:00Z","customer_id":"@a",'
        '"change":"new","revenue":-Infinity}'
    )

    result = ingest_text(ingestor, [lead, customer])

    assert [r.reason for r in result.rejected] == [
        "not valid JSON (NaN is not a JSON number)",
        "not valid JSON (-Infinity is not a JSON number)",
    ]


def test_lead_value_and_revenue_must_be_finite_and_plausible(ingestor, engine):
    lead = {"id": "l1", "type": "lead", "at": "2026-11-20T09:00:00Z", "value": "inf"}
    customer = {"id": "c1", "type": "customer", "at": "2026-11-20T09:00:00Z", "customer_id": "@a"}
    customer.update(change="new", revenue=5e12)

    result = ingestor.ingest([(0, lead), (1, customer), (2, {**lead, "id": "l2", "value": 250.0})])

    assert [r.reason for r in result.rejected] == [
        "\"value\" must be a finite number, not 'inf'",
        '"revenue" must be ≤ 1e+12',
    ]
    with engine.connect() as conn:
        assert conn.execute(select(Lead.value)).scalars().all() == [250.0]


def test_id_longer_than_256_characters_is_rejected(ingestor):
    result = ingestor.ingest([(0, GOOD), (1, inbound("x" * 257, 1))])

    assert result.stored == 1 and result.rejected[0].reason == '"id" is longer than 256 characters'


@pytest.mark.parametrize("claimed", ["chatwoot", "slack", "Chatwoot", " slack"])
def test_an_event_may_not_claim_a_source_another_door_owns(ingestor, engine, claimed):
    forged = {**inbound("msg-1", 1, text="forged"), "source": claimed}

    result = ingestor.ingest([(0, GOOD), (1, forged)])

    assert result.stored == 1 and stored_ids(engine) == ["good"]
    owner = "the Chatwoot webhook" if "chatwoot" in claimed.lower() else "Slack intake channels"
    assert result.rejected[0].reason == (
        f'"source" {claimed!r} is written by {owner} only; choose another source name'
    )


def test_the_owning_door_may_use_its_source(ingestor, engine):
    result = ingestor.ingest([(0, {**GOOD, "source": "chatwoot"})], source="chatwoot")

    assert result.stored == 1 and not result.rejected


def test_event_the_database_refuses_is_rejected_alone_and_the_rest_stored(ingestor, engine):
    events = [(n, inbound(f"m{n}", n, conv=f"tw-{n}")) for n in range(7)]

    with refused_inserts(engine, "raw_event", external_id="m4"):
        result = ingestor.ingest(events)

    assert result.stored == 6 and stored_ids(engine) == ["m0", "m1", "m2", "m3", "m5", "m6"]
    assert [(r.position, r.reason.split(" (")[0]) for r in result.rejected] == [
        (4, "the database refused this event")
    ]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Conversation)).scalar_one() == 6
        assert [row.position for row in conn.execute(select(RejectedEvent))] == [4]


def test_database_refusing_every_event_is_an_error_not_rejections(ingestor, engine):
    with refused_inserts(engine, "raw_event"), pytest.raises(Exception, match="injected failure"):
        ingestor.ingest([(0, GOOD), (1, inbound("m1", 1))])

    assert stored_ids(engine) == [] and kept(engine) == []


def test_a_day_ahead_is_measured_from_the_clock_not_the_receive_time(engine, settings):
    # The receive time stamped on events may be given (imports, tests); the window follows the clock.
    clock = datetime(2026, 11, 21, tzinfo=UTC)
    ingestor = Ingestor(engine, settings, clock=lambda: clock)

    result = ingestor.ingest([(0, GOOD)], now=clock - timedelta(days=30))

    assert result.stored == 1


def test_a_nul_in_a_field_name_is_rejected_and_its_reason_stored(ingestor, engine):
    # found by the fuzz test on PostgreSQL: the reason quoted the key, NUL and all, and could not be stored
    bad = {**inbound("k1", 1), "\x00": None}

    result = ingestor.ingest([(0, GOOD), (1, bad)])

    assert result.stored == 1
    assert result.rejected[0].reason == '"\\x00" contains a NUL character, which cannot be stored'
    assert kept(engine)[0].reason == result.rejected[0].reason


def test_lines_read_as_bytes_are_checked_as_text_is(ingestor, engine):
    # A file's lines come as bytes (`kpibot import`): escaped NUL and lone surrogates, deep nesting and a
    # byte-order mark are found in them as in text.
    good = json.dumps(GOOD)
    lines = [
        good.encode(),
        json.dumps(inbound("b1", 1, text="x")).replace('"text": "x"', '"text": "a\\u0000b"').encode(),
        json.dumps(inbound("b2", 1)).replace('"id": "b2"', '"id": "\\udc00"').encode(),
        (good[:-1] + ', "extra": ' + "[" * 40 + "]" * 40 + "}").replace('"good"', '"b3"').encode(),
        b"\xef\xbb\xbf" + json.dumps(inbound("b4", 1)).encode(),
        json.dumps(inbound("b5", 1, text="caf\u00e9 [ok] {fine} \\ backslash")).encode(),
    ]

    result = ingestor.ingest(list(enumerate(lines)))

    assert stored_ids(engine) == ["b5", "good"]
    assert [(r.position, r.reason) for r in result.rejected] == [
        (1, '"text" contains a NUL character, which cannot be stored'),
        (2, "\"id\" is not valid Unicode (a lone surrogate, '\\udc00')"),
        (3, "the event is nested more than 32 levels deep"),
        (4, "not valid JSON (a byte-order mark before it at column 1)"),
    ]
