"""The per-day cache's triggers on `conversation` also watch `agent` and `first_responder`: the agents'
activity (`storage.kpi_agents`) credits resolutions to the owner and first responses to who gave them,
so reassigning a conversation of a closed day changes that day.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:40:00
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

kpi_day = importlib.import_module("storage.migrations.versions.0003_kpi_day")
times, columns = kpi_day.WATCHED["conversation"]
WATCHED = {**kpi_day.WATCHED, "conversation": (times, (*columns, "agent", "first_responder"))}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    kpi_day.drop_triggers(dialect)
    kpi_day.create_triggers(dialect, WATCHED)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    kpi_day.drop_triggers(dialect)
    kpi_day.create_triggers(dialect)
