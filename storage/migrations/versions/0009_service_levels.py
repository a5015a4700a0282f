"""Service levels: the clocks they count (table `sla_clock`: each conversation's first wait, later waits,
and resolution clocks from opening or a reopening to the resolution that follows; it replaces `wait`,
so a wait is written once), the policies admins set (`sla_policy`) and the conversations someone took or
snoozed from an SLA-risk alert (`sla_claim`).

A met target is dated by the clock's end, a breach by its deadline: each clock carries its deadline under
the policy in force (and how late it ended). Only kpibot's own code writes clocks (storage.rebuild,
storage.service_levels.restamp), and it notes the hours of both times for the KPI cache itself, once per
hour and batch: a trigger per row would cost an import a fifth of its speed. Existing
conversations get their clocks by replaying their events (`storage.rebuild`), exactly as ingestion
projects them, with deadlines under the policies configured when the upgrade runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 20:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

cache_names = importlib.import_module("storage.migrations.versions.0007_kpi_cache_names")

_INDEXES = {
    "ix_sla_clock_deadline": ["kind", "deadline", "channel", "end_at", "late", "start_at"],
    "ix_sla_clock_conversation": ["conversation_id"],
}


def upgrade() -> None:
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
        # Revision 0011's columns, here too: the replay below writes the clocks as today's kpibot
        # projects them (0011 adds them only to databases that passed 0009 without them).
        sa.Column("reopened_from", storage.models.UTCDateTime(), nullable=True),
        sa.Column("reopen_gap", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "sla_clock", columns, unique=False)
    ended = {"sqlite_where": sa.text("end_at IS NOT NULL"), "postgresql_where": sa.text("end_at IS NOT NULL")}
    op.create_index(
        "ix_sla_clock_end", "sla_clock", ["kind", "end_at", "channel", "deadline", "seconds"], **ended
    )
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
    from storage.rebuild import rebuild_conversations
    from storage.service_levels import Deadlines
    from storage.settings import Settings

    deadlines = Deadlines.load(conn, Settings())
    rebuild_conversations(conn, ids, deadlines=deadlines)
    deadlines.record(conn)
    # the waits are clocks now: one table, written once (dropping it drops its cache triggers)
    for index in ("ix_wait_end", "ix_wait_conversation"):
        op.drop_index(index, table_name="wait")
    op.drop_table("wait")
    if conn.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kpi_change_wait()")


def downgrade() -> None:
    op.create_table(
        "wait",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("start_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("end_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("agent", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_wait_conversation", "wait", ["conversation_id"], unique=False)
    op.create_index("ix_wait_end", "wait", ["end_at", "channel", "seconds"], unique=False)
    # a wait stopped by a resolution was still open before this revision
    op.execute(
        "INSERT INTO wait (conversation_id, channel, start_at, end_at, seconds, agent) "
        "SELECT conversation_id, channel, start_at, CASE WHEN seconds IS NULL THEN NULL ELSE end_at END, "
        "seconds, agent FROM sla_clock WHERE kind IN ('first', 'next')"
    )
    dialect = op.get_bind().dialect.name
    for statement in cache_names.SQLITE if dialect == "sqlite" else cache_names.POSTGRESQL:
        if "kpi_change_wait" in statement:
            op.execute(statement)
    with op.batch_alter_table("alert_state", schema=None) as batch_op:
        batch_op.drop_column("latest_deadline")
    op.execute("DELETE FROM app_secret WHERE name = 'sla_stamped'")
    op.drop_table("sla_claim")
    op.drop_table("sla_policy")
    for index in ("ix_sla_clock_end", "ix_sla_clock_queue", "ix_sla_clock_due", *_INDEXES):
        op.drop_index(index, table_name="sla_clock")
    op.drop_table("sla_clock")
