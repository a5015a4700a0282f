"""Rejected events are kept pseudonymised: `rejected_event.pseudonymised` says a row's customer ids are
pseudonyms already (replay must not hash them again). Rows kept before this revision hold what was
received, so they default to false.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pseudonymised", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("rejected_event", schema=None) as batch_op:
        batch_op.drop_column("pseudonymised")
