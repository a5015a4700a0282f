"""Labels of times, for tallies grouped by when something happened: the UTC quarter hour, half hour or hour
a time falls in, as text ("2026-11-20 09:45" for 09:45-10:00, "2026-11-20 09:3" for 09:30-10:00,
"2026-11-20 09"), the same in SQLite (which keeps times as ISO text) and PostgreSQL (naive UTC timestamps),
so cached labels read alike on both; the quarter of its day as a number (0-95); and the time itself as
text (`time_text`), for reads of many times into numpy."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

HOUR = 13  # characters of "YYYY-MM-DD HH"


class half_hour(FunctionElement):  # noqa: N801 - reads as SQL in queries
    """The UTC half hour a time falls in: "YYYY-MM-DD HH:0" (minutes 0-29) or "YYYY-MM-DD HH:3" (30-59)."""

    name = "half_hour"
    inherit_cache = True
    type = String()


class quarter_hour(FunctionElement):  # noqa: N801
    """The UTC quarter hour a time falls in, as "YYYY-MM-DD HH:MM" (MM 00, 15, 30 or 45): every time zone's
    offset is a multiple of 15 minutes, so a quarter hour lies in one local hour wherever it is read."""

    name = "quarter_hour"
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


@compiles(quarter_hour, "sqlite")
def _sqlite_quarter_hour(element, compiler, **kw) -> str:
    at = compiler.process(element.clauses, **kw)
    minute = f"substr({at}, 15, 2)"
    return (
        f"substr({at}, 1, 14) || CASE WHEN {minute} < '15' THEN '00' WHEN {minute} < '30' THEN '15'"
        f" WHEN {minute} < '45' THEN '30' ELSE '45' END"
    )


@compiles(quarter_hour, "postgresql")
def _postgresql_quarter_hour(element, compiler, **kw) -> str:
    at = compiler.process(element.clauses, **kw)
    quarter = f"date_trunc('hour', {at}) + floor(extract(minute FROM {at}) / 15) * interval '15 minutes'"
    return f"to_char({quarter}, 'YYYY-MM-DD HH24:MI')"


class quarter_of_day(FunctionElement):  # noqa: N801
    """The UTC quarter hour of its day a time falls in, as a number: 0 (00:00-00:15) to 95 (23:45-24:00)."""

    name = "quarter_of_day"
    inherit_cache = True
    type = Integer()


@compiles(quarter_of_day, "sqlite")
def _sqlite_quarter_of_day(element, compiler, **kw) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"(CAST(substr({at}, 12, 2) AS INTEGER) * 4 + CAST(substr({at}, 15, 2) AS INTEGER) / 15)"


@compiles(quarter_of_day, "postgresql")
def _postgresql_quarter_of_day(element, compiler, **kw) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"(CAST(extract(hour FROM {at}) AS integer) * 4 + CAST(extract(minute FROM {at}) AS integer) / 15)"


class time_text(FunctionElement):  # noqa: N801
    """A time as text, "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC): SQLite's stored form as it is, PostgreSQL's
    timestamp formatted alike. numpy parses such text ~25 times faster than it converts the datetime
    objects psycopg makes (65,000 times: 3.5 against 86 ms), so reads of thousands of times into
    `datetime64` ask for it."""

    name = "time_text"
    inherit_cache = True
    type = String()


@compiles(time_text, "sqlite")
def _sqlite_time_text(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(time_text, "postgresql")
def _postgresql_time_text(element, compiler, **kw) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD HH24:MI:SS.US')"
