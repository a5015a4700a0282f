"""The KPI cache's tables (storage.kpi_cache): the rows of each slot, and the notes of changes that make
them stale."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from storage.models.types import time_field

WHOLE_DAY = -1  # the hour of a slot, or of a change note, that is about the whole day


class KpiSlot(SQLModel, table=True):
    """A measure's rows over one slot — a whole UTC day (`hour` -1) or one hour of it — for one channel or,
    with channel "", for every channel: the count, the exact sum and the values (or a ranking's rows, a
    tally's labels, the agents' activity) in `payload`.

    A cache of the projection tables, filled by the questions themselves and the hourly warm-up
    (`storage.kpi_cache`); a row older than a note of its slot (`kpi_change_note`) is computed again.
    """

    __tablename__ = "kpi_slot"
    __table_args__ = (Index("ix_kpi_slot_day_seen", "day", "seen"),)

    measure: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    hour: int = Field(primary_key=True)  # 0-23, or -1: the whole day
    channel: str = Field(primary_key=True)  # "" = every channel
    seen: int  # the newest kpi_change_note id of the day when this row was computed (0: none)
    count: int
    total: float
    # values: little-endian int32 (whole seconds) or float64, told apart by the length (4 or 8 bytes each)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    latest: datetime | None = time_field()  # counts with an outcome time: the newest among the rows


class KpiChangeNote(SQLModel, table=True):
    """A change to an hour that is over (or, `hour` -1, to a whole day), noted by a trigger on
    conversations and waits (migration 0007) or by ingestion for messages and survey answers."""

    __tablename__ = "kpi_change_note"
    # ids only grow (AUTOINCREMENT on SQLite, a sequence on PostgreSQL): a row's `seen` compares to them
    __table_args__ = (Index("ix_kpi_change_note_day", "day", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    day: date
    hour: int = Field(default=WHOLE_DAY, sa_column_kwargs={"server_default": "-1"})
