"""Engine and session factory: SQLite by default, PostgreSQL through `DATABASE_URL=postgresql+psycopg://…`."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from storage import intake, models, outbox, subscriptions  # noqa: F401  (register every table on the metadata)
from storage.schema import ensure_schema


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url`; with `create`, an empty database gets the schema (see `storage.schema`)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create:
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
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
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session(engine: Engine) -> Session:
    """A new ORM session on `engine` that keeps loaded objects usable after commit."""
    return Session(engine, expire_on_commit=False)
