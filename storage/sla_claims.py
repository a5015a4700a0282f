"""Conversations taken or snoozed from an SLA-risk alert: "I'm on it" records who took it, "Snooze" until
when; either keeps the conversation out of later alerts (commands.sla_risk)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from storage.models import SlaClaim

_T = SlaClaim.__table__


def claim(engine: Engine, conversation: int, user: str, now: datetime) -> None:
    """Records that `user` took the conversation."""
    _set(engine, conversation, claimed_by=user, claimed_at=now)


def snooze(engine: Engine, conversation: int, until: datetime) -> None:
    """Keeps the conversation out of SLA-risk alerts until `until`."""
    _set(engine, conversation, snoozed_until=until)


def _set(engine: Engine, conversation: int, **values) -> None:
    with engine.begin() as conn:
        found = conn.execute(select(_T.c.conversation_id).where(_T.c.conversation_id == conversation)).first()
        if found is None:
            conn.execute(_T.insert().values(conversation_id=conversation, **values))
        else:
            conn.execute(update(_T).where(_T.c.conversation_id == conversation).values(**values))
