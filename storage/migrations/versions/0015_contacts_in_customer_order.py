"""The repeat-contact KPI's cached rows (storage.kpi_cache.contacts) keep each day's conversations in
customer order from this revision on, so that a period's days are sorted runs `repeat` merges with one
stable sort (docs/performance.md). Rows kept before are in the order the tables gave: they are deleted,
and computed again in the new order by the next question or the hourly warm-up. Nothing else changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM kpi_slot WHERE measure = 'contacts'")


def downgrade() -> None:
    pass  # rows in customer order are read as well by the code of 0014, which does not rely on the order
