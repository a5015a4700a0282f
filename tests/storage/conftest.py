"""Storage fixtures: a real SQLite file per test and an ingestor bound to it."""

from __future__ import annotations

import json

import pytest

from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'kpibot.db'}", pseudonym_key="test-key")


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def ingestor(engine, settings) -> Ingestor:
    return Ingestor(engine, settings)


def feed(ingestor: Ingestor, events: list[dict], **kwargs):
    """Ingests dict events as one batch, positions counting from 1."""
    return ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)], **kwargs)
