"""The ingestion core every door calls: validate, store raw, update projections, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection, Engine

from storage.dialect import insert_ignoring_conflicts
from storage.events import EventError
from storage.models import (
    Conversation,
    ConversationEvent,
    Conversion,
    CustomerChange,
    Lead,
    Message,
    RawEvent,
    RejectedEvent,
    Survey,
)
from storage.normalise import Accepted, Normaliser
from storage.privacy import pseudonymiser
from storage.rebuild import chunks, rebuild_conversations
from storage.settings import Settings

# (score or None when unscored, language, comma-separated topic labels or None) for one inbound text.
Analyser = Callable[[str], tuple[float | None, str | None, str | None]]
_CONVERSATION_TYPES = ("message", "status", "assignment", "escalation", "survey")


@dataclass
class Outcome:
    """What happened to one payload: stored, duplicate or rejected (with the reason)."""

    position: int
    status: str
    reason: str | None = None


@dataclass
class IngestResult:
    """Counts for a batch, and each rejection with its position and reason."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[Outcome] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)


class Ingestor:
    """Stores events for one workspace. Reuse one instance: it caches the pseudonymiser and channel map."""

    def __init__(self, engine: Engine, settings: Settings, *, analyser: Analyser | None = None):
        self.engine = engine
        self.normalise = Normaliser(settings, pseudonymiser(settings, engine))
        self.analyser = analyser

    def ingest(
        self, items: Iterable[tuple[int, Any]], *, source: str = "kpibot", now: datetime | None = None
    ) -> IngestResult:
        """Stores every good event of (position, payload) pairs in one transaction; bad ones are rejected."""
        received = now or datetime.now(UTC)
        result = IngestResult()
        accepted: dict[tuple[str, str], Accepted] = {}
        rejected: list[tuple[int, str, Any]] = []
        for position, payload in items:
            try:
                event = self.normalise(position, payload, source)
            except EventError as exc:
                rejected.append((position, str(exc), payload))
                continue
            if event.key in accepted:
                result.duplicates += 1
            else:
                accepted[event.key] = event
        with self.engine.begin() as conn:
            new = _store_raw(conn, list(accepted.values()), received)
            result.duplicates += len(accepted) - len(new)
            result.stored = len(new)
            if new:
                self._project(conn, new)
            if rejected:
                conn.execute(
                    insert(RejectedEvent.__table__),
                    [
                        {
                            "source": source,
                            "position": pos,
                            "reason": reason,
                            "payload": _as_text(payload),
                            "received_at": received,
                        }
                        for pos, reason, payload in rejected
                    ],
                )
        result.rejected = [Outcome(pos, "rejected", reason) for pos, reason, _ in rejected]
        return result

    def _project(self, conn: Connection, new: list[tuple[int, Accepted]]) -> None:
        conversation_ids = _conversation_ids(
            conn, [a for _, a in new if a.event.type in _CONVERSATION_TYPES and a.event.conversation_id]
        )
        rows: dict[str, list[dict]] = {
            name: [] for name in ("message", "event", "survey", "lead", "conversion", "customer")
        }
        touched: set[int] = set()
        for raw_id, item in new:
            e = item.event
            cid = conversation_ids.get((item.source, e.conversation_id)) if e.conversation_id else None
            if e.type in ("message", "status", "assignment", "escalation"):
                touched.add(cid)
            if e.type == "message":
                rows["message"].append(self._message_row(raw_id, cid, e))
            elif e.type in ("status", "assignment", "escalation"):
                rows["event"].append(
                    {
                        "conversation_id": cid,
                        "raw_event_id": raw_id,
                        "kind": e.type,
                        "at": e.at,
                        "status": getattr(e, "status", None),
                        "agent": getattr(e, "agent", None),
                        "team": getattr(e, "team", None),
                        "to_channel": getattr(e, "to_channel", None),
                    }
                )
            elif e.type == "survey":
                rows["survey"].append(
                    {
                        "raw_event_id": raw_id,
                        "conversation_id": cid,
                        "channel": e.channel,
                        "kind": e.kind,
                        "score": e.score,
                        "comment": e.comment,
                        "at": e.at,
                    }
                )
            elif e.type == "lead":
                rows["lead"].append(
                    {
                        "raw_event_id": raw_id,
                        "source": item.source,
                        "channel": e.channel,
                        "conversation_key": e.conversation_id,
                        "at": e.at,
                        "value": e.value,
                        "converted_at": e.at if e.converted else None,
                    }
                )
            elif e.type == "conversion":
                rows["conversion"].append(
                    {
                        "raw_event_id": raw_id,
                        "source": item.source,
                        "channel": e.channel,
                        "conversation_key": e.conversation_id,
                        "at": e.at,
                        "value": e.value,
                    }
                )
            elif e.type == "customer":
                rows["customer"].append(
                    {
                        "raw_event_id": raw_id,
                        "customer": e.customer_id,
                        "change": e.change,
                        "revenue": e.revenue,
                        "channel": e.channel,
                        "at": e.at,
                    }
                )
        for name, model in (
            ("message", Message),
            ("event", ConversationEvent),
            ("survey", Survey),
            ("lead", Lead),
            ("conversion", Conversion),
            ("customer", CustomerChange),
        ):
            if rows[name]:
                conn.execute(insert(model.__table__), rows[name])
        if rows["lead"] or rows["conversion"]:
            _link_conversions(conn, rows["lead"] + rows["conversion"])
        _set_links(conn, conversation_ids, new)
        rebuild_conversations(conn, touched)

    def _message_row(self, raw_id: int, cid: int, e) -> dict:
        sentiment = lang = topics = None
        if self.analyser is not None and e.direction == "inbound" and e.text and not e.private:
            sentiment, lang, topics = self.analyser(e.text)
        return {
            "conversation_id": cid,
            "raw_event_id": raw_id,
            "channel": e.channel,
            "at": e.at,
            "direction": e.direction,
            "author_kind": e.author.kind,
            "author_id": e.author.id,
            "author_name": e.author.name,
            "private": e.private,
            "text": e.text,
            "sentiment": sentiment,
            "lang": lang,
            "topics": topics,
            "quick_reply": e.quick_reply,
            "handle_seconds": e.handle_seconds,
        }


def _store_raw(conn: Connection, accepted: list[Accepted], received: datetime) -> list[tuple[int, Accepted]]:
    """Appends raw events; returns (raw id, event) for those not stored before (the rest are duplicates)."""
    if not accepted:
        return []
    table = RawEvent.__table__
    statement = insert_ignoring_conflicts(conn, table, ["source", "external_id"]).returning(
        table.c.id, table.c.source, table.c.external_id
    )
    by_key = {a.key: a for a in accepted}
    stored = conn.execute(
        statement,
        [
            {
                "source": a.source,
                "external_id": a.event.id,
                "type": a.event.type,
                "event_at": a.event.at,
                "received_at": received,
                "body": a.body,
            }
            for a in accepted
        ],
    ).all()
    return sorted(((raw_id, by_key[(src, ext)]) for raw_id, src, ext in stored), key=lambda pair: pair[0])


def _conversation_ids(conn: Connection, items: list[Accepted]) -> dict[tuple[str, str], int]:
    """Ids of the conversations these events belong to, creating the ones not seen before."""
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
    missing = [key for key in wanted if key not in found]
    if missing:
        statement = insert_ignoring_conflicts(conn, table, ["source", "external_id"]).returning(
            table.c.id, table.c.source, table.c.external_id
        )
        created = conn.execute(
            statement, [{"source": s, "external_id": ext, "channel": wanted[(s, ext)]} for s, ext in missing]
        ).all()
        found.update(((s, ext), cid) for cid, s, ext in created)
        for s, ext in missing:  # created meanwhile by another process
            if (s, ext) not in found:
                found[(s, ext)] = conn.execute(
                    select(table.c.id).where(and_(table.c.source == s, table.c.external_id == ext))
                ).scalar_one()
    return found


def _link_conversions(conn: Connection, rows: list[dict]) -> None:
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


def _set_links(
    conn: Connection, conversation_ids: dict[tuple[str, str], int], new: list[tuple[int, Accepted]]
) -> None:
    """Keeps the first link (URL to the thread) an event gives for its conversation."""
    table = Conversation.__table__
    for _, item in new:
        if item.event.link and item.event.conversation_id:
            cid = conversation_ids.get((item.source, item.event.conversation_id))
            if cid is not None:
                conn.execute(
                    update(table)
                    .where(and_(table.c.id == cid, table.c.link.is_(None)))
                    .values(link=item.event.link)
                )


def _as_text(payload: Any) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, ensure_ascii=False, default=str)
