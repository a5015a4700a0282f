"""Rejected events: keeping refused payloads, listing them, and replaying them after a fix.

A row holds either one event in kpibot's format (refused by the ingestion core) or a whole webhook
payload of a support tool that its adapter could not map; the latter is recognised by the tool's
``event`` field (kpibot events have none) and goes through the adapter again on replay, so a fixed
adapter or configuration recovers it.

A replayed row is kept, with ``replayed_at`` set, as the record of what was refused and when it was
recovered; ``kpibot rejected list`` hides it. A row still refused keeps ``replayed_at`` empty and gets
the new reason. Replaying is idempotent: events stored meanwhile count as duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.db import session as new_session
from storage.events import EventError
from storage.ingest import Ingestor, storable_text
from storage.models import RejectedEvent
from storage.normalise import decode
from storage.rebuild import chunks

# source -> function mapping one of that tool's webhook payloads to kpibot events (raises ValueError)
Adapter = Callable[[Any], list[dict]]


@dataclass
class ReplayResult:
    """What a replay did: events stored and duplicate, rows recovered, rows still refused with why."""

    stored: int = 0
    duplicates: int = 0
    replayed: list[int] = field(default_factory=list)
    still_rejected: list[tuple[int, str]] = field(default_factory=list)


def store_rejected(
    engine: Engine,
    *,
    source: str,
    reason: str,
    payload: str,
    now: datetime,
    position: int | None = 0,
    pseudonymised: bool = False,
) -> int:
    """The id of a new rejected-event row keeping `payload` with the reason it was refused; `pseudonymised`
    says its customer ids are pseudonyms already."""
    with new_session(engine) as db:
        row = RejectedEvent(
            source=source,
            position=position,
            reason=reason,
            payload=storable_text(payload),
            received_at=now,
            pseudonymised=pseudonymised,
        )
        db.add(row)
        db.commit()
        return row.id


def list_rejected(
    session: Session, *, limit: int | None = None, everything: bool = False
) -> list[RejectedEvent]:
    """Rejected events not yet replayed (all with `everything`), newest first, at most `limit`."""
    query = select(RejectedEvent).order_by(RejectedEvent.id.desc())
    if not everything:
        query = query.where(RejectedEvent.replayed_at.is_(None))
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def replay_rejected(
    engine: Engine,
    ingestor: Ingestor,
    ids: Iterable[int] | None = None,
    *,
    now: datetime,
    adapters: dict[str, Adapter] | None = None,
) -> ReplayResult:
    """Re-runs rejected payloads (the given ids, else every one not yet replayed) through ingestion.

    A row is recovered only when all the events it stands for are valid; they are stored in the
    ingestor's transactions, then the row is marked replayed.
    """
    with new_session(engine) as db:
        query = select(RejectedEvent).order_by(RejectedEvent.id)
        if ids is None:
            query = query.where(RejectedEvent.replayed_at.is_(None))
        else:
            query = query.where(RejectedEvent.id.in_(list(ids)))
        rows = list(db.exec(query).all())
    result = ReplayResult()
    for part in chunks(rows, 500):
        _replay_part(engine, ingestor, part, now, adapters or {}, result)
    return result


def _replay_part(
    engine: Engine,
    ingestor: Ingestor,
    rows: list[RejectedEvent],
    now: datetime,
    adapters: dict[str, Adapter],
    result: ReplayResult,
) -> None:
    by_source: dict[tuple[str, bool], list[tuple[int, Any]]] = {}
    good: list[int] = []
    reasons: dict[int, str] = {}
    for row in rows:
        try:
            events = _events(row, adapters)
            for event in events:
                ingestor.normalise(
                    row.id, event, row.source, now=ingestor.clock(), pseudonymised=row.pseudonymised
                )
        except ValueError as exc:  # EventError is a ValueError, as are the adapters' errors
            reasons[row.id] = str(exc)
            continue
        good.append(row.id)
        by_source.setdefault((row.source, row.pseudonymised), []).extend((row.id, event) for event in events)
    for (source, pseudonymised), items in by_source.items():
        outcome = ingestor.ingest(items, source=source, now=now, pseudonymised=pseudonymised)
        result.stored += outcome.stored
        result.duplicates += outcome.duplicates
        for refused in outcome.rejected:  # not expected: the same normaliser accepted them just above
            reasons[refused.position] = refused.reason or "rejected"
    good = [row_id for row_id in good if row_id not in reasons]
    with engine.begin() as conn:
        table = RejectedEvent.__table__
        if good:
            conn.execute(update(table).where(table.c.id.in_(good)).values(replayed_at=now))
        for row_id, reason in reasons.items():
            conn.execute(update(table).where(table.c.id == row_id).values(reason=reason))
    result.replayed.extend(good)
    result.still_rejected.extend(sorted(reasons.items()))


def _events(row: RejectedEvent, adapters: dict[str, Adapter]) -> list[Any]:
    """The kpibot events a rejected row stands for (ValueError when it still cannot be read)."""
    data = decode(row.payload)
    if isinstance(data, dict) and "event" in data and row.source in adapters:
        return adapters[row.source](data)
    if isinstance(data, dict) and "event" in data:
        raise EventError(f"a {row.source} webhook payload, and no {row.source} adapter to read it")
    return [data]
