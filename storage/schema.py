"""The schema's version: Alembic migrations under `storage/migrations`, applied by `kpibot db upgrade`.

`serve`, `import` and the other commands that open the database call `ensure_schema`: an empty database
is migrated to the newest revision at once; a database at an older revision is left alone and the
command stops with a message asking for `kpibot db upgrade` (a schema change on a live database is a
decision for its operator, not a side effect of starting a bot).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage.dialect import schema_change

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Databases created before migrations existed were built by `create_all` at exactly this revision.
INITIAL_REVISION = "0001"
# The newest revision this kpibot ships (tests/storage/test_migrations.py checks it is Alembic's head).
# Known without Alembic, so that opening an up-to-date database does not import it (start-up time).
HEAD = "0016"
VERSION_TABLE = "alembic_version"


class SchemaBehind(RuntimeError):
    """The database was migrated by an older kpibot: `kpibot db upgrade` brings it up to date."""


class SchemaUnknown(RuntimeError):
    """The database carries a revision this kpibot doesn't know (written by a newer kpibot)."""


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Migrations manage kpibot's tables only: others (APScheduler's job store) are left alone."""
    foreign = name not in SQLModel.metadata.tables
    return not (type_ == "table" and reflected and compare_to is None and foreign)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for kpibot's migrations, on `connection` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this kpibot ships."""
    return HEAD


def current(conn: Connection) -> str | None:
    """The database's revision, or None for a database never migrated (read as Alembic stores it)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _has_kpibot_tables(conn: Connection) -> bool:
    return bool(set(inspect(conn).get_table_names()) & set(SQLModel.metadata.tables))


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrates the database to `revision`; returns the revisions before and after.

    One process at a time (an advisory lock on PostgreSQL), so two bots starting together on an empty
    database don't both create it.
    """
    from alembic import command

    with schema_change(engine) as conn:
        before = current(conn)
        config = alembic_config(conn)
        if before is None and _has_kpibot_tables(conn):
            command.stamp(config, INITIAL_REVISION)  # built by create_all before migrations existed
            before = INITIAL_REVISION
        command.upgrade(config, revision)
        return before, current(conn)


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def ensure_schema(engine: Engine) -> None:
    """Creates an empty database's schema; raises when an existing one isn't at this kpibot's revision."""
    with engine.connect() as conn:
        revision = current(conn)
        if revision == head():
            return
        legacy = revision is None and _has_kpibot_tables(conn)
    if revision is None:
        # Empty: create it. Built by create_all before migrations: record it as the initial revision.
        revision = upgrade(engine, INITIAL_REVISION if legacy else "head")[1]
        if revision == head():
            return
    if not _known(revision):
        raise SchemaUnknown(
            f"the database schema is at revision {revision}, which this kpibot doesn't know: "
            "it was migrated by a newer version"
        )
    raise SchemaBehind(
        f"the database schema is at revision {revision} and this kpibot needs {head()}: "
        "run `kpibot db upgrade` (back up the database first)"
    )
