"""Events as received: every accepted event (the truth every other table is rebuilt from), and
every refused one with why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from storage.models.types import UTCDateTime, time_field


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
    """A payload the bot refused, with why, kept for inspection and replay; kept once, however often the
    same payload arrives (`fingerprint`)."""

    __tablename__ = "rejected_event"
    __table_args__ = (Index("uq_rejected_event_fingerprint", "fingerprint", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    position: int | None = None
    reason: str = Field(sa_column=Column(Text, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_type=UTCDateTime)
    replayed_at: datetime | None = time_field()
    # customer ids in `payload` are pseudonyms already (see storage.privacy.private_event)
    pseudonymised: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # what identifies the refused payload (storage.ingest.fingerprint), so that a re-imported file or a
    # resent event is not kept again; None on rows kept by a webhook's adapter (storage.replay)
    fingerprint: str | None = Field(default=None, max_length=64)
