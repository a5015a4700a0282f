"""The tables. Raw events are the truth; every other table is a projection rebuilt from them.

All times are timezone-aware UTC in Python and naive UTC in the database (see `UTCDateTime`).
Durations are float seconds so SQL can average and sort them directly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, false, text
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the column, identical on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite returns text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def _time(*, index: bool = False, nullable: bool = True):
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


class RawEvent(SQLModel, table=True):
    """Every accepted event as received (customer handles already pseudonymised)."""

    __tablename__ = "raw_event"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_raw_event_source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    type: str
    event_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(sa_column=Column(Text, nullable=False))


class RejectedEvent(SQLModel, table=True):
    """A payload the bot refused, with why, kept for inspection and replay."""

    __tablename__ = "rejected_event"

    id: int | None = Field(default=None, primary_key=True)
    source: str
    position: int | None = None
    reason: str = Field(sa_column=Column(Text, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_type=UTCDateTime)
    replayed_at: datetime | None = _time()
    # customer ids in `payload` are pseudonyms already (see storage.privacy.private_event)
    pseudonymised: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Conversation(SQLModel, table=True):
    """One customer thread on one channel, with every derived time the KPIs read."""

    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_conversation_source_id"),
        Index("ix_conversation_channel_opened", "channel", "opened_at"),
        Index("ix_conversation_response", "first_response_at", "channel", "frt_seconds"),
        Index(
            "ix_conversation_resolved",
            "last_resolved_at",
            "channel",
            "resolved",
            "first_resolution_seconds",
            "full_resolution_seconds",
            "first_resolved_at",  # with opened_at: a past backlog snapshot reads this index alone
            "opened_at",
        ),
        Index(
            "ix_conversation_handled",
            "first_response_at",
            "channel",
            "handle_seconds",
            sqlite_where=text("handle_seconds IS NOT NULL"),
            postgresql_where=text("handle_seconds IS NOT NULL"),
        ),
        # first_response_at too, so "still waiting for a first reply" is counted from the index alone
        Index("ix_conversation_open", "resolved", "opened_at", "channel", "first_response_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    channel: str
    customer: str | None = None  # pseudonymised handle of the first inbound author
    opened_at: datetime | None = _time(index=True)
    first_inbound_at: datetime | None = _time()
    first_response_at: datetime | None = _time()
    first_responder: str | None = None
    frt_seconds: float | None = None
    last_message_at: datetime | None = _time()
    status: str = "new"  # new (no inbound yet) / open / pending / resolved / closed
    resolved: bool = False
    first_resolved_at: datetime | None = _time()
    last_resolved_at: datetime | None = _time()
    first_resolution_seconds: float | None = None
    full_resolution_seconds: float | None = None
    reopen_count: int = 0
    agent: str | None = None
    team: str | None = None
    transfer_count: int = 0
    escalated_to: str | None = None
    escalated_at: datetime | None = _time()
    handle_seconds: float | None = None
    link: str | None = None


class Message(SQLModel, table=True):
    """One message of a conversation. `direction` is inbound/outbound; `author_kind` customer/agent/bot."""

    __tablename__ = "message"
    __table_args__ = (
        # Covers every period query on messages (volume, replies, quick replies, agents, cost, sentiment)
        # so they read the index alone, never the text-heavy table rows.
        Index(
            "ix_message_at_channel",
            "at",
            "channel",
            "direction",
            "author_kind",
            "private",
            "sentiment",
            "quick_reply",
            "author_id",
            "conversation_id",
            "handle_seconds",
            "author_name",
            "lang",
        ),
        Index("ix_message_conversation", "conversation_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    raw_event_id: int = Field(foreign_key="raw_event.id")
    channel: str
    at: datetime = Field(sa_type=UTCDateTime)
    direction: str
    author_kind: str
    author_id: str | None = None
    author_name: str | None = None
    private: bool = False
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sentiment: float | None = None
    lang: str | None = None
    topics: str | None = None
    quick_reply: str | None = None
    handle_seconds: float | None = None


class ConversationEvent(SQLModel, table=True):
    """A status change, an assignment or an escalation of a conversation."""

    __tablename__ = "conversation_event"
    __table_args__ = (Index("ix_conversation_event_conversation", "conversation_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    raw_event_id: int = Field(foreign_key="raw_event.id")
    kind: str  # status / assignment / escalation
    at: datetime = Field(sa_type=UTCDateTime)
    status: str | None = None
    agent: str | None = None
    team: str | None = None
    to_channel: str | None = None


class Wait(SQLModel, table=True):
    """A customer's wait for a human reply: from an inbound message not already waiting to the next reply."""

    __tablename__ = "wait"
    __table_args__ = (
        Index("ix_wait_end", "end_at", "channel", "seconds"),
        Index("ix_wait_conversation", "conversation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    channel: str
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime | None = _time()
    seconds: float | None = None
    agent: str | None = None


class Survey(SQLModel, table=True):
    """A CSAT (1-5), NPS (0-10) or CES answer, counted by when it was answered."""

    __tablename__ = "survey"
    __table_args__ = (Index("ix_survey_kind_at", "kind", "at", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    raw_event_id: int = Field(foreign_key="raw_event.id")
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    channel: str | None = None
    kind: str
    score: float
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(sa_type=UTCDateTime)


class Lead(SQLModel, table=True):
    """A sales lead captured in support, and when it converted if it did."""

    __tablename__ = "lead"
    __table_args__ = (Index("ix_lead_at", "at", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    raw_event_id: int = Field(foreign_key="raw_event.id")
    source: str
    conversation_key: str | None = Field(default=None, index=True)
    channel: str | None = None
    at: datetime = Field(sa_type=UTCDateTime)
    value: float | None = None
    converted_at: datetime | None = _time()
    conversion_value: float | None = None


class Conversion(SQLModel, table=True):
    """A `conversion` event; it converts the lead of the same conversation whenever that arrives."""

    __tablename__ = "conversion"

    id: int | None = Field(default=None, primary_key=True)
    raw_event_id: int = Field(foreign_key="raw_event.id")
    source: str
    conversation_key: str | None = Field(default=None, index=True)
    channel: str | None = None
    at: datetime = Field(sa_type=UTCDateTime)
    value: float | None = None


class CustomerChange(SQLModel, table=True):
    """A customer becoming new, active or lost; feeds retention, churn and social impact."""

    __tablename__ = "customer_change"
    __table_args__ = (Index("ix_customer_change_customer_at", "customer", "at", "change"),)

    id: int | None = Field(default=None, primary_key=True)
    raw_event_id: int = Field(foreign_key="raw_event.id")
    customer: str  # pseudonymised
    change: str  # new / active / lost
    revenue: float | None = None
    channel: str | None = None
    at: datetime = Field(sa_type=UTCDateTime, index=True)


class AppSecret(SQLModel, table=True):
    """Secrets the bot generates itself when none is configured (e.g. the pseudonymisation key)."""

    __tablename__ = "app_secret"

    name: str = Field(primary_key=True)
    value: str


class KpiDay(SQLModel, table=True):
    """One UTC day of a duration series (`frt`, `wait`, ...) kept ready for the KPI queries: the day's
    values sorted, their count and exact sum, for one channel or, with channel "", for every channel.

    A cache of the projection tables, filled by the queries themselves (`storage.kpi_days`); triggers
    note every later change to a day in `kpi_day_stale`, and a row older than its day's newest note is
    recomputed.
    """

    __tablename__ = "kpi_day"
    __table_args__ = (Index("ix_kpi_day_day_seen", "day", "seen"),)  # the triggers' look-up

    series: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True)  # "" = every channel
    seen: int  # the newest kpi_day_stale id of the day when this row was computed (0: none)
    count: int
    total: float
    # little-endian int32 (whole seconds) or float64, told apart by the length: 4 or 8 bytes per value
    sorted_values: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    latest: datetime | None = _time()  # count series with an outcome time: the newest among the rows


class KpiDayStale(SQLModel, table=True):
    """A change to an hour that is over (or, `hour` -1, to a whole day), noted by a trigger on
    conversations and waits (migrations 0003 and 0005) or by ingestion for messages and survey answers."""

    __tablename__ = "kpi_day_stale"
    # ids only grow (AUTOINCREMENT on SQLite, a sequence on PostgreSQL): a row's `seen` compares to them
    __table_args__ = (Index("ix_kpi_day_stale_day", "day", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    day: date
    hour: int = Field(default=-1, sa_column_kwargs={"server_default": "-1"})  # 0-23, or -1: the whole day
