"""Service levels: the clocks they count (table `sla_clock`: each conversation's first wait, later waits,
and resolution clocks from opening or a reopening to the resolution that follows), the policies admins set
(`sla_policy`) and the conversations someone took or snoozed from an SLA-risk alert (`sla_claim`).

A breach is dated by its deadline, so by when its clock started: the cache triggers note a clock's start
as well as its end. Existing conversations get their clocks by replaying their events (`storage.rebuild`),
exactly as ingestion projects them: about a minute per million conversations.

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
    """SQLite triggers noting the hours of a clock row's start and end (see revision 0007)."""
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in watched)
    return [
        f"""CREATE TRIGGER kpi_change_{table}_insert AFTER INSERT ON {table} FOR EACH ROW
        WHEN NEW.start_at < {_HOUR}
        BEGIN
            INSERT INTO kpi_changed_at (at) VALUES (NEW.start_at), (NEW.end_at);
        END""",
        f"""CREATE TRIGGER kpi_change_{table}_delete AFTER DELETE ON {table} FOR EACH ROW
        WHEN OLD.start_at < {_HOUR}
        BEGIN
            INSERT INTO kpi_changed_at (at) VALUES (OLD.start_at), (OLD.end_at);
        END""",
        f"""CREATE TRIGGER kpi_change_{table}_update AFTER UPDATE ON {table} FOR EACH ROW
        WHEN ({changed}) AND (OLD.start_at < {_HOUR} OR NEW.start_at < {_HOUR})
        BEGIN
            INSERT INTO kpi_changed_at (at) VALUES (OLD.start_at), (OLD.end_at),
                (NULLIF(NEW.start_at, OLD.start_at)), (NULLIF(NEW.end_at, OLD.end_at));
        END""",
    ]


def _postgresql_triggers(table: str, watched: tuple[str, ...]) -> list[str]:
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in watched)
    return [
        f"""CREATE OR REPLACE FUNCTION kpi_change_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF TG_OP <> 'INSERT' THEN
                PERFORM kpi_change_note_at(OLD.start_at);
                PERFORM kpi_change_note_at(OLD.end_at);
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM kpi_change_note_at(NEW.start_at);
                PERFORM kpi_change_note_at(NEW.end_at);
            END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE TRIGGER kpi_change_{table}_write AFTER INSERT OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION kpi_change_{table}()""",
        f"""CREATE TRIGGER kpi_change_{table}_update AFTER UPDATE ON {table} FOR EACH ROW
        WHEN ({changed}) EXECUTE FUNCTION kpi_change_{table}()""",
    ]


_CLOCK = ("start_at", "end_at", "seconds", "channel", "kind")


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
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sla_clock_end", "sla_clock", ["kind", "end_at", "channel", "seconds"], unique=False)
    op.create_index(
        "ix_sla_clock_start", "sla_clock", ["kind", "start_at", "channel", "seconds"], unique=False
    )
    op.create_index("ix_sla_clock_conversation", "sla_clock", ["conversation_id"], unique=False)
    op.create_index(
        "ix_sla_clock_running",
        "sla_clock",
        ["kind", "channel", "start_at"],
        unique=False,
        sqlite_where=sa.text("end_at IS NULL"),
        postgresql_where=sa.text("end_at IS NULL"),
    )
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
    opened = op.get_bind().execute(sa.text("SELECT id FROM conversation WHERE opened_at IS NOT NULL"))
    ids = opened.scalars().all()
    if ids:  # before the triggers: a new table's rows change no cached measure
        from storage.rebuild import rebuild_conversations

        rebuild_conversations(op.get_bind(), ids)
    _create_triggers(dialect, "sla_clock", _CLOCK)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect, "sla_clock")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kpi_change_sla_clock()")
    op.drop_table("sla_claim")
    op.drop_table("sla_policy")
    for index in (
        "ix_sla_clock_running",
        "ix_sla_clock_conversation",
        "ix_sla_clock_start",
        "ix_sla_clock_end",
    ):
        op.drop_index(index, table_name="sla_clock")
    op.drop_table("sla_clock")
