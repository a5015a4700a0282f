"""A refused payload is kept once, whichever door it comes through again; a misspelt channel is answered
with the channel it is closest to."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.ingest import Ingestor, fingerprint
from storage.models import RejectedEvent
from tests.storage.builders import inbound
from tests.storage.conftest import feed


def _kept(engine) -> list[RejectedEvent]:
    with engine.connect() as conn:
        return list(conn.execute(select(RejectedEvent).order_by(RejectedEvent.id)).all())


def test_a_misspelt_channel_is_refused_with_the_channel_it_is_closest_to(ingestor):
    result = feed(ingestor, [inbound("m1", 0, channel="twiter"), inbound("m2", 0, channel="Instagarm")])

    assert [outcome.reason for outcome in result.rejected] == [
        "\"channel\" 'twiter' is not a known channel (chat, email, facebook, instagram, linkedin, phone, "
        "portal, slack, telegram, tiktok, twitter, viber, whatsapp, youtube) — did you mean 'twitter'?",
        "\"channel\" 'Instagarm' is not a known channel (chat, email, facebook, instagram, linkedin, phone, "
        "portal, slack, telegram, tiktok, twitter, viber, whatsapp, youtube) — did you mean 'instagram'?",
    ]


def test_a_misspelt_alias_is_answered_with_the_alias_and_a_channel_like_no_other_gets_no_guess(ingestor):
    result = feed(ingestor, [inbound("m1", 0, channel="mesenger"), inbound("m2", 0, channel="myspace")])

    first, second = (outcome.reason for outcome in result.rejected)
    assert first.endswith("— did you mean 'messenger'?")
    assert second.endswith("youtube)") and "did you mean" not in second


def test_the_same_bad_event_sent_twice_is_rejected_twice_and_kept_once(ingestor, engine):
    bad = inbound("m1", 0, channel="twiter")

    first, second = feed(ingestor, [bad]), feed(ingestor, [bad])

    assert [len(first.rejected), len(second.rejected)] == [1, 1]
    assert second.rejected[0].reason.endswith("did you mean 'twitter'?")
    rows = _kept(engine)
    assert len(rows) == 1
    # kept pseudonymised, and identified by what is kept: no customer handle in the payload or its identity
    assert json.loads(rows[0].payload)["author"]["id"].startswith("c_")
    assert "@ana" not in rows[0].payload
    assert rows[0].fingerprint == fingerprint("kpibot", rows[0].payload, 1, rows[0].reason, whole=True)


def test_a_bad_event_resent_at_another_position_or_in_another_batch_is_still_kept_once(ingestor, engine):
    bad = json.dumps(inbound("m1", 0, channel="twiter"))

    ingestor.ingest([(1, bad)])
    again = ingestor.ingest([(1, json.dumps(inbound("ok", 0))), (2, bad), (3, bad)])

    assert (again.stored, [o.position for o in again.rejected]) == (1, [2, 3])
    assert len(_kept(engine)) == 1


def test_bad_events_differing_in_content_or_source_are_each_kept(ingestor, engine):
    feed(ingestor, [inbound("m1", 0, channel="twiter"), inbound("m1", 0, channel="twiter", text="other")])
    feed(ingestor, [inbound("m1", 0, channel="twiter")], source="crm")

    assert [(row.source, row.position) for row in _kept(engine)] == [("kpibot", 1), ("kpibot", 2), ("crm", 1)]


def test_unreadable_lines_are_kept_by_position_as_their_shapes_alike_cannot_tell_them_apart(ingestor, engine):
    lines = [(1, b"call Ana on 0601"), (2, b"call Bob on 0602"), (3, b"\xe9t\xe9")]

    first = ingestor.ingest(lines)
    second = ingestor.ingest(lines)

    assert len(first.rejected) == len(second.rejected) == 3
    rows = _kept(engine)
    assert [(row.position, row.payload) for row in rows] == [
        (1, "(not JSON: 16 characters, not kept)"),
        (2, "(not JSON: 16 characters, not kept)"),
        (3, "(not JSON: 9 characters, not kept)"),
    ]
    assert len({row.fingerprint for row in rows}) == 3


def test_a_bad_event_kept_before_is_not_kept_again_by_another_ingestor_on_the_same_database(
    ingestor, engine, settings
):
    bad = inbound("m1", 0, channel="twiter")
    feed(ingestor, [bad])

    outcome = feed(Ingestor(engine, settings, analyse_text=False), [bad])

    assert len(outcome.rejected) == 1 and len(_kept(engine)) == 1
