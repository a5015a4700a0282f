"""The KPI cache under plain names: `kpi_slot` (a slot's rows: `measure`, `day`, `hour` -1 for the whole
day, `channel`, `payload`) replaces `kpi_day` (whose `series` carried the hour as "frt@14" and whose
values were `sorted_values`); `kpi_change_note` replaces `kpi_day_stale`. The triggers noting changes are
written out as the SQL they are, one statement per watched time, instead of being assembled from pieces.

A cache, so nothing is copied: the new tables start empty and fill as questions (or the hourly warm-up)
need them. What the triggers watch is what revision 0005 watched: a change to a conversation's dating
times (opened, first response, last resolution) or to a column a measure reads, and a wait's end.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 19:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

kpi_day = importlib.import_module("storage.migrations.versions.0003_kpi_day")
hour_notes = importlib.import_module("storage.migrations.versions.0005_kpi_hour_notes")

# --- SQLite -------------------------------------------------------------------------------------------
# Times are text 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC). Writing a time to the view `kpi_changed_at`
# notes its hour, if that hour is over: the hour's older note is replaced (one writer at a time, so an hour
# has one note at most). A trigger's WHEN skips live traffic (times of the current hour) at the cost of
# one comparison per time.
SQLITE = [
    "CREATE VIEW kpi_changed_at AS SELECT NULL AS at",
    """CREATE TRIGGER kpi_changed_at_note INSTEAD OF INSERT ON kpi_changed_at
    WHEN NEW.at < strftime('%Y-%m-%d %H:00:00', 'now')
    BEGIN
        DELETE FROM kpi_change_note
        WHERE day = substr(NEW.at, 1, 10) AND hour = CAST(substr(NEW.at, 12, 2) AS INTEGER);
        INSERT INTO kpi_change_note (day, hour)
        VALUES (substr(NEW.at, 1, 10), CAST(substr(NEW.at, 12, 2) AS INTEGER));
    END""",
    """CREATE TRIGGER kpi_change_conversation_insert AFTER INSERT ON conversation FOR EACH ROW
    WHEN NEW.opened_at < strftime('%Y-%m-%d %H:00:00', 'now')
      OR NEW.first_response_at < strftime('%Y-%m-%d %H:00:00', 'now')
      OR NEW.last_resolved_at < strftime('%Y-%m-%d %H:00:00', 'now')
    BEGIN
        INSERT INTO kpi_changed_at (at)
        VALUES (NEW.opened_at), (NEW.first_response_at), (NEW.last_resolved_at);
    END""",
    """CREATE TRIGGER kpi_change_conversation_delete AFTER DELETE ON conversation FOR EACH ROW
    WHEN OLD.opened_at < strftime('%Y-%m-%d %H:00:00', 'now')
      OR OLD.first_response_at < strftime('%Y-%m-%d %H:00:00', 'now')
      OR OLD.last_resolved_at < strftime('%Y-%m-%d %H:00:00', 'now')
    BEGIN
        INSERT INTO kpi_changed_at (at)
        VALUES (OLD.opened_at), (OLD.first_response_at), (OLD.last_resolved_at);
    END""",
    # An update notes the hours a row leaves and, where a time moved, the hours it enters (a time that
    # did not move is noted once, as OLD's: NULLIF gives NULL, which notes nothing).
    """CREATE TRIGGER kpi_change_conversation_update AFTER UPDATE ON conversation FOR EACH ROW
    WHEN (OLD.opened_at IS NOT NEW.opened_at OR OLD.first_response_at IS NOT NEW.first_response_at
          OR OLD.frt_seconds IS NOT NEW.frt_seconds OR OLD.handle_seconds IS NOT NEW.handle_seconds
          OR OLD.channel IS NOT NEW.channel OR OLD.last_resolved_at IS NOT NEW.last_resolved_at
          OR OLD.resolved IS NOT NEW.resolved OR OLD.first_resolved_at IS NOT NEW.first_resolved_at
          OR OLD.first_resolution_seconds IS NOT NEW.first_resolution_seconds
          OR OLD.full_resolution_seconds IS NOT NEW.full_resolution_seconds
          OR OLD.escalated_to IS NOT NEW.escalated_to OR OLD.escalated_at IS NOT NEW.escalated_at
          OR OLD.transfer_count IS NOT NEW.transfer_count OR OLD.agent IS NOT NEW.agent
          OR OLD.first_responder IS NOT NEW.first_responder)
     AND (OLD.opened_at < strftime('%Y-%m-%d %H:00:00', 'now')
          OR OLD.first_response_at < strftime('%Y-%m-%d %H:00:00', 'now')
          OR OLD.last_resolved_at < strftime('%Y-%m-%d %H:00:00', 'now')
          OR NEW.opened_at < strftime('%Y-%m-%d %H:00:00', 'now')
          OR NEW.first_response_at < strftime('%Y-%m-%d %H:00:00', 'now')
          OR NEW.last_resolved_at < strftime('%Y-%m-%d %H:00:00', 'now'))
    BEGIN
        INSERT INTO kpi_changed_at (at) VALUES
            (OLD.opened_at), (OLD.first_response_at), (OLD.last_resolved_at),
            (NULLIF(NEW.opened_at, OLD.opened_at)), (NULLIF(NEW.first_response_at, OLD.first_response_at)),
            (NULLIF(NEW.last_resolved_at, OLD.last_resolved_at));
    END""",
    """CREATE TRIGGER kpi_change_wait_insert AFTER INSERT ON wait FOR EACH ROW
    WHEN NEW.end_at < strftime('%Y-%m-%d %H:00:00', 'now')
    BEGIN
        INSERT INTO kpi_changed_at (at) VALUES (NEW.end_at);
    END""",
    """CREATE TRIGGER kpi_change_wait_delete AFTER DELETE ON wait FOR EACH ROW
    WHEN OLD.end_at < strftime('%Y-%m-%d %H:00:00', 'now')
    BEGIN
        INSERT INTO kpi_changed_at (at) VALUES (OLD.end_at);
    END""",
    """CREATE TRIGGER kpi_change_wait_update AFTER UPDATE ON wait FOR EACH ROW
    WHEN (OLD.end_at IS NOT NEW.end_at OR OLD.seconds IS NOT NEW.seconds OR OLD.channel IS NOT NEW.channel)
     AND (OLD.end_at < strftime('%Y-%m-%d %H:00:00', 'now')
          OR NEW.end_at < strftime('%Y-%m-%d %H:00:00', 'now'))
    BEGIN
        INSERT INTO kpi_changed_at (at) VALUES (OLD.end_at), (NULLIF(NEW.end_at, OLD.end_at));
    END""",
]
SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS kpi_change_{table}_{event}" for table in ("conversation", "wait")
      for event in ("insert", "delete", "update")),
    "DROP TRIGGER IF EXISTS kpi_changed_at_note",
    "DROP VIEW IF EXISTS kpi_changed_at",
]  # fmt: skip

# --- PostgreSQL ---------------------------------------------------------------------------------------
# Writers run at once, so no delete (writers of one hour would wait for each other, and could deadlock):
# one note per hour and transaction. A note's id comes from a sequence, in the order notes are made, not
# committed: a transaction noting a change holds NOTES_LOCK (storage.dialect) shared until it ends, and a
# question reads what it has seen only when it can take that lock alone (storage.kpi_cache.store).
NOTES_LOCK = 0x6B7062_6F74_0003  # storage.dialect.NOTES_LOCK, as of this revision
POSTGRESQL = [
    f"""CREATE FUNCTION kpi_change_note_at(at timestamp) RETURNS void LANGUAGE sql AS $$
        SELECT pg_advisory_xact_lock_shared({NOTES_LOCK})
        WHERE at < date_trunc('hour', now() AT TIME ZONE 'UTC');
        INSERT INTO kpi_change_note (day, hour)
        SELECT at::date, extract(hour FROM at)::int
        WHERE at < date_trunc('hour', now() AT TIME ZONE 'UTC')
          AND NOT EXISTS (SELECT 1 FROM kpi_change_note n
                          WHERE n.day = at::date AND n.hour = extract(hour FROM at)::int
                            AND n.xmin = pg_current_xact_id()::xid)
    $$""",
    """CREATE FUNCTION kpi_change_conversation() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP <> 'INSERT' THEN
            PERFORM kpi_change_note_at(OLD.opened_at);
            PERFORM kpi_change_note_at(OLD.first_response_at);
            PERFORM kpi_change_note_at(OLD.last_resolved_at);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM kpi_change_note_at(NEW.opened_at);
            PERFORM kpi_change_note_at(NEW.first_response_at);
            PERFORM kpi_change_note_at(NEW.last_resolved_at);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER kpi_change_conversation_write AFTER INSERT OR DELETE ON conversation
    FOR EACH ROW EXECUTE FUNCTION kpi_change_conversation()""",
    """CREATE TRIGGER kpi_change_conversation_update AFTER UPDATE ON conversation FOR EACH ROW
    WHEN (OLD.opened_at IS DISTINCT FROM NEW.opened_at
          OR OLD.first_response_at IS DISTINCT FROM NEW.first_response_at
          OR OLD.frt_seconds IS DISTINCT FROM NEW.frt_seconds
          OR OLD.handle_seconds IS DISTINCT FROM NEW.handle_seconds
          OR OLD.channel IS DISTINCT FROM NEW.channel
          OR OLD.last_resolved_at IS DISTINCT FROM NEW.last_resolved_at
          OR OLD.resolved IS DISTINCT FROM NEW.resolved
          OR OLD.first_resolved_at IS DISTINCT FROM NEW.first_resolved_at
          OR OLD.first_resolution_seconds IS DISTINCT FROM NEW.first_resolution_seconds
          OR OLD.full_resolution_seconds IS DISTINCT FROM NEW.full_resolution_seconds
          OR OLD.escalated_to IS DISTINCT FROM NEW.escalated_to
          OR OLD.escalated_at IS DISTINCT FROM NEW.escalated_at
          OR OLD.transfer_count IS DISTINCT FROM NEW.transfer_count
          OR OLD.agent IS DISTINCT FROM NEW.agent
          OR OLD.first_responder IS DISTINCT FROM NEW.first_responder)
    EXECUTE FUNCTION kpi_change_conversation()""",
    """CREATE FUNCTION kpi_change_wait() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP <> 'INSERT' THEN PERFORM kpi_change_note_at(OLD.end_at); END IF;
        IF TG_OP <> 'DELETE' THEN PERFORM kpi_change_note_at(NEW.end_at); END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER kpi_change_wait_write AFTER INSERT OR DELETE ON wait
    FOR EACH ROW EXECUTE FUNCTION kpi_change_wait()""",
    """CREATE TRIGGER kpi_change_wait_update AFTER UPDATE ON wait FOR EACH ROW
    WHEN (OLD.end_at IS DISTINCT FROM NEW.end_at OR OLD.seconds IS DISTINCT FROM NEW.seconds
          OR OLD.channel IS DISTINCT FROM NEW.channel)
    EXECUTE FUNCTION kpi_change_wait()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS kpi_change_conversation_write ON conversation",
    "DROP TRIGGER IF EXISTS kpi_change_conversation_update ON conversation",
    "DROP TRIGGER IF EXISTS kpi_change_wait_write ON wait",
    "DROP TRIGGER IF EXISTS kpi_change_wait_update ON wait",
    "DROP FUNCTION IF EXISTS kpi_change_conversation()",
    "DROP FUNCTION IF EXISTS kpi_change_wait()",
    "DROP FUNCTION IF EXISTS kpi_change_note_at(timestamp)",
]


def create_triggers(dialect: str) -> None:
    """The triggers noting changes for the cache (a later migration that rebuilds `conversation` or `wait`
    in SQLite batch mode drops them with the table and must call this again)."""
    for statement in SQLITE if dialect == "sqlite" else POSTGRESQL:
        op.execute(statement)


def drop_triggers(dialect: str) -> None:
    for statement in SQLITE_DROP if dialect == "sqlite" else POSTGRESQL_DROP:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    kpi_day.drop_triggers(dialect)
    for table, index in (("kpi_day", "ix_kpi_day_day_seen"), ("kpi_day_stale", "ix_kpi_day_stale_day")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
        op.drop_table(table)
    op.create_table(
        "kpi_slot",
        sa.Column("measure", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("latest", storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("measure", "day", "hour", "channel"),
    )
    with op.batch_alter_table("kpi_slot", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_slot_day_seen", ["day", "seen"], unique=False)
    op.create_table(
        "kpi_change_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), server_default="-1", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("kpi_change_note", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_change_note_day", ["day", "id"], unique=False)
    create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    drop_triggers(dialect)
    for table, index in (("kpi_slot", "ix_kpi_slot_day_seen"), ("kpi_change_note", "ix_kpi_change_note_day")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
        op.drop_table(table)
    op.create_table(
        "kpi_day",
        sa.Column("series", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("sorted_values", sa.LargeBinary(), nullable=False),
        sa.Column("latest", storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("series", "day", "channel"),
    )
    with op.batch_alter_table("kpi_day", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_day_day_seen", ["day", "seen"], unique=False)
    op.create_table(
        "kpi_day_stale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), server_default="-1", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("kpi_day_stale", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_day_stale_day", ["day", "id"], unique=False)
    kpi_day.create_triggers(
        dialect,
        hour_notes.WATCHED,
        (hour_notes._SQLITE_NOTE, hour_notes._SQLITE_BEFORE, hour_notes._POSTGRES_NOTE),
        skip_unchanged=True,
    )
