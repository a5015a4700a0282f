"""Service levels: the clocks they count (table `sla_clock`: each conversation's first wait, later waits,
and resolution clocks from opening or a reopening to the resolution that follows), the policies admins set
(`sla_policy`) and the conversations someone took or snoozed from an SLA-risk alert (`sla_claim`).

A met target is dated by the clock's end, a breach by its deadline: each clock carries its deadline under
the policy in force (and how late it ended), and the cache triggers note both times. Existing
conversations get their clocks by replaying their events (`storage.rebuild`), exactly as ingestion
projects them, with deadlines under the policies configured when the upgrade runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_HOUR = "strftime('%Y-%m-%d %H:00:00', 'now')"


def _sqlite_triggers(table: str, watched: tuple[str, ...]) -> list[str]:
    """SQLite triggers noting the hours of a clock's end (a met target) and deadline (a breach), as
    revision 0007's do for waits."""
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in watched)
    over = lambda row: f"({row}.end_at < {_HOUR} OR {row}.deadline < {_HOUR})"  # noqa: E731
    return [
        f"""CREATE TRIGGER kpi_change_{table}_insert AFTER INSERT ON {table} FOR EACH ROW
        WHEN {over("NEW")}
        BEGIN
            INSERT INTO kpi_changed_at (at) VALUES (NEW.end_at), (NEW.deadline);
        END""",
        f"""CREATE TRIGGER kpi_change_{table}_delete AFTER DELETE ON {table} FOR EACH ROW
        WHEN {over("OLD")}
        BEGIN
            INSERT INTO kpi_changed_at (at) VALUES (OLD.end_at), (OLD.deadline);
        END""",
        f"""CREATE TRIGGER kpi_change_{table}_update AFTER UPDATE ON {table} FOR EACH ROW
        WHEN ({changed}) AND ({over("OLD")} OR {over("NEW")})
        BEGIN
            INSERT INTO kpi_changed_at (at) VALUES (OLD.end_at), (OLD.deadline),
                (NULLIF(NEW.end_at, OLD.end_at)), (NULLIF(NEW.deadline, OLD.deadline));
        END""",
    ]


def _postgresql_triggers(table: str, watched: tuple[str, ...]) -> list[str]:
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in watched)
    return [
        f"""CREATE OR REPLACE FUNCTION kpi_change_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF TG_OP <> 'INSERT' THEN
                PERFORM kpi_change_note_at(OLD.end_at);
                PERFORM kpi_change_note_at(OLD.deadline);
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM kpi_change_note_at(NEW.end_at);
                PERFORM kpi_change_note_at(NEW.deadline);
            END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE TRIGGER kpi_change_{table}_write AFTER INSERT OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION kpi_change_{table}()""",
        f"""CREATE TRIGGER kpi_change_{table}_update AFTER UPDATE ON {table} FOR EACH ROW
        WHEN ({changed}) EXECUTE FUNCTION kpi_change_{table}()""",
    ]


_CLOCK = ("end_at", "channel", "kind", "deadline", "late", "conversation_id")
_INDEXES = {
    "ix_sla_clock_deadline": ["kind", "deadline", "channel", "end_at", "late", "start_at"],
    "ix_sla_clock_conversation": ["conversation_id"],
}


def _drop_triggers(dialect: str, table: str) -> None:
    if dialect == "sqlite":
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS kpi_change_{table}_{event}")
    else:
        for event in ("write", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS kpi_change_{table}_{event} ON {table}")


def _create_triggers(dialect: str, table: str, watched: tuple[str, ...]) -> None:
    for statement in (_sqlite_triggers if dialect == "sqlite" else _postgresql_triggers)(table, watched):
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "sla_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("end_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("agent", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("deadline", storage.models.UTCDateTime(), nullable=True),
        sa.Column("late", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "sla_clock", columns, unique=False)
    ended = {"sqlite_where": sa.text("end_at IS NOT NULL"), "postgresql_where": sa.text("end_at IS NOT NULL")}
    op.create_index("ix_sla_clock_end", "sla_clock", ["kind", "end_at", "channel", "deadline"], **ended)
    running = {"sqlite_where": sa.text("end_at IS NULL"), "postgresql_where": sa.text("end_at IS NULL")}
    op.create_index("ix_sla_clock_queue", "sla_clock", ["kind", "start_at", "channel"], **running)
    op.create_index("ix_sla_clock_due", "sla_clock", ["deadline"], **running)
    op.create_table(
        "sla_policy",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("first_seconds", sa.Float(), nullable=True),
        sa.Column("next_seconds", sa.Float(), nullable=True),
        sa.Column("resolve_seconds", sa.Float(), nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("set_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel"),
    )
    op.create_table(
        "sla_claim",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("claimed_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("snoozed_until", storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    with op.batch_alter_table("alert_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latest_deadline", storage.models.UTCDateTime(), nullable=True))
    conn = op.get_bind()
    ids = conn.execute(sa.text("SELECT id FROM conversation WHERE opened_at IS NOT NULL")).scalars().all()
    # before the triggers: a new table's rows change no cached measure
    from storage.rebuild import rebuild_conversations
    from storage.service_levels import Deadlines
    from storage.settings import Settings

    deadlines = Deadlines.load(conn, Settings())
    rebuild_conversations(conn, ids, deadlines=deadlines)
    deadlines.record(conn)
    _create_triggers(dialect, "sla_clock", _CLOCK)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect, "sla_clock")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kpi_change_sla_clock()")
    with op.batch_alter_table("alert_state", schema=None) as batch_op:
        batch_op.drop_column("latest_deadline")
    op.execute("DELETE FROM app_secret WHERE name = 'sla_stamped'")
    op.drop_table("sla_claim")
    op.drop_table("sla_policy")
    for index in ("ix_sla_clock_end", "ix_sla_clock_queue", "ix_sla_clock_due", *_INDEXES):
        op.drop_index(index, table_name="sla_clock")
    op.drop_table("sla_clock")
