"""The per-day KPI cache's tables (storage.kpi_cache): slots of precomputed values and the notes of
changes that make them stale."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from storage.models.types import time_field


class KpiDay(SQLModel, table=True):
    """One UTC day of a duration series (`frt`, `wait`, ...) kept ready for the KPI queries: the day's
    values sorted, their count and exact sum, for one channel or, with channel "", for every channel.

    A cache of the projection tables, filled by the queries themselves (`storage.kpi_cache`); triggers
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
    latest: datetime | None = time_field()  # count series with an outcome time: the newest among the rows


class KpiDayStale(SQLModel, table=True):
    """A change to an hour that is over (or, `hour` -1, to a whole day), noted by a trigger on
    conversations and waits (migrations 0003 and 0005) or by ingestion for messages and survey answers."""

    __tablename__ = "kpi_day_stale"
    # ids only grow (AUTOINCREMENT on SQLite, a sequence on PostgreSQL): a row's `seen` compares to them
    __table_args__ = (Index("ix_kpi_day_stale_day", "day", "id"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    day: date
    hour: int = Field(default=-1, sa_column_kwargs={"server_default": "-1"})  # 0-23, or -1: the whole day
