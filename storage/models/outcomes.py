"""What came of conversations: survey answers, leads and their conversions, customer changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from storage.models.types import UTCDateTime, time_field


class Survey(SQLModel, table=True):
    """A CSAT (1-5), NPS (0-10) or CES answer, counted by when it was answered."""

    __tablename__ = "survey"
    # the conversation's answers, which a reassignment of the conversation notes (migration 0014)
    __table_args__ = (
        Index("ix_survey_kind_at", "kind", "at", "channel"),
        Index("ix_survey_conversation", "conversation_id"),
    )

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
    converted_at: datetime | None = time_field()
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
