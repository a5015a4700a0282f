"""Fixtures shared by every test package.

`pytest --db postgresql` (or KPIBOT_TEST_DB=postgresql) runs every test that uses a database on the
PostgreSQL server of KPIBOT_TEST_POSTGRES_URL (scripts/postgres starts one); the default is SQLite.
Without a reachable server those tests are skipped with the reason, unless KPIBOT_TEST_REQUIRE_POSTGRES=1
(CI) makes that an error.
"""

import os
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, make_url, text

from storage.db import make_engine
from storage.settings import Settings
from tests.databases import POSTGRES_REQUIRED, PostgresDatabases, SqliteDatabases, postgres_url
from tests.slack_standin import SlackStandIn

_SCRUBBED_PREFIXES = ("SLACK_", "KPIBOT_", "DATABASE_URL")


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("KPIBOT_TEST_DB", "sqlite"),
        help="database the tests run on (default sqlite; postgresql needs a server, see scripts/postgres)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about SQLite itself")
    config.addinivalue_line("markers", "postgresql_only(reason): the test needs PostgreSQL")


def pytest_report_header(config):
    database = config.getoption("--db")
    return f"kpibot test database: {database}" + (
        f" at {_safe(postgres_url())}" if database == "postgresql" else ""
    )


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def pytest_collection_modifyitems(config, items):
    database = config.getoption("--db")
    for item in items:
        for marker, kind in (("sqlite_only", "sqlite"), ("postgresql_only", "postgresql")):
            found = item.get_closest_marker(marker)
            if found and database != kind:
                why = found.args[0] if found.args else ""
                item.add_marker(pytest.mark.skip(reason=f"{kind} only: {why}".rstrip(": ")))


@pytest.fixture(scope="session")
def database_kind(request) -> str:
    """ "sqlite" or "postgresql": the database this run's tests use."""
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def _databases(database_kind, tmp_path_factory):
    if database_kind == "sqlite":
        databases = SqliteDatabases(tmp_path_factory.mktemp("template"))
    else:
        _require_postgres()
        databases = PostgresDatabases(postgres_url())
    yield databases
    databases.close()


def _require_postgres() -> None:
    try:
        probe = create_engine(postgres_url())
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        server = _safe(postgres_url())
        reason = f"no PostgreSQL server at {server} ({type(exc).__name__}); start one with scripts/postgres"
        if POSTGRES_REQUIRED:
            pytest.exit(reason, returncode=3)
        pytest.skip(reason)


@pytest.fixture
def new_database_url(_databases, tmp_path) -> Callable[..., str]:
    """Makes another database for this test: `new_database_url("name", empty=False)` → its URL.

    Migrated to the newest revision unless `empty`; dropped after the test.
    """
    made: list[str] = []

    def new(name: str = "kpibot", *, empty: bool = False) -> str:
        url = _databases.new(tmp_path, name, empty)
        made.append(url)
        return url

    yield new
    for url in made:
        _databases.drop(url)


@pytest.fixture
def database_url(new_database_url) -> str:
    """This test's database, migrated and empty of data."""
    return new_database_url()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Remove Slack, kpibot and database settings so a developer's shell can't leak in."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def slack_api():
    """A running SlackStandIn recording every Web API call; stopped after the test."""
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def settings(database_url) -> Settings:
    """Workspace settings on this test's database, with a fixed pseudonymisation key."""
    return Settings(database_url=database_url, pseudonym_key="test-key")


@pytest.fixture
def engine(settings):
    """An engine on `settings`' database; disposed after the test."""
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()
