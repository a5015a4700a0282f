"""Labels of times, for tallies grouped by when something happened: the UTC ten minutes or hour a time
falls in, as text ("2026-11-20 09:3", "2026-11-20 09"), the same in SQLite (which keeps times as ISO
text) and PostgreSQL (naive UTC timestamps), so cached labels read alike on both."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

TEN_MINUTES, HOUR = 15, 13  # characters of "YYYY-MM-DD HH:M" and "YYYY-MM-DD HH"


class ten_minutes(FunctionElement):  # noqa: N801 - reads as SQL in queries
    """The UTC ten minutes a time falls in: "YYYY-MM-DD HH:M" (its first minute is that digit and 0)."""

    name = "ten_minutes"
    inherit_cache = True
    type = String()
    length = TEN_MINUTES


class utc_hour(FunctionElement):  # noqa: N801
    """The UTC hour a time falls in: "YYYY-MM-DD HH"."""

    name = "utc_hour"
    inherit_cache = True
    type = String()
    length = HOUR


@compiles(ten_minutes, "sqlite")
@compiles(utc_hour, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.length})"


@compiles(ten_minutes, "postgresql")
@compiles(utc_hour, "postgresql")
def _postgresql(element, compiler, **kw) -> str:
    text = f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD HH24:MI')"
    return f"substr({text}, 1, {element.length})"
