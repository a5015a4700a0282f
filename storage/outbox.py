"""The outbox of scheduled posts and the state of each backlog alert: what makes a post go out once.

A job claims a key before it posts: a unique insert of (subscription, kind, key), where the key is the
local date for a digest and the alert episode and post number for an alert. Whoever inserts the row
owns the post; another process (or a second run) gets no claim and posts nothing. After posting, the
row is marked sent. A claim still `claimed` after STALE_AFTER means the process died between claim and
post: it may be claimed again. A failure worth retrying (Slack down, rate limited) may be claimed again
after a backoff that doubles with each attempt (5, 10, 20, 40, 80 min: about 2.5 h in all); a permanent
one (channel gone), or the MAX_ATTEMPTS-th failure, never is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from storage.models import AlertState, OutboxEntry, Subscription

STALE_AFTER = timedelta(minutes=10)
RETRY_BACKOFF = timedelta(minutes=5)  # after the first failure; doubled after each one since
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Claim:
    """The right to make one post, held by whoever inserted (or re-claimed) its outbox row."""

    id: int
    subscription_id: int
    kind: str
    key: str
    attempts: int
    slack_ts: str | None = None


OB = OutboxEntry.__table__.c
A = AlertState.__table__


def claim(engine: Engine, *, subscription_id: int, kind: str, key: str, now: datetime) -> Claim | None:
    """The claim on the post (subscription, kind, key), or None when it was sent, failed for good, is
    being posted by someone else, or failed too recently to try again."""
    try:
        with engine.begin() as conn:
            values = dict(
                subscription_id=subscription_id, kind=kind, key=key, status="claimed", claimed_at=now
            )
            row_id = conn.execute(
                insert(OutboxEntry.__table__).values(**values, attempts=1)
            ).inserted_primary_key[0]
        return Claim(row_id, subscription_id, kind, key, 1)
    except IntegrityError:
        pass  # already claimed once: maybe it may be claimed again
    with engine.begin() as conn:
        row = conn.execute(
            select(OutboxEntry.__table__).where(
                OB.subscription_id == subscription_id, OB.kind == kind, OB.key == key
            )
        ).one()
        if not _reclaimable(row, now):
            return None
        # Compare-and-set on the attempt count: of two processes re-claiming at once, one wins.
        taken = conn.execute(
            update(OutboxEntry.__table__)
            .where(OB.id == row.id, OB.attempts == row.attempts, OB.status == row.status)
            .values(status="claimed", claimed_at=now, attempts=row.attempts + 1)
        ).rowcount
    return Claim(row.id, subscription_id, kind, key, row.attempts + 1, row.slack_ts) if taken == 1 else None


def set_slack_ts(engine: Engine, held: Claim, slack_ts: str) -> None:
    """Records that the message is in Slack, so a retry adds only what is missing (the chart)."""
    with engine.begin() as conn:
        conn.execute(update(OutboxEntry.__table__).where(OB.id == held.id).values(slack_ts=slack_ts))


def mark_sent(
    engine: Engine,
    held: Claim,
    now: datetime,
    *,
    slack_ts: str | None = None,
    note: str | None = None,
    alert_state: AlertState | None = None,
) -> None:
    """Marks the post sent (with what went partly wrong in `note`), and saves the alert's new state in
    the same transaction, so state and outbox never disagree."""
    values = {"status": "sent", "sent_at": now, "error": note}
    if slack_ts is not None:
        values["slack_ts"] = slack_ts
    with engine.begin() as conn:
        conn.execute(update(OutboxEntry.__table__).where(OB.id == held.id).values(**values))
        if alert_state is not None:
            _save_alert_state(conn, alert_state)


def mark_failed(engine: Engine, held: Claim, error: str, *, permanent: bool) -> bool:
    """Records why the post failed; True when it will be tried again, False when it never will."""
    final = permanent or held.attempts >= MAX_ATTEMPTS
    with engine.begin() as conn:
        conn.execute(
            update(OutboxEntry.__table__)
            .where(OB.id == held.id)
            .values(status="failed", permanent=final, error=error)
        )
    return not final


def entry(engine: Engine, *, subscription_id: int, kind: str, key: str) -> OutboxEntry | None:
    """The outbox row of one post, or None when it was never claimed."""
    with engine.connect() as conn:
        row = conn.execute(
            select(OutboxEntry.__table__).where(
                OB.subscription_id == subscription_id, OB.kind == kind, OB.key == key
            )
        ).first()
    return None if row is None else OutboxEntry(**row._mapping)


def retryable(engine: Engine, *, kind: str, now: datetime) -> list[tuple[int, str]]:
    """(subscription id, key) of the posts of `kind` that may be claimed again at `now`: stale claims and
    failures worth retrying whose backoff has passed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutboxEntry.__table__).where(
                OB.kind == kind,
                or_(OB.status == "claimed", and_(OB.status == "failed", OB.permanent.is_(False))),
            )
        ).all()
    return [(row.subscription_id, row.key) for row in rows if _reclaimable(row, now)]


def record_result(engine: Engine, subscription_id: int, text: str) -> None:
    """Stores what the scheduler last did for a subscription, as `/kpi digest list` shows it."""
    with engine.begin() as conn:
        conn.execute(
            update(Subscription.__table__)
            .where(Subscription.__table__.c.id == subscription_id)
            .values(last_result=text)
        )


def alert_state(engine: Engine, subscription_id: int) -> AlertState:
    """The alert's current state; a quiet, never-fired state when it has none yet."""
    with engine.connect() as conn:
        row = conn.execute(select(A).where(A.c.subscription_id == subscription_id)).first()
    return AlertState(subscription_id=subscription_id) if row is None else AlertState(**row._mapping)


def save_alert_state(engine: Engine, state: AlertState) -> None:
    """Stores the alert's new state without a post (after a post Slack refused for good)."""
    with engine.begin() as conn:
        _save_alert_state(conn, state)


def _save_alert_state(conn: Connection, state: AlertState) -> None:
    values = state.model_dump()
    changed = conn.execute(
        update(A).where(A.c.subscription_id == state.subscription_id).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(A).values(**values))


def _reclaimable(row, now: datetime) -> bool:
    if row.status == "claimed":
        return row.claimed_at <= now - STALE_AFTER
    if row.status == "failed" and not row.permanent and row.attempts < MAX_ATTEMPTS:
        return row.claimed_at <= now - RETRY_BACKOFF * 2 ** (row.attempts - 1)
    return False
