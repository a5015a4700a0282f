"""What the anomaly alerts posted (`anomaly_post`): each signal's state, the record of a post made with
its outbox row in one transaction, and the anomalies of a period for the digest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from storage.models import AnomalyPost, OutboxEntry
from storage.outbox import Claim

P = AnomalyPost.__table__.c
FIRED = ("fire", "worse", "repeat")


@dataclass(frozen=True)
class Posted:
    """The latest post of one signal of one scope of a subscription."""

    channel: str
    signal: str
    kind: str
    episode: int
    post: int
    value: float
    usual: float
    posted_at: datetime


def latest(conn: Connection, subscription_id: int) -> list[Posted]:
    """Each signal's latest post for the subscription (one row per channel and signal)."""
    newest = (
        select(func.max(P.id))
        .where(P.subscription_id == subscription_id)
        .group_by(P.channel, P.signal)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(P.channel, P.signal, P.kind, P.episode, P.post, P.value, P.usual, P.posted_at).where(
            P.id.in_(newest)
        )
    ).all()
    return [Posted(*row) for row in rows]


def record_posted(engine: Engine, held: Claim, now: datetime, slack_ts: str, rows: Sequence[dict]) -> None:
    """Marks the outbox row sent and records the post's signals (AnomalyPost columns) in one transaction,
    so the signals' state and the outbox never disagree."""
    sent = {"status": "sent", "sent_at": now, "slack_ts": slack_ts, "error": None}
    with engine.begin() as conn:
        conn.execute(
            update(OutboxEntry.__table__).where(OutboxEntry.__table__.c.id == held.id).values(**sent)
        )
        conn.execute(insert(AnomalyPost.__table__), list(rows))


def record_unposted(engine: Engine, rows: Sequence[dict]) -> None:
    """Records the signals of a post Slack refused for good, so their episodes move on; rows already
    recorded (by another process) are left as they are."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(AnomalyPost.__table__), list(rows))
    except IntegrityError:
        pass


def fired(conn: Connection, start: datetime, end: datetime, channels: tuple[str, ...]) -> list[AnomalyPost]:
    """The anomalies posted about windows starting in `[start, end)` on `channels` (() = any), each
    (channel, signal, window) once however many alerts posted it, by window then as posted. An
    anomaly over several channels together counts for a digest of all channels only."""
    query = select(AnomalyPost.__table__).where(
        P.window_start >= start, P.window_start < end, P.kind.in_(FIRED)
    )
    query = query.where(P.channel.in_(channels)) if channels else query
    seen: dict[tuple, AnomalyPost] = {}
    for row in conn.execute(query.order_by(P.window_start, P.id)):
        seen.setdefault((row.channel, row.signal, row.window_start), AnomalyPost(**row._mapping))
    return list(seen.values())
