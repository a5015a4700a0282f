"""Retention purge: old text goes, numbers stay."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from storage.ingest import Ingestor
from storage.models import Conversation, Message, RawEvent
from storage.purge import purge_text
from tests.storage.builders import inbound, reply
from tests.storage.conftest import feed


def test_purge_removes_old_text_and_keeps_recent_text_and_derived_numbers(settings, engine):
    # Conversation tw-1 on 2026-11-20, tw-2 on 2026-12-30 (40 days later), stored on 2027-01-01.
    now = datetime(2027, 1, 1, tzinfo=UTC)
    feed(
        Ingestor(engine, settings, clock=lambda: now),
        [
            inbound("m1", 0, text="old secret"),
            reply("m2", 30),
            inbound("m3", 40 * 1440, conv="tw-2", text="recent words"),
        ],
    )
    result = purge_text(engine, now=now, retention_days=30)  # cutoff 2026-12-02
    assert (result.messages, result.raw_events) == (2, 2)
    with engine.connect() as conn:
        texts = dict(conn.execute(select(Message.raw_event_id, Message.text)).all())
        bodies = conn.execute(select(RawEvent.body).order_by(RawEvent.id)).scalars().all()
        frt = conn.execute(
            select(Conversation.frt_seconds).where(Conversation.external_id == "tw-1")
        ).scalar_one()
    assert sorted(texts.values(), key=str) == [None, None, "recent words"]
    assert "old secret" not in bodies[0] and '"text"' not in bodies[0]
    assert "recent words" in bodies[2]
    assert frt == 1800.0
    assert purge_text(engine, now=now, retention_days=30).messages == 0  # nothing left to purge
