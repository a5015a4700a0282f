"""The KPI cache's change notes on `conversation` also watch `customer`: the repeat-contact KPI's cached
rows (storage.kpi_cache.contacts) hold each conversation's customer, by when it opened, so a conversation
whose customer changes (an earlier message of another author imported late, at the same instant) makes
the hours of its times stale, as a change of its channel or agent does.

SQLite: the row trigger on update, as 0007 made it, with `customer` among its watched columns.
PostgreSQL: the statement trigger's function on update, as 0013 made it, likewise.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

cache_names = importlib.import_module("storage.migrations.versions.0007_kpi_cache_names")
statement_notes = importlib.import_module("storage.migrations.versions.0013_statement_change_notes")

_SQLITE_UPDATE = next(s for s in cache_names.SQLITE if "kpi_change_conversation_update" in s)
_SQLITE_LAST = "OR OLD.first_responder IS NOT NEW.first_responder)"
_POSTGRES_UPDATED = next(s for s in statement_notes.UPGRADE if "kpi_change_conversation_updated()" in s)
_POSTGRES_LAST = "o.first_responder IS DISTINCT FROM n.first_responder"
assert _SQLITE_LAST in _SQLITE_UPDATE and _POSTGRES_LAST in _POSTGRES_UPDATED


def _sqlite_update(customer: bool) -> list[str]:
    watched = _SQLITE_LAST.replace(")", " OR OLD.customer IS NOT NEW.customer)") if customer else _SQLITE_LAST
    return [
        "DROP TRIGGER IF EXISTS kpi_change_conversation_update",
        _SQLITE_UPDATE.replace(_SQLITE_LAST, watched),
    ]


def _postgres_updated(customer: bool) -> list[str]:
    watched = f"{_POSTGRES_LAST} OR o.customer IS DISTINCT FROM n.customer" if customer else _POSTGRES_LAST
    function = _POSTGRES_UPDATED.replace(_POSTGRES_LAST, watched)
    return [function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)]


def _install(customer: bool) -> None:
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_update(customer) if dialect == "sqlite" else _postgres_updated(customer):
        op.execute(statement)


def upgrade() -> None:
    _install(customer=True)


def downgrade() -> None:
    _install(customer=False)
