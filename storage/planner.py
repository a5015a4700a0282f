"""A hint for SQLite's planner, which has no statistics: which terms are filters, not index keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class unindexed(FunctionElement):  # noqa: N801 - reads as SQL in queries
    """A column compared as a filter only: SQLite must not pick an index for this term.

    Without ANALYZE statistics SQLite prefers any equality (`resolved = 1`, `channel = 'twitter'`)
    over the time range, and reads a quarter of the table instead of a week of one index. Unary `+`
    is SQLite's documented way to rule a term out; other databases get the plain column.
    """

    name = "unindexed"
    inherit_cache = True

    def __init__(self, column) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _plain(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _plus(element, compiler, **kw) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def on_channels(column, channels: Sequence[str]) -> ColumnElement[bool]:
    """SQL condition: `column` is one of `channels` (always true for () = every channel). A filter only:
    every KPI query is driven by its time range, whose indexes carry the channel."""
    if not channels:
        return true()
    column = unindexed(column)
    return column == channels[0] if len(channels) == 1 else column.in_(channels)
