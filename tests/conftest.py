"""Fixtures shared by every test package."""

import os

import pytest

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
