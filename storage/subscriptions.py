"""Digest, backlog-alert, SLA-risk-alert and anomaly-alert subscriptions: what an admin asked to be posted
in which Slack channel.

Slash commands store them here; the scheduler reads them. One of each kind per Slack channel:
asking again in the same channel replaces the earlier one (a new time, a new scope). A digest's kind is
its cadence, so a channel may have a daily, a weekly and a monthly digest at once.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.models import Subscription

# digest kind -> cadence (commands.cadence); `day` is the weekly digest's weekday or monthly one's day.
# MY_DIGEST is someone's own weekly `/kpi me`, by direct message: its `slack_channel` is their user id.
MY_DIGEST = "digest-me"
DIGEST_KINDS = {
    "digest": "daily",
    "digest-weekly": "weekly",
    "digest-monthly": "monthly",
    MY_DIGEST: "weekly",
}
# sla: the SLA-risk alert, `max_age_seconds` its lead time; anomaly: the anomaly alert (commands.anomaly)
KINDS = (*DIGEST_KINDS, "alert", "sla", "anomaly")


def add_subscription(session: Session, subscription: Subscription) -> Subscription:
    """The stored subscription: a new row, or the channel's earlier one of the same kind, replaced."""
    if subscription.kind not in KINDS:
        raise ValueError(f"unknown subscription kind {subscription.kind!r}")
    earlier = session.exec(
        select(Subscription).where(
            Subscription.kind == subscription.kind, Subscription.slack_channel == subscription.slack_channel
        )
    ).first()
    if earlier is not None:
        for name in ("time", "day", "timezone", "channels", "threshold", "max_age_seconds", "created_by"):
            setattr(earlier, name, getattr(subscription, name))
        earlier.created_at = subscription.created_at
        earlier.last_result = None
        subscription = earlier
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return subscription


def list_subscriptions(session: Session, *, kind: str | None = None) -> list[Subscription]:
    """Every subscription (of one kind when given), by Slack channel then kind."""
    query = select(Subscription).order_by(Subscription.slack_channel, Subscription.kind)
    if kind is not None:
        query = query.where(Subscription.kind == kind)
    return list(session.exec(query).all())


def remove_subscriptions(session: Session, *, kind: str, slack_channel: str) -> int:
    """How many subscriptions of `kind` were deleted from `slack_channel` (0 when there were none)."""
    result = session.exec(
        delete(Subscription).where(Subscription.kind == kind, Subscription.slack_channel == slack_channel)
    )
    session.commit()
    return result.rowcount
