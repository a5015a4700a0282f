"""Per-day duration series and counts kept ready for the KPI queries (kpi_day), the triggers noting later
changes to a closed day (kpi_day_stale); first_response_at added to ix_conversation_open, first_resolved_at
and opened_at to ix_conversation_resolved (the backlog reads them alone), lang to ix_message_at_channel.

The triggers are raw SQL per database. A later migration that rebuilds `conversation` or `wait` in SQLite
batch mode (a table copy) drops their triggers with the table and must create them again
(`create_triggers`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:53:43.377133
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# ix_conversation_resolved before this revision; it gains first_resolved_at and opened_at
RESOLVED_INDEX = [
    "last_resolved_at",
    "channel",
    "resolved",
    "first_resolution_seconds",
    "full_resolution_seconds",
]

# ix_message_at_channel before this revision; it gains lang (unscored messages are counted from it)
MESSAGE_INDEX = [
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
]

# Which timestamps date a row's contribution, and which columns change what the series hold.
WATCHED = {
    "conversation": (
        ("opened_at", "first_response_at", "last_resolved_at"),
        (
            "opened_at",
            "first_response_at",
            "frt_seconds",
            "handle_seconds",
            "channel",
            "last_resolved_at",
            "resolved",
            "first_resolved_at",
            "first_resolution_seconds",
            "full_resolution_seconds",
            "escalated_to",
            "escalated_at",
            "transfer_count",
        ),
    ),
    "wait": (("end_at",), ("end_at", "seconds", "channel")),
}
# message and survey rows are only inserted, by ingestion, which notes their days itself
# (storage.kpi_days.note): a trigger on message, even an empty one, cost SQLite imports 7-13 %.

# Note day D unless it is today or later (never cached: see storage.kpi_days) or already has a note that
# no kpi_day row has seen (every row of D is stale already). SQLite stores times as text
# 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC): the day is its first 10 characters, and comparing it with
# date('now') as text is comparing instants.
_SQLITE_NOTE = """
INSERT INTO kpi_day_stale (day)
SELECT substr({ts}, 1, 10) WHERE {ts} < date('now')
  AND NOT EXISTS (SELECT 1 FROM kpi_day_stale s WHERE s.day = substr({ts}, 1, 10) AND s.id > coalesce(
    (SELECT max(k.seen) FROM kpi_day k WHERE k.day = substr({ts}, 1, 10)), 0));"""

_POSTGRES_NOTE = """
CREATE FUNCTION kpi_day_note(ts timestamp) RETURNS void LANGUAGE sql AS $$
  INSERT INTO kpi_day_stale (day)
  SELECT ts::date WHERE ts IS NOT NULL AND ts::date < (now() AT TIME ZONE 'UTC')::date
    AND NOT EXISTS (SELECT 1 FROM kpi_day_stale s WHERE s.day = ts::date
                    AND s.id > coalesce((SELECT max(k.seen) FROM kpi_day k WHERE k.day = ts::date), 0))
$$"""


def create_triggers(
    dialect: str,
    watched: dict = WATCHED,
    notes: tuple[str, str, str] = (_SQLITE_NOTE, "date('now')", _POSTGRES_NOTE),
    skip_unchanged: bool = False,
) -> None:
    """The triggers noting changes to closed days, on `conversation` and `wait` (`watched`: which times
    date a row and which columns matter, per table; later revisions watch more; `notes`: SQLite's note,
    the SQLite time before which a change is noted, PostgreSQL's note function — revision 0005 notes
    hours)."""
    sqlite_note, sqlite_before, postgres_note = notes
    if dialect == "postgresql":
        op.execute(postgres_note)
    for table, (times, columns) in watched.items():
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        if dialect == "sqlite":
            changed = changed.replace("IS DISTINCT FROM", "IS NOT")
            for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)), ("UPDATE", ("OLD", "NEW"))):
                # live traffic (times of today) skips the body: one comparison per row and time
                past = " OR ".join(f"{row}.{t} < {sqlite_before}" for row in rows for t in times)
                when = f" WHEN ({changed}) AND ({past})" if event == "UPDATE" else f" WHEN {past}"
                body = "".join(
                    sqlite_note.format(ts=_time(row, t, rows, skip_unchanged)) for row in rows for t in times
                )
                op.execute(
                    f"CREATE TRIGGER kpi_day_{table}_{event.lower()} AFTER {event} ON {table}"
                    f" FOR EACH ROW{when} BEGIN{body}\nEND"
                )
        else:
            old = "".join(f" PERFORM kpi_day_note(OLD.{t});" for t in times)
            new = "".join(f" PERFORM kpi_day_note(NEW.{t});" for t in times)
            op.execute(
                f"CREATE FUNCTION kpi_day_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF TG_OP <> 'INSERT' THEN{old} END IF;"
                f" IF TG_OP <> 'DELETE' THEN{new} END IF;"
                " RETURN NULL; END $$"
            )
            run = f"FOR EACH ROW EXECUTE FUNCTION kpi_day_{table}_changed()"
            op.execute(f"CREATE TRIGGER kpi_day_{table}_write AFTER INSERT OR DELETE ON {table} {run}")
            run = run.replace("ROW", f"ROW WHEN ({changed})")
            op.execute(f"CREATE TRIGGER kpi_day_{table}_update AFTER UPDATE ON {table} {run}")


def _time(row: str, column: str, rows: tuple[str, ...], skip_unchanged: bool) -> str:
    """The time a SQLite note is about: NEW's on an update is NULL (no note) when it equals OLD's, which
    is noted already, if `skip_unchanged`."""
    if skip_unchanged and row == "NEW" and "OLD" in rows:
        return f"(CASE WHEN NEW.{column} IS OLD.{column} THEN NULL ELSE NEW.{column} END)"
    return f"{row}.{column}"


def drop_triggers(dialect: str) -> None:
    for table in WATCHED:
        if dialect == "sqlite":
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS kpi_day_{table}_{event}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS kpi_day_{table}_write ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS kpi_day_{table}_update ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS kpi_day_{table}_changed()")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kpi_day_note(timestamp)")


def upgrade() -> None:
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
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("kpi_day_stale", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_day_stale_day", ["day", "id"], unique=False)

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_open")
        batch_op.create_index(
            "ix_conversation_open", ["resolved", "opened_at", "channel", "first_response_at"], unique=False
        )
        batch_op.drop_index("ix_conversation_resolved")
        batch_op.create_index("ix_conversation_resolved", [*RESOLVED_INDEX, "first_resolved_at", "opened_at"])
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_at_channel")
        batch_op.create_index("ix_message_at_channel", [*MESSAGE_INDEX, "lang"])
    create_triggers(op.get_bind().dialect.name)


def downgrade() -> None:
    drop_triggers(op.get_bind().dialect.name)
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_open")
        batch_op.create_index("ix_conversation_open", ["resolved", "opened_at", "channel"], unique=False)
        batch_op.drop_index("ix_conversation_resolved")
        batch_op.create_index("ix_conversation_resolved", RESOLVED_INDEX)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_at_channel")
        batch_op.create_index("ix_message_at_channel", MESSAGE_INDEX)

    with op.batch_alter_table("kpi_day_stale", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_day_stale_day")
    op.drop_table("kpi_day_stale")
    with op.batch_alter_table("kpi_day", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_day_day_seen")
    op.drop_table("kpi_day")
