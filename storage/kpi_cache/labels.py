"""Labels of times, for tallies grouped by when something happened: the UTC half hour or hour a time
falls in, as text ("2026-11-20 09:3" for 09:30-10:00, "2026-11-20 09"), the same in SQLite (which keeps
times as ISO text) and PostgreSQL (naive UTC timestamps), so cached labels read alike on both."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

HOUR = 13  # characters of "YYYY-MM-DD HH"


class half_hour(FunctionElement):  # noqa: N801 - reads as SQL in queries
    """The UTC half hour a time falls in: "YYYY-MM-DD HH:0" (minutes 0-29) or "YYYY-MM-DD HH:3" (30-59)."""

    name = "half_hour"
    inherit_cache = True
    type = String()


class utc_hour(FunctionElement):  # noqa: N801
    """The UTC hour a time falls in: "YYYY-MM-DD HH"."""

    name = "utc_hour"
    inherit_cache = True
    type = String()
    length = HOUR


@compiles(utc_hour, "sqlite")
def _sqlite_hour(element, compiler, **kw) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.length})"


@compiles(utc_hour, "postgresql")
def _postgresql_hour(element, compiler, **kw) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD HH24')"


@compiles(half_hour, "sqlite")
def _sqlite_half_hour(element, compiler, **kw) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"substr({at}, 1, 14) || CASE WHEN substr({at}, 15, 1) < '3' THEN '0' ELSE '3' END"


@compiles(half_hour, "postgresql")
def _postgresql_half_hour(element, compiler, **kw) -> str:
    at = compiler.process(element.clauses, **kw)
    return (
        f"to_char({at}, 'YYYY-MM-DD HH24:') || CASE WHEN extract(minute FROM {at}) < 30 THEN '0' ELSE '3' END"
    )
