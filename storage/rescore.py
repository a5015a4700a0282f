"""Re-reading stored customer messages after a lexicon or taxonomy change (`kpibot rescore`).

Ingestion scores each inbound message once (sentiment, language, topics) and the KPIs read what was
stored; this brings stored messages in line with the current code and `topics` setting. Messages are
read in id order, a batch per transaction, so an interrupted run keeps what it finished and a rerun
only changes what still differs. Messages whose text was purged keep what they have. The days changed
are noted for the per-day KPI cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Engine

from storage import kpi_cache
from storage.models import Message
from storage.rows import Analyser

M = Message.__table__.c
FIELDS = ("sentiment", "lang", "topics")
TOPICS = FIELDS.index("topics")


@dataclass
class RescoreResult:
    """How many messages were read again, and how many changed in each field and in any."""

    read: int = 0
    changed: int = 0
    sentiment: int = 0
    lang: int = 0
    topics: int = 0


def rescore_messages(
    engine: Engine,
    analyser: Analyser,
    *,
    since: datetime | None = None,
    batch: int = 5000,
    now: datetime | None = None,
    total: Callable[[int], object] = lambda n: None,
    progress: Callable[[int], object] = lambda n: None,
) -> RescoreResult:
    """Analyses again every stored message ingestion analyses (inbound, with text, not a private note),
    sent at or after `since` if given, and stores what differs; returns the counts. `total` is told how
    many messages will be read, `progress` how many each batch read; `now` (default: the wall clock) says
    which hours are over, for the cache."""
    where = [M.direction == "inbound", M.private.is_(False), M.text.is_not(None), M.text != ""]
    if since is not None:
        where.append(M.at >= since)
    with engine.connect() as conn:
        total(conn.execute(select(func.count()).select_from(Message.__table__).where(*where)).scalar_one())
    store = (
        update(Message.__table__)
        .where(M.id == bindparam("_id"))
        .values({name: bindparam(f"_{name}") for name in FIELDS})
    )
    result, last = RescoreResult(), 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(M.id, M.at, M.conversation_id, M.text, *(M[name] for name in FIELDS))
                .where(*where, M.id > last)
                .order_by(M.id)
                .limit(batch)
            ).all()
            changes, changed_at, retagged = [], set(), set()
            for row_id, at, conversation, text, *stored in rows:
                fresh = analyser(text)
                if tuple(stored) != fresh:
                    changes.append(
                        {"_id": row_id, **{f"_{n}": v for n, v in zip(FIELDS, fresh, strict=True)}}
                    )
                    changed_at.add(at)
                    if stored[TOPICS] != fresh[TOPICS] and conversation is not None:
                        retagged.add(conversation)
                    for name, old, new in zip(FIELDS, stored, fresh, strict=True):
                        setattr(result, name, getattr(result, name) + (old != new))
            if changes:
                conn.execute(store, changes)
                kpi_cache.note(conn, changed_at, now or datetime.now(UTC))  # the cache recomputes those hours
                # and those of the conversations' other rows, which count for their messages' topics
                kpi_cache.note_conversations(conn, retagged, now or datetime.now(UTC))
        if not rows:
            return result
        result.read += len(rows)
        result.changed += len(changes)
        last = rows[-1].id
        progress(len(rows))
