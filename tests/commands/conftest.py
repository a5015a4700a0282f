"""Fixtures of the KPI tests: events fed through the real ingestion core into the test's database."""

import json
from datetime import datetime

import pytest

from storage.db import make_engine
from storage.ingest import Ingestor
from storage.settings import Settings


@pytest.fixture
def feed(engine, settings):
    """Ingests dict events (positions from 1) and fails the test if any is rejected."""
    ingestor = Ingestor(engine, settings)

    def feed(*events: dict) -> None:
        result = ingestor.ingest([(n, json.dumps(e)) for n, e in enumerate(events, 1)])
        assert not result.rejected, result.rejected

    return feed


@pytest.fixture(params=["auto", "tables"], ids=["cache", "tables"])
def source(request) -> str:
    """Where a KPI test reads its measures: through the KPI cache where it can ("auto"), or from the tables
    alone. Every KPI test asks both ways, so what it checks never depends on the date the suite runs."""
    return request.param


@pytest.fixture
def make_database(database_url):
    """Builds settings (UTC unless told by keyword, e.g. `tz="Europe/Paris"`) and a database holding the
    given events, received at `now`; the engines are disposed after the test."""
    engines = []

    def make(events: list[dict], now: datetime, **overrides) -> tuple[Settings, object]:
        settings = Settings(database_url=database_url, pseudonym_key="k", **overrides)
        engine = make_engine(settings.database_url)
        engines.append(engine)
        items = [(n, json.dumps(e)) for n, e in enumerate(events, 1)]
        assert not Ingestor(engine, settings).ingest(items, now=now).rejected
        return settings, engine

    yield make
    for engine in engines:
        engine.dispose()
