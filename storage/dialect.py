"""The one place for SQL that differs between SQLite and PostgreSQL: PRAGMAs, locks, upserts.

The bulk-write fast path (COPY, executemany) is `storage.bulk`; the planner hint for SQLite is
`storage.planner`.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

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
# Held shared by every transaction noting a change for the KPI cache (migration 0007), taken alone for an
# instant by a question reading what it has seen (storage.kpi_cache.store.newest_note).
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
