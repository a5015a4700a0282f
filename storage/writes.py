"""Set-based writes of the ingestion core: raw events, conversation ids, lead conversions, links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection

from storage.bulk import insert_new_returning
from storage.models import Conversation, Conversion, Lead, RawEvent
from storage.normalise import Accepted
from storage.rebuild import chunks


def store_raw(conn: Connection, accepted: list[Accepted], received: datetime) -> list[tuple[int, Accepted]]:
    """Appends raw events; returns (raw id, event) for those not stored before (the rest are duplicates)."""
    rows = [
        {
            "source": a.source,
            "external_id": a.event.id,
            "type": a.event.type,
            "event_at": a.event.at,
            "received_at": received,
            "body": a.body,
        }
        for a in accepted
    ]
    stored = insert_new_returning(
        conn,
        RawEvent.__table__,
        rows,
        unique=("source", "external_id"),
        returning=("id", "source", "external_id"),
    )
    by_key = {a.key: a for a in accepted}
    return sorted(((raw_id, by_key[(src, ext)]) for raw_id, src, ext in stored), key=lambda pair: pair[0])


def stored_keys(conn: Connection, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (source, id) keys have a raw event stored already (duplicates, as things stand)."""
    table = RawEvent.__table__
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    found: set[tuple[str, str]] = set()
    for source, external_ids in by_source.items():
        for part in chunks(external_ids):
            query = select(table.c.external_id).where(
                and_(table.c.source == source, table.c.external_id.in_(part))
            )
            found.update((source, external_id) for external_id in conn.execute(query).scalars())
    return found


def conversation_ids(
    conn: Connection,
    items: list[Accepted],
    projected: Callable[[tuple[str, str]], dict[str, Any]] | None = None,
) -> tuple[dict[tuple[str, str], int], set[int]]:
    """Ids of the conversations these events belong to, and which of them this call created: a created
    one with the columns `projected` gives for its (source, id), when given (else blank: status "new")."""
    table = Conversation.__table__
    wanted: dict[tuple[str, str], str] = {}
    for item in items:
        wanted.setdefault((item.source, item.event.conversation_id), item.event.channel)
    found: dict[tuple[str, str], int] = {}
    by_source: dict[str, list[str]] = {}
    for source, external_id in wanted:
        by_source.setdefault(source, []).append(external_id)
    for source, external_ids in by_source.items():
        for part in chunks(external_ids):
            query = select(table.c.id, table.c.external_id).where(
                and_(table.c.source == source, table.c.external_id.in_(part))
            )
            found.update(((source, ext), cid) for cid, ext in conn.execute(query))
    missing = sorted(key for key in wanted if key not in found)  # one insert order: no deadlock
    blank = {"status": "new", "resolved": False, "reopen_count": 0, "transfer_count": 0}
    rows = [
        {
            **(blank if projected is None else projected((s, ext))),
            "source": s,
            "external_id": ext,
            "channel": wanted[(s, ext)],
        }
        for s, ext in missing
    ]
    created = insert_new_returning(
        conn, table, rows, unique=("source", "external_id"), returning=("id", "source", "external_id")
    )
    found.update(((s, ext), cid) for cid, s, ext in created)
    created_ids = {cid for cid, _, _ in created}
    for s, ext in missing:  # created meanwhile by another process
        if (s, ext) not in found:
            found[(s, ext)] = conn.execute(
                select(table.c.id).where(and_(table.c.source == s, table.c.external_id == ext))
            ).scalar_one()
    return found, created_ids


def link_conversions(conn: Connection, rows: list[dict]) -> None:
    """Marks leads converted by a `conversion` event of the same conversation, whichever arrived first."""
    lead, conversion = Lead.__table__, Conversion.__table__
    keys = {(r["source"], r["conversation_key"]) for r in rows if r["conversation_key"]}
    for source, key in keys:
        first = conn.execute(
            select(conversion.c.at, conversion.c.value)
            .where(and_(conversion.c.source == source, conversion.c.conversation_key == key))
            .order_by(conversion.c.at)
            .limit(1)
        ).first()
        if first is not None:
            conn.execute(
                update(lead)
                .where(
                    and_(
                        lead.c.source == source, lead.c.conversation_key == key, lead.c.converted_at.is_(None)
                    )
                )
                .values(converted_at=first.at, conversion_value=first.value)
            )


def set_links(conn: Connection, ids: dict[tuple[str, str], int], new: list[tuple[int, Accepted]]) -> None:
    """Keeps the first link (URL to the thread) an event gives for its conversation."""
    table = Conversation.__table__
    for _, item in new:
        if item.event.link and item.event.conversation_id:
            cid = ids.get((item.source, item.event.conversation_id))
            if cid is not None:
                conn.execute(
                    update(table)
                    .where(and_(table.c.id == cid, table.c.link.is_(None)))
                    .values(link=item.event.link)
                )
