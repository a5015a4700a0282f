"""The ingestion core: idempotency, rejections, order tolerance, response rules, privacy."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random

from sqlalchemy import event as sql_event
from sqlalchemy import func, select

from storage.models import Conversation, Lead, Message, RawEvent, RejectedEvent, SlaClock
from tests.storage.builders import assignment, inbound, reply, status
from tests.storage.conftest import feed

WAITS = SlaClock.kind.in_(("first", "next"))  # the customer's waits among the service-level clocks


def _conversation(engine, external_id="tw-1") -> Conversation:
    with engine.connect() as conn:
        return conn.execute(select(Conversation).where(Conversation.external_id == external_id)).one()


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_same_source_and_id_twice_is_one_row_and_counted_duplicate(ingestor, engine):
    first = feed(ingestor, [inbound("m1", 0)])
    second = feed(ingestor, [inbound("m1", 0)])
    assert (first.stored, first.duplicates) == (1, 0)
    assert (second.stored, second.duplicates) == (0, 1)
    assert _count(engine, RawEvent) == 1
    assert _count(engine, Message) == 1


def test_duplicate_inside_one_batch_is_counted_once_stored_once(ingestor, engine):
    result = feed(ingestor, [inbound("m1", 0), inbound("m1", 0)])
    assert (result.stored, result.duplicates) == (1, 1)
    assert _count(engine, RawEvent) == 1


def test_same_id_from_another_source_is_a_different_event(ingestor, engine):
    feed(ingestor, [inbound("m1", 0)], source="chatwoot")
    feed(ingestor, [inbound("m1", 0)], source="kpibot")
    assert _count(engine, RawEvent) == 2


def test_batch_with_bad_lines_stores_the_good_ones_and_keeps_the_bad_with_reason(ingestor, engine):
    bad_time = {**inbound("m2", 1), "at": "yesterday"}
    items = [
        (1, json.dumps(inbound("m1", 0))),
        (2, json.dumps(bad_time)),
        (3, "{not json"),
        (4, json.dumps(reply("m3", 30))),
    ]
    result = ingestor.ingest(items)
    assert result.stored == 2
    assert [(o.position, o.reason) for o in result.rejected] == [
        (2, '"at" is not an ISO-8601 time'),
        (3, "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
    ]
    with engine.connect() as conn:
        rows = conn.execute(
            select(RejectedEvent.position, RejectedEvent.reason, RejectedEvent.payload).order_by(
                RejectedEvent.position
            )
        ).all()
    assert [(r.position, r.reason) for r in rows] == [(o.position, o.reason) for o in result.rejected]
    # not JSON, so no customer field can be found in it to pseudonymise: only its length is kept
    assert rows[1].payload == "(not JSON: 9 characters, not kept)"
    assert _conversation(engine).frt_seconds == 1800.0


def test_unknown_channel_is_rejected_with_the_known_list(ingestor):
    result = feed(ingestor, [inbound("m1", 0, channel="myspace")])
    assert result.stored == 0
    assert result.rejected[0].reason.startswith("\"channel\" 'myspace' is not a known channel (chat, email,")


def test_channel_aliases_are_normalised(ingestor, engine):
    feed(
        ingestor,
        [
            inbound("m1", 0, conv="a", channel="X"),
            inbound("m2", 0, conv="b", channel="fb"),
            inbound("m3", 0, conv="c", channel="IG"),
            inbound("m4", 0, conv="d", channel="messenger"),
        ],
    )
    with engine.connect() as conn:
        channels = dict(conn.execute(select(Conversation.external_id, Conversation.channel)).all())
        message_channels = set(conn.execute(select(Message.channel)).scalars())
    assert channels == {"a": "twitter", "b": "facebook", "c": "instagram", "d": "facebook"}
    assert message_channels == {"twitter", "facebook", "instagram"}


def _projection_snapshot(engine) -> tuple:
    with engine.connect() as conn:
        conv = conn.execute(select(Conversation)).one()._asdict()
        waits = conn.execute(
            select(SlaClock.start_at, SlaClock.end_at, SlaClock.seconds, SlaClock.agent)
            .where(WAITS)
            .order_by(SlaClock.start_at)
        ).all()
    conv.pop("id")
    return conv, [tuple(w) for w in waits]


def test_shuffled_delivery_gives_the_same_projection_as_in_order(settings, new_database_url):
    from storage.db import make_engine
    from storage.ingest import Ingestor

    events = [
        inbound("m1", 0),
        reply("b1", 1, kind="bot"),
        reply("n1", 5, private=True),
        reply("m2", 42),
        assignment("a1", 50, agent="U1"),
        inbound("m3", 60),
        inbound("m4", 65),
        assignment("a2", 70, agent="U2"),
        reply("m5", 90, agent="U2"),
        status("s1", 120, "resolved"),
        inbound("m6", 200),
        status("s2", 300, "closed"),
    ]
    snapshots = []
    orders = [events, list(reversed(events))] + [
        random.Random(seed).sample(events, len(events)) for seed in range(4)
    ]
    for n, order in enumerate(orders):
        url = new_database_url(f"order{n}")
        engine = make_engine(url)
        ingestor = Ingestor(engine, settings.model_copy(update={"database_url": url}))
        for event in order:  # one event per transaction: the worst case for order tolerance
            feed(ingestor, [event])
        snapshots.append(_projection_snapshot(engine))
        engine.dispose()
    assert all(s == snapshots[0] for s in snapshots)
    conv, waits = snapshots[0]
    # First human reply m2 at 09:42 -> FRT 2,520 s; the bot (09:01) and the note (09:05) do not count.
    assert conv["frt_seconds"] == 2520.0 and conv["first_responder"] == "U1"
    # Waits: 09:00->09:42 (2,520 s), 10:00->10:30 (m4 at 10:05 was already waiting; 1,800 s), 12:20 open.
    assert [w[2] for w in waits] == [2520.0, 1800.0, None]
    # Resolved 11:00, reopened by m6 at 12:20, closed 14:00: first 2 h, full 5 h, one reopen, one transfer.
    assert (conv["first_resolution_seconds"], conv["full_resolution_seconds"]) == (7200.0, 18000.0)
    assert (conv["reopen_count"], conv["transfer_count"], conv["status"], conv["resolved"]) == (
        1,
        1,
        "closed",
        True,
    )


def test_a_batch_creating_its_conversations_writes_each_row_once_with_its_projection(ingestor, engine):
    # Created by the batch, with all their events in it: inserted projected, never updated after (an
    # update changing nothing cost ~20 µs a conversation); a conversation stored before is updated.
    feed(ingestor, [inbound("old1", 0, conv="old")])
    updated: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("UPDATE conversation"):
            updated.append(cursor.rowcount)

    sql_event.listen(engine, "after_cursor_execute", count)
    batch = [inbound("m1", 0), reply("m2", 42), status("s1", 60, "resolved")]
    batch += [inbound("k1", 5, conv="tw-2"), reply("k2", 15, conv="tw-2"), reply("old2", 30, conv="old")]
    feed(ingestor, batch)

    assert sum(updated) == 1  # "old" alone: its first event came in an earlier batch
    with engine.connect() as conn:
        rows = conn.execute(select(Conversation.external_id, Conversation.frt_seconds, Conversation.status))
        found = {external: (frt, state) for external, frt, state in rows}
    assert found == {"old": (1800.0, "open"), "tw-1": (2520.0, "resolved"), "tw-2": (600.0, "open")}


def test_a_conversation_the_batch_creates_is_projected_once(ingestor, engine, monkeypatch):
    # its projection is inserted with it and its clocks come from the same one; a conversation stored
    # before is replayed from the tables with the batch's events
    import storage.ingest
    import storage.rebuild

    feed(ingestor, [inbound("old1", 0, conv="old")])
    replayed: list[int] = []

    def counted(project):
        def projecting(steps):
            replayed.append(len(steps))
            return project(steps)

        return projecting

    monkeypatch.setattr(storage.ingest, "project", counted(storage.ingest.project))
    monkeypatch.setattr(storage.rebuild, "project", counted(storage.rebuild.project))
    feed(
        ingestor,
        [inbound("m1", 0), reply("m2", 42), inbound("k1", 5, conv="tw-2"), reply("old2", 30, conv="old")],
    )

    assert sorted(replayed) == [1, 2, 2]  # tw-2, old (both its events), tw-1
    with engine.connect() as conn:
        clocks = conn.execute(
            select(Conversation.external_id, SlaClock.kind, SlaClock.seconds)
            .join(Conversation)
            .where(WAITS)
            .order_by(Conversation.external_id, SlaClock.start_at)
        ).all()
    assert clocks == [("old", "first", 1800.0), ("tw-1", "first", 2520.0), ("tw-2", "first", None)]


def test_bot_reply_and_private_note_do_not_count_as_first_response(ingestor, engine):
    feed(ingestor, [inbound("m1", 0), reply("b1", 1, kind="bot"), reply("n1", 3, private=True)])
    conv = _conversation(engine)
    assert conv.first_response_at is None and conv.frt_seconds is None
    with engine.connect() as conn:
        waits = conn.execute(select(SlaClock.end_at).where(WAITS)).all()
    assert waits == [(None,)]  # the customer is still waiting
    assert _count(engine, Message) == 3  # stored all the same


def test_new_inbound_after_resolve_reopens(ingestor, engine):
    feed(ingestor, [inbound("m1", 0), reply("m2", 10), status("s1", 20, "resolved")])
    assert _conversation(engine).resolved is True
    feed(ingestor, [inbound("m3", 30)])
    conv = _conversation(engine)
    assert (conv.resolved, conv.status, conv.reopen_count) == (False, "open", 1)
    # first resolution stays at 20 min after opening; no new resolution yet
    assert conv.first_resolution_seconds == 1200.0


def test_explicit_open_status_after_resolve_reopens(ingestor, engine):
    feed(
        ingestor,
        [
            inbound("m1", 0),
            status("s1", 20, "resolved"),
            status("s2", 25, "open"),
            status("s3", 90, "resolved"),
        ],
    )
    conv = _conversation(engine)
    assert (conv.resolved, conv.reopen_count) == (True, 1)
    assert (conv.first_resolution_seconds, conv.full_resolution_seconds) == (1200.0, 5400.0)


def test_reassignment_after_resolution_is_not_a_transfer(ingestor, engine):
    feed(
        ingestor,
        [
            inbound("m1", 0),
            assignment("a1", 1, agent="U1"),
            assignment("a2", 2, team="billing"),
            assignment("a3", 3, team="refunds"),
            status("s1", 10, "resolved"),
            assignment("a4", 11, agent="U9"),
        ],
    )
    # a2 sets a team for the first time (not a change), a3 changes team: 1 transfer; a4 is after resolution.
    assert _conversation(engine).transfer_count == 1


def test_customer_handles_are_stored_pseudonymised_with_the_keyed_hash(ingestor, engine):
    feed(ingestor, [inbound("m1", 0, handle="@Ana")])
    expected = "c_" + hmac.new(b"test-key", b"@ana", hashlib.sha256).hexdigest()[:16]
    with engine.connect() as conn:
        author = conn.execute(select(Message.author_id)).scalar_one()
        body = conn.execute(select(RawEvent.body)).scalar_one()
    assert author == expected
    assert _conversation(engine).customer == expected
    assert "@Ana" not in body and expected in body


def test_pseudonym_key_is_generated_once_and_kept_when_none_is_configured(database_url):
    from storage.db import make_engine
    from storage.privacy import pseudonymiser
    from storage.settings import Settings

    engine = make_engine(database_url)
    first = pseudonymiser(Settings(), engine)("@ana")
    second = pseudonymiser(Settings(), engine)("@ana")
    engine.dispose()
    assert first == second and first.startswith("c_") and first != "@ana"


def test_conversion_links_to_its_lead_whichever_arrives_first(ingestor, engine):
    conversion = {
        "id": "c1",
        "type": "conversion",
        "at": "2026-11-21T10:00:00Z",
        "conversation_id": "fb-9",
        "channel": "facebook",
        "value": 50,
    }
    lead = {
        "id": "l1",
        "type": "lead",
        "at": "2026-11-20T10:00:00Z",
        "conversation_id": "fb-9",
        "channel": "facebook",
    }
    feed(ingestor, [conversion])
    feed(ingestor, [lead])
    with engine.connect() as conn:
        row = conn.execute(select(Lead.converted_at, Lead.conversion_value)).one()
    assert row.converted_at.isoformat() == "2026-11-21T10:00:00+00:00" and row.conversion_value == 50.0


def test_survey_outside_its_scale_is_rejected(ingestor):
    result = feed(
        ingestor, [{"id": "v1", "type": "survey", "at": "2026-11-20T11:05:00Z", "kind": "nps", "score": 11}]
    )
    assert result.rejected[0].reason == '"score" 11 is outside the NPS scale 0–10'


def test_every_permutation_of_a_short_conversation_agrees(ingestor, engine, settings, new_database_url):
    from storage.db import make_engine
    from storage.ingest import Ingestor

    events = [inbound("m1", 0), reply("m2", 15), status("s1", 30, "resolved"), inbound("m3", 40)]
    results = set()
    for n, order in enumerate(itertools.permutations(events)):
        url = new_database_url(f"p{n}")
        eng = make_engine(url)
        ing = Ingestor(eng, settings.model_copy(update={"database_url": url}))
        for event in order:
            feed(ing, [event])
        conv = _conversation(eng)
        results.add((conv.frt_seconds, conv.first_resolution_seconds, conv.reopen_count, conv.resolved))
        eng.dispose()
    assert results == {(900.0, 1800.0, 1, False)}


def test_inbound_text_is_scored_and_tagged_at_ingestion_and_agent_text_is_not(ingestor, engine):
    feed(
        ingestor,
        [
            inbound("m1", 0, text="My parcel is two weeks late, this is awful 😡"),
            reply("m2", 5),
            inbound("m3", 6, text="Merci, mais le colis n'est toujours pas arrivé"),
            inbound("m4", 7, text="Dzień dobry, gdzie jest moja paczka? Czekam już tydzień"),
        ],
    )
    with engine.connect() as conn:
        rows = {
            r.raw_event_id: r
            for r in conn.execute(
                select(Message.raw_event_id, Message.sentiment, Message.lang, Message.topics)
            )
        }
    assert rows[1].sentiment < -0.1 and rows[1].lang == "en"
    assert "delivery/late" in rows[1].topics.split(",")
    assert (rows[2].sentiment, rows[2].topics) == (None, None)  # agents are not scored
    assert rows[3].sentiment < -0.1 and rows[3].lang == "fr"  # French is read too: a complaint
    assert (rows[4].sentiment, rows[4].lang) == (None, "pl")  # unscored, not a false neutral
