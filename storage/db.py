"""Engine and session factory: SQLite by default, PostgreSQL through `DATABASE_URL=postgresql+psycopg://…`."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from storage import deliveries, intake, models, outbox, subscriptions  # noqa: F401  (every table on the metadata)
from storage.dialect import sqlite_pragmas
from storage.schema import ensure_schema


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url`; with `create`, an empty database gets the schema (see `storage.schema`)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", sqlite_pragmas)
    else:
        # KPI queries differ in their date range: a generic plan (which PostgreSQL switches to after a
        # statement is prepared 5 times on a connection) assumes a tiny range and made 90-day answers
        # twice as slow in bench/kpi.py. Plan each execution for its own parameters.
        options = {"options": "-c plan_cache_mode=force_custom_plan"} if url.startswith("postgresql") else {}
        engine = create_engine(url, pool_pre_ping=True, connect_args=options)
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
