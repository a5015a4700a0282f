"""Whether the database takes writes, asked without changing anything."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from storage.models import RawEvent


def write_refused(engine: Engine) -> str | None:
    """None when a raw event can be written (the write every door makes, rolled back at once); else why
    not, in words without data (the error's kind and first line)."""
    now = datetime.now(UTC)
    probe = {
        "source": "kpibot-probe",
        "external_id": uuid4().hex,
        "type": "probe",
        "event_at": now,
        "received_at": now,
        "body": "{}",
    }
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.execute(insert(RawEvent.__table__).values(probe))
            finally:
                transaction.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        first_line = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200] if str(exc) else ""
        return f"{type(exc).__name__}: {first_line}".rstrip(": ")
    return None


def holds_events(engine: Engine) -> bool:
    """Whether any event was ever stored (by any door) in this database."""
    with engine.connect() as conn:
        return conn.execute(select(RawEvent.__table__.c.id).limit(1)).first() is not None
