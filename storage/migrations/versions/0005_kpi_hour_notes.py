"""The per-day cache's notes name the hour changed (`kpi_day_stale.hour`; -1: the whole day, as every
earlier note does), and the triggers note changes to any hour that is over, today's too: the closed hours
of today can then be cached like those of earlier days, and a late change to one hour of a day leaves its
other hours' rows current (a day's whole row is stale after a note of any of its hours).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

kpi_day = importlib.import_module("storage.migrations.versions.0003_kpi_day")
WATCHED = importlib.import_module("storage.migrations.versions.0004_kpi_day_agents").WATCHED

# A change to hour H of day D, unless it is the current hour or later (a write made in an hour to that
# hour's rows is never noted: see storage.kpi_day_store.cached_until), gives H a note newer than every
# row of D has seen. Never "unless H has an unseen note already": a question may have read that note as
# what it has seen and not have stored its rows yet, and would store them without this change.
# SQLite (one writer at a time): the hour's older notes are replaced, so an hour has one note at most.
# Times are text 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC): the hour is characters 12-13.
_SQLITE_BEFORE = "strftime('%Y-%m-%d %H:00:00', 'now')"
_SQLITE_HOUR = "substr({ts}, 1, 10), CAST(substr({ts}, 12, 2) AS INTEGER)"
_SQLITE_NOTE = """
DELETE FROM kpi_day_stale WHERE {ts} < BEFORE AND (day, hour) = (HOUR);
INSERT INTO kpi_day_stale (day, hour) SELECT HOUR WHERE {ts} < BEFORE;""".replace(
    "BEFORE", _SQLITE_BEFORE
).replace("HOUR", _SQLITE_HOUR)
# PostgreSQL (writers at once): no delete, which would make writers of one hour wait for each other (and
# could deadlock), but one note per hour and transaction. A note's id comes from a sequence, in the order
# notes are made, not committed: a transaction noting a change holds NOTES_LOCK (storage.dialect) shared
# until it ends, and a question reads its `seen` only when it can take that lock alone, so no note older
# than `seen` is still to be committed (storage.kpi_day_store.newest_note).
NOTES_LOCK = 0x6B7062_6F74_0003  # storage.dialect.NOTES_LOCK, as of this revision
_POSTGRES_NOTE = f"""
CREATE FUNCTION kpi_day_note(ts timestamp) RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock_shared({NOTES_LOCK}) WHERE ts < date_trunc('hour', now() AT TIME ZONE 'UTC');
  INSERT INTO kpi_day_stale (day, hour)
  SELECT ts::date, extract(hour FROM ts)::int
  WHERE ts < date_trunc('hour', now() AT TIME ZONE 'UTC')
    AND NOT EXISTS (SELECT 1 FROM kpi_day_stale s WHERE s.day = ts::date
                    AND s.hour = extract(hour FROM ts)::int AND s.xmin = pg_current_xact_id()::xid)
$$"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    kpi_day.drop_triggers(dialect)
    op.add_column("kpi_day_stale", sa.Column("hour", sa.Integer(), server_default="-1", nullable=False))
    kpi_day.create_triggers(
        dialect, WATCHED, (_SQLITE_NOTE, _SQLITE_BEFORE, _POSTGRES_NOTE), skip_unchanged=True
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    kpi_day.drop_triggers(dialect)
    # Today's hours may be cached; 0004's triggers never note today, so those rows would not follow later
    # changes: dropped (with yesterday's, for clocks that differ), to be computed again once the day ends.
    rows = sa.table("kpi_day", sa.column("day", sa.Date))
    op.execute(rows.delete().where(rows.c.day >= datetime.now(UTC).date() - timedelta(days=1)))
    op.drop_column("kpi_day_stale", "hour")  # SQLite 3.35+: in place, keeping AUTOINCREMENT
    kpi_day.create_triggers(dialect, WATCHED)
