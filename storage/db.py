"""Engine and session factory: SQLite by default, PostgreSQL through `DATABASE_URL=postgresql+psycopg://…`."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable
from sqlmodel import Session, create_engine

from storage import models  # noqa: F401  (every table on the metadata)
from storage.dialect import sqlite_pragmas
from storage.schema import ensure_schema

# Connections beyond the pool's 5 kept open: enough for every thread the server runs at once (webhooks,
# Slack events, answers, health, scheduler), so none waits for a connection behind a slow write.
POOL_OVERFLOW = 30


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url`; with `create`, an empty database gets the schema (see `storage.schema`).

    Statements' parameters (customer text, handles) never appear in its error messages or logs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", sqlite_pragmas)
    else:
        # KPI queries differ in their date range: a generic plan (which PostgreSQL switches to after a
        # statement is prepared 5 times on a connection) assumes a tiny range and made 90-day answers
        # twice as slow in bench/kpi.py. Plan each execution for its own parameters.
        options = {"options": "-c plan_cache_mode=force_custom_plan"} if url.startswith("postgresql") else {}
        engine = create_engine(
            url, pool_pre_ping=True, connect_args=options, hide_parameters=True, max_overflow=POOL_OVERFLOW
        )
    if create:
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
    return engine


def session(engine: Engine) -> Session:
    """A new ORM session on `engine` that keeps loaded objects usable after commit."""
    return Session(engine, expire_on_commit=False)


def raw_rows(conn: Connection, statement: Executable) -> list[tuple]:
    """The rows of `statement` as the DBAPI cursor gives them: plain tuples, no Row object per row, no type
    processing (SQLite's times stay text, which sorts as the instants do). For reads of thousands of rows
    whose numbers are used as they come."""
    result = conn.execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()
