"""The workspace's own state: its generated secret, digest and alert subscriptions, the outbox of
scheduled posts and each alert's state, the anomalies the anomaly alert posted, intake channels added by
admins, Slack deliveries seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.types import UTCDateTime


class AppSecret(SQLModel, table=True):
    """Secrets the bot generates itself when none is configured (e.g. the pseudonymisation key)."""

    __tablename__ = "app_secret"

    name: str = Field(primary_key=True)
    value: str


class Subscription(SQLModel, table=True):
    """A digest (`time`, `timezone`), a backlog alert (`threshold`, `max_age_seconds`), an SLA-risk
    alert (kind "sla": `max_age_seconds` is its lead time) or an anomaly alert (kind "anomaly").

    A digest's kind is its cadence: "digest" (daily), "digest-weekly" (`day` the weekday, 0 = Monday) or
    "digest-monthly" (`day` the day of the month, 1-28), so each can live beside the others in one Slack
    channel (see storage.subscriptions.DIGEST_KINDS).

    `channels` is a comma list of support channels ("" = all). `last_result` is what the scheduler
    last did with it (for `/kpi digest list` and for not posting twice).
    """

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("kind", "slack_channel", name="uq_subscription_kind_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    slack_channel: str
    time: str | None = None  # HH:MM, local to `timezone`
    day: int | None = None  # a weekly digest's weekday (0 = Monday), a monthly one's day of the month
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


class OutboxEntry(SQLModel, table=True):
    """One scheduled post: claimed, then sent or failed; `slack_ts` once the message is in Slack."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("subscription_id", "kind", "key", name="uq_outbox_subscription_key"),)

    id: int | None = Field(default=None, primary_key=True)
    # No foreign key: the record of what was posted outlives a subscription turned off.
    subscription_id: int = Field(index=True)
    kind: str  # digest / alert
    key: str
    status: str  # claimed / sent / failed
    permanent: bool = False
    attempts: int = 1
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slack_ts: str | None = None


class AlertState(SQLModel, table=True):
    """Where a backlog alert stands: inside an alert episode (`active`) or not, and its last post."""

    __tablename__ = "alert_state"

    subscription_id: int = Field(primary_key=True)
    active: bool = False
    episode: int = 0  # alert episodes so far: each starts with an alert and ends with an all-clear
    posts: int = 0  # alert posts in the current episode
    last_count: int = 0  # conversations over the age limit at the last post
    last_sla: int = 0  # conversations past their channel's SLA at the last post
    last_posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the SLA-risk alert: the latest deadline it listed, so a conversation newly at risk is told at once
    latest_deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AnomalyPost(SQLModel, table=True):
    """One signal's part of an anomaly alert's post (commands.anomaly_alert): `kind` fire, worse, repeat
    or clear, in `episode` (`post` its number in the episode, 0 for the all-clear), about `signal` (volume,
    frt, negative, topic:<name>) of `channel` ("" = the subscription's channels together) over `[window_start,
    window_end)`: the value, its usual and the scale it was judged with. The latest row of a signal is its
    state; the digest lists the anomalies of its period from here."""

    __tablename__ = "anomaly_post"
    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "channel", "signal", "episode", "post", name="uq_anomaly_post_episode"
        ),
        Index("ix_anomaly_post_signal", "subscription_id", "channel", "signal", "id"),
        Index("ix_anomaly_post_window", "window_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No foreign key: what was posted outlives a subscription turned off (the digest still lists it).
    subscription_id: int
    channel: str
    signal: str
    kind: str
    episode: int
    post: int
    window_start: datetime = Field(sa_type=UTCDateTime)
    window_end: datetime = Field(sa_type=UTCDateTime)
    value: float
    usual: float
    scale: float
    posted_at: datetime = Field(sa_type=UTCDateTime)


class IntakeChannel(SQLModel, table=True):
    """A Slack channel whose messages are customer conversations on `channel` (e.g. twitter)."""

    __tablename__ = "intake_channel"

    slack_channel: str = Field(primary_key=True)
    channel: str
    added_by: str
    added_at: datetime = Field(sa_type=UTCDateTime)


class SlackDelivery(SQLModel, table=True):
    """An Events API event id seen by some bot process, and when."""

    __tablename__ = "slack_delivery"

    event_id: str = Field(primary_key=True)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)


class SlaPolicyRow(SQLModel, table=True):
    """A service-level policy set by an admin (`/kpi sla set`): for `channel` ("" = the default), the
    first-response, next-response and resolution targets in seconds (None: no target), counted in
    business hours or not. It wins over the YAML's `sla` for that channel."""

    __tablename__ = "sla_policy"

    channel: str = Field(primary_key=True)
    first_seconds: float | None = None
    next_seconds: float | None = None
    resolve_seconds: float | None = None
    business_hours: bool = False
    set_by: str
    set_at: datetime = Field(sa_type=UTCDateTime)


class SlaClaim(SQLModel, table=True):
    """Someone took a conversation the SLA-risk alert listed ("I'm on it": `claimed_by`), or snoozed it
    until `snoozed_until`: either keeps it out of later alerts."""

    __tablename__ = "sla_claim"

    conversation_id: int = Field(primary_key=True)
    claimed_by: str | None = None
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
