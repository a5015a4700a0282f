"""Slack Events API deliveries already handled, remembered in the database every bot process shares.

Slack retries an event (X-Slack-Retry-Num) when an ack was slow or lost, within minutes. Behind a load
balancer the retry may reach another process than the first delivery: a memory of one process would
not know it. Rows older than KEEP are dropped as new ones arrive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine

from storage.bulk import insert_new_returning
from storage.models import SlackDelivery

KEEP = timedelta(hours=1)  # Slack gives up after three retries over about five minutes


def first_delivery(engine: Engine, event_id: str, now: datetime) -> bool:
    """Records `event_id`; True when no process had seen it before (this delivery is to be handled)."""
    table = SlackDelivery.__table__
    with engine.begin() as conn:
        new = insert_new_returning(
            conn,
            table,
            [{"event_id": event_id, "received_at": now}],
            unique=("event_id",),
            returning=("event_id",),
        )
        if new:
            conn.execute(delete(table).where(table.c.received_at < now - KEEP))
    return bool(new)


def forget_delivery(engine: Engine, event_id: str) -> None:
    """Forgets `event_id`, whose handling failed, so that Slack's retry of it is handled (not skipped)."""
    table = SlackDelivery.__table__
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.event_id == event_id))
