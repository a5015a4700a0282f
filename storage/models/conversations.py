"""Conversations and what happened in them: messages, status and assignment changes, customer waits.

Projections of the raw events (storage.projection); durations are float seconds so SQL can average and
sort them directly."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.models.types import UTCDateTime, time_field


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
        # the teams of a period (`by team`): each team's first conversation active since a time, by seeks
        Index(
            "ix_conversation_team",
            "team",
            "last_message_at",
            "opened_at",
            "channel",
            sqlite_where=text("team IS NOT NULL"),
            postgresql_where=text("team IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    external_id: str
    channel: str
    customer: str | None = None  # pseudonymised handle of the first inbound author
    opened_at: datetime | None = time_field(index=True)
    first_inbound_at: datetime | None = time_field()
    first_response_at: datetime | None = time_field()
    first_responder: str | None = None
    frt_seconds: float | None = None
    last_message_at: datetime | None = time_field()
    status: str = "new"  # new (no inbound yet) / open / pending / resolved / closed
    resolved: bool = False
    first_resolved_at: datetime | None = time_field()
    last_resolved_at: datetime | None = time_field()
    first_resolution_seconds: float | None = None
    full_resolution_seconds: float | None = None
    reopen_count: int = 0
    agent: str | None = None
    team: str | None = None
    transfer_count: int = 0
    escalated_to: str | None = None
    escalated_at: datetime | None = time_field()
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
        # a conversation's messages in order, and (read from the index alone) its tagged customer messages'
        # topics, which label its rows for `by topic` (storage.kpi_cache.labelled)
        Index("ix_message_conversation", "conversation_id", "at", "direction", "topics"),
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


class SlaClock(SQLModel, table=True):
    """A customer's wait, or another service-level clock (docs/metrics.md, "Service levels"): `kind`
    "first" (a conversation's first wait: from its first customer message to the first human reply),
    "next" (each later wait: from a customer message not already waiting to the next human reply) or
    "resolution" (from opening, or a reopening, to the resolution that follows). `end_at` is None while it
    runs. `seconds` is end - start in calendar time, the reply wait's length; a wait still unanswered when
    its conversation was resolved ends at that resolution with no `seconds` (no reply ended it). `agent`
    is who replied.

    `deadline` is start + the channel's target for that kind (in business hours if its policy says so;
    None without a target), stamped when the clock is written and again when a policy changes
    (storage.service_levels); `late` is how far past its deadline the clock ended, None if it ended in
    time or still runs. A resolution clock that a reopening started carries `reopened_from` (when the
    conversation had been resolved: the end of the clock before it) and `reopen_gap` (the seconds from
    then to the reopening)."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        # reply waits and met targets, by when they ended (ended clocks only: running ones have their own)
        Index(
            "ix_sla_clock_end",
            "kind",
            "end_at",
            "channel",
            "deadline",
            "seconds",
            sqlite_where=text("end_at IS NOT NULL"),
            postgresql_where=text("end_at IS NOT NULL"),
        ),
        # breaches, by their deadline
        Index("ix_sla_clock_deadline", "kind", "deadline", "channel", "end_at", "late", "start_at"),
        Index("ix_sla_clock_conversation", "conversation_id"),
        # the clocks still running: in queue order, and by deadline (what an SLA-risk check reads)
        Index(
            "ix_sla_clock_queue",
            "kind",
            "start_at",
            "channel",
            sqlite_where=text("end_at IS NULL"),
            postgresql_where=text("end_at IS NULL"),
        ),
        Index(
            "ix_sla_clock_due",
            "deadline",
            sqlite_where=text("end_at IS NULL"),
            postgresql_where=text("end_at IS NULL"),
        ),
        # reopenings (the `reopens` KPI): by when they happened, and by the resolution they undid
        Index(
            "ix_sla_clock_reopen",
            "start_at",
            "channel",
            "conversation_id",
            sqlite_where=text("reopened_from IS NOT NULL"),
            postgresql_where=text("reopened_from IS NOT NULL"),
        ),
        Index(
            "ix_sla_clock_reopened_from",
            "reopened_from",
            "channel",
            "reopen_gap",
            "start_at",
            "conversation_id",
            sqlite_where=text("reopened_from IS NOT NULL"),
            postgresql_where=text("reopened_from IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    channel: str
    kind: str
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime | None = time_field()
    seconds: float | None = None
    agent: str | None = None
    deadline: datetime | None = time_field()
    late: float | None = None
    # A resolution clock started by a reopening: when the conversation had been resolved (the end of the
    # clock before it), and the seconds from then to the reopening. None for every other clock.
    reopened_from: datetime | None = time_field()
    reopen_gap: float | None = None
