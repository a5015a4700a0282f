"""Digest and backlog-alert subscriptions: what an admin asked to be posted in which Slack channel.

Slash commands store them here; the scheduler reads them. One digest and one alert per Slack channel:
asking again in the same channel replaces the earlier one (a new time, a new scope).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint, delete
from sqlmodel import Field, Session, SQLModel, select

from storage.models import UTCDateTime

KINDS = ("digest", "alert")


class Subscription(SQLModel, table=True):
    """A daily digest (`time`, `timezone`) or a backlog alert (`threshold`, `max_age_seconds`).

    `channels` is a comma list of support channels ("" = all). `last_result` is what the scheduler
    last did with it (for `/kpi digest list` and for not posting twice).
    """

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("kind", "slack_channel", name="uq_subscription_kind_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    slack_channel: str
    time: str | None = None  # HH:MM, local to `timezone`
    timezone: str | None = None
    channels: str = ""
    threshold: int | None = None
    max_age_seconds: float | None = None
    created_by: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))

    @property
    def channel_list(self) -> tuple[str, ...]:
        """The support channels this subscription covers; () means all of them."""
        return tuple(name for name in self.channels.split(",") if name)


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
        for name in ("time", "timezone", "channels", "threshold", "max_age_seconds", "created_by"):
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
