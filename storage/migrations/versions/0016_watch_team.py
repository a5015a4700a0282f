"""The KPI cache's change notes on `conversation` also watch `team`, and a conversation's new team notes the
hours of its messages, service-level clocks and survey answers; the teams of a period are found by index.

The cache keeps a measure's rows per team (storage.kpi_cache.labelled, for `by team`): a row of a message,
a clock or a survey answer counts for its conversation's team, so a conversation assigned to another team
makes the hours of all its rows stale, wherever they are dated.

SQLite: the row trigger on update, as 0014 made it, with `team` among its watched columns, and a row
trigger on a change of team. PostgreSQL: the statement trigger's function on update, as 0014 made it,
with both.

`ix_conversation_team` (team, last message, opening, channel; conversations with a team only): the teams of
a period's conversations, which `by team` lists, are found by a few seeks per team instead of a read of
every conversation of the period (150 ms at 1M conversations). `ix_message_conversation` gains `direction`
and `topics`, so the topics of a conversation's customer messages, which label its rows for `by topic`,
are read from the index alone (a day of first responses labelled in 30 ms instead of 50, of waits in 80
instead of 200, at 1M conversations; the index is rebuilt: ~5 s for 5M messages on SQLite).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:30:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

watch_customer = importlib.import_module("storage.migrations.versions.0014_watch_customer")

_SQLITE_UPDATE = watch_customer._sqlite_update(customer=True)[2]
_SQLITE_LAST = "OR OLD.customer IS NOT NEW.customer)"
_POSTGRES_UPDATED = watch_customer._postgres_updated(customer=True)[0]
_POSTGRES_LAST = "o.customer IS DISTINCT FROM n.customer)"
assert _SQLITE_LAST in _SQLITE_UPDATE and _POSTGRES_LAST in _POSTGRES_UPDATED
# the times a clock is dated by in the cache's measures: its end, its start, the resolution it reopened
_SQLITE_TEAM = """CREATE TRIGGER kpi_change_conversation_team AFTER UPDATE OF team ON conversation
    FOR EACH ROW WHEN OLD.team IS NOT NEW.team
    BEGIN
        INSERT INTO kpi_changed_at (at) SELECT at FROM message WHERE conversation_id = NEW.id;
        INSERT INTO kpi_changed_at (at) SELECT at FROM survey WHERE conversation_id = NEW.id;
        INSERT INTO kpi_changed_at (at)
            SELECT end_at FROM sla_clock WHERE conversation_id = NEW.id
            UNION SELECT start_at FROM sla_clock WHERE conversation_id = NEW.id
            UNION SELECT reopened_from FROM sla_clock WHERE conversation_id = NEW.id;
    END"""
_POSTGRES_TEAM = """
            UNION ALL
            SELECT t.at FROM removed AS o JOIN added AS n ON n.id = o.id
                JOIN message AS m ON m.conversation_id = n.id, LATERAL (VALUES (m.at)) AS t(at)
            WHERE o.team IS DISTINCT FROM n.team
            UNION ALL
            SELECT s.at FROM removed AS o JOIN added AS n ON n.id = o.id
                JOIN survey AS s ON s.conversation_id = n.id
            WHERE o.team IS DISTINCT FROM n.team
            UNION ALL
            SELECT t.at FROM removed AS o JOIN added AS n ON n.id = o.id
                JOIN sla_clock AS k ON k.conversation_id = n.id,
                LATERAL (VALUES (k.end_at), (k.start_at), (k.reopened_from)) AS t(at)
            WHERE t.at IS NOT NULL AND o.team IS DISTINCT FROM n.team"""


def _sqlite(team: bool) -> list[str]:
    if not team:
        return ["DROP TRIGGER IF EXISTS kpi_change_conversation_team", *watch_customer._sqlite_update(True)]
    watched = _SQLITE_LAST.replace(")", " OR OLD.team IS NOT NEW.team)")
    return [
        "DROP TRIGGER IF EXISTS kpi_change_conversation_update",
        "DROP TRIGGER IF EXISTS kpi_change_conversation_team",
        _SQLITE_UPDATE.replace(_SQLITE_LAST, watched),
        _SQLITE_TEAM,
    ]


def _postgres(team: bool) -> list[str]:
    if not team:
        return watch_customer._postgres_updated(customer=True)
    function = _POSTGRES_UPDATED.replace(
        _POSTGRES_LAST, _POSTGRES_LAST[:-1] + " OR o.team IS DISTINCT FROM n.team)"
    )
    end = function.rindex("));")  # where the times' array and the call end
    return [function[:end] + _POSTGRES_TEAM + function[end:]]


def _install(team: bool) -> None:
    dialect = op.get_bind().dialect.name
    for statement in _sqlite(team) if dialect == "sqlite" else _postgres(team):
        op.execute(statement)


def _message_conversation(columns: list[str]) -> None:
    op.drop_index("ix_message_conversation", table_name="message")
    op.create_index("ix_message_conversation", "message", columns)


def upgrade() -> None:
    _install(team=True)
    _message_conversation(["conversation_id", "at", "direction", "topics"])
    op.create_index(
        "ix_conversation_team",
        "conversation",
        ["team", "last_message_at", "opened_at", "channel"],
        sqlite_where=sa.text("team IS NOT NULL"),
        postgresql_where=sa.text("team IS NOT NULL"),
    )


def downgrade() -> None:
    _message_conversation(["conversation_id", "at"])
    op.drop_index("ix_conversation_team", table_name="conversation")
    _install(team=False)
