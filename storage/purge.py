"""Retention: delete message text older than the retention period, keep every derived number.

Rejected events (which may hold a message's text, pseudonymised handles aside) are deleted once they were
received longer ago than the same period.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.engine import Engine

from storage.models import Message, RawEvent, RejectedEvent, Survey
from storage.rebuild import chunks

_TEXT_FIELDS = ("text", "comment")


@dataclass
class PurgeResult:
    """How many messages lost their text, raw events were scrubbed and rejected events deleted."""

    messages: int
    raw_events: int
    cutoff: datetime
    rejected: int = 0


def purge_text(engine: Engine, *, now: datetime, retention_days: int) -> PurgeResult:
    """Removes text of messages (and their raw events) older than `retention_days` before `now`."""
    cutoff = now - timedelta(days=retention_days)
    msg, raw = Message.__table__, RawEvent.__table__
    with engine.begin() as conn:
        messages = conn.execute(
            update(msg).where(and_(msg.c.at < cutoff, msg.c.text.is_not(None))).values(text=None)
        ).rowcount
        survey = Survey.__table__
        conn.execute(
            update(survey)
            .where(and_(survey.c.at < cutoff, survey.c.comment.is_not(None)))
            .values(comment=None)
        )
        scrubbed = 0
        rows = conn.execute(
            select(raw.c.id, raw.c.body).where(
                and_(
                    raw.c.event_at < cutoff,
                    raw.c.type.in_(("message", "survey")),
                    or_(raw.c.body.contains('"text"'), raw.c.body.contains('"comment"')),
                )
            )
        ).all()
        for part in chunks(rows):
            changes = []
            for raw_id, body in part:
                data = json.loads(body)
                if any(data.get(name) is not None for name in _TEXT_FIELDS):
                    for name in _TEXT_FIELDS:
                        data.pop(name, None)
                    changes.append(
                        {"_id": raw_id, "body": json.dumps(data, ensure_ascii=False, separators=(",", ":"))}
                    )
            if changes:
                conn.execute(
                    update(raw).where(raw.c.id == bindparam("_id")).values(body=bindparam("body")), changes
                )
                scrubbed += len(changes)
        kept = RejectedEvent.__table__
        rejected = conn.execute(delete(kept).where(kept.c.received_at < cutoff)).rowcount
    return PurgeResult(messages=messages, raw_events=scrubbed, cutoff=cutoff, rejected=rejected)
