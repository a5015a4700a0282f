"""Weekly and monthly digests: `subscription.day` holds a weekly digest's weekday (0 = Monday … 6 =
Sunday) or a monthly digest's day of the month (1-28); daily digests and alerts leave it empty.

The cadence itself is the subscription's kind ("digest-weekly", "digest-monthly"), so the unique
(kind, slack_channel) constraint still allows one digest of each cadence per Slack channel.

Downgrading removes the weekly and monthly digests with the column: an older kpibot knows only daily
ones and could not schedule them (their jobs are dropped by its next sync, as any removed subscription's).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OLDER_KINDS = ("digest", "alert", "sla")  # what revision 0009's kpibot schedules


def upgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day", sa.Integer(), nullable=True))


def downgrade() -> None:
    subscription = sa.table("subscription", sa.column("kind", sa.String))
    op.execute(subscription.delete().where(subscription.c.kind.not_in(_OLDER_KINDS)))
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("day")
