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
        rows_sql, arrays = _unnest(conn, table, (*columns, key), values)
        quote, name = conn.dialect.identifier_preparer.quote, conn.dialect.identifier_preparer.format_table
        assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns)
        conn.exec_driver_sql(
            f"UPDATE {name(table)} AS t SET {assignments} FROM {rows_sql}"
            f" WHERE t.{quote(key)} = v.{quote(key)}",
            arrays,
        )
        return
    assignments = ", ".join(f"{name} = {mark}" for name in columns)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE {key} = {mark}", values)


def _unnest(conn: Connection, table: Table, names: tuple[str, ...], values: list[tuple]) -> tuple[str, tuple]:
    """PostgreSQL: `values` (rows of `names`) as the rows of `unnest(%s::type[], …) AS v(name, …)` and its
    parameters, one array per column: a statement of any size has as many parameters as columns. Each array
    is typed by its column (an array of NULLs alone would carry no type) and holds one element type (a
    float column's whole numbers may come as ints)."""
    quote = conn.dialect.identifier_preparer.quote
    arrays = []
    for name, column in zip(names, zip(*values, strict=True), strict=True):
        if isinstance(table.c[name].type, Float):
            column = [None if v is None else float(v) for v in column]
        arrays.append(list(column))
    types = ", ".join(f"%s::{table.c[name].type.compile(dialect=conn.dialect)}[]" for name in names)
    return f"unnest({types}) AS v({', '.join(map(quote, names))})", tuple(arrays)


def insert_new_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    unique: tuple[str, ...],
    returning: tuple[str, ...],
    chunk: int = 500,
) -> list[tuple]:
    """Inserts rows skipping unique-key conflicts; returns `returning` columns of the rows really inserted.

    Multi-row VALUES with ON CONFLICT DO NOTHING RETURNING (SQLite ≥ 3.35 and PostgreSQL both have it). (On
    PostgreSQL, one statement of `unnest` arrays instead cost the client more CPU than it saved: 4.2 → 5.3 s
    for 50,000 events, the same wall time.)
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
        result = conn.exec_driver_sql(head + ", ".join([row_marks] * len(part)) + tail, tuple(flat))
        try:  # the DBAPI's tuples: no Row object per returned row (ids and keys need no processing)
            out.extend(result.cursor.fetchall())
        finally:
            result.close()
    return out
