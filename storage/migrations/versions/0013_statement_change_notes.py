"""PostgreSQL: the KPI cache's change notes on `conversation` made once per statement instead of once per
row. The same hours are noted (docs/architecture.md, "The KPI cache"): a row's dating times (opened, first
response, last resolution) that are over, when a row is inserted or deleted, and on an update that changes
a watched column, the hours the row leaves and enters.

Why: per row, the trigger called a SQL function once per watched time, 3 times per insert and 6 per
update, each call planning its two statements again (90–230 µs a call). An import writes conversations in
statements of hundreds of rows (multi-row inserts, `storage.bulk.bulk_update` as one statement), so the
server spent about a millisecond per conversation there: most of an import's time on PostgreSQL
(docs/performance.md, "Import (PostgreSQL)"). A statement-level trigger reads the statement's rows from
its transition tables and notes each hour once in one INSERT … SELECT DISTINCT.

SQLite has no statement-level triggers: nothing changes there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

cache_names = importlib.import_module("storage.migrations.versions.0007_kpi_cache_names")
NOTES_LOCK = 0x6B7062_6F74_0003  # storage.dialect.NOTES_LOCK, as of this revision
# the dating times and the watched columns of 0007's triggers, as 0004 set them
_TIMES, _WATCHED = importlib.import_module("storage.migrations.versions.0004_kpi_day_agents").WATCHED[
    "conversation"
]
_CHANGED = " OR ".join(f"o.{name} IS DISTINCT FROM n.{name}" for name in _WATCHED)
_ROW_TIMES = ", ".join(f"(c.{name})" for name in _TIMES)
_BOTH_TIMES = ", ".join(f"({row}.{name})" for row in ("o", "n") for name in _TIMES)

UPGRADE = [
    "DROP TRIGGER IF EXISTS kpi_change_conversation_write ON conversation",
    "DROP TRIGGER IF EXISTS kpi_change_conversation_update ON conversation",
    "DROP FUNCTION IF EXISTS kpi_change_conversation()",
    "DROP FUNCTION IF EXISTS kpi_change_note_at(timestamp)",
    # The hours of `times` that are over, each noted once per transaction, under NOTES_LOCK shared (as the
    # row function of 0007 did); live traffic (times of the current hour) takes no lock and writes nothing.
    f"""CREATE FUNCTION kpi_change_note_hours(times timestamp[]) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        cutoff timestamp := date_trunc('hour', now() AT TIME ZONE 'UTC');
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM unnest(times) AS t(at) WHERE t.at < cutoff) THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock_shared({NOTES_LOCK});
        INSERT INTO kpi_change_note (day, hour)
        SELECT DISTINCT t.at::date, extract(hour FROM t.at)::int FROM unnest(times) AS t(at)
        WHERE t.at < cutoff
          AND NOT EXISTS (SELECT 1 FROM kpi_change_note n
                          WHERE n.day = t.at::date AND n.hour = extract(hour FROM t.at)::int
                            AND n.xmin = pg_current_xact_id()::xid);
    END $$""",
    # Rows inserted or deleted: their times (the transition table is `changed` in both triggers).
    f"""CREATE FUNCTION kpi_change_conversation_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        PERFORM kpi_change_note_hours(ARRAY(
            SELECT t.at FROM changed AS c, LATERAL (VALUES {_ROW_TIMES}) AS t(at)
            WHERE t.at IS NOT NULL));
        RETURN NULL;
    END $$""",
    # Rows updated with a watched column changed: the times they had and the times they have.
    f"""CREATE FUNCTION kpi_change_conversation_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        PERFORM kpi_change_note_hours(ARRAY(
            SELECT t.at FROM removed AS o JOIN added AS n ON n.id = o.id,
                LATERAL (VALUES {_BOTH_TIMES}) AS t(at)
            WHERE t.at IS NOT NULL AND ({_CHANGED})));
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER kpi_change_conversation_insert AFTER INSERT ON conversation
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kpi_change_conversation_rows()""",
    """CREATE TRIGGER kpi_change_conversation_delete AFTER DELETE ON conversation
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kpi_change_conversation_rows()""",
    """CREATE TRIGGER kpi_change_conversation_update AFTER UPDATE ON conversation
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION kpi_change_conversation_updated()""",
]
DOWNGRADE = [
    "DROP TRIGGER IF EXISTS kpi_change_conversation_insert ON conversation",
    "DROP TRIGGER IF EXISTS kpi_change_conversation_delete ON conversation",
    "DROP TRIGGER IF EXISTS kpi_change_conversation_update ON conversation",
    "DROP FUNCTION IF EXISTS kpi_change_conversation_rows()",
    "DROP FUNCTION IF EXISTS kpi_change_conversation_updated()",
    "DROP FUNCTION IF EXISTS kpi_change_note_hours(timestamp[])",
    # 0007's row triggers on `conversation` (those on `wait` went with the table in 0009)
    *(statement for statement in cache_names.POSTGRESQL if "kpi_change_wait" not in statement),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
