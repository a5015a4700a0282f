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

# Note hour H of day D unless it is the current hour or later (a write made in an hour to that hour's rows
# is never noted: see storage.kpi_day_store.cached_until) or D's rows of H have a note they have not seen
# already. SQLite times are text 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC): the hour is characters 12-13.
_SQLITE_BEFORE = "strftime('%Y-%m-%d %H:00:00', 'now')"
_SQLITE_NOTE = (
    """
INSERT INTO kpi_day_stale (day, hour)
SELECT substr({ts}, 1, 10), CAST(substr({ts}, 12, 2) AS INTEGER) WHERE {ts} < """
    + _SQLITE_BEFORE
    + """
  AND NOT EXISTS (SELECT 1 FROM kpi_day_stale s WHERE s.day = substr({ts}, 1, 10)
    AND s.hour IN (CAST(substr({ts}, 12, 2) AS INTEGER), -1) AND s.id > coalesce(
    (SELECT max(k.seen) FROM kpi_day k WHERE k.day = substr({ts}, 1, 10)), 0));"""
)

_POSTGRES_NOTE = """
CREATE FUNCTION kpi_day_note(ts timestamp) RETURNS void LANGUAGE sql AS $$
  INSERT INTO kpi_day_stale (day, hour)
  SELECT ts::date, extract(hour FROM ts)::int
  WHERE ts IS NOT NULL AND ts < date_trunc('hour', now() AT TIME ZONE 'UTC')
    AND NOT EXISTS (SELECT 1 FROM kpi_day_stale s WHERE s.day = ts::date
                    AND s.hour IN (extract(hour FROM ts)::int, -1)
                    AND s.id > coalesce((SELECT max(k.seen) FROM kpi_day k WHERE k.day = ts::date), 0))
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
