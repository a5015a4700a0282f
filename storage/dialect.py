"""The one place for SQL that differs between SQLite and PostgreSQL (PRAGMAs, locks, upserts, COPY), and
for the bulk-write fast path.

Bulk writes (import backfills of millions of events) skip SQLAlchemy's per-row parameter processing:
values are converted here once, in the column's storage form, and handed to the DBAPI's executemany.
The stored form is exactly what the ORM types write (see `storage.models.UTCDateTime`), so ORM and
Core reads see the same rows.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from storage.models import UTCDateTime

BUSY_TIMEOUT_MS = 30_000  # how long an SQLite connection waits for another writer


def insert_ignoring_conflicts(conn: Connection, table: Table, index_elements: list[str]):
    """An INSERT that skips rows violating the unique key `index_elements` (ON CONFLICT DO NOTHING)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=index_elements)
    raise NotImplementedError(f"unsupported database {conn.dialect.name!r}; use SQLite or PostgreSQL")


# Keys of PostgreSQL advisory locks (any 64-bit numbers; these spell "kpibot" and a purpose).
SCHEMA_LOCK = 0x6B7062_6F74_0001
LEADER_LOCK = 0x6B7062_6F74_0002
# Held shared by every transaction noting a change for the KPI cache (migration 0005), taken alone for an
# instant by a question reading what it has seen (storage.kpi_day_store.newest_note).
NOTES_LOCK = 0x6B7062_6F74_0003


@contextmanager
def schema_change(engine: Engine) -> Iterator[Connection]:
    """A transaction in which this process alone changes the schema; released after it commits.

    PostgreSQL: an advisory lock that ends with the transaction. SQLite: an exclusive lock on a
    `<database>.lock` file beside it (SQLite's own locks don't span DDL statements run one by one).
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            yield conn
        return
    with open(f"{database}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, after the commit
        with engine.begin() as conn:
            yield conn


def lock_names(conn: Connection, names: Iterable[str]) -> None:
    """Holds a lock per name until `conn`'s transaction ends, taken in sorted order (PostgreSQL; SQLite's
    one write lock already serialises writers). Other transactions locking a name wait for this one."""
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):  # the two-key form: a key space apart from SCHEMA_LOCK and LEADER_LOCK
        conn.execute(text("SELECT pg_advisory_xact_lock(7, hashtext(:name))"), {"name": name})


def try_leader_lock(conn: Connection) -> bool:
    """Takes the leader lock for as long as `conn` stays open, if no other process holds it (PostgreSQL)."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK}).scalar_one())


def has_percentiles(conn: Connection) -> bool:
    """Whether the database computes exact percentiles itself (PostgreSQL's percentile_cont; not SQLite)."""
    return conn.dialect.name == "postgresql"


@contextmanager
def short_wait(conn: Connection, milliseconds: int = 250) -> Iterator[Connection]:
    """`conn` (outside a transaction) waiting at most `milliseconds` for another writer's lock, for
    optional writes that had better give up than keep a user waiting: SQLite's busy timeout, PostgreSQL's
    lock_timeout. Restored afterwards, as the connection goes back to the pool."""
    sqlite_db = conn.dialect.name == "sqlite"
    setting = "PRAGMA busy_timeout={}" if sqlite_db else "SET lock_timeout = {}"
    conn.exec_driver_sql(setting.format(int(milliseconds)))
    conn.commit()
    try:
        yield conn
    finally:
        conn.rollback()
        conn.exec_driver_sql(setting.format(BUSY_TIMEOUT_MS if sqlite_db else 0))
        conn.commit()


def sqlite_pragmas(dbapi_connection, _record) -> None:
    """Sets up each new SQLite connection: WAL journal, NORMAL sync, foreign keys, a 30 s busy wait."""
    # WAL lets readers (slash commands) run while a writer (import, webhooks) commits; NORMAL sync in WAL
    # mode survives a process crash (SIGKILL), which is the durability the 2xx promises.
    cursor = dbapi_connection.cursor()
    # Switching a new file to WAL needs it alone, and SQLite reports "locked" at once rather than wait.
    for attempt in range(100):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # drop "+00:00": stored naive, as UTCDateTime does


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


@lru_cache(maxsize=64)
def _plan(dialect: str, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple]:
    """The placeholder list and per-column converters for `columns` of `table` on `dialect`."""
    mark = "?" if dialect == "sqlite" else "%s"
    time_fn = _sqlite_time if dialect == "sqlite" else _naive_utc
    converters = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            converters.append(time_fn)
        elif dialect == "sqlite" and column_type.python_type is bool:
            converters.append(lambda v: None if v is None else int(v))
        else:
            converters.append(None)
    return mark, tuple(converters)


def _tuples(rows: Sequence[dict[str, Any]], columns: tuple[str, ...], converters: tuple) -> list:
    get = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    converted = [(i, fn) for i, fn in enumerate(converters) if fn is not None]
    if not converted:
        return [get(row) for row in rows]
    out = []
    for row in rows:
        values = list(get(row))
        for i, fn in converted:
            values[i] = fn(values[i])
        out.append(tuple(values))
    return out


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
    # One COPY streams every row instead of a Bind/Execute per row: 40 % less time in bulk_insert when
    # importing (100,000 events: 4.6-5.2 s -> 2.8-3.0 s). Text format: the server parses each value into
    # the column's type, as it does for executemany's parameters.
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    sql = f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    # The driver connection of `conn`'s transaction, so the rows commit or roll back with it.
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in values:
            copy.write_row(row)


def bulk_update(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Updates rows of `table` whose `key` column equals each dict's `key` value (one executemany)."""
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name != key)
    mark, converters = _plan(conn.dialect.name, table, (*columns, key))
    assignments = ", ".join(f"{name} = {mark}" for name in columns)
    sql = f"UPDATE {table.name} SET {assignments} WHERE {key} = {mark}"
    conn.exec_driver_sql(sql, _tuples(rows, (*columns, key), converters))


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
