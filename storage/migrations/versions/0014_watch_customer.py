"""The KPI cache's change notes on `conversation` also watch `customer`, and a conversation's new owner
notes the hours of its survey answers.

- The repeat-contact KPI's cached rows (storage.kpi_cache.contacts) hold each conversation's customer, by
  when it opened, so a conversation whose customer changes (an earlier message of another author
  imported late, at the same instant) makes the hours of its times stale, as a change of its channel does.
- A CSAT answer counts for its conversation's owner (the assignee, else whoever answered first): the
  cache's CSAT per owner (storage.kpi_cache.owners, the `why` split by agent) is dated by the answer, so
  a reassignment, or a first responder set later, notes the hours of the conversation's answers, found
  through the new index `ix_survey_conversation`.

SQLite: the row trigger on update, as 0007 made it, with `customer` among its watched columns, and a
row trigger on a change of owner. PostgreSQL: the statement trigger's function on update, as 0013 made
it, with both.

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
# A change of owner notes the hours of the conversation's survey answers (those over: kpi_changed_at).
_SQLITE_OWNER = """CREATE TRIGGER kpi_change_conversation_owner AFTER UPDATE OF agent, first_responder
    ON conversation FOR EACH ROW
    WHEN OLD.agent IS NOT NEW.agent OR OLD.first_responder IS NOT NEW.first_responder
    BEGIN
        INSERT INTO kpi_changed_at (at) SELECT at FROM survey WHERE conversation_id = NEW.id;
    END"""
_POSTGRES_SURVEYS = """)
            UNION ALL
            SELECT s.at FROM removed AS o JOIN added AS n ON n.id = o.id
                JOIN survey AS s ON s.conversation_id = n.id
            WHERE o.agent IS DISTINCT FROM n.agent
               OR o.first_responder IS DISTINCT FROM n.first_responder));"""


def _sqlite_update(customer: bool) -> list[str]:
    watched = _SQLITE_LAST.replace(")", " OR OLD.customer IS NOT NEW.customer)") if customer else _SQLITE_LAST
    return [
        "DROP TRIGGER IF EXISTS kpi_change_conversation_update",
        "DROP TRIGGER IF EXISTS kpi_change_conversation_owner",
        _SQLITE_UPDATE.replace(_SQLITE_LAST, watched),
        *([_SQLITE_OWNER] if customer else []),
    ]


def _postgres_updated(customer: bool) -> list[str]:
    function = _POSTGRES_UPDATED
    if customer:  # `customer` watched, and the survey answers of the rows whose owner changed
        function = function.replace(
            _POSTGRES_LAST, f"{_POSTGRES_LAST} OR o.customer IS DISTINCT FROM n.customer"
        )
        end = function.rindex(")));")  # where the times' array and the call end
        function = function[:end] + _POSTGRES_SURVEYS + function[end + len(")));") :]
    return [function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)]


def _install(customer: bool) -> None:
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_update(customer) if dialect == "sqlite" else _postgres_updated(customer):
        op.execute(statement)


def upgrade() -> None:
    op.create_index("ix_survey_conversation", "survey", ["conversation_id"])
    _install(customer=True)


def downgrade() -> None:
    _install(customer=False)
    op.drop_index("ix_survey_conversation", table_name="survey")
