"""Anomaly alerts: `anomaly_post`, one row per signal of each post an anomaly alert made (the signal's
state, and what the digest lists as the period's anomalies), and subscriptions of kind "anomaly".

Downgrading drops the table and the anomaly alerts with it: an older kpibot could not schedule them (their
jobs are dropped by its next sync, as any removed subscription's).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anomaly_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("signal", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("post", sa.Integer(), nullable=False),
        sa.Column("window_start", storage.models.UTCDateTime(), nullable=False),
        sa.Column("window_end", storage.models.UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("usual", sa.Float(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("posted_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "subscription_id", "channel", "signal", "episode", "post", name="uq_anomaly_post_episode"
        ),
    )
    op.create_index(
        "ix_anomaly_post_signal", "anomaly_post", ["subscription_id", "channel", "signal", "id"], unique=False
    )
    op.create_index("ix_anomaly_post_window", "anomaly_post", ["window_start"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_anomaly_post_window", table_name="anomaly_post")
    op.drop_index("ix_anomaly_post_signal", table_name="anomaly_post")
    op.drop_table("anomaly_post")
    subscription = sa.table("subscription", sa.column("kind", sa.String))
    op.execute(subscription.delete().where(subscription.c.kind == "anomaly"))
