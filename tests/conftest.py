"""Fixtures shared by every test package."""

import os

import pytest

from storage.db import make_engine
from storage.settings import Settings
from tests.slack_standin import SlackStandIn

_SCRUBBED_PREFIXES = ("SLACK_", "KPIBOT_", "DATABASE_URL")


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
def settings(tmp_path) -> Settings:
    """Workspace settings on a fresh SQLite file, with a fixed pseudonymisation key."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'kpibot.db'}", pseudonym_key="test-key")


@pytest.fixture
def engine(settings):
    """An engine on `settings`' database, schema created; disposed after the test."""
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()
