"""A fresh database per test, on SQLite (the default) or on a PostgreSQL server (`pytest --db postgresql`).

Both kinds start from a template migrated once per session with the real Alembic migrations, so every
test also runs on the schema `kpibot db upgrade` builds: SQLite copies the template file, PostgreSQL
creates each database with `CREATE DATABASE … TEMPLATE` (about 20 ms) and drops it after the test.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from storage.db import make_engine

# The server scripts/postgres starts; KPIBOT_TEST_POSTGRES_URL points elsewhere (any database on it).
DEFAULT_POSTGRES_URL = "postgresql+psycopg://kpibot:kpibot@127.0.0.1:54329/postgres"


class SqliteDatabases:
    """SQLite files under each test's tmp_path, copied from one migrated template."""

    kind = "sqlite"

    def __init__(self, root: Path) -> None:
        self._template = root / "template.db"
        make_engine(f"sqlite:///{self._template}").dispose()

    def new(self, directory: Path, name: str, empty: bool) -> str:
        path = directory / f"{name}.db"
        if not empty:
            shutil.copyfile(self._template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        """Nothing to do: the file goes with tmp_path."""

    def close(self) -> None:
        """Nothing to do: the template goes with the session's temporary folder."""


class PostgresDatabases:
    """Databases on one PostgreSQL server, each a copy of a migrated template, dropped after use."""

    kind = "postgresql"

    def __init__(self, server_url: str) -> None:
        self._server = make_url(server_url)
        self._admin = create_engine(self._server, isolation_level="AUTOCOMMIT", pool_size=1)
        self._prefix = f"kpibot_test_{os.getpid()}"
        self._numbers = itertools.count()
        self._template = f"{self._prefix}_template"
        self._execute(f"DROP DATABASE IF EXISTS {self._template} WITH (FORCE)")
        self._execute(f"CREATE DATABASE {self._template} TEMPLATE template0")
        make_engine(self._url(self._template)).dispose()  # migrated with Alembic, connections closed

    def _url(self, database: str) -> str:
        return self._server.set(database=database).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(sql))

    def new(self, directory: Path, name: str, empty: bool) -> str:
        database = f"{self._prefix}_{next(self._numbers)}"
        self._execute(f"CREATE DATABASE {database} TEMPLATE {'template0' if empty else self._template}")
        return self._url(database)

    def drop(self, url: str) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")

    def close(self) -> None:
        self.drop(self._url(self._template))
        self._admin.dispose()


# Read at import, before the autouse `clean_env` fixture removes KPIBOT_* variables from each test.
_POSTGRES_URL = os.environ.get("KPIBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
POSTGRES_REQUIRED = os.environ.get("KPIBOT_TEST_REQUIRE_POSTGRES") == "1"


def postgres_url() -> str:
    """The PostgreSQL server tests use."""
    return _POSTGRES_URL


class refused_inserts:
    """Makes the database itself refuse every INSERT into `table` (only rows whose `external_id` is
    `external_id`, when given) while the `with` block runs: a trigger raising an error, on SQLite and
    PostgreSQL alike — a real database error, injected without mocks."""

    def __init__(self, engine, table: str, external_id: str | None = None) -> None:
        self.engine, self.table = engine, table
        self.when = "" if external_id is None else f"NEW.external_id = '{external_id}'"

    def __enter__(self) -> refused_inserts:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                when = f"WHEN {self.when} " if self.when else ""
                conn.exec_driver_sql(
                    f"CREATE TRIGGER kpibot_test_refuse BEFORE INSERT ON {self.table} {when}"
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            else:
                condition = self.when or "true"
                conn.exec_driver_sql(
                    "CREATE FUNCTION kpibot_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF {condition} THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"
                )
                conn.exec_driver_sql(
                    f"CREATE TRIGGER kpibot_test_refuse BEFORE INSERT ON {self.table} "
                    "FOR EACH ROW EXECUTE FUNCTION kpibot_test_refuse()"
                )
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER kpibot_test_refuse")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER kpibot_test_refuse ON {self.table}")
                conn.exec_driver_sql("DROP FUNCTION kpibot_test_refuse()")


class held_write_lock:
    """Another writer holding the database while the `with` block runs: SQLite's write lock (BEGIN
    IMMEDIATE), or on PostgreSQL a lock on `raw_event` that lets reads through and stops writes."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def __enter__(self) -> held_write_lock:
        self.conn = self.engine.connect()
        if self.engine.dialect.name == "sqlite":
            self.conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
        else:
            self.conn.exec_driver_sql("LOCK TABLE raw_event IN EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.engine.dialect.name == "sqlite":
            self.conn.connection.driver_connection.execute("ROLLBACK")
        else:
            self.conn.rollback()
        self.conn.close()
