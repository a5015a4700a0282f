"""The bulk-write fast path: rows converted once to their storage form and handed to the DBAPI.

Bulk writes (import backfills of millions of events) skip SQLAlchemy's per-row parameter processing:
values are converted here once, in the column's storage form, and handed to the DBAPI's executemany (one
COPY on PostgreSQL). The stored form is exactly what the ORM types write (see `storage.models.UTCDateTime`),
so ORM and Core reads see the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Float, Table
from sqlalchemy.engine import Connection

from storage.models import UTCDateTime


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # drop "+00:00": stored naive, as UTCDateTime does


def stored_time(dialect: str, value: datetime) -> str | datetime:
    """`value` as the database stores it, so it compares with times read by `storage.db.raw_rows`."""
    return _sqlite_time(value) if dialect == "sqlite" else _naive_utc(value)


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


class _Memo:
    """A converter remembering what it gave: a batch's times repeat (the receive time of every raw event,
    a message's time as its conversation's opening and its wait's start), and turning one into text is the
    costliest step of a bulk write (docs/performance.md, "Import (ingestion core)"). Bounded: cleared when
    it holds MEMO_SIZE values."""

    __slots__ = ("convert", "seen")

    def __init__(self, convert):
        self.convert = convert
        self.seen: dict = {}

    def __call__(self, value):
        stored = self.seen.get(value)
        if stored is None and value is not None:
            if len(self.seen) >= MEMO_SIZE:
                self.seen.clear()
            stored = self.seen[value] = self.convert(value)
        return stored


MEMO_SIZE = 100_000
_STORED_TIME = {"sqlite": _Memo(_sqlite_time), "postgresql": _Memo(_naive_utc)}


def _sqlite_bool(value):
    return None if value is None else int(value)


@lru_cache(maxsize=64)
def _plan(dialect: str, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple]:
    """The placeholder list and per-column converters for `columns` of `table` on `dialect`."""
    mark = "?" if dialect == "sqlite" else "%s"
    time_fn = _STORED_TIME.get(dialect) or _Memo(_naive_utc)
    converters = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            converters.append(time_fn)
        elif dialect == "sqlite" and column_type.python_type is bool:
            converters.append(_sqlite_bool)
        else:
            converters.append(None)
    return mark, tuple(converters)


def _tuples(rows: Sequence[dict[str, Any]], columns: tuple[str, ...], converters: tuple) -> list:
    """The rows as tuples of `columns`, converted column by column (a column's values in one `map`)."""
    get = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    if not rows:
        return []
    if not any(converters):
        return [get(row) for row in rows]
    values = list(zip(*map(get, rows), strict=True))
    for i, fn in enumerate(converters):
        if fn is not None:
            values[i] = map(fn, values[i])
    return list(zip(*values, strict=True))


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts `rows` (dicts with the same keys): one COPY on PostgreSQL, one DBAPI executemany on SQLite."""
    if not rows:
        return
    columns = tuple(rows[0])
    mark, converters = _plan(conn.dialect.name, table, columns)
    if conn.dialect.name == "postgresql":
        _copy_in(conn, table, columns, _tuples(rows, columns, converters))
        return
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, _tuples(rows, columns, converters))


def _copy_in(conn: Connection, table: Table, columns: tuple[str, ...], values: list[tuple]) -> None:
    # One COPY streams every row instead of a Bind/Execute per row (docs/performance.md, "Import
    # (PostgreSQL)"). Text format: the server parses each value into the column's type, as it does for
    # executemany's parameters.
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    sql = f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    # The driver connection of `conn`'s transaction, so the rows commit or roll back with it.
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in values:
            copy.write_row(row)


def bulk_update(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Updates rows of `table` whose `key` column equals each dict's `key` value: one executemany on SQLite,
    one statement on PostgreSQL (each column's values as one array, `unnest` joined on the key), so the
    statement-level triggers of `conversation` (migration 0013) run once per batch, not once per row. Each
    key at most once."""
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name != key)
    mark, converters = _plan(conn.dialect.name, table, (*columns, key))
    values = _tuples(rows, (*columns, key), converters)
    if conn.dialect.name == "postgresql":
        arrays = [
            [None if v is None else float(v) for v in column] if _is_float(table, name) else list(column)
            for name, column in zip((*columns, key), zip(*values, strict=True), strict=True)
        ]  # one element type per array: a float column's whole numbers may come as ints
        conn.exec_driver_sql(_update_from_arrays(conn, table, key, columns), tuple(arrays))
        return
    assignments = ", ".join(f"{name} = {mark}" for name in columns)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE {key} = {mark}", values)


def _is_float(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, Float)


def _update_from_arrays(conn: Connection, table: Table, key: str, columns: tuple[str, ...]) -> str:
    """`UPDATE table SET c = v.c … FROM unnest(%s::type[], …) AS v(c, …, key) WHERE table.key = v.key`: every
    array typed by its column (an array of NULLs alone would carry no type)."""
    quote = conn.dialect.identifier_preparer.quote
    names = (*columns, key)
    arrays = ", ".join(f"%s::{table.c[name].type.compile(dialect=conn.dialect)}[]" for name in names)
    assignments = ", ".join(f"{quote(name)} = v.{quote(name)}" for name in columns)
    return (
        f"UPDATE {conn.dialect.identifier_preparer.format_table(table)} AS t SET {assignments}"
        f" FROM unnest({arrays}) AS v({', '.join(map(quote, names))}) WHERE t.{quote(key)} = v.{quote(key)}"
    )


def insert_new_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    unique: tuple[str, ...],
    returning: tuple[str, ...],
    chunk: int = 500,
) -> list[tuple]:
    """Inserts rows skipping unique-key conflicts; returns `returning` columns of the rows really inserted.

    Multi-row VALUES with ON CONFLICT DO NOTHING RETURNING (SQLite ≥ 3.35 and PostgreSQL both have it).
    """
    if not rows:
        return []
    columns = tuple(rows[0])
    mark, converters = _plan(conn.dialect.name, table, columns)
    row_marks = "(" + ", ".join([mark] * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(unique)}) DO NOTHING RETURNING {', '.join(returning)}"
    out: list[tuple] = []
    values = _tuples(rows, columns, converters)
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        flat = [v for row in part for v in row]
        out.extend(conn.exec_driver_sql(head + ", ".join([row_marks] * len(part)) + tail, tuple(flat)).all())
    return out
