"""Map one accepted event to the projection row it adds and, for timeline events, its `Step`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table

from storage.models import Conversation as _C  # noqa: F401  (tables must exist before the map below)
from storage.models import ConversationEvent, Conversion, CustomerChange, Lead, Message, Survey
from storage.normalise import Accepted
from storage.projection import Step

# (score or None when unscored, language, comma-separated topic labels or None) for one inbound text.
Analysis = tuple[float | None, str | None, str | None]
Analyser = Callable[[str], Analysis]

TIMELINE_TYPES = frozenset({"message", "status", "assignment", "escalation"})
# Insert order: parents before children is irrelevant here (all reference conversation/raw_event only).
TABLES: dict[str, Table] = {
    "message": Message.__table__,
    "status": ConversationEvent.__table__,
    "assignment": ConversationEvent.__table__,
    "escalation": ConversationEvent.__table__,
    "survey": Survey.__table__,
    "lead": Lead.__table__,
    "conversion": Conversion.__table__,
    "customer": CustomerChange.__table__,
}


def analysed_text(item: Accepted) -> str | None:
    """The text of `item` that text analysis reads: a customer-visible inbound message's; else None."""
    e = item.event
    if e.type == "message" and e.direction == "inbound" and e.text and not e.private:
        return e.text
    return None


def row_for(raw_id: int, item: Accepted, cid: int | None, analysis: Analysis | None) -> dict:
    """The row `item` adds to its projection table (TABLES[event type]); `analysis` is its text's
    (`analysed_text`), None when not analysed."""
    e = item.event
    kind = e.type
    if kind == "message":
        sentiment, lang, topics = analysis or (None, None, None)
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
    if kind in ("status", "assignment", "escalation"):
        return {
            "conversation_id": cid,
            "raw_event_id": raw_id,
            "kind": kind,
            "at": e.at,
            "status": getattr(e, "status", None),
            "agent": getattr(e, "agent", None),
            "team": getattr(e, "team", None),
            "to_channel": getattr(e, "to_channel", None),
        }
    if kind == "survey":
        return {
            "raw_event_id": raw_id,
            "conversation_id": cid,
            "channel": e.channel,
            "kind": e.kind,
            "score": e.score,
            "comment": e.comment,
            "at": e.at,
        }
    if kind in ("lead", "conversion"):
        row = {
            "raw_event_id": raw_id,
            "source": item.source,
            "channel": e.channel,
            "conversation_key": e.conversation_id,
            "at": e.at,
            "value": e.value,
        }
        if kind == "lead":
            row["converted_at"] = e.at if e.converted else None
        return row
    return {
        "raw_event_id": raw_id,
        "customer": e.customer_id,
        "change": e.change,
        "revenue": e.revenue,
        "channel": e.channel,
        "at": e.at,
    }


def step_for(item: Accepted) -> Step:
    """The timeline step of a message, status, assignment or escalation event."""
    e = item.event
    if e.type == "message":
        return Step(
            at=e.at,
            kind="message",
            direction=e.direction,
            author_kind=e.author.kind,
            author_id=e.author.id,
            private=e.private,
            handle_seconds=e.handle_seconds,
        )
    return Step(
        at=e.at,
        kind=e.type,
        status=getattr(e, "status", None),
        agent=getattr(e, "agent", None),
        team=getattr(e, "team", None),
        to_channel=getattr(e, "to_channel", None),
    )
