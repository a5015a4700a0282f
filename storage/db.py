"""Engine and session factory: SQLite by default, PostgreSQL through `DATABASE_URL=postgresql+psycopg://…`."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable
from sqlmodel import Session, create_engine

from storage import models  # noqa: F401  (every table on the metadata)
from storage.dialect import sqlite_pragmas
from storage.schema import ensure_schema

# An execution option asking PostgreSQL (psycopg) for the statement's rows in binary format, as
# `binary_rows` does: `bytea` comes as its bytes rather than as hex text twice as long, which the server
# writes and the client parses back (the KPI cache's payloads: 10 MB of waits for a 90-day question).
BINARY = "kpibot_binary_results"
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
        if engine.dialect.driver == "psycopg":
            event.listen(engine, "before_cursor_execute", _binary_results)
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


def binary_rows(conn: Connection, statement: Executable) -> list:
    """The rows of `statement` (SQLAlchemy rows, types processed as usual); on PostgreSQL through an
    engine of `make_engine`, fetched in binary format: the same values, but a `bytea` column travels as
    its bytes instead of hex text (half the bytes on the wire, no hex to write on the server and parse in
    the client). For reads of large binary columns; SQLite ignores it."""
    return conn.execute(statement.execution_options(**{BINARY: True})).all()


def _binary_results(conn, cursor, statement, parameters, context, executemany) -> None:
    """psycopg: a statement run with the BINARY execution option gets its rows in binary format (the
    cursor is made for this one execution)."""
    if context is not None and context.execution_options.get(BINARY):
        from psycopg.pq import Format

        cursor.format = Format.BINARY
