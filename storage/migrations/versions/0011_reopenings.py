"""Reopenings: a resolution clock started by a reopening carries `reopened_from` (when the conversation
had been resolved: the end of the resolution clock before it) and `reopen_gap` (seconds from then to the
reopening), with two small partial indexes over those clocks only, for the `reopens` KPI
(docs/metrics.md, "reopens").

Clocks stored before are given both from their conversation's earlier resolution clock, and the hours
of their reopenings are noted for the KPI cache. A database that passed revision 0009 with this kpibot
already has the columns (0009 replays clocks as this kpibot projects them); only the values and indexes
are added then.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 22:45:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_REOPENINGS = {
    "ix_sla_clock_reopen": ["start_at", "channel", "conversation_id"],
    "ix_sla_clock_reopened_from": ["reopened_from", "channel", "reopen_gap", "start_at", "conversation_id"],
}
_WHERE = {
    "sqlite_where": sa.text("reopened_from IS NOT NULL"),
    "postgresql_where": sa.text("reopened_from IS NOT NULL"),
}


def upgrade() -> None:
    conn = op.get_bind()
    present = {column["name"] for column in sa.inspect(conn).get_columns("sla_clock")}
    if "reopened_from" not in present:
        with op.batch_alter_table("sla_clock", schema=None) as batch_op:
            batch_op.add_column(sa.Column("reopened_from", storage.models.UTCDateTime(), nullable=True))
            batch_op.add_column(sa.Column("reopen_gap", sa.Float(), nullable=True))
    _fill(conn)
    for name, columns in _REOPENINGS.items():
        op.create_index(name, "sla_clock", columns, unique=False, **_WHERE)


def downgrade() -> None:
    for name in _REOPENINGS:
        op.drop_index(name, table_name="sla_clock")
    with op.batch_alter_table("sla_clock", schema=None) as batch_op:
        batch_op.drop_column("reopen_gap")
        batch_op.drop_column("reopened_from")


def _fill(conn) -> None:
    """Gives the resolution clocks of reopened conversations the resolution each reopening undid."""
    from storage import kpi_cache
    from storage.models import Conversation, SlaClock

    clock, conversation = SlaClock.__table__, Conversation.__table__
    rows = conn.execute(
        sa.select(clock.c.id, clock.c.conversation_id, clock.c.start_at, clock.c.end_at)
        .join(conversation, conversation.c.id == clock.c.conversation_id)
        .where(clock.c.kind == "resolution", conversation.c.reopen_count > 0)
        .order_by(clock.c.conversation_id, clock.c.start_at, clock.c.id)
    ).all()
    updates, reopened_at, previous = [], [], None
    for row in rows:
        if previous is not None and previous.conversation_id == row.conversation_id:
            resolved_at = previous.end_at
            gap = None if resolved_at is None else (row.start_at - resolved_at).total_seconds()
            updates.append({"clock": row.id, "resolved_at": resolved_at, "gap": gap})
            reopened_at.append(row.start_at)
        previous = row
    if updates:
        conn.execute(
            clock.update()
            .where(clock.c.id == sa.bindparam("clock"))
            .values(reopened_from=sa.bindparam("resolved_at"), reopen_gap=sa.bindparam("gap")),
            updates,
        )
    kpi_cache.note(conn, reopened_at, datetime.now(UTC))
